// The admin page: users, Jump Groups and their members, Jumpoints (registration keys, their member hosts), own
// API tokens, and the host keys each Jumpoint's members trust. Non-administrators see only their API tokens.

import { api, asList } from './api.js';
import { parseScopes, showScopeErrors } from './credential-picker.js';
import { $, busy, confirmDialog, el, formatDate, openDialog, setChildren, setupHeader, showError, showFieldErrors, showInfo } from './ui.js';

let users = [];
let jumpoints = [];
let me = null;

const RECORDING_POLICIES = [
  ['per_item', "Each Jump Item's setting"],
  ['always', 'Always record'],
  ['never', 'Never record'],
];
const RECORDING_SHORT = { per_item: 'Per item', always: 'Always', never: 'Never' };

/** The allowed folders typed one per line: trimmed, blank lines dropped. */
function parseRoots(text) {
  return String(text || '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** A local check of the allowed folders (the console checks again): {field: message} or null. */
function rootsProblem(roots) {
  const bad = roots.find((r) => !r.startsWith('/'));
  if (bad) return `'${bad}' is not an absolute path: start each folder with /.`;
  return null;
}

function fileRightsText(u) {
  const rights = [];
  if (u.file_upload !== false) rights.push('upload');
  if (u.file_download !== false) rights.push('download');
  const what = rights.length ? rights.join(', ') : 'none';
  const roots = Array.isArray(u.file_roots) && u.file_roots.length ? ` (in ${u.file_roots.join(', ')})` : '';
  return what + (rights.length ? roots : '');
}

function table(headers, rows, emptyText) {
  if (rows.length === 0) return el('p', { class: 'muted' }, emptyText);
  return el(
    'table',
    { class: 'table' },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows),
  );
}

function isPersonal(group) {
  return Boolean(
    group.personal || group.is_personal || group.kind === 'personal' || group.type === 'personal' ||
      (group.owner_user_id !== undefined && group.owner_user_id !== null),
  );
}

function userName(id) {
  const u = users.find((x) => String(x.id) === String(id));
  return u ? u.username : `#${id}`;
}

/** Wire a <form> to an async submit handler with its error box and field errors. */
function onSubmit(form, handler) {
  const box = form.querySelector('.alert');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, null);
    await busy(form.querySelector('button[type=submit]'), box, async () => {
      try {
        await handler(form);
      } catch (exc) {
        showFieldErrors(form, exc);
        showScopeErrors(form, exc);
        throw exc;
      }
    });
  });
}

// ---- users ------------------------------------------------------------------------------------------

async function loadUsers() {
  users = asList(await api('GET', '/users'), 'users');
  setChildren(
    $('#users-list'),
    table(
      ['Username', 'Display name', 'Administrator', 'File transfer', ''],
      users.map((u) =>
        el(
          'tr',
          { dataset: { username: u.username } },
          el('td', {}, u.username, u.disabled ? el('span', { class: 'badge' }, 'disabled') : null),
          el('td', {}, u.display_name || ''),
          el('td', {}, u.is_admin ? 'Yes' : 'No'),
          el('td', { class: 'small' }, fileRightsText(u)),
          el(
            'td',
            { class: 'row-actions' },
            el(
              'button',
              { type: 'button', 'data-testid': `user-edit-${u.username}`, 'aria-label': `Edit ${u.username}`, onclick: () => openUserEditor(u) },
              'Edit',
            ),
            el(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  if (!(await confirmDialog('Delete user', `Delete the user '${u.username}'?`))) return;
                  await busy(null, $('#users-error'), async () => {
                    await api('DELETE', `/users/${encodeURIComponent(u.id)}`);
                    await loadUsers();
                  });
                },
              },
              'Delete',
            ),
          ),
        ),
      ),
      'No users.',
    ),
  );
}

function checkbox(id, name, label, checked) {
  return el(
    'label',
    { class: 'checkbox', for: id },
    el('input', { type: 'checkbox', id, name, checked }),
    ' ',
    label,
  );
}

/** Edit a user: display name, administrator, a new password, file-transfer permissions. */
function openUserEditor(u) {
  const self = me && String(me.id) === String(u.id);
  const displayName = el('input', { id: 'edit-display-name', name: 'display_name', type: 'text', maxlength: 128, value: u.display_name || '' });
  const password = el('input', { id: 'edit-password', name: 'password', type: 'password', autocomplete: 'new-password', maxlength: 1024 });
  const roots = el('textarea', { id: 'edit-file-roots', name: 'file_roots', rows: 3, class: 'mono', spellcheck: 'false' });
  roots.value = (u.file_roots || []).join('\n');
  const slot = (name) => el('span', { class: 'field-error', dataset: { fieldError: name }, hidden: true });
  const box = el('div', { class: 'alert', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', class: 'primary', 'data-testid': 'user-save' }, 'Save');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const admin = checkbox('edit-is-admin', 'is_admin', 'Administrator', u.is_admin);
  if (self) {
    admin.querySelector('input').disabled = true;
    admin.title = 'You cannot remove your own administrator rights.';
  }
  const form = el(
    'form',
    { class: 'dialog-body', novalidate: true, autocomplete: 'off', 'data-testid': 'user-edit-form' },
    box,
    el('div', { class: 'field' }, el('label', { for: 'edit-display-name' }, 'Display name'), displayName, slot('display_name')),
    el('div', { class: 'field' }, admin, slot('is_admin')),
    el(
      'div',
      { class: 'field' },
      el('label', { for: 'edit-password' }, 'New password'),
      password,
      el('div', { class: 'help' }, 'Leave empty to keep the current password. A new password signs the user out everywhere.'),
      slot('password'),
    ),
    el(
      'fieldset',
      { class: 'plain-fieldset' },
      el('legend', {}, 'File transfer (SFTP)'),
      el('div', { class: 'field' }, checkbox('edit-file-upload', 'file_upload', 'May upload files to targets', u.file_upload !== false), slot('file_upload')),
      el('div', { class: 'field' }, checkbox('edit-file-download', 'file_download', 'May download files from targets', u.file_download !== false), slot('file_download')),
      el(
        'div',
        { class: 'field' },
        el('label', { for: 'edit-file-roots' }, 'Allowed folders'),
        roots,
        el('div', { class: 'help' }, 'Absolute paths on the targets, one per line. Empty: anywhere the target account may go.'),
        slot('file_roots'),
      ),
    ),
    el('div', { class: 'actions' }, cancel, save),
  );
  const { close } = openDialog(`Edit user ${u.username}`, form, { testid: 'user-edit-dialog', onClose: () => (password.value = '') });
  cancel.addEventListener('click', close);
  displayName.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, null);
    const get = (n) => form.elements.namedItem(n);
    const rootList = parseRoots(roots.value);
    const problem = rootsProblem(rootList);
    if (problem) {
      showError(box, { message: problem });
      roots.setAttribute('aria-invalid', 'true');
      roots.focus();
      return;
    }
    const body = {
      display_name: displayName.value.trim(),
      file_upload: get('file_upload').checked,
      file_download: get('file_download').checked,
      file_roots: rootList,
    };
    if (!self) body.is_admin = get('is_admin').checked;
    if (password.value) body.password = password.value;
    await busy(save, box, async () => {
      try {
        await api('PATCH', `/users/${encodeURIComponent(u.id)}`, body);
      } catch (exc) {
        showFieldErrors(form, exc);
        throw exc;
      } finally {
        body.password = '';
      }
      password.value = '';
      close();
      showInfo($('#users-error'), `Saved the user '${u.username}'.`);
      await loadUsers();
    });
  });
}

function setupUserForm() {
  onSubmit($('#user-form'), async (form) => {
    const get = (n) => form.elements.namedItem(n);
    const roots = parseRoots(get('file_roots').value);
    const problem = rootsProblem(roots);
    if (problem) throw new Error(problem);
    const body = {
      username: get('username').value.trim(),
      display_name: get('display_name').value.trim() || undefined,
      password: get('password').value,
      is_admin: get('is_admin').checked,
      file_upload: get('file_upload').checked,
      file_download: get('file_download').checked,
      file_roots: roots,
    };
    try {
      await api('POST', '/users', body);
    } finally {
      get('password').value = '';
      body.password = '';
    }
    showInfo(form.querySelector('.alert'), `Created the user '${body.username}'.`);
    form.reset();
    await Promise.all([loadUsers(), loadGroups()]);
  });
}

// ---- Jump Groups --------------------------------------------------------------------------------------

async function loadGroups() {
  const groups = asList(await api('GET', '/jump-groups'), 'groups', 'jump_groups').filter((g) => !isPersonal(g));
  const details = await Promise.all(
    groups.map((g) => (Array.isArray(g.members) ? g : api('GET', `/jump-groups/${encodeURIComponent(g.id)}`).catch(() => g))),
  );
  setChildren(
    $('#groups-list'),
    table(
      ['Jump Group', 'Members', 'Recording', 'Credentials reps may choose', ''],
      details.map((g) => {
        // Radio buttons, not a select: one choice of three, visible at a glance.
        const current = g.recording || 'per_item';
        const recording = el(
          'div',
          { class: 'segmented', role: 'radiogroup', 'aria-label': `Recording policy of ${g.name}`, 'data-testid': `group-recording-${g.name}` },
          RECORDING_POLICIES.map(([value, label]) =>
            el(
              'label',
              { class: 'segment', title: label },
              el('input', { type: 'radio', name: `recording-${g.id}`, value, checked: current === value }),
              ' ',
              RECORDING_SHORT[value],
            ),
          ),
        );
        recording.addEventListener('change', async (ev) => {
          const chosen = ev.target.value;
          const radios = [...recording.querySelectorAll('input')];
          const before = g.recording || 'per_item';
          for (const r of radios) r.disabled = true;
          try {
            showError($('#groups-error'), null);
            await api('PATCH', `/jump-groups/${encodeURIComponent(g.id)}`, { recording: chosen });
            g.recording = chosen;
            showInfo($('#groups-error'), `'${g.name}': ${RECORDING_POLICIES.find(([v]) => v === chosen)[1].toLowerCase()}.`);
          } catch (exc) {
            showError($('#groups-error'), exc);
            for (const r of radios) r.checked = r.value === before;
          } finally {
            for (const r of radios) r.disabled = false;
          }
        });
        const members = Array.isArray(g.members) ? g.members : [];
        const scopes = Array.isArray(g.credential_scopes) ? g.credential_scopes : [];
        const memberIds = members.map((m) => (typeof m === 'object' ? (m.user_id ?? m.id) : m));
        const select = el(
          'select',
          { 'aria-label': `User to add to ${g.name}` },
          el('option', { value: '' }, 'Add a member…'),
          users.filter((u) => !memberIds.map(String).includes(String(u.id))).map((u) => el('option', { value: String(u.id) }, u.username)),
        );
        select.addEventListener('change', async () => {
          if (!select.value) return;
          await busy(select, $('#groups-error'), async () => {
            await api('PUT', `/jump-groups/${encodeURIComponent(g.id)}/members/${encodeURIComponent(select.value)}`, {});
            await loadGroups();
          });
        });
        return el(
          'tr',
          {},
          el('td', {}, g.name, g.comments ? el('div', { class: 'muted small' }, g.comments) : null),
          el(
            'td',
            {},
            el(
              'ul',
              { class: 'chips' },
              members.map((m) => {
                const id = typeof m === 'object' ? (m.user_id ?? m.id) : m;
                const label = typeof m === 'object' && m.username ? m.username : userName(id);
                return el(
                  'li',
                  { class: 'chip' },
                  label,
                  el(
                    'button',
                    {
                      type: 'button',
                      class: 'chip-remove',
                      'aria-label': `Remove ${label} from ${g.name}`,
                      onclick: async () => {
                        await busy(null, $('#groups-error'), async () => {
                          await api('DELETE', `/jump-groups/${encodeURIComponent(g.id)}/members/${encodeURIComponent(id)}`);
                          await loadGroups();
                        });
                      },
                    },
                    '\u00d7',
                  ),
                );
              }),
            ),
            select,
          ),
          el('td', {}, recording),
          el(
            'td',
            { 'data-testid': `group-scopes-${g.name}` },
            scopes.length
              ? el('ul', { class: 'group-scopes' }, scopes.map((scope) => el('li', { class: 'mono' }, scope)))
              : el('span', { class: 'muted' }, 'None'),
            ' ',
            el(
              'button',
              {
                type: 'button',
                class: 'link-button',
                'aria-label': `Edit the credentials reps may choose in ${g.name}`,
                'data-testid': `group-scopes-edit-${g.name}`,
                onclick: () => openScopesEditor(g),
              },
              'Edit',
            ),
          ),
          el(
            'td',
            { class: 'row-actions' },
            el(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  if (!(await confirmDialog('Delete Jump Group', `Delete the Jump Group '${g.name}' and its Jump Items?`))) return;
                  await busy(null, $('#groups-error'), async () => {
                    await api('DELETE', `/jump-groups/${encodeURIComponent(g.id)}`);
                    await loadGroups();
                  });
                },
              },
              'Delete',
            ),
          ),
        );
      }),
      'No shared Jump Groups yet.',
    ),
  );
}

const SCOPES_HELP =
  'One per line: a credential (local:lab/root), a folder ending in / (local:lab/, vault:secret/linux/) or store:* for all of a store. Reps choose one of them when they Jump to an item of this group that has no credential of its own.';

/** Edit the credential scopes of a shared Jump Group. */
function openScopesEditor(g) {
  const scopes = el('textarea', { id: 'edit-group-scopes', name: 'credential_scopes', rows: 5, class: 'mono', spellcheck: 'false', 'aria-describedby': 'edit-group-scopes-help' });
  scopes.value = (g.credential_scopes || []).join('\n');
  const box = el('div', { class: 'alert', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', class: 'primary', 'data-testid': 'group-scopes-save' }, 'Save');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const form = el(
    'form',
    { class: 'dialog-body', novalidate: true, autocomplete: 'off', 'data-testid': 'group-scopes-form' },
    box,
    el(
      'div',
      { class: 'field' },
      el('label', { for: 'edit-group-scopes' }, 'Credentials reps may choose'),
      scopes,
      el('div', { id: 'edit-group-scopes-help', class: 'help' }, SCOPES_HELP),
      el('span', { class: 'field-error', dataset: { fieldError: 'credential_scopes' }, hidden: true }),
    ),
    el('div', { class: 'actions' }, cancel, save),
  );
  const { close } = openDialog(`Credentials of ${g.name}`, form, { testid: 'group-scopes-dialog' });
  cancel.addEventListener('click', close);
  scopes.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, null);
    await busy(save, box, async () => {
      try {
        await api('PATCH', `/jump-groups/${encodeURIComponent(g.id)}`, { credential_scopes: parseScopes(scopes.value) });
      } catch (exc) {
        showFieldErrors(form, exc);
        showScopeErrors(form, exc);
        throw exc;
      }
      close();
      showInfo($('#groups-error'), `Saved the credentials of '${g.name}'.`);
      await loadGroups();
    });
  });
}

function setupGroupForm() {
  onSubmit($('#group-form'), async (form) => {
    const name = form.elements.namedItem('name').value.trim();
    const recording = form.elements.namedItem('recording').value || 'per_item';
    const scopes = parseScopes(form.elements.namedItem('credential_scopes').value);
    await api('POST', '/jump-groups', { name, recording, credential_scopes: scopes });
    form.reset();
    showInfo(form.querySelector('.alert'), `Created the Jump Group '${name}'.`);
    await loadGroups();
  });
}

// ---- Jumpoints ------------------------------------------------------------------------------------------

function registrationCommand(answer) {
  if (answer && typeof answer.command === 'string') return answer.command;
  return `jumpoint register --console ${location.origin} --key ${answer.key}`;
}

async function showRegistrationKey(jp) {
  await busy(null, $('#jumpoints-error'), async () => {
    const answer = await api('POST', `/jumpoints/${encodeURIComponent(jp.id)}/registration-keys`, {});
    const key = answer.key ?? answer.registration_key ?? '';
    const command = registrationCommand({ ...answer, key });
    const { close } = openDialog(
      `Registration key for ${jp.name}`,
      el(
        'div',
        { class: 'dialog-body' },
        el('p', {}, 'This key is shown only once and can be used once', answer.expires_at ? `, until ${formatDate(answer.expires_at)}` : '', '.'),
        el('label', { for: 'reg-key' }, 'Key'),
        el('input', { id: 'reg-key', class: 'mono', readonly: true, value: key }),
        el('label', { for: 'reg-cmd' }, 'On the Jumpoint host, run:'),
        el('textarea', { id: 'reg-cmd', class: 'mono', readonly: true, rows: 2, value: command }),
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'primary', onclick: () => close() }, 'Done')),
      ),
      {
        onClose: () => {
          // Nothing keeps the key after the dialog is gone.
        },
      },
    );
  });
}

/** "Connected", "Connected (1 of 2 members)", "Not connected" or "Not registered". */
function jumpointState(jp) {
  const members = Number(jp.members ?? (jp.registered ? 1 : 0));
  const up = Number(jp.members_connected ?? (jp.connected ? 1 : 0));
  if (!members) return jp.connected ? 'Connected' : 'Not registered';
  const cluster = members > 1 ? ` (${up} of ${members} members)` : '';
  return (jp.connected ? 'Connected' : 'Not connected') + cluster;
}

async function loadJumpoints() {
  jumpoints = asList(await api('GET', '/jumpoints'), 'jumpoints');
  setChildren(
    $('#jumpoints-list'),
    table(
      ['Jumpoint', 'State', 'Host', ''],
      jumpoints.map((jp) =>
        el(
          'tr',
          { dataset: { jumpoint: jp.name } },
          el('td', {}, jp.name, jp.comments ? el('div', { class: 'muted small' }, jp.comments) : null),
          el(
            'td',
            { 'data-testid': `jumpoint-state-${jp.name}` },
            el('span', { class: 'dot ' + (jp.connected ? 'dot-online' : 'dot-offline') }),
            jumpointState(jp),
          ),
          el('td', {}, jp.hostname || jp.agent_hostname || ''),
          el(
            'td',
            { class: 'row-actions' },
            el('button', { type: 'button', onclick: () => showRegistrationKey(jp) }, 'Registration key'),
            el('button', { type: 'button', 'aria-label': `Members of ${jp.name}`, onclick: () => loadMembers(jp) }, 'Members'),
            el('button', { type: 'button', onclick: () => loadHostKeys(jp) }, 'Host keys'),
          ),
        ),
      ),
      'No Jumpoints yet.',
    ),
  );
  for (const id of ['#hostkeys-jumpoint', '#members-jumpoint']) {
    const select = $(id);
    const current = select.value;
    setChildren(select, jumpoints.map((jp) => el('option', { value: String(jp.id), selected: String(jp.id) === current }, jp.name)));
  }
}

// ---- Jumpoint members -------------------------------------------------------------------------------------

async function loadMembers(jp) {
  const select = $('#members-jumpoint');
  select.value = String(jp.id);
  $('#members').scrollIntoView({ block: 'start' });
  const box = $('#members-list');
  await busy(null, $('#members-error'), async () => {
    let members;
    try {
      members = asList(await api('GET', `/jumpoints/${encodeURIComponent(jp.id)}/members`), 'members');
    } catch (exc) {
      box.replaceChildren();
      throw exc;
    }
    setChildren(
      box,
      table(
        ['Host', 'State', 'Active sessions', 'Registered', 'Last seen', ''],
        members.map((m) =>
          el(
            'tr',
            { dataset: { member: m.hostname } },
            el('td', {}, m.hostname || `#${m.id}`, m.builtin ? el('span', { class: 'badge' }, 'built-in') : null),
            el(
              'td',
              {},
              el('span', { class: 'dot ' + (m.connected ? 'dot-online' : 'dot-offline') }),
              m.connected ? `Connected since ${formatDate(m.connected_since)}` : 'Not connected',
            ),
            el('td', {}, String(m.active_sessions ?? 0)),
            el('td', {}, formatDate(m.registered_at)),
            el('td', {}, formatDate(m.last_seen_at) || 'Never'),
            el(
              'td',
              { class: 'row-actions' },
              el(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'aria-label': `Revoke ${m.hostname} from ${jp.name}`,
                  onclick: async () => {
                    const sessions = m.active_sessions ? ` Its ${m.active_sessions} active session(s) end.` : '';
                    const ok = await confirmDialog(
                      'Revoke member',
                      `Revoke the member ${m.hostname} of ${jp.name}? Its token stops working at once and it disconnects.${sessions} The other members go on; the host must register again with a new key to return.`,
                      'Revoke',
                    );
                    if (!ok) return;
                    await busy(null, $('#members-error'), async () => {
                      await api('DELETE', `/jumpoints/${encodeURIComponent(jp.id)}/members/${encodeURIComponent(m.id)}`);
                      await Promise.all([loadMembers(jp), loadJumpoints()]);
                      showInfo($('#members-error'), `Revoked the member ${m.hostname} of ${jp.name}.`);
                    });
                  },
                },
                'Revoke',
              ),
            ),
          ),
        ),
        'No member registered yet: use "Registration key" and run the command on the Jumpoint host.',
      ),
    );
  });
}

function setupJumpointForm() {
  onSubmit($('#jumpoint-form'), async (form) => {
    const name = form.elements.namedItem('name').value.trim();
    await api('POST', '/jumpoints', { name });
    form.reset();
    showInfo(form.querySelector('.alert'), `Created the Jumpoint '${name}'. Use "Registration key" to connect its host.`);
    await loadJumpoints();
  });
}

// ---- host keys ----------------------------------------------------------------------------------------------

async function loadHostKeys(jp) {
  const select = $('#hostkeys-jumpoint');
  select.value = String(jp.id);
  $('#hostkeys').scrollIntoView({ block: 'start' });
  const box = $('#hostkeys-list');
  setChildren(box, el('p', { class: 'muted' }, 'Loading…'));
  await busy(null, $('#hostkeys-error'), async () => {
    let keys;
    try {
      keys = asList(await api('GET', `/jumpoints/${encodeURIComponent(jp.id)}/host-keys`), 'host_keys', 'keys');
    } catch (exc) {
      box.replaceChildren();
      throw exc;
    }
    setChildren(
      box,
      table(
        ['Host', 'Port', 'Algorithm', 'Fingerprint', 'Added', 'Saved on', ''],
        keys.map((k) => {
          const algorithm = k.algorithm ?? (k.key && k.key.algorithm) ?? '';
          const fingerprint = k.fingerprint ?? (k.key && k.key.fingerprint) ?? '';
          return el(
            'tr',
            {},
            el('td', {}, k.host),
            el('td', {}, String(k.port)),
            el('td', { class: 'mono' }, algorithm),
            el('td', { class: 'mono small' }, fingerprint),
            el('td', {}, formatDate(k.added_at)),
            el('td', {}, k.added_by || ''),
            el(
              'td',
              { class: 'row-actions' },
              el(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: async () => {
                    const ok = await confirmDialog(
                      'Remove host key',
                      `Remove the ${algorithm} key of ${k.host}:${k.port} (${fingerprint}) from every member of ${jp.name}? The next Jump to it will ask again.`,
                      'Remove',
                    );
                    if (!ok) return;
                    await busy(null, $('#hostkeys-error'), async () => {
                      const qs = new URLSearchParams({ host: k.host, port: String(k.port), fingerprint });
                      await api('DELETE', `/jumpoints/${encodeURIComponent(jp.id)}/host-keys?${qs}`);
                      await loadHostKeys(jp);
                    });
                  },
                },
                'Remove',
              ),
            ),
          );
        }),
        'No trusted host keys yet.',
      ),
    );
  });
}

// ---- API tokens ---------------------------------------------------------------------------------------------

async function loadTokens() {
  const tokens = asList(await api('GET', '/tokens'), 'tokens');
  setChildren(
    $('#tokens-list'),
    table(
      ['Name', 'Created', 'Last used', ''],
      tokens.map((t) =>
        el(
          'tr',
          {},
          el('td', {}, t.name || `#${t.id}`),
          el('td', {}, formatDate(t.created_at)),
          el('td', {}, formatDate(t.last_used_at) || 'Never'),
          el(
            'td',
            { class: 'row-actions' },
            el(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  if (!(await confirmDialog('Delete API token', `Delete the API token '${t.name || t.id}'? Scripts using it stop working.`))) return;
                  await busy(null, $('#tokens-error'), async () => {
                    await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
                    await loadTokens();
                  });
                },
              },
              'Delete',
            ),
          ),
        ),
      ),
      'No API tokens.',
    ),
  );
}

function setupTokenForm() {
  onSubmit($('#token-form'), async (form) => {
    const name = form.elements.namedItem('name').value.trim();
    const answer = await api('POST', '/tokens', { name });
    form.reset();
    const text = answer.token ?? answer.secret ?? '';
    const { close } = openDialog(
      'New API token',
      el(
        'div',
        { class: 'dialog-body' },
        el('p', {}, 'Copy the token now: it is shown only once. Send it as ', el('code', {}, 'Authorization: Bearer <token>'), '.'),
        el('input', { id: 'new-token', class: 'mono', readonly: true, value: text, 'aria-label': 'API token' }),
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'primary', onclick: () => close() }, 'Done')),
      ),
    );
    await loadTokens();
  });
}

// ---- start ------------------------------------------------------------------------------------------------------

async function main() {
  let user;
  try {
    user = await setupHeader();
  } catch (exc) {
    showError($('#admin-error'), exc);
    return;
  }
  setupTokenForm();
  const loadAll = [loadTokens().catch((exc) => showError($('#tokens-error'), exc))];
  if (!user.is_admin) {
    for (const node of document.querySelectorAll('[data-admin-only]')) node.hidden = true;
    showInfo($('#admin-error'), 'Only administrators manage users, Jump Groups and Jumpoints. You can manage your own API tokens here.');
    await Promise.all(loadAll);
    return;
  }
  me = user;
  setupUserForm();
  setupGroupForm();
  setupJumpointForm();
  $('#hostkeys-load').addEventListener('click', () => {
    const jp = jumpoints.find((j) => String(j.id) === $('#hostkeys-jumpoint').value);
    if (jp) loadHostKeys(jp);
  });
  $('#members-load').addEventListener('click', () => {
    const jp = jumpoints.find((j) => String(j.id) === $('#members-jumpoint').value);
    if (jp) loadMembers(jp);
  });
  try {
    await loadUsers();
  } catch (exc) {
    showError($('#users-error'), exc);
  }
  loadAll.push(
    loadGroups().catch((exc) => showError($('#groups-error'), exc)),
    loadJumpoints().catch((exc) => showError($('#jumpoints-error'), exc)),
  );
  await Promise.all(loadAll);
}

main();
