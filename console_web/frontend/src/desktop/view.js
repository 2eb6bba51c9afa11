// The desktop view of the session panel: the toolbar, the clipboard panel and the remote desktop on a canvas,
// fed with the desktop byte stream (docs/protocol.md, jumpoint/core/desktop_wire.py) and sending input back.

import { el, setChildren } from '../ui.js';
import { createClipboardPanel } from './clipboard.js';
import { createInput } from './input.js';
import { DesktopRenderer } from './renderer.js';
import { DesktopStreamError, StreamParser } from './stream-parser.js';
import { createToolbar } from './toolbar.js';

/**
 * host: the (empty) element that holds the view. hooks: send(bytes) -> bool sends input (one binary frame);
 * canSend() -> bool (connected, and this participant may send input now); onActivity() after input was sent;
 * onResync() asks for a fresh stream (after a broken one); fileName() -> a screenshot's file name.
 */
export function createDesktopView(host, hooks) {
  const canvas = el('canvas', { class: 'desktop-canvas', width: 0, height: 0, 'data-testid': 'desktop-canvas' });
  const waiting = el('div', { class: 'desktop-waiting', 'data-testid': 'desktop-waiting' }, 'Waiting for the remote desktop\u2026');
  const screen = el(
    'div',
    {
      class: 'desktop-screen',
      tabindex: '0',
      role: 'application',
      'aria-roledescription': 'remote desktop',
      'aria-label': 'Remote desktop',
      'data-testid': 'desktop-screen',
    },
    canvas,
    waiting,
  );
  const errorBox = el('div', { class: 'alert alert-error desktop-error', role: 'alert', 'data-testid': 'desktop-error', hidden: true });

  let fit = true;
  let viewOnly = true;
  let remoteCursor = '';
  const parser = new StreamParser();

  const focus = () => {
    if (!document.querySelector('dialog[open]')) screen.focus({ preventScroll: true });
  };
  const send = (bytes) => hooks.send(bytes);
  const canSend = () => !viewOnly && hooks.canSend();

  const clipboard = createClipboardPanel({ send, canSend, focus, status: (...a) => toolbar.status(...a) });
  const toolbar = createToolbar(host, canvas, clipboard.toggle, {
    send,
    canSend,
    focus,
    fileName: hooks.fileName,
    setFit: (on) => {
      fit = on;
      layout();
      focus();
    },
  });
  const input = createInput(screen, canvas, { send, canSend, onActivity: hooks.onActivity });

  function applyCursor() {
    // The remote draws no pointer of its own: the local pointer takes its shape (not for observers: not theirs).
    canvas.style.cursor = viewOnly ? '' : remoteCursor;
  }

  const renderer = new DesktopRenderer(canvas, {
    onPresent: (width, height) => {
      waiting.hidden = true;
      host.dataset.frames = String(renderer.frames);
      if (host.dataset.width !== String(width) || host.dataset.height !== String(height)) {
        host.dataset.width = String(width);
        host.dataset.height = String(height);
        screen.setAttribute('aria-label', `Remote desktop, ${width} by ${height} pixels`);
        layout();
      }
    },
    onCursor: (css) => {
      remoteCursor = css;
      applyCursor();
    },
    onClipboard: (text) => clipboard.setRemote(text),
    onDecodeError: (message) => toolbar.status(`Part of the picture could not be shown (${message}): use Refresh.`, { error: true }),
  });

  /** Size the canvas on the page: scaled to the panel (keeping its proportions), or one pixel per pixel. */
  function layout() {
    const { width, height } = canvas;
    screen.classList.toggle('actual-size', !fit);
    if (!width || !height) return;
    let scale = 1;
    if (fit) {
      const room = { w: screen.clientWidth, h: screen.clientHeight };
      if (!room.w || !room.h) return;
      scale = Math.min(room.w / width, room.h / height);
    }
    canvas.style.width = `${Math.max(1, Math.floor(width * scale))}px`;
    canvas.style.height = `${Math.max(1, Math.floor(height * scale))}px`;
  }
  new ResizeObserver(() => {
    if (fit) layout();
  }).observe(screen);

  function fail(exc) {
    const message = exc && exc.message ? exc.message : String(exc);
    if (!parser.failed) parser.failed = exc instanceof DesktopStreamError ? exc : new DesktopStreamError(message);
    const retry = el('button', { type: 'button', 'data-testid': 'desktop-resync' }, 'Reload the desktop');
    retry.addEventListener('click', () => hooks.onResync());
    setChildren(
      errorBox,
      el('strong', { class: 'alert-message' }, `The desktop stream is broken: ${message}.`),
      el('div', { class: 'alert-hint' }, 'The picture stopped updating. Reload the desktop to start again from a complete picture.'),
      retry,
    );
    errorBox.hidden = false;
    waiting.hidden = true;
  }

  /** Bytes of the stream, in order (a message may span calls). */
  function feed(bytes) {
    if (parser.failed) return;
    const messages = parser.feed(bytes);
    for (const { kind, body } of messages) {
      try {
        renderer.apply(kind, body);
      } catch (exc) {
        fail(exc);
        return;
      }
    }
    if (parser.failed) fail(parser.failed);
  }

  /** A new stream starts at `pos` (with a KEYFRAME): forget any partial message and what is still queued. */
  function restart(pos = 0) {
    parser.reset(pos);
    renderer.clear();
    errorBox.hidden = true;
    errorBox.replaceChildren();
    if (!renderer.frames) waiting.hidden = false;
  }

  /** Observers (and everyone once the session is over) only watch. */
  function setViewOnly(value) {
    viewOnly = value;
    input.setEnabled(!value);
    toolbar.setViewOnly(value);
    clipboard.setViewOnly(value);
    screen.classList.toggle('view-only', value);
    applyCursor();
  }

  /** Whether input can go out now (the socket is open and the session connected). */
  function setCanSend(can) {
    toolbar.setCanSend(can && !viewOnly);
  }

  host.replaceChildren(toolbar.element, clipboard.panel, errorBox, screen);
  setViewOnly(true);
  layout();

  return {
    feed,
    restart,
    setViewOnly,
    setCanSend,
    focus,
    later: (fn) => renderer.later(fn),
    /** Bytes received and not drawn yet. */
    get backlog() {
      return renderer.backlog + parser.buffered;
    },
    get failed() {
      return Boolean(parser.failed);
    },
  };
}
