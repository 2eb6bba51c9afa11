// Keyboard, pointer and wheel input on the desktop view, sent as desktop input messages.
//
// Keys: Guacamole.Keyboard turns the browser's key events into X11 keysyms whatever the local layout (it reads
// `key`, falls back to the key code and keypress, and tracks modifiers); every key held is released when the view
// loses the focus, so nothing stays pressed on the remote. Each key message also carries the PC scancode of the
// physical key (scancodes.js: RDP types by scancode, so the server's layout applies; VNC ignores it): listeners
// registered before Guacamole's note each event's `code`, and a key's release carries the scancode of its press.
// Pointer: the position is scaled from the canvas as shown to desktop pixels; moves are sent at most once per
// animation frame, button changes at once. Wheel: pixel deltas add up to steps. Nothing is captured while input is
// off (observers, a closed session).

import Guacamole from 'guacamole-common-js';
import { createScancodeTracker } from './scancodes.js';
import { keyMessage, pointerMessage, wheelMessage } from './wire.js';

const WHEEL_STEP_PX = 50;
const WHEEL_LINE_PX = 19;
const WHEEL_PAGE_PX = 400;

/** Browser `buttons` (1 left, 2 right, 4 middle) -> the wire's (bit 0 left, 1 middle, 2 right). */
export function wireButtons(buttons) {
  return (buttons & 1) | (buttons & 4 ? 2 : 0) | (buttons & 2 ? 4 : 0);
}

/**
 * screen: the focusable element holding the canvas (it gets the keys); canvas: the visible canvas (its width and
 * height are the desktop's). hooks: send(bytes) -> bool; canSend() -> bool (connected, and allowed to type now);
 * onActivity() after input was sent.
 */
export function createInput(screen, canvas, hooks) {
  let enabled = false;
  let buttons = 0;
  let last = { x: 0, y: 0 };
  let pendingMove = null;
  let moveFrame = 0;
  let wheelX = 0;
  let wheelY = 0;

  function send(bytes) {
    if (!enabled || !hooks.canSend()) return false;
    if (!hooks.send(bytes)) return false;
    hooks.onActivity();
    return true;
  }

  // ---- keyboard -----------------------------------------------------------------------------------------
  // Capturing listeners on the same element run in the order they were added: these see each event before
  // Guacamole.Keyboard (which listens in the capture phase too) and after it.
  const scancodes = createScancodeTracker();
  const keyEvents = ['keydown', 'keypress', 'keyup'];
  for (const type of keyEvents) screen.addEventListener(type, scancodes.begin, true);
  const keyboard = new Guacamole.Keyboard(screen);
  for (const type of keyEvents) screen.addEventListener(type, scancodes.end, true);

  function onKeyDown(keysym) {
    send(keyMessage(keysym, true, scancodes.pressed(keysym)));
    return false; // the key is the remote's: no browser default (Tab, Backspace, shortcuts ...)
  }

  function onKeyUp(keysym) {
    send(keyMessage(keysym, false, scancodes.released(keysym)));
  }

  function releaseAll() {
    keyboard.reset(); // a key up for every key still held
    scancodes.reset();
  }

  screen.addEventListener('blur', releaseAll);
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) releaseAll();
  });

  // ---- pointer --------------------------------------------------------------------------------------------
  function position(ev) {
    const rect = canvas.getBoundingClientRect();
    const { width, height } = canvas;
    if (!rect.width || !rect.height) return last;
    const x = Math.floor(((ev.clientX - rect.left) * width) / rect.width);
    const y = Math.floor(((ev.clientY - rect.top) * height) / rect.height);
    return { x: Math.min(width - 1, Math.max(0, x)), y: Math.min(height - 1, Math.max(0, y)) };
  }

  function flushMove() {
    cancelAnimationFrame(moveFrame);
    moveFrame = 0;
    if (!pendingMove) return;
    const at = pendingMove;
    pendingMove = null;
    send(pointerMessage(at.x, at.y, buttons));
  }

  function onPointer(ev) {
    if (!enabled) return;
    const at = position(ev);
    const next = wireButtons(ev.buttons);
    if (ev.type === 'pointerdown') {
      screen.focus({ preventScroll: true });
      try {
        canvas.setPointerCapture(ev.pointerId);
      } catch {
        // A pointer that is gone already.
      }
    }
    ev.preventDefault();
    if (next !== buttons || ev.type !== 'pointermove') {
      pendingMove = null;
      flushMove();
      buttons = next;
      last = at;
      send(pointerMessage(at.x, at.y, buttons));
      return;
    }
    if (at.x === last.x && at.y === last.y) return;
    last = at;
    pendingMove = at;
    if (!moveFrame) moveFrame = requestAnimationFrame(flushMove);
  }

  for (const type of ['pointerdown', 'pointermove', 'pointerup', 'pointercancel']) {
    canvas.addEventListener(type, onPointer);
  }
  canvas.addEventListener('contextmenu', (ev) => {
    if (enabled) ev.preventDefault(); // the right button is the remote's
  });

  // ---- wheel ----------------------------------------------------------------------------------------------
  canvas.addEventListener(
    'wheel',
    (ev) => {
      if (!enabled) return;
      ev.preventDefault();
      const unit = ev.deltaMode === 1 ? WHEEL_LINE_PX : ev.deltaMode === 2 ? WHEEL_PAGE_PX : 1;
      wheelX += ev.deltaX * unit;
      wheelY += ev.deltaY * unit;
      const dx = Math.max(-100, Math.min(100, Math.trunc(wheelX / WHEEL_STEP_PX)));
      const dy = Math.max(-100, Math.min(100, Math.trunc(wheelY / WHEEL_STEP_PX)));
      if (!dx && !dy) return;
      wheelX -= dx * WHEEL_STEP_PX;
      wheelY -= dy * WHEEL_STEP_PX;
      const at = position(ev);
      flushMove();
      send(wheelMessage(at.x, at.y, dx, dy));
    },
    { passive: false },
  );

  /** Capture input (peers and owners) or not (observers, a closed session). */
  function setEnabled(value) {
    if (value === enabled) return;
    if (!value) {
      releaseAll();
      pendingMove = null;
      flushMove();
      buttons = 0;
    }
    enabled = value;
    keyboard.onkeydown = value ? onKeyDown : null;
    keyboard.onkeyup = value ? onKeyUp : null;
    wheelX = wheelY = 0;
  }

  return { setEnabled, releaseAll, get enabled() {
    return enabled;
  } };
}
