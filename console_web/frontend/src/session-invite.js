// The owner's sharing dialogs: invite reps or shared groups (the directory), pending invitations with Cancel,
// and external invitations (a one-time /join/<key> URL shown once) with the unused keys and Cancel.

import { api, asList } from './api.js';
import { busy, el, formatDate, openDialog, setChildren, showError, showInfo } from './ui.js';

const DESCRIPTION_MAX = 256;

/** Who an invitation is for: a name the console gave, else the rep's name from the directory (by user_id). */
function invitee(inv, names) {
  for (const k of ['to', 'invitee', 'user']) {
    const v = inv[k];
    if (v && typeof v === 'object' && (v.display_name || v.name || v.username)) return v.display_name || v.name || v.username;
  }
  if (inv.user_id !== undefined && names.has(String(inv.user_id))) return names.get(String(inv.user_id));
  return inv.user_id !== undefined ? `rep #${inv.user_id}` : '';
}

function userLabel(u) {
  return u.display_name && u.display_name !== u.username ? `${u.display_name} (${u.username})` : u.username;
}

function emptyRow(text) {
  return el('li', { class: 'muted' }, text);
}

/** Invite a rep or a group; list and cancel the pending invitations. */
export async function openInviteDialog(sessionId, { selfId = null, done }) {
  const base = `/sessions/${encodeURIComponent(sessionId)}`;
  const error = el('div', { class: 'alert', role: 'alert', hidden: true });
  const picker = el('select', { id: 'invite-picker', name: 'invitee', 'data-testid': 'invite-picker', required: true }, el('option', { value: '' }, 'Loading…'));
  const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': 'invite-submit' }, 'Invite');
  const pending = el('ul', { class: 'invite-list', 'data-testid': 'pending-invitations' }, emptyRow('Loading…'));
  const form = el(
    'form',
    { class: 'invite-form', novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'invite-picker' }, 'Rep or group'), picker),
    el('div', { class: 'actions' }, submit),
  );
  openDialog(
    'Share session',
    el(
      'div',
      { class: 'dialog-body' },
      el('p', { class: 'muted' }, 'Invite a rep, or every member of a shared group; the invitation waits in their console until they accept or decline it.'),
      error,
      form,
      el('h3', {}, 'Pending invitations'),
      pending,
    ),
    { onClose: done, testid: 'invite-dialog' },
  );

  const names = new Map(); // user id -> label, from the directory
  const directory = api('GET', '/directory').then((dir) => {
    for (const u of (dir && Array.isArray(dir.users) ? dir.users : [])) names.set(String(u.id), userLabel(u));
    return dir || {};
  });

  async function loadPending() {
    await directory.catch(() => null);
    let items;
    try {
      items = asList(await api('GET', `${base}/invitations`));
    } catch (exc) {
      setChildren(pending, emptyRow('Could not list the invitations.'));
      showError(error, exc);
      return;
    }
    if (!items.length) {
      setChildren(pending, emptyRow('No pending invitations.'));
      return;
    }
    setChildren(
      pending,
      items.map((inv) => {
        const cancel = el('button', { type: 'button', class: 'small-button', 'data-testid': 'cancel-invitation', 'aria-label': `Cancel the invitation of ${invitee(inv, names)}` }, 'Cancel');
        cancel.addEventListener('click', () =>
          busy(cancel, error, async () => {
            await api('DELETE', `${base}/invitations/${encodeURIComponent(inv.id)}`);
            await loadPending();
          }),
        );
        return el(
          'li',
          { 'data-testid': 'pending-invitation', dataset: { invitationId: String(inv.id) } },
          el('span', { class: 'invite-who' }, invitee(inv, names) || 'Invitation'),
          inv.created_at ? el('span', { class: 'muted small' }, formatDate(inv.created_at)) : null,
          cancel,
        );
      }),
    );
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const [kind, id] = picker.value.split(':');
    if (!id) {
      showError(error, { message: 'Choose a rep or a group to invite.' });
      return;
    }
    busy(submit, error, async () => {
      const body = kind === 'g' ? { group_id: Number(id) } : { user_id: Number(id) };
      const answer = await api('POST', `${base}/invitations`, body);
      const n = asList(answer).length;
      showInfo(error, `Invitation sent${n > 1 ? ` to ${n} reps` : ''}.`);
      await loadPending();
    });
  });

  loadPending();
  try {
    const dir = await directory;
    const users = (Array.isArray(dir.users) ? dir.users : []).filter((u) => String(u.id) !== String(selfId));
    const groups = Array.isArray(dir.groups) ? dir.groups : [];
    setChildren(
      picker,
      el('option', { value: '' }, 'Choose…'),
      users.length
        ? el(
            'optgroup',
            { label: 'Reps' },
            users.map((u) => el('option', { value: `u:${u.id}` }, userLabel(u))),
          )
        : null,
      groups.length ? el('optgroup', { label: 'Groups' }, groups.map((g) => el('option', { value: `g:${g.id}` }, `${g.name} (every member)`))) : null,
    );
    picker.focus();
  } catch (exc) {
    setChildren(picker, el('option', { value: '' }, 'Could not load the directory'));
    showError(error, exc);
  }
}

/** Copy `text`, falling back to selecting it in `input` when the Clipboard API is not available. */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** External invitation: create a one-time key (its URL is shown once); list and cancel the unused keys. */
export function openExternalDialog(sessionId, { done }) {
  const base = `/sessions/${encodeURIComponent(sessionId)}/external-keys`;
  const error = el('div', { class: 'alert', role: 'alert', hidden: true });
  const description = el('input', { id: 'ext-description', name: 'description', type: 'text', maxlength: DESCRIPTION_MAX, required: true, 'data-testid': 'external-description', autocomplete: 'off' });
  const minutes = el('input', { id: 'ext-expires', name: 'expires_minutes', type: 'number', min: 1, max: 1440, value: '60', required: true, 'data-testid': 'external-expires' });
  const mode = el(
    'select',
    { id: 'ext-mode', name: 'mode', 'data-testid': 'external-mode' },
    el('option', { value: 'observer', selected: true }, 'Observer (view only)'),
    el('option', { value: 'peer' }, 'Peer (may type)'),
  );
  const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': 'external-create' }, 'Create Key');
  const result = el('div', { class: 'external-result', hidden: true, 'data-testid': 'external-result' });
  const keys = el('ul', { class: 'invite-list', 'data-testid': 'external-keys' }, emptyRow('Loading…'));
  const form = el(
    'form',
    { class: 'invite-form', novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'ext-description' }, 'Description'), description, el('div', { class: 'help' }, 'Who it is for and why, e.g. "George, vendor: new server".')),
    el(
      'div',
      { class: 'form-grid' },
      el('div', { class: 'field' }, el('label', { for: 'ext-expires' }, 'Expires after (minutes)'), minutes),
      el('div', { class: 'field' }, el('label', { for: 'ext-mode' }, 'Mode'), mode),
    ),
    el('div', { class: 'actions' }, submit),
  );
  openDialog(
    'Invite external user',
    el(
      'div',
      { class: 'dialog-body' },
      el('p', { class: 'muted' }, 'A one-time link for someone without an account. It works once, until it expires; they can never become the owner.'),
      error,
      form,
      result,
      el('h3', {}, 'Unused keys'),
      keys,
    ),
    { onClose: done, testid: 'external-dialog' },
  );
  description.focus();

  async function loadKeys() {
    let items;
    try {
      items = asList(await api('GET', base));
    } catch (exc) {
      setChildren(keys, emptyRow('Could not list the keys.'));
      showError(error, exc);
      return;
    }
    if (!items.length) {
      setChildren(keys, emptyRow('No unused keys.'));
      return;
    }
    setChildren(
      keys,
      items.map((k) => {
        const cancel = el('button', { type: 'button', class: 'small-button', 'data-testid': 'cancel-external-key', 'aria-label': `Cancel the key ${k.description || ''}` }, 'Cancel');
        cancel.addEventListener('click', () =>
          busy(cancel, error, async () => {
            await api('DELETE', `${base}/${encodeURIComponent(k.id)}`);
            await loadKeys();
          }),
        );
        return el(
          'li',
          { 'data-testid': 'external-key', dataset: { keyId: String(k.id) } },
          el('span', { class: 'invite-who' }, k.description || 'Key'),
          el('span', { class: 'badge' }, k.mode === 'peer' ? 'Peer' : 'Observer'),
          k.expires_at ? el('span', { class: 'muted small' }, 'expires ' + formatDate(k.expires_at)) : null,
          cancel,
        );
      }),
    );
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = description.value.trim();
    const n = Number(minutes.value);
    if (!text) {
      showError(error, { message: 'Enter a description.' });
      description.focus();
      return;
    }
    if (!Number.isInteger(n) || n < 1 || n > 1440) {
      showError(error, { message: 'The key expires after 1 to 1440 minutes.' });
      minutes.focus();
      return;
    }
    busy(submit, error, async () => {
      const answer = await api('POST', base, { description: text, expires_minutes: n, mode: mode.value });
      const url = new URL(String(answer.url || `/join/${answer.key}`), location.origin).href;
      const field = el('input', { type: 'text', readonly: true, value: url, class: 'mono', 'data-testid': 'external-url', 'aria-label': 'Invitation URL' });
      const status = el('span', { class: 'muted small', role: 'status' });
      const copyBtn = el('button', { type: 'button', class: 'primary', 'data-testid': 'copy-external-url' }, 'Copy');
      copyBtn.addEventListener('click', async () => {
        status.textContent = (await copy(url, field)) ? 'Copied.' : 'Select the link and copy it.';
      });
      setChildren(
        result,
        el('p', {}, el('strong', {}, 'Give this link to the invitee now: it is shown only once.')),
        el('div', { class: 'copy-row' }, field, copyBtn),
        el('p', { class: 'muted small' }, `${answer.mode === 'peer' ? 'Peer' : 'Observer'}; expires ${formatDate(answer.expires_at)}. `, status),
      );
      result.hidden = false;
      description.value = '';
      field.select();
      await loadKeys();
    });
  });

  loadKeys();
}
