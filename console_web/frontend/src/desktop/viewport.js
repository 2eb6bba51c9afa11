// The size of the remote desktop a Jump asks for (RDP makes the desktop that size; VNC servers keep their own): the
// room the session page will give the desktop, found at Jump time in the console tab, since the session opens in a
// new tab of the same window (same inner size) once the Jump has answered.
//
// The session page takes from the window the participants and chat panel on the right (flex-basis 320px, 240px in
// windows up to 700px wide, app.css) and, above the desktop, the status bar and the desktop toolbar, which wrap
// onto more lines as the window narrows. Two sources, best first:
// 1. What a desktop session page measured in a window of the same width (rememberDesktopRoom, from session.js):
//    exact for the rep's usual window.
// 2. Figures measured in Chromium on an owner's desktop session page (DESKTOP_BARS), rounded up where the wrapping
//    varies: a desktop a little smaller than its panel is shown one pixel per pixel with a thin border, whereas a
//    larger one would be scaled down ("Fit to window") and blur.

import { MAX_DESKTOP_SIDE } from './wire.js';

export const MIN_DESKTOP_SIDE = 200; // the console's and the Jumpoint's lower bound (jumpoint/core/adapter.py)
const NARROW_WINDOW = 700; // app.css: @media (max-width: 700px) narrows the side panel
const SIDE_PANEL = 320;
const SIDE_PANEL_NARROW = 240;
// [the desktop's column width from which, the height of the bars above the desktop], widest first
const DESKTOP_BARS = [
  [984, 77],
  [546, 114],
  [461, 139],
  [384, 185],
  [321, 210],
  [0, 268],
];
const ROOM_KEY = 'openjump.desktopRoom';
const CHROME_MAX = 2000; // a remembered layout taking more than this is not believed

const believable = (chrome) =>
  Array.isArray(chrome) && chrome.length === 2 && chrome.every((n) => Number.isFinite(n) && n >= 0 && n <= CHROME_MAX);
const clampSide = (n) => Math.max(MIN_DESKTOP_SIDE, Math.min(MAX_DESKTOP_SIDE, Math.floor(n)));
const number = (n) => (Number.isFinite(n) ? n : 0);

function sized(width, height) {
  const w = clampSide(width);
  return { desktop_width: w % 2 ? w - 1 : w, desktop_height: clampSide(height) };
}

/**
 * The desktop size, in CSS pixels, for a session page shown in a window whose inner size is `width` x `height`,
 * from the measured figures: {desktop_width, desktop_height}, each within 200..8192, the width even (the RDP
 * display-control channel refuses odd widths). Non-numbers count as 0 (and give the minimum).
 */
export function desktopSizeFor(width, height) {
  const w = number(width);
  const column = w - (w <= NARROW_WINDOW ? SIDE_PANEL_NARROW : SIDE_PANEL);
  const bars = (DESKTOP_BARS.find(([from]) => column >= from) ?? DESKTOP_BARS[DESKTOP_BARS.length - 1])[1];
  return sized(column, number(height) - bars);
}

function storageOf(win) {
  try {
    return win.localStorage || null;
  } catch {
    return null; // storage refused (privacy settings): the measured figures will do
  }
}

/**
 * Remember the room a desktop session page has for the desktop (`roomWidth` x `roomHeight`) in `win`, for the
 * next Jump from a window of the same width. Call it only while the page shows its usual layout (side panel
 * shown, not full screen, no banner or clipboard panel above the desktop). Never throws.
 */
export function rememberDesktopRoom(win, roomWidth, roomHeight, storage = storageOf(win)) {
  const chrome = [win.innerWidth - roomWidth, win.innerHeight - roomHeight];
  if (!storage || !believable(chrome)) return;
  try {
    storage.setItem(ROOM_KEY, JSON.stringify({ innerWidth: win.innerWidth, chrome }));
  } catch {
    // storage full or refused: nothing to remember
  }
}

function remembered(storage, innerWidth) {
  try {
    const value = JSON.parse(storage.getItem(ROOM_KEY) || 'null');
    return value && value.innerWidth === innerWidth && believable(value.chrome) ? value.chrome : null;
  } catch {
    return null;
  }
}

/** The desktop size for the window this page is in: from what a session page remembered for this width, else
 * desktopSizeFor. */
export function desktopViewport(win = window, storage = storageOf(win)) {
  const chrome = storage ? remembered(storage, win.innerWidth) : null;
  if (chrome) return sized(win.innerWidth - chrome[0], win.innerHeight - chrome[1]);
  return desktopSizeFor(win.innerWidth, win.innerHeight);
}
