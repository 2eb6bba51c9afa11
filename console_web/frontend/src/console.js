// The rep console: Jump Groups, Jump Items (search, create, edit, delete, Jump), live sessions, and the
// Client Scripting entry (?jump_search=S).

import { ApiError, api, asList } from './api.js';
import { chooseCredential, credentialScopes, needsCredentialChoice, parseScopes, showScopeErrors } from './credential-picker.js';
import { desktopViewport } from './desktop/viewport.js';
import { HOSTNAME_FIELD_MAX, TEXT_MAX, lengthProblems, maxlengthFor, splitHostPort } from './item-rules.js';
import {
  $,
  busy,
  confirmDialog,
  el,
  errorParts,
  formatDate,
  openDialog,
  setChildren,
  setupHeader,
  showError,
  showFieldErrors,
  showInfo,
} from './ui.js';

const LAST_JUMPOINT_KEY = 'openjump.lastJumpoint';
const DEFAULT_PORTS = { ssh: 22, telnet: 23, vnc: 5900, rdp: 3389 };
const DESKTOP_PROTOCOLS = new Set(['vnc', 'rdp']);
const SHORTCUT_KINDS = {
  ssh: 'Shell Jump Shortcut',
  telnet: 'Shell Jump Shortcut',
  vnc: 'Remote VNC Jump Shortcut',
  rdp: 'Remote RDP Jump Shortcut',
};
const RDP_SECURITY_LABELS = [
  ['auto', 'Auto (NLA or TLS)'],
  ['nla', 'NLA only'],
  ['tls', 'TLS only'],
  ['rdp', 'Classic RDP security (weak)'],
];
const QUALITY_LABELS = [
  ['black_and_white', 'Black and White'],
  ['few_colors', 'Few Colors'],
  ['more_colors', 'More Colors'],
  ['full_color', 'Full Color'],
  ['video', 'Video Optimized'],
];
// What the Jumpoint looks for when a telnet item leaves a pattern empty (RE2 regular expressions; the same as
// protocols/telnet/login.py).
const TELNET_DEFAULTS = {
  login_prompt: '(?:login|username|user name)\\s*:\\s*$',
  password_prompt: 'password\\s*:\\s*$',
  login_failure:
    'login incorrect|authentication failure|access denied|login failed|login invalid|incorrect password|invalid password|bad password',
};
const NOT_INJECTED =
  'Credentials are not injected into this item: a rep changed its target. An administrator must review and save it.';
// What decides where an injected credential goes (console_web/api/item_credentials.py): a rep who changes one of
// these stops the injection until an administrator saves the item.
const TARGET_FIELDS = [
  'hostname',
  'port',
  'protocol',
  'jumpoint_id',
  'group_id',
  'domain',
  'rdp_security',
  'ignore_certificate',
  'username',
  'login_prompt',
  'password_prompt',
  'login_failure',
];
const RECORDING_HINTS = {
  always: 'This Jump Group records every session: the group policy overrides this setting.',
  never: 'This Jump Group never records sessions: the group policy overrides this setting.',
  per_item: "This Jump Group follows each Jump Item's own setting.",
};

const state = {
  user: null,
  groups: [],
  jumpoints: [],
  items: [],
  groupId: 'all',
  search: '',
  truncated: false,
};
// Each list request gets a number: only the answer to the latest one is shown (an older, slower answer is stale).
let itemsSeq = 0;

const errorBox = () => $('#console-error');

// ---- helpers for the shapes of API objects ----------------------------------------------------

function itemGroupId(item) {
  return item.group_id ?? item.jump_group_id ?? null;
}

function isPersonal(group) {
  return Boolean(
    group.personal || group.is_personal || group.kind === 'personal' || group.type === 'personal' ||
      (group.owner_user_id !== undefined && group.owner_user_id !== null),
  );
}

function groupLabel(group) {
  if (!group) return '';
  return isPersonal(group) ? 'Personal' : group.name;
}

function groupById(id) {
  return state.groups.find((g) => String(g.id) === String(id)) || null;
}

function isAdmin() {
  return Boolean(state.user && state.user.is_admin);
}

/** A rep changed the target of an item that has credentials: nothing is injected until an admin saves it. */
function credentialsBlocked(item) {
  return item.target_by_admin === false && Boolean(item.credential_ref || credentialScopes(item, groupById(itemGroupId(item))).length);
}

function jumpointById(id) {
  return state.jumpoints.find((j) => String(j.id) === String(id)) || null;
}

function sessionUrl(answer) {
  for (const candidate of [answer && answer.page, answer && answer.url]) {
    if (typeof candidate === 'string' && /^\/sessions\/[A-Za-z0-9_-]+$/.test(candidate)) return candidate;
  }
  return '/sessions/' + encodeURIComponent(answer.session_id);
}

/** A first guess of the session tab's terminal size, so the remote shell starts near the right size. */
function estimateSize() {
  const cols = Math.floor((window.innerWidth - 24) / 8.5);
  const rows = Math.floor((window.innerHeight - 64) / 17);
  return {
    cols: Math.min(1000, Math.max(20, cols)),
    rows: Math.min(500, Math.max(5, rows)),
  };
}

// ---- loading ----------------------------------------------------------------------------------

async function loadGroups() {
  state.groups = asList(await api('GET', '/jump-groups'), 'groups', 'jump_groups');
  state.groups.sort((a, b) => Number(isPersonal(b)) - Number(isPersonal(a)) || String(a.name).localeCompare(b.name));
  renderGroups();
}

async function loadJumpoints() {
  state.jumpoints = asList(await api('GET', '/jumpoints'), 'jumpoints');
}

async function loadItems() {
  const mine = ++itemsSeq;
  const params = new URLSearchParams();
  if (state.search) params.set('search', state.search);
  if (state.groupId !== 'all') params.set('group_id', state.groupId);
  const qs = params.toString();
  let answer;
  try {
    answer = await api('GET', '/jump-items' + (qs ? '?' + qs : ''));
  } catch (exc) {
    if (mine !== itemsSeq) return;
    throw exc;
  }
  if (mine !== itemsSeq) return;
  state.items = asList(answer, 'jump_items');
  state.truncated = Boolean(answer && answer.truncated);
  renderItems();
}

async function loadSessions() {
  const box = $('#sessions-list');
  let sessions;
  try {
    sessions = asList(await api('GET', '/sessions'), 'sessions');
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 401) {
      const { message, hint } = errorParts(exc);
      setChildren(
        box,
        el(
          'li',
          { class: 'muted', 'data-testid': 'sessions-error' },
          `Could not list sessions: ${message}`,
          hint ? el('div', { class: 'small' }, hint) : null,
        ),
      );
    }
    return;
  }
  const live = sessions.filter((s) => s.state !== 'ended');
  if (live.length === 0) {
    setChildren(box, el('li', { class: 'muted' }, 'No live sessions.'));
    return;
  }
  setChildren(
    box,
    live.map((s) => {
      const id = s.session_id ?? s.id;
      return el(
        'li',
        {},
        el('a', { href: '/sessions/' + encodeURIComponent(id), target: '_blank', rel: 'noopener' }, s.item_name || id),
        el('span', { class: 'badge badge-' + (s.state || 'unknown') }, s.state || ''),
        s.started_at ? el('span', { class: 'muted small' }, formatDate(s.started_at)) : null,
      );
    }),
  );
}

// ---- rendering --------------------------------------------------------------------------------

function renderGroups() {
  const list = $('#group-list');
  const entry = (id, label) =>
    el(
      'li',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'group-button' + (String(state.groupId) === String(id) ? ' selected' : ''),
          'aria-pressed': String(String(state.groupId) === String(id)),
          dataset: { groupId: String(id) },
          onclick: () => {
            state.groupId = id;
            renderGroups();
            loadItems().catch((exc) => showError(errorBox(), exc));
          },
        },
        label,
      ),
    );
  setChildren(list, entry('all', 'All Jump Groups'), state.groups.map((g) => entry(g.id, groupLabel(g))));
  const current = state.groupId === 'all' ? null : groupById(state.groupId);
  $('#items-title').textContent = current ? groupLabel(current) : 'All Jump Groups';
}

function jumpointCell(item) {
  const jp = jumpointById(item.jumpoint_id);
  const name = item.jumpoint_name || (jp && jp.name) || (item.jumpoint_id ? `#${item.jumpoint_id}` : '');
  const online = jp ? Boolean(jp.connected) : Boolean(item.jumpoint_connected);
  return el(
    'td',
    {},
    el('span', {
      class: 'dot ' + (online ? 'dot-online' : 'dot-offline'),
      title: online ? 'Connected' : 'Not connected',
      'aria-label': online ? 'Connected' : 'Not connected',
    }),
    name,
  );
}

function renderItems() {
  const body = $('#items-body');
  const empty = $('#items-empty');
  const items = [...state.items];
  const key = (it) => [groupLabel(groupById(itemGroupId(it))) || '', it.tag || '', it.name || ''];
  items.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i += 1) {
      const c = ka[i].localeCompare(kb[i]);
      if (c) return c;
    }
    return 0;
  });
  const rows = [];
  let lastGroup = null;
  let lastTag = null;
  for (const item of items) {
    const gid = itemGroupId(item);
    if (state.groupId === 'all' && String(gid) !== String(lastGroup)) {
      rows.push(el('tr', { class: 'group-row' }, el('th', { colspan: 7, scope: 'rowgroup' }, groupLabel(groupById(gid)) || 'Jump Group')));
      lastGroup = gid;
      lastTag = null;
    }
    const tag = item.tag || '';
    if (tag && tag !== lastTag) {
      rows.push(el('tr', { class: 'tag-row' }, el('th', { colspan: 7, scope: 'rowgroup' }, tag)));
    }
    lastTag = tag;
    const jumpBtn = el('button', { type: 'button', class: 'primary jump-button' }, 'Jump');
    jumpBtn.addEventListener('click', () => jump(item, { gesture: true, button: jumpBtn }));
    rows.push(
      el(
        'tr',
        { class: 'item-row' + (tag ? ' tagged' : ''), dataset: { itemId: String(item.id) } },
        el(
          'td',
          { class: 'item-name' },
          item.name,
          credentialsBlocked(item)
            ? el('span', { class: 'badge badge-warning', title: NOT_INJECTED, 'data-testid': 'item-needs-review' }, 'Credentials off')
            : null,
        ),
        el('td', {}, item.hostname + (item.port && item.port !== DEFAULT_PORTS[item.protocol] ? ':' + item.port : '')),
        el('td', {}, String(item.protocol || '').toUpperCase()),
        jumpointCell(item),
        el('td', {}, tag),
        el('td', { class: 'comments' }, item.comments || ''),
        el(
          'td',
          { class: 'row-actions' },
          jumpBtn,
          el('button', { type: 'button', class: 'edit-button', onclick: () => openItemForm(item) }, 'Edit'),
          el('button', { type: 'button', class: 'danger delete-button', onclick: () => deleteItem(item) }, 'Delete'),
        ),
      ),
    );
  }
  setChildren(body, rows);
  let notice = $('#items-truncated');
  if (!notice) {
    notice = el('p', { id: 'items-truncated', class: 'alert alert-info', role: 'status', hidden: true });
    $('.items-table').before(notice);
  }
  notice.hidden = !state.truncated;
  notice.textContent = state.truncated ? `Showing the first ${items.length} Jump Items: narrow the search.` : '';
  empty.hidden = items.length > 0;
  empty.textContent = state.search ? `No Jump Item matches '${state.search}'.` : 'No Jump Items in this view yet. Use Create to add one.';
}

// ---- actions ----------------------------------------------------------------------------------

/**
 * Open the session page that `start()` answers ({session_id, url}) in its own tab (the same tab if pop-ups are
 * blocked). With a user's gesture, the tab is opened synchronously in the click so the pop-up blocker allows it.
 */
async function openSessionTab(start, { gesture = false, button = null } = {}) {
  let win = gesture ? window.open('', '_blank') : null;
  if (win) {
    try {
      win.document.title = 'Connecting…';
    } catch {
      // Not ours to touch: ignore.
    }
  }
  if (button) button.disabled = true;
  try {
    showError(errorBox(), null);
    const answer = await start();
    const url = sessionUrl(answer);
    if (win && !win.closed) {
      win.opener = null;
      win.location.replace(url);
    } else {
      win = window.open(url, '_blank');
      if (win) {
        win.opener = null;
      } else {
        location.assign(url);
        return answer;
      }
    }
    loadSessions();
    return answer;
  } catch (exc) {
    if (win && !win.closed) win.close();
    showError(errorBox(), exc);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * Start a session on `item` (or join the running one of a join_existing item) in its own tab. An item that
 * offers credentials to choose from asks first ("Inject Credentials"); the click in that dialog is then the
 * gesture that opens the tab, also when the Jump itself came without one (Client Scripting).
 */
async function jump(item, options = {}) {
  if (needsCredentialChoice(item, groupById(itemGroupId(item)))) {
    showError(errorBox(), null);
    chooseCredential(item, {
      onJump: (credential) => startJump(item, credential, { gesture: true, button: options.button || null }),
    });
    return;
  }
  await startJump(item, null, options);
}

async function startJump(item, credential, options) {
  const body = estimateSize();
  // A desktop gets the room the session page will have for it (RDP sizes the remote desktop to it).
  if (DESKTOP_PROTOCOLS.has(item.protocol)) Object.assign(body, desktopViewport());
  if (credential) body.credential = credential;
  const answer = await openSessionTab(() => api('POST', `/jump-items/${encodeURIComponent(item.id)}/jump`, body), options);
  if (answer && answer.joined) showInfo(errorBox(), `Joined the running session on '${item.name}'.`);
}

// ---- invitations to shared sessions ---------------------------------------------------------------

const INVITATIONS_POLL_MS = 3000;
let invitationsBusy = false;
let invitationsStopped = false;

function invitationText(inv) {
  const from = inv.from && typeof inv.from === 'object' ? inv.from.name : '';
  const what = inv.item_name ? `'${inv.item_name}'` : 'a session';
  return from ? `${from} invites you to ${what}` : `Invitation to ${what}`;
}

function renderInvitations(items) {
  const box = $('#invitations');
  const list = $('#invitations-list');
  box.hidden = items.length === 0;
  document.title = (items.length ? `(${items.length}) ` : '') + 'Console — OpenJump';
  // Keep rows (and the focus on their buttons) that did not change.
  const wanted = new Set(items.map((inv) => String(inv.id)));
  for (const li of [...list.children]) {
    if (!wanted.has(li.dataset.invitationId)) li.remove();
  }
  const present = new Set([...list.children].map((li) => li.dataset.invitationId));
  for (const inv of items) {
    if (present.has(String(inv.id))) continue;
    const accept = el('button', { type: 'button', class: 'primary', 'data-testid': 'accept-invitation' }, 'Accept');
    const decline = el('button', { type: 'button', 'data-testid': 'decline-invitation' }, 'Decline');
    accept.addEventListener('click', () => acceptInvitation(inv, accept, decline));
    decline.addEventListener('click', () => declineInvitation(inv, accept, decline));
    list.append(
      el(
        'li',
        { 'data-testid': 'invitation', dataset: { invitationId: String(inv.id), sessionId: String(inv.session_id ?? '') } },
        el('span', { class: 'invitation-text' }, invitationText(inv)),
        inv.created_at ? el('span', { class: 'muted small' }, formatDate(inv.created_at)) : null,
        accept,
        decline,
      ),
    );
  }
}

async function loadInvitations() {
  if (invitationsBusy || invitationsStopped) return;
  invitationsBusy = true;
  try {
    renderInvitations(asList(await api('GET', '/invitations'), 'invitations'));
  } catch (exc) {
    // A console without shared sessions (404) or a lost login: stop asking.
    if (exc instanceof ApiError && (exc.status === 401 || exc.status === 404)) invitationsStopped = true;
  } finally {
    invitationsBusy = false;
  }
}

async function acceptInvitation(inv, ...buttons) {
  for (const b of buttons) b.disabled = true;
  await openSessionTab(
    async () => {
      const answer = await api('POST', `/invitations/${encodeURIComponent(inv.id)}/accept`, {});
      return { session_id: inv.session_id, ...answer };
    },
    { gesture: true },
  );
  for (const b of buttons) b.disabled = false;
  await loadInvitations();
}

async function declineInvitation(inv, ...buttons) {
  for (const b of buttons) b.disabled = true;
  try {
    showError(errorBox(), null);
    await api('POST', `/invitations/${encodeURIComponent(inv.id)}/decline`, {});
  } catch (exc) {
    showError(errorBox(), exc);
  }
  for (const b of buttons) b.disabled = false;
  await loadInvitations();
}

async function deleteItem(item) {
  const ok = await confirmDialog('Delete Jump Item', `Delete the Jump Item '${item.name}'? This cannot be undone.`);
  if (!ok) return;
  try {
    await api('DELETE', `/jump-items/${encodeURIComponent(item.id)}`);
    showInfo(errorBox(), `Deleted '${item.name}'.`);
    await loadItems();
  } catch (exc) {
    showError(errorBox(), exc);
  }
}

function field(label, input, name, { required = false, help = '' } = {}) {
  const id = 'f-' + name;
  input.id = id;
  return el(
    'div',
    { class: 'field' },
    el('label', { for: id }, label, required ? el('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
    input,
    help ? el('div', { class: 'help' }, help) : null,
    el('div', { class: 'field-error', dataset: { fieldError: name }, hidden: true, role: 'alert' }),
  );
}

function openItemForm(item = null) {
  const editing = item !== null;
  const v = item || {};
  const lastJp = localStorage.getItem(LAST_JUMPOINT_KEY);
  const protocol = v.protocol || 'ssh';

  const name = el('input', { name: 'name', type: 'text', maxlength: maxlengthFor(TEXT_MAX.name), required: true, value: v.name || '' });
  const jumpoint = el(
    'select',
    { name: 'jumpoint_id', required: true },
    state.jumpoints.length === 0 ? el('option', { value: '' }, 'No Shell Jump Jumpoints Available.') : null,
    state.jumpoints.map((j) =>
      el(
        'option',
        { value: String(j.id), selected: String(v.jumpoint_id ?? lastJp) === String(j.id) },
        j.name + (j.connected ? '' : ' (not connected)'),
      ),
    ),
  );
  const hostname = el('input', {
    name: 'hostname',
    type: 'text',
    maxlength: HOSTNAME_FIELD_MAX,
    required: true,
    value: v.hostname || '',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const proto = el(
    'select',
    { name: 'protocol' },
    el('option', { value: 'ssh', selected: protocol === 'ssh' }, 'SSH'),
    el('option', { value: 'telnet', selected: protocol === 'telnet' }, 'Telnet'),
    el('option', { value: 'vnc', selected: protocol === 'vnc' }, 'VNC (remote desktop)'),
    el('option', { value: 'rdp', selected: protocol === 'rdp' }, 'RDP (Windows remote desktop)'),
  );
  const port = el('input', { name: 'port', type: 'number', min: 1, max: 65535, required: true, value: String(v.port || DEFAULT_PORTS[protocol]) });
  const patterns = {};
  for (const key of Object.keys(TELNET_DEFAULTS)) {
    patterns[key] = el('input', {
      name: key,
      type: 'text',
      class: 'mono',
      maxlength: 256,
      value: v[key] || '',
      placeholder: TELNET_DEFAULTS[key],
      autocomplete: 'off',
      spellcheck: 'false',
    });
  }
  const telnetFields = el(
    'fieldset',
    { class: 'telnet-fields', 'data-testid': 'telnet-fields', hidden: protocol !== 'telnet' },
    el('legend', {}, 'Telnet'),
    el(
      'div',
      { class: 'alert alert-warning', role: 'note', 'data-testid': 'telnet-warning' },
      el('strong', {}, 'Not encrypted. '),
      'Telnet sends everything, including the password, in plain text: anyone on the network between the Jumpoint and the device can read it. Prefer SSH wherever the device offers it.',
    ),
    el('p', { class: 'muted small' }, 'Automatic login (with a Credential) waits for these prompts. Regular expressions, matched case-insensitively at the end of the text received; leave a field empty to use the default shown.'),
    field('Login prompt', patterns.login_prompt, 'login_prompt'),
    field('Password prompt', patterns.password_prompt, 'password_prompt'),
    field('Login failure', patterns.login_failure, 'login_failure', { help: 'Text that means the device refused the login.' }),
  );
  const quality = el(
    'select',
    { name: 'quality' },
    QUALITY_LABELS.map(([value, label]) => el('option', { value, selected: (v.quality || 'full_color') === value }, label)),
  );
  const domain = el('input', {
    name: 'domain',
    type: 'text',
    maxlength: maxlengthFor(TEXT_MAX.domain),
    value: v.domain || '',
    placeholder: 'CORP or corp.example.com',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const rdpSecurity = el(
    'select',
    { name: 'rdp_security' },
    RDP_SECURITY_LABELS.map(([value, label]) => el('option', { value, selected: (v.rdp_security || 'auto') === value }, label)),
  );
  const consoleSession = el('input', { type: 'checkbox', id: 'f-console_session', name: 'console_session', checked: Boolean(v.console_session) });
  const ignoreCertificate = el('input', {
    type: 'checkbox',
    id: 'f-ignore_certificate',
    name: 'ignore_certificate',
    checked: Boolean(v.ignore_certificate),
  });
  const weakSecurity = el(
    'div',
    { class: 'alert alert-warning', role: 'note', 'data-testid': 'rdp-weak-security', hidden: rdpSecurity.value !== 'rdp' },
    el('strong', {}, 'Weak. '),
    'Classic RDP security does not check who answers and protects the password with old encryption: use it only for servers that offer neither NLA nor TLS.',
  );
  rdpSecurity.addEventListener('change', () => {
    weakSecurity.hidden = rdpSecurity.value !== 'rdp';
  });
  const vncFields = el(
    'div',
    { class: 'vnc-fields', 'data-testid': 'vnc-fields', hidden: protocol !== 'vnc' },
    el('p', { class: 'muted small' }, 'The VNC password comes from the Credential below when an administrator set one; otherwise the rep is asked at Jump time. The Jumpoint prefers VeNCrypt (TLS) when the server offers it.'),
  );
  const rdpFields = el(
    'div',
    { class: 'rdp-fields', 'data-testid': 'rdp-fields', hidden: protocol !== 'rdp' },
    field('Domain', domain, 'domain', { help: 'The Windows domain of the Username; leave it empty for a local account.' }),
    field('Security', rdpSecurity, 'rdp_security', {
      help: 'Auto uses Network Level Authentication (NLA) or TLS, whichever the server offers.',
    }),
    weakSecurity,
    el(
      'div',
      { class: 'field checkbox-field' },
      el('label', { class: 'checkbox', for: 'f-console_session' }, consoleSession, ' Console Session'),
      el('div', { class: 'help' }, 'Connect to the console session rather than start a new session.'),
      el('div', { class: 'field-error', dataset: { fieldError: 'console_session' }, hidden: true, role: 'alert' }),
      el('label', { class: 'checkbox', for: 'f-ignore_certificate' }, ignoreCertificate, ' Ignore Untrusted Certificate'),
      el('div', { class: 'help' }, "Connect without the certificate warning when the server's certificate cannot be verified. Then nothing proves that the right server answered."),
      el('div', { class: 'field-error', dataset: { fieldError: 'ignore_certificate' }, hidden: true, role: 'alert' }),
    ),
    el('p', { class: 'muted small' }, 'The password comes from the Credential below when an administrator set one; otherwise the rep is asked at Jump time. The desktop takes the size of the session window.'),
  );
  const desktopFields = el(
    'fieldset',
    { class: 'desktop-fields', 'data-testid': 'desktop-fields', hidden: !DESKTOP_PROTOCOLS.has(protocol) },
    el('legend', {}, 'Remote desktop'),
    field('Quality', quality, 'quality', {
      help: 'The picture quality a session starts with; participants can change it in the session. Video Optimized suits moving pictures, Full Color sharp text.',
    }),
    vncFields,
    rdpFields,
  );
  let previousProtocol = protocol;
  // The dialog names the kind of shortcut, as the protocol chosen says (set once the dialog is open).
  const shortcutKind = () => SHORTCUT_KINDS[proto.value] || SHORTCUT_KINDS.ssh;
  const dialogTitle = () => (editing ? 'Edit ' : 'Create New ') + shortcutKind();
  const introText = () => (editing ? `Edit this ${shortcutKind()}.` : `Please configure a new ${shortcutKind()}.`);
  const intro = el('span', {}, introText());
  let titleFollowsProtocol = () => {};
  const showProtocolFields = () => {
    const desktop = DESKTOP_PROTOCOLS.has(proto.value);
    telnetFields.hidden = proto.value !== 'telnet';
    desktopFields.hidden = !desktop;
    vncFields.hidden = proto.value !== 'vnc';
    rdpFields.hidden = proto.value !== 'rdp';
    for (const terminalOnly of [termType, keepOn]) {
      const box = terminalOnly.closest('.field');
      if (box) box.hidden = desktop;
    }
  };
  // "Hostname/IP (with optional :port)": a port typed after the host name goes into Port, so it is given once; Port
  // gets its value back when the hostname no longer carries one.
  let portBeforeHost = null;
  const portFollowsHostname = () => {
    const fromHost = splitHostPort(hostname.value).port;
    if (fromHost !== null) {
      if (portBeforeHost === null) portBeforeHost = port.value;
      port.value = String(fromHost);
    } else if (portBeforeHost !== null) {
      port.value = portBeforeHost;
      portBeforeHost = null;
    }
  };
  hostname.addEventListener('input', portFollowsHostname);
  hostname.addEventListener('change', portFollowsHostname);
  proto.addEventListener('change', () => {
    // The port follows the protocol unless it was changed from the previous protocol's default; while the hostname
    // gives the port, the value Port gets back later follows instead.
    const followsProtocol = (value) => !value || Number(value) === DEFAULT_PORTS[previousProtocol];
    const protocolDefault = String(DEFAULT_PORTS[proto.value] || 22);
    if (portBeforeHost !== null) {
      if (followsProtocol(portBeforeHost)) portBeforeHost = protocolDefault;
    } else if (followsProtocol(port.value)) {
      port.value = protocolDefault;
    }
    previousProtocol = proto.value;
    showProtocolFields();
    titleFollowsProtocol();
  });
  const username = el('input', { name: 'username', type: 'text', maxlength: maxlengthFor(TEXT_MAX.username), value: v.username || '', autocomplete: 'off' });
  const termType = el(
    'select',
    { name: 'terminal_type' },
    el('option', { value: 'xterm', selected: (v.terminal_type || 'xterm') === 'xterm' }, 'xterm'),
    el('option', { value: 'vt100', selected: v.terminal_type === 'vt100' }, 'VT100'),
  );
  const keepOn = el('input', { type: 'checkbox', name: 'keepalive_enabled', checked: Number(v.keepalive_seconds) > 0 });
  const keepSecs = el('input', {
    name: 'keepalive_seconds',
    type: 'number',
    min: 1,
    max: 3600,
    value: String(Number(v.keepalive_seconds) > 0 ? v.keepalive_seconds : 60),
    disabled: !(Number(v.keepalive_seconds) > 0),
    'aria-label': 'Seconds between keep-alive packets',
  });
  keepOn.addEventListener('change', () => {
    keepSecs.disabled = !keepOn.checked;
  });
  const defaultGroup = editing
    ? itemGroupId(v)
    : state.groupId !== 'all'
      ? state.groupId
      : (state.groups.find(isPersonal) || state.groups[0] || {}).id;
  const group = el(
    'select',
    { name: 'group_id', required: true },
    state.groups.map((g) => el('option', { value: String(g.id), selected: String(defaultGroup) === String(g.id) }, groupLabel(g))),
  );
  const recordPolicy = el('div', { class: 'help', 'data-testid': 'record-policy-hint' });
  const showRecordPolicy = () => {
    const g = groupById(group.value);
    const policy = g && g.recording ? g.recording : 'per_item';
    recordPolicy.textContent =
      'The Jump Group\'s recording policy can override this setting. ' + (RECORDING_HINTS[policy] || '');
    recordPolicy.classList.toggle('policy-override', policy === 'always' || policy === 'never');
  };
  group.addEventListener('change', showRecordPolicy);
  showRecordPolicy();
  const tag = el('input', { name: 'tag', type: 'text', maxlength: maxlengthFor(TEXT_MAX.tag), value: v.tag || '' });
  const comments = el('textarea', { name: 'comments', rows: 3, maxlength: maxlengthFor(TEXT_MAX.comments) });
  comments.value = v.comments || '';
  const policy = el(
    'select',
    { name: 'session_policy' },
    el('option', { value: 'join_existing', selected: (v.session_policy || 'join_existing') === 'join_existing' }, 'Join Existing Session'),
    el('option', { value: 'start_new', selected: v.session_policy === 'start_new' }, 'Start New Session'),
  );
  const recordSession = el('input', { type: 'checkbox', id: 'f-record_session', name: 'record_session', checked: v.record_session ?? true });
  const recordInput = el('input', { type: 'checkbox', id: 'f-record_input', name: 'record_input', checked: v.record_input ?? false });
  const admin = isAdmin();
  const credential = el('input', {
    name: 'credential_ref',
    type: 'text',
    class: 'mono',
    maxlength: 512,
    value: v.credential_ref || '',
    placeholder: 'local:lab/root',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const scopes = el('textarea', {
    name: 'credential_scopes',
    class: 'mono',
    rows: 3,
    placeholder: 'local:lab/\nvault:secret/linux/',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  scopes.value = (v.credential_scopes || []).join('\n');
  const hasCredentials = editing && Boolean(v.credential_ref || credentialScopes(v, groupById(itemGroupId(v))).length);
  const credentialFields = el(
    'fieldset',
    { class: 'plain-fieldset credential-fields', 'data-testid': 'credential-fields' },
    el('legend', {}, 'Credential injection'),
    editing && credentialsBlocked(v)
      ? el('div', { class: 'alert alert-warning', role: 'note', 'data-testid': 'credential-not-injected' }, NOT_INJECTED)
      : null,
    admin
      ? [
          field('Credential', credential, 'credential_ref', {
            help: 'Optional: logs in at every Jump without asking. A credential in a store of the Jumpoint, written store:path, e.g. local:lab/root (the Jumpoint\'s local store) or vault:secret/linux/web01 (HashiCorp Vault); a name without a store is in the local store.',
          }),
          field('Credentials reps may choose', scopes, 'credential_scopes', {
            help: 'One per line: a credential (local:lab/root), a folder ending in / (local:lab/, vault:secret/linux/) or store:* for all of a store. Reps pick one when they Jump, unless a Credential is set above. The Jump Group may offer more.',
          }),
        ]
      : el(
          'p',
          { class: 'muted small', 'data-testid': 'credential-admin-only' },
          'Only administrators assign credentials to Jump Items.',
          hasCredentials
            ? ' This item logs in with credentials an administrator chose; changing its host, port, protocol, user name, Jumpoint or Jump Group (for RDP also its domain, security or Ignore Untrusted Certificate; for Telnet its prompt patterns) stops that until an administrator saves it again.'
            : '',
        ),
  );

  const formError = el('div', { class: 'alert', role: 'alert', hidden: true });
  const submit = el('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const form = el(
    'form',
    { class: 'item-form', novalidate: true },
    el('p', { class: 'muted' }, intro, ' ', el('span', { class: 'required' }, '*'), ' Required field'),
    formError,
    el(
      'div',
      { class: 'form-grid' },
      field('Name', name, 'name', { required: true }),
      field('Jumpoint', jumpoint, 'jumpoint_id', { required: true }),
      field('Hostname / IP', hostname, 'hostname', { required: true }),
      field('Protocol', proto, 'protocol'),
      field('Port', port, 'port', { required: true }),
      field('Username', username, 'username'),
      telnetFields,
      desktopFields,
      field('Terminal Type', termType, 'terminal_type'),
      el(
        'div',
        { class: 'field' },
        el('label', { class: 'checkbox' }, keepOn, ' Send Keep-Alive Packets'),
        el('div', { class: 'inline' }, keepSecs, el('span', { class: 'muted' }, ' seconds')),
        el('div', { class: 'field-error', dataset: { fieldError: 'keepalive_seconds' }, hidden: true, role: 'alert' }),
      ),
      field('Jump Group', group, 'group_id', { required: true }),
      field('Tag', tag, 'tag'),
      field('When a session exists', policy, 'session_policy', {
        help: 'Join Existing Session: a rep who jumps while a session runs joins it; Start New Session: every Jump is its own session.',
      }),
      el(
        'div',
        { class: 'field checkbox-field' },
        el('label', { class: 'checkbox', for: 'f-record_session' }, recordSession, ' Record session'),
        recordPolicy,
        el('div', { class: 'field-error', dataset: { fieldError: 'record_session' }, hidden: true, role: 'alert' }),
        el('label', { class: 'checkbox', for: 'f-record_input' }, recordInput, ' Record keystrokes'),
        el('div', { class: 'help' }, 'Never recorded while the terminal hides input, e.g. passwords.'),
        el('div', { class: 'field-error', dataset: { fieldError: 'record_input' }, hidden: true, role: 'alert' }),
      ),
    ),
    credentialFields,
    field('Comments', comments, 'comments'),
    el('div', { class: 'actions' }, cancel, submit),
  );
  const { dialog, close } = openDialog(dialogTitle(), form, { className: 'wide' });
  titleFollowsProtocol = () => {
    const title = dialogTitle();
    dialog.setAttribute('aria-label', title);
    const heading = dialog.querySelector('.dialog-header h2');
    if (heading) heading.textContent = title;
    intro.textContent = introText();
  };
  showProtocolFields();
  cancel.addEventListener('click', close);
  name.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, null);
    const local = lengthProblems({
      name: name.value.trim(),
      tag: tag.value.trim(),
      username: username.value.trim(),
      comments: comments.value.trim(),
      ...(proto.value === 'rdp' ? { domain: domain.value.trim() } : {}),
    });
    if (!name.value.trim()) local.name = 'Enter a name.';
    if (!hostname.value.trim()) local.hostname = 'Enter a host name or an IP address.';
    if (!jumpoint.value) local.jumpoint_id = 'Choose a Jumpoint.';
    // host:port is sent as the host and the port, as the API stores them.
    const target = splitHostPort(hostname.value);
    const portNum = Number(port.value);
    if (target.port !== null && port.value !== '' && portNum !== target.port) {
      local.port = `The Hostname / IP gives port ${target.port}: change it there, or remove it from there to use this field.`;
    } else if (target.port === null && (!Number.isInteger(portNum) || portNum < 1 || portNum > 65535)) {
      local.port = 'A port is a whole number from 1 to 65535.';
    }
    const ka = keepOn.checked ? Number(keepSecs.value) : 0;
    if (keepOn.checked && (!Number.isInteger(ka) || ka < 1 || ka > 3600)) local.keepalive_seconds = 'Seconds from 1 to 3600.';
    if (Object.keys(local).length) {
      showFieldErrors(form, new ApiError(400, { error: { message: 'Check the fields.', details: { fields: local } } }));
      showError(formError, { message: 'Some fields need attention.' });
      return;
    }
    const body = {
      name: name.value.trim(),
      jumpoint_id: Number(jumpoint.value),
      hostname: target.host,
      protocol: proto.value,
      port: target.port ?? portNum,
      username: username.value.trim(),
      terminal_type: termType.value,
      keepalive_seconds: ka,
      group_id: Number(group.value),
      tag: tag.value.trim(),
      comments: comments.value.trim(),
      session_policy: policy.value,
      record_session: recordSession.checked,
      record_input: recordInput.checked,
    };
    if (DESKTOP_PROTOCOLS.has(proto.value)) body.quality = quality.value;
    if (proto.value === 'rdp') {
      Object.assign(body, {
        domain: domain.value.trim(),
        rdp_security: rdpSecurity.value,
        console_session: consoleSession.checked,
        ignore_certificate: ignoreCertificate.checked,
      });
    }
    if (admin) {
      // Only administrators may send these (the API refuses them from reps, even unchanged).
      body.credential_ref = credential.value.trim() || null;
      body.credential_scopes = parseScopes(scopes.value);
    } else if (editing) {
      // A rep's save sends only the target fields the rep changed, so the request says plainly what moved the
      // target (the API also keeps injection on for a value sent unchanged). An administrator's save sends them
      // all: that approves the target.
      for (const key of TARGET_FIELDS) {
        if (String(body[key]) === String(v[key])) delete body[key];
      }
    }
    if (proto.value === 'telnet') {
      for (const [key, input] of Object.entries(patterns)) {
        const text = input.value.trim();
        if (text) body[key] = text;
        else if (editing && v[key]) body[key] = null; // back to the default
      }
    }
    await busy(submit, formError, async () => {
      try {
        if (editing) {
          await api('PATCH', `/jump-items/${encodeURIComponent(item.id)}`, body);
        } else {
          await api('POST', '/jump-items', body);
        }
      } catch (exc) {
        showFieldErrors(form, exc);
        showScopeErrors(form, exc);
        throw exc;
      }
      localStorage.setItem(LAST_JUMPOINT_KEY, jumpoint.value);
      close();
      showInfo(errorBox(), editing ? `Saved '${body.name}'.` : `Created '${body.name}'.`);
      await loadItems();
    });
  });
}

// ---- Client Scripting: ?jump_search=S -----------------------------------------------------------

async function clientScriptJump(raw) {
  // Forget the command, so that reloading the console does not Jump again.
  const url = new URL(location.href);
  url.searchParams.delete('jump_search');
  history.replaceState(null, '', url.pathname + url.search + url.hash);

  const search = raw.trim();
  if (!search) {
    showError(errorBox(), {
      message: "The link's search string is empty.",
      hint: 'Give the Client Scripting link a search_string that names the Jump Item (its name, host, tag or comments).',
    });
    return;
  }
  const answer = await api('GET', '/jump-items?search=' + encodeURIComponent(search));
  const matches = asList(answer, 'jump_items');
  if (matches.length === 1) {
    showInfo(errorBox(), `Jumping to '${matches[0].name}'…`);
    await jump(matches[0], { gesture: false });
    return;
  }
  if (matches.length === 0) {
    showError(errorBox(), {
      message: `No Jump Item matches '${search}'.`,
      hint: 'Check the search string of the link, or ask an administrator for access to the Jump Item.',
    });
    return;
  }
  const list = el(
    'ul',
    { class: 'picker' },
    matches.map((item) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: 'picker-item',
            dataset: { itemId: String(item.id) },
            onclick: () => {
              close();
              jump(item, { gesture: true });
            },
          },
          el('strong', {}, item.name),
          el('span', { class: 'muted' }, ` ${item.username ? item.username + '@' : ''}${item.hostname}:${item.port}`),
          item.comments ? el('span', { class: 'muted small' }, ' — ' + item.comments) : null,
        ),
      ),
    ),
  );
  const more =
    answer && answer.truncated
      ? el(
          'p',
          { class: 'alert alert-info', role: 'status', 'data-testid': 'picker-truncated' },
          `Showing the first ${matches.length} matches: make the link's search string more specific to find the others.`,
        )
      : null;
  const { close } = openDialog(
    'Several Jump Items match: pick one',
    el('div', { class: 'dialog-body' }, el('p', {}, `Search: '${search}'`), more, list),
  );
}

// ---- start ------------------------------------------------------------------------------------

async function main() {
  // Create works from the first moment: a click before the lists arrived waits for them.
  const ready = (async () => {
    state.user = await setupHeader();
    await Promise.all([loadGroups(), loadJumpoints()]);
    await loadItems();
  })();
  $('#create-item').addEventListener('click', async () => {
    try {
      await ready;
      await loadJumpoints();
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.status === 401)) showError(errorBox(), exc);
      return;
    }
    openItemForm(null);
  });
  try {
    await ready;
  } catch (exc) {
    if (!(exc instanceof ApiError && exc.status === 401)) showError(errorBox(), exc);
    return;
  }
  loadSessions();

  const searchBox = $('#search');
  let searchTimer = null;
  searchBox.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.search = searchBox.value.trim();
      loadItems().catch((exc) => showError(errorBox(), exc));
    }, 250);
  });
  $('#refresh-sessions').addEventListener('click', () => loadSessions());
  window.addEventListener('focus', () => {
    loadSessions();
    loadInvitations();
  });
  loadInvitations();
  setInterval(loadInvitations, INVITATIONS_POLL_MS);
  setInterval(() => {
    if (document.visibilityState === 'visible') loadSessions();
  }, 15000);

  const search = new URLSearchParams(location.search).get('jump_search');
  if (search !== null) {
    try {
      await clientScriptJump(search);
    } catch (exc) {
      showError(errorBox(), exc);
    }
  }
}

main();
