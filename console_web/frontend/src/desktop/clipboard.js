// The clipboard panel of the desktop view: the remote's last clipboard text (also put on this computer's clipboard
// when the page has the focus and the browser allows it), and text to send to the remote's clipboard.

import { el } from '../ui.js';
import { clipboardMessage, MAX_CLIPBOARD } from './wire.js';

/**
 * hooks: send(bytes) -> bool; canSend() -> bool; status(text, {error}); focus() gives the desktop the focus back.
 * Returns {panel, toggle, setRemote(text), setViewOnly(bool)}.
 */
export function createClipboardPanel(hooks) {
  const remote = el('textarea', {
    id: 'desktop-clipboard-remote',
    class: 'desktop-clipboard-text mono',
    rows: 3,
    readonly: true,
    placeholder: 'Nothing copied on the remote computer yet.',
    'data-testid': 'desktop-clipboard-remote',
  });
  const local = el('textarea', {
    id: 'desktop-clipboard-local',
    class: 'desktop-clipboard-text mono',
    rows: 3,
    placeholder: 'Type or paste text here, then send it to the remote clipboard.',
    'data-testid': 'desktop-clipboard-local',
  });
  const copyRemote = el('button', { type: 'button', 'data-testid': 'desktop-clipboard-copy' }, 'Copy to this computer');
  const send = el('button', { type: 'button', class: 'primary', 'data-testid': 'desktop-clipboard-send' }, 'Send to remote');
  const sendPart = el(
    'div',
    { class: 'desktop-clipboard-part' },
    el('label', { for: 'desktop-clipboard-local' }, 'Text for the remote clipboard'),
    local,
    el('div', { class: 'desktop-clipboard-actions' }, send),
  );
  const panel = el(
    'section',
    { id: 'desktop-clipboard', class: 'desktop-clipboard', 'aria-label': 'Clipboard', 'data-testid': 'desktop-clipboard', hidden: true },
    el(
      'div',
      { class: 'desktop-clipboard-part' },
      el('label', { for: 'desktop-clipboard-remote' }, 'Remote clipboard'),
      remote,
      el('div', { class: 'desktop-clipboard-actions' }, copyRemote),
    ),
    sendPart,
  );
  const toggle = el(
    'button',
    { type: 'button', 'aria-controls': 'desktop-clipboard', 'aria-expanded': 'false', 'data-testid': 'desktop-clipboard-toggle' },
    'Clipboard',
  );

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) (sendPart.hidden ? remote : local).focus();
    else hooks.focus();
  }

  toggle.addEventListener('click', () => setOpen(panel.hidden));
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      setOpen(false);
      toggle.focus();
    }
  });

  send.addEventListener('click', () => {
    const text = local.value;
    if (!text) {
      hooks.status('Type the text to send first.', { error: true });
      local.focus();
      return;
    }
    if (!hooks.canSend()) {
      hooks.status('Not connected: the text was not sent.', { error: true });
      return;
    }
    const { bytes, cut } = clipboardMessage(text);
    if (!hooks.send(bytes)) {
      hooks.status('Not connected: the text was not sent.', { error: true });
      return;
    }
    hooks.status(
      cut ? `Sent the first ${(MAX_CLIPBOARD / 1024).toFixed(0)} KiB of the text to the remote clipboard (the rest was cut).` : 'Sent to the remote clipboard.',
      { error: cut },
    );
  });

  copyRemote.addEventListener('click', async () => {
    if (!remote.value) {
      hooks.status('The remote clipboard is empty.');
      return;
    }
    try {
      await navigator.clipboard.writeText(remote.value);
      hooks.status('Copied the remote clipboard to this computer.');
    } catch {
      remote.select();
      hooks.status('The browser did not allow copying: the text is selected, press Ctrl+C.', { error: true });
    }
  });

  /** The remote's clipboard changed. */
  function setRemote(text) {
    remote.value = text;
    if (!text || !document.hasFocus() || !window.isSecureContext || !navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(
      () => hooks.status('The remote clipboard was copied to this computer.'),
      () => {}, // no permission: the panel still shows it
    );
  }

  function setViewOnly(viewOnly) {
    sendPart.hidden = viewOnly;
  }

  return { panel, toggle, setRemote, setViewOnly };
}
