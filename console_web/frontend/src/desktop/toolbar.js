// The desktop view's toolbar: Fit to window / Actual size, Full screen (with the keyboard lock, so Esc, the Windows
// key and Alt+Tab go to the remote), Send Ctrl-Alt-Del, Screenshot (a PNG file, or the clipboard), the picture
// quality, the clipboard panel and Refresh.

import { el } from '../ui.js';
import { SCANCODES } from './scancodes.js';
import {
  concat,
  keyMessage,
  KEYSYM_ALT_L,
  KEYSYM_CONTROL_L,
  KEYSYM_DELETE,
  QUALITY_LEVELS,
  qualityMessage,
  refreshMessage,
} from './wire.js';

const STATUS_MS = 5000;
export const QUALITY_LABELS = ['Black and White', 'Few Colors', 'More Colors', 'Full Color', 'Video Optimized'];
const DEFAULT_QUALITY = 'full_color';

/** The six KEY messages of Ctrl-Alt-Del, with scancodes: Control, Alt, Delete down, then up in reverse order. */
export function ctrlAltDel() {
  const keys = [
    [KEYSYM_CONTROL_L, SCANCODES.ControlLeft],
    [KEYSYM_ALT_L, SCANCODES.AltLeft],
    [KEYSYM_DELETE, SCANCODES.Delete],
  ];
  return concat([
    ...keys.map(([keysym, scancode]) => keyMessage(keysym, true, scancode)),
    ...[...keys].reverse().map(([keysym, scancode]) => keyMessage(keysym, false, scancode)),
  ]);
}

function canvasBlob(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the picture could not be saved'))), 'image/png');
  });
}

/**
 * host: the element shown full screen; canvas: the visible canvas; clipboardToggle: the clipboard panel's button.
 * hooks: send(bytes) -> bool; canSend() -> bool; setFit(bool); focus(); fileName() -> a screenshot's file name.
 */
export function createToolbar(host, canvas, clipboardToggle, hooks) {
  const statusBox = el('span', { class: 'tool-status', role: 'status', 'data-testid': 'desktop-status' });
  let statusTimer = null;

  function status(text, { error = false } = {}) {
    statusBox.textContent = text;
    statusBox.classList.toggle('error', error);
    clearTimeout(statusTimer);
    if (text) statusTimer = setTimeout(() => (statusBox.textContent = ''), STATUS_MS);
  }

  function sendInput(bytes, done) {
    if (!hooks.canSend() || !hooks.send(bytes)) {
      status('Not connected: nothing was sent.', { error: true });
      return false;
    }
    if (done) status(done);
    return true;
  }

  // ---- scale ----------------------------------------------------------------------------------------------
  const fit = el('button', { type: 'button', 'aria-pressed': 'true', 'data-testid': 'desktop-fit', title: 'Scale the desktop to the window' }, 'Fit to window');
  const actual = el('button', { type: 'button', 'aria-pressed': 'false', 'data-testid': 'desktop-actual-size', title: 'One desktop pixel per screen pixel (scroll to see the rest)' }, 'Actual size');
  function setFit(on) {
    fit.setAttribute('aria-pressed', String(on));
    actual.setAttribute('aria-pressed', String(!on));
    hooks.setFit(on);
  }
  fit.addEventListener('click', () => setFit(true));
  actual.addEventListener('click', () => setFit(false));

  // ---- full screen --------------------------------------------------------------------------------------------
  const fullscreen = el('button', { type: 'button', 'aria-pressed': 'false', 'data-testid': 'desktop-fullscreen' }, 'Full screen');
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener('click', async () => {
    if (document.fullscreenElement === host) {
      await document.exitFullscreen().catch(() => {});
      return;
    }
    try {
      await host.requestFullscreen({ navigationUI: 'hide' });
    } catch (exc) {
      status(`Full screen was refused: ${exc && exc.message ? exc.message : exc}`, { error: true });
      return;
    }
    // Keys the browser or the system would keep (Esc, the Windows key, Alt+Tab) go to the remote; hold Esc to leave.
    if (navigator.keyboard && typeof navigator.keyboard.lock === 'function') {
      try {
        await navigator.keyboard.lock();
        status('Full screen: system keys go to the remote. Hold Esc to leave.');
      } catch {
        status('Full screen: press Esc to leave.');
      }
    } else {
      status('Full screen: press Esc to leave.');
    }
    hooks.focus();
  });
  document.addEventListener('fullscreenchange', () => {
    const on = document.fullscreenElement === host;
    fullscreen.setAttribute('aria-pressed', String(on));
    fullscreen.textContent = on ? 'Exit full screen' : 'Full screen';
    if (!on && navigator.keyboard && typeof navigator.keyboard.unlock === 'function') navigator.keyboard.unlock();
  });

  // ---- keys, quality, refresh -----------------------------------------------------------------------------------
  const cad = el('button', { type: 'button', 'data-testid': 'desktop-ctrl-alt-del', title: 'Send Ctrl-Alt-Del to the remote computer' }, 'Send Ctrl-Alt-Del');
  cad.addEventListener('click', () => {
    sendInput(ctrlAltDel(), 'Sent Ctrl-Alt-Del.');
    hooks.focus();
  });

  const quality = el(
    'select',
    { id: 'desktop-quality', 'data-testid': 'desktop-quality', title: 'Fewer colours use less bandwidth; Video Optimized suits moving pictures' },
    QUALITY_LEVELS.map((level, i) => el('option', { value: level, selected: level === DEFAULT_QUALITY }, QUALITY_LABELS[i])),
  );
  let sentQuality = DEFAULT_QUALITY;
  quality.addEventListener('change', () => {
    const label = QUALITY_LABELS[QUALITY_LEVELS.indexOf(quality.value)];
    if (sendInput(qualityMessage(quality.value), `Quality: ${label}.`)) sentQuality = quality.value;
    else quality.value = sentQuality;
  });
  const qualityGroup = el('span', { class: 'desktop-quality' }, el('label', { for: 'desktop-quality' }, 'Quality'), quality);

  const refresh = el('button', { type: 'button', 'data-testid': 'desktop-refresh', title: 'Ask the remote computer for the whole picture again' }, 'Refresh');
  refresh.addEventListener('click', () => {
    sendInput(refreshMessage(), 'Asked for the whole picture.');
    hooks.focus();
  });

  // ---- screenshot ---------------------------------------------------------------------------------------------
  const shot = el('button', { type: 'button', 'data-testid': 'desktop-screenshot', title: 'Save the desktop as a PNG file' }, 'Screenshot');
  const shotCopy = el(
    'button',
    { type: 'button', 'data-testid': 'desktop-screenshot-copy', 'aria-label': 'Copy a screenshot to the clipboard', title: 'Copy a screenshot to the clipboard' },
    'Copy',
  );
  shotCopy.hidden = !(window.isSecureContext && typeof ClipboardItem !== 'undefined' && navigator.clipboard && navigator.clipboard.write);

  function hasPicture() {
    if (canvas.width > 0 && canvas.height > 0) return true;
    status('There is no picture yet.', { error: true });
    return false;
  }

  shot.addEventListener('click', async () => {
    if (!hasPicture()) return;
    try {
      const blob = await canvasBlob(canvas);
      const url = URL.createObjectURL(blob);
      const name = hooks.fileName();
      const link = el('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status(`Saved ${name} (${canvas.width}\u00d7${canvas.height}).`);
    } catch (exc) {
      status(`Could not save the screenshot: ${exc && exc.message ? exc.message : exc}`, { error: true });
    }
  });
  shotCopy.addEventListener('click', async () => {
    if (!hasPicture()) return;
    try {
      // Passing the promise keeps the click's permission while the PNG is being made.
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': canvasBlob(canvas) })]);
      status('Copied a screenshot to the clipboard.');
    } catch (exc) {
      status(`The browser did not allow copying the screenshot: ${exc && exc.message ? exc.message : exc}`, { error: true });
    }
  });

  const element = el(
    'div',
    { class: 'term-toolbar desktop-toolbar', role: 'toolbar', 'aria-label': 'Desktop tools', 'data-testid': 'desktop-toolbar' },
    el('div', { class: 'tool-group', role: 'group', 'aria-label': 'Scale' }, fit, actual),
    fullscreen,
    cad,
    el('div', { class: 'tool-group', role: 'group', 'aria-label': 'Screenshot' }, shot, shotCopy),
    qualityGroup,
    clipboardToggle,
    refresh,
    statusBox,
  );

  /** Observers send nothing: no keys, no quality, no refresh. */
  function setViewOnly(viewOnly) {
    cad.hidden = viewOnly;
    qualityGroup.hidden = viewOnly;
    refresh.hidden = viewOnly;
  }

  /** Enable the controls that send (connected, allowed). */
  function setCanSend(can) {
    cad.disabled = !can;
    quality.disabled = !can;
    refresh.disabled = !can;
  }

  return { element, status, setViewOnly, setCanSend };
}
