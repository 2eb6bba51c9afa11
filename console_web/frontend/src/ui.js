// Small DOM helpers shared by the pages. Text is always inserted with textContent, never as HTML.

import { ApiError, api, fieldErrors, me } from './api.js';

/**
 * Create an element: el('button', {class: 'primary', type: 'button', onclick: fn}, 'Text', childNode).
 * Attributes starting with "on" become event listeners; `dataset` sets data-* values; strings become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      node.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      node.className = v;
    } else if (k === 'dataset') {
      Object.assign(node.dataset, v);
    } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') {
      node[k] = v;
    } else {
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(node, ...children);
  return node;
}

/** Append children (nodes, strings as text, arrays flattened, null skipped). */
export function append(node, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replace all children of `node`. */
export function setChildren(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** The text a person should read for an error: message and, on a second line, the hint. */
export function errorParts(err) {
  if (err instanceof ApiError) {
    let hint = err.hint;
    if (err.status === 429 && err.retryAfter) {
      hint = `Try again in ${err.retryAfter} second${err.retryAfter === 1 ? '' : 's'}.` + (hint ? ' ' + hint : '');
    }
    return { message: err.message, hint };
  }
  if (err && typeof err === 'object' && typeof err.message === 'string') {
    return { message: err.message, hint: typeof err.hint === 'string' ? err.hint : '' };
  }
  return { message: String(err), hint: '' };
}

/** Show an error (or hide the box when err is null) in a `.alert` element. */
export function showError(box, err) {
  if (!box) return;
  if (err === null || err === undefined) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const { message, hint } = errorParts(err);
  setChildren(box, el('strong', { class: 'alert-message' }, message), hint ? el('div', { class: 'alert-hint' }, hint) : null);
  box.classList.remove('alert-info');
  box.classList.add('alert-error');
  box.hidden = false;
}

/** Show an informational line in a `.alert` element. */
export function showInfo(box, ...content) {
  setChildren(box, ...content);
  box.classList.remove('alert-error');
  box.classList.add('alert-info');
  box.hidden = false;
}

/** Put per-field messages of a validation error next to the inputs of `form` (`[data-field-error=name]`). */
export function showFieldErrors(form, err) {
  for (const node of form.querySelectorAll('[data-field-error]')) {
    node.textContent = '';
    node.hidden = true;
  }
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  const fields = fieldErrors(err);
  let shown = 0;
  for (const [name, msg] of Object.entries(fields)) {
    const key = name.split('.').pop();
    const slot = form.querySelector(`[data-field-error="${CSS.escape(key)}"]`);
    if (!slot) continue;
    slot.textContent = msg;
    slot.hidden = false;
    const input = form.elements.namedItem(key);
    if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
    shown += 1;
  }
  return shown;
}

/** A modal dialog built from `content`; returns {dialog, close}. Closed dialogs are removed from the page. */
export function openDialog(title, content, { onClose, className = '', testid = null } = {}) {
  const dialog = el('dialog', { class: 'dialog ' + className, 'aria-label': title, 'data-testid': testid });
  const closeBtn = el('button', { type: 'button', class: 'dialog-close', 'aria-label': 'Close', 'data-testid': 'dialog-close' }, '\u00d7');
  append(dialog, el('header', { class: 'dialog-header' }, el('h2', {}, title), closeBtn), content);
  document.body.append(dialog);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose();
  };
  closeBtn.addEventListener('click', close);
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    close();
  });
  dialog.showModal();
  return { dialog, close };
}

/** Ask a yes/no question in a modal; resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel = 'Delete') {
  return new Promise((resolve) => {
    let answer = false;
    const yes = el('button', { type: 'button', class: 'danger', 'data-testid': 'confirm' }, confirmLabel);
    const no = el('button', { type: 'button', 'data-testid': 'confirm-cancel' }, 'Cancel');
    const { close } = openDialog(
      title,
      el('div', { class: 'dialog-body' }, el('p', {}, text), el('div', { class: 'actions' }, no, yes)),
      { onClose: () => resolve(answer), className: 'confirm-dialog', testid: 'confirm-dialog' },
    );
    yes.addEventListener('click', () => {
      answer = true;
      close();
    });
    no.addEventListener('click', close);
    yes.focus();
  });
}

/** Fill the page header (user name, Admin link, Logout) from GET /me; returns the user. */
export async function setupHeader() {
  const user = await me();
  const name = $('#user-name');
  if (name) name.textContent = user.display_name || user.username;
  for (const link of [$('#admin-link'), $('#audit-link')]) {
    if (link) link.hidden = !user.is_admin;
  }
  const logout = $('#logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      logout.disabled = true;
      try {
        await api('POST', '/auth/logout', {}, { redirectOn401: false });
      } catch {
        // Logged out already, or the console is gone: go to the login page either way (it says "logged out").
      }
      location.assign('/login?logged_out=1');
    });
  }
  return user;
}

/** A human date from an ISO string (or '' when missing). */
export function formatDate(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

/** Run an async action from a button: disables it meanwhile, shows a failure in `errorBox`. */
export async function busy(button, errorBox, action) {
  if (button) button.disabled = true;
  try {
    showError(errorBox, null);
    return await action();
  } catch (exc) {
    showError(errorBox, exc);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
