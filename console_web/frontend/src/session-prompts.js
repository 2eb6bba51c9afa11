// The owner's prompts: an unknown host key (Save Key and Connect / Connect Only / Abort) and text questions
// (password, keyboard-interactive MFA). Answers are cleared from the page as soon as they are sent.

import { el } from './ui.js';

/** send(message) -> bool on the session socket; closed() after a prompt went away (focus the terminal). */
export function createPrompts({ send, closed }) {
  let active = null; // {id, dialog}

  function close(id = null) {
    if (!active) return;
    if (id !== null && active.id !== id) return;
    const { dialog } = active;
    active = null;
    for (const input of dialog.querySelectorAll('input')) input.value = '';
    if (dialog.open) dialog.close();
    dialog.remove();
    closed();
  }

  function open(id, title, body, onCancel) {
    close();
    const dialog = el('dialog', {
      class: 'dialog prompt-dialog',
      'aria-label': title,
      'data-testid': 'prompt',
      dataset: { promptId: String(id) },
    });
    dialog.append(el('header', { class: 'dialog-header' }, el('h2', {}, title)), body);
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      onCancel();
    });
    document.body.append(dialog);
    active = { id, dialog };
    dialog.showModal();
  }

  function hostKey(msg) {
    const key = msg.key || {};
    const answer = (decision) => {
      send({ t: 'answer_host_key', id: msg.id, decision });
      close(msg.id);
    };
    const hostPort = `${msg.host}:${msg.port}`;
    const save = el('button', { type: 'button', class: 'primary', onclick: () => answer('save') }, 'Save Key and Connect');
    const once = el('button', { type: 'button', onclick: () => answer('once') }, 'Connect Only');
    const abort = el('button', { type: 'button', class: 'danger', onclick: () => answer('abort') }, 'Abort');
    open(
      msg.id,
      'Unknown host key',
      el(
        'div',
        { class: 'dialog-body' },
        el('p', {}, `The host key of ${hostPort} is not known.`),
        el(
          'dl',
          { class: 'details' },
          el('dt', {}, 'Algorithm'),
          el('dd', { class: 'mono' }, String(key.algorithm || '')),
          el('dt', {}, 'Fingerprint'),
          el('dd', { class: 'mono fingerprint' }, String(key.fingerprint || '')),
        ),
        el('p', { class: 'muted' }, 'Compare the fingerprint with the one the machine’s administrator gave you before you connect.'),
        el('div', { class: 'actions' }, abort, once, save),
      ),
      () => answer('abort'),
    );
    save.focus();
  }

  function text(msg) {
    const fields = Array.isArray(msg.fields) ? msg.fields : [];
    const inputs = fields.map((f, i) =>
      el('input', {
        type: f.echo ? 'text' : 'password',
        id: `prompt-field-${i}`,
        name: `answer${i}`,
        autocomplete: f.echo ? 'off' : 'current-password',
        spellcheck: 'false',
      }),
    );
    const cancel = () => {
      send({ t: 'answer_text', id: msg.id, cancelled: true });
      close(msg.id);
    };
    const form = el(
      'form',
      { class: 'dialog-body', autocomplete: 'off' },
      msg.instruction ? el('p', { class: 'instruction' }, String(msg.instruction)) : null,
      fields.map((f, i) =>
        el('div', { class: 'field' }, el('label', { for: `prompt-field-${i}` }, String(f.text || `Answer ${i + 1}`)), inputs[i]),
      ),
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', onclick: cancel }, 'Cancel'),
        el('button', { type: 'submit', class: 'primary' }, 'OK'),
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const answers = inputs.map((input) => input.value);
      for (const input of inputs) input.value = '';
      send({ t: 'answer_text', id: msg.id, answers });
      answers.fill('');
      close(msg.id);
    });
    open(msg.id, String(msg.title || 'Authentication'), form, cancel);
    if (inputs.length) inputs[0].focus();
  }

  return { hostKey, text, close };
}
