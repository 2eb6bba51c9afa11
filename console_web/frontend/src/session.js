// The session panel (/sessions/{id}): an xterm.js terminal, or for a desktop session (`hello.session.kind` is
// "desktop": VNC, later RDP) the desktop view of ./desktop/, on the session WebSocket (docs/protocol.md,
// "Browser <-> console"), shared with other participants: the status bar, prompts (owner), the participants panel,
// the chat timeline, idle warnings, and reconnection with the stream position. Works for reps and for external
// invitees (guests: no /api/v1/me; `hello` says who this browser is). The view is made at the first `hello`.

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { ApiError, api, loginUrl, me } from './api.js';
import { installConstructedStyleShim } from './csp-styles.js';
import { createDesktopView } from './desktop/view.js';
import { sizeMessage } from './desktop/wire.js';
import { rememberDesktopRoom } from './desktop/viewport.js';
import { chooseCredential, needsCredentialChoice } from './credential-picker.js';
import { createChat } from './session-chat.js';
import { openExternalDialog, openInviteDialog } from './session-invite.js';
import { createPrompts } from './session-prompts.js';
import { createFilePanel } from './session-files.js';
import { createRoster, modeLabel } from './session-roster.js';
import { SessionSocket } from './session-socket.js';
import { DesktopStream, TerminalStream } from './session-stream.js';
import { createTerminalTools, hideTerminalTools, loadPrefs } from './session-tools.js';
import { $, confirmDialog, el, errorParts, setChildren } from './ui.js';

const RESIZE_DEBOUNCE_MS = 120;
const ROOM_DEBOUNCE_MS = 500;
const MIN_DESKTOP_SIDE = 200;
// Shown above the desktop now and then: while one is, the room the desktop has is not its usual one.
const ROOM_EXTRAS = [
  '#session-banner',
  '#connection-lost',
  '#idle-warning',
  '#session-ended',
  '#reconnecting',
  '#desktop-clipboard',
  '#desktop .desktop-error',
];
const FINAL_TEXTS = {
  4001: 'You were removed from the session.',
  4002: 'You left the session.',
  4003: 'The session is full: no more participants can join it.',
  4004: 'The session is over for you: no rep remains to own it.',
  4005: 'This session is open in too many windows for you: close one of them, then reload this page.',
};

const sessionId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const encoder = new TextEncoder();

const page = {
  state: 'connecting', // the session's state, as the console said (or ending/disconnected/closed locally)
  stateBeforeEnd: null, // the state to go back to if the End request fails
  you: null, // {id, name, mode, external}
  user: null, // GET /me, for reps only
  userAsked: false,
  info: null, // the session (item name, target)
  helloSeen: false, // on the current socket
  attached: false, // ever got a hello
  done: false, // this browser is finished with the session (ended, left, removed ...)
  lastSentSize: '',
  lastError: '',
  unread: 0,
};
let kind = null; // 'terminal' or 'desktop', from the first hello
let term = null;
let fit = null;
let desktop = null;
let stream = null; // TerminalStream or DesktopStream
let socket = null;
let chat = null;
let roster = null;
let prompts = null;
let tools = null;
let files = null;
let idleTimer = null;
let roomTimer = null;
let lastAskedSize = null; // [width, height] the owner's page last asked an RDP desktop to take

const isOwner = () => page.you !== null && page.you.mode === 'owner';
const live = () => !page.done && page.state !== 'ended';

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function focusTerminal() {
  if (!live() || document.querySelector('dialog[open]')) return;
  if (term) term.focus();
  else if (desktop) desktop.focus();
}

// ---- status bar and controls ----------------------------------------------------------------------

function setState(value) {
  page.state = value;
  const badge = $('#session-state');
  badge.textContent = value;
  badge.className = 'badge badge-' + value;
  document.body.dataset.sessionState = value;
  updateControls();
}

function setSessionInfo(info) {
  if (!info || typeof info !== 'object') return;
  page.info = { ...(page.info || {}), ...info };
  if (info.item_name) {
    $('#item-name').textContent = info.item_name;
    if (!document.title || document.title.startsWith('Session')) document.title = info.item_name + ' — OpenJump';
  }
  if (info.hostname) {
    const user = info.username ? info.username + '@' : '';
    $('#target').textContent = `${user}${info.hostname}:${info.port ?? ''}`;
  }
  if (info.protocol) {
    // Telnet: everything, the password included, crosses the network in plain text.
    $('#plaintext-warning').hidden = String(info.protocol).toLowerCase() !== 'telnet';
  }
  updateControls();
}

function canType() {
  return socket !== null && socket.open && page.helloSeen && page.state === 'connected' && live() && page.you !== null && page.you.mode !== 'observer';
}

/** This participant may type at all (not an observer, the session still running); canType() says whether now. */
function mayType() {
  return page.you !== null && page.you.mode !== 'observer' && live();
}

/** File transfer: SSH sessions, for the owner and peers (not observers, not external invitees). */
function mayTransferFiles() {
  return Boolean(
    kind === 'terminal' && page.info && String(page.info.protocol || '').toLowerCase() === 'ssh' && page.you && !page.you.external && page.you.mode !== 'observer' && live(),
  );
}

function updateControls() {
  const you = page.you;
  const owner = isOwner();
  const admin = Boolean(page.user && page.user.is_admin);
  const open = socket !== null && socket.open && page.helloSeen;
  $('#invite').hidden = $('#external-invite').hidden = !(owner && live() && !you.external);
  $('#invite').disabled = $('#external-invite').disabled = !open;
  $('#leave').hidden = !(you && !owner && live());
  $('#leave').disabled = !open;
  const end = $('#end-session');
  end.hidden = !(you && live() && (owner || admin));
  end.disabled = page.state === 'ending';
  $('#view-only').hidden = !(you && you.mode === 'observer' && live());
  const myMode = $('#my-mode');
  myMode.hidden = !you;
  if (you) {
    myMode.textContent = modeLabel(you.mode) + (you.external ? ' (external)' : '');
    myMode.className = 'badge badge-mode badge-mode-' + you.mode;
    document.body.dataset.mode = you.mode;
  }
  $('#terminal').classList.toggle('fixed', !owner);
  if (term) {
    term.options.disableStdin = !canType();
    term.options.cursorBlink = live();
  }
  if (chat) chat.setEnabled(open && live());
  if (tools) tools.update();
  if (desktop) {
    desktop.setViewOnly(!mayType());
    desktop.setCanSend(canType());
  }
  if (files) files.setAllowed(mayTransferFiles(), page.state === 'connected');
}

function showBanner(err) {
  const banner = $('#session-banner');
  const { message, hint } = errorParts(err);
  const parts = [
    el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', 'data-testid': 'banner-dismiss', onclick: () => {
      banner.hidden = true;
      focusTerminal();
    } }, '\u00d7'),
    el('strong', { class: 'alert-message' }, message),
  ];
  if (hint) parts.push(el('div', { class: 'alert-hint' }, hint));
  const details = err && typeof err === 'object' && err.details && typeof err.details === 'object' ? err.details : null;
  if (details) {
    const rows = [];
    for (const [k, v] of Object.entries(details)) {
      if (v === null || v === undefined || typeof v === 'object') {
        if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
          rows.push(el('dt', {}, k.replaceAll('_', ' ')), el('dd', { class: 'mono' }, v.join(', ')));
        }
        continue;
      }
      rows.push(el('dt', {}, k.replaceAll('_', ' ')), el('dd', { class: 'mono' }, String(v)));
    }
    if (rows.length) parts.push(el('dl', { class: 'details' }, rows));
  }
  setChildren(banner, parts);
  banner.className = 'alert alert-error';
  banner.hidden = false;
}

function setReconnecting(on) {
  $('#reconnecting').hidden = !on;
  if (on) $('#connection-lost').hidden = true;
}

// ---- the end of the session, for this browser -----------------------------------------------------

function finish(text, { reason = '', state = 'closed', backLink = true } = {}) {
  if (page.done) return;
  page.done = true;
  socket.stop();
  prompts.close();
  hideIdle();
  setReconnecting(false);
  $('#connection-lost').hidden = true;
  setState(state);
  chat.finish();
  roster.setYou(page.you, false);
  const ended = $('#session-ended');
  const parts = [el('span', { id: 'ended-text' }, text)];
  if (reason && reason !== page.lastError) parts.push(el('span', { class: 'ended-reason' }, ': ' + String(reason).slice(0, 500)));
  if (state === 'ended' && page.you && !page.you.external && page.info && page.info.item_id) {
    parts.push(' ', reconnectButton());
  }
  if (backLink && page.you && !page.you.external) parts.push(' ', el('a', { href: '/console', class: 'ended-link' }, 'Back to the console'));
  setChildren(ended, parts);
  ended.hidden = false;
  updateControls();
}

/**
 * After the session ended: Jump to the same Jump Item again and open the new session here. An item whose rep
 * picks the credential asks again, as the console does before a Jump (the choice is not kept in the browser).
 */
function reconnectButton() {
  const name = (page.info && page.info.item_name) || 'the Jump Item';
  const button = el(
    'button',
    { type: 'button', class: 'primary small-button', 'data-testid': 'reconnect-session', 'aria-label': `Reconnect: Jump to ${name} again` },
    'Reconnect',
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    const body = {};
    if (term) {
      let size = null;
      try {
        size = fit ? fit.proposeDimensions() : null;
      } catch {
        size = null;
      }
      body.cols = Math.min(1000, Math.max(20, (size && size.cols) || term.cols));
      body.rows = Math.min(500, Math.max(5, (size && size.rows) || term.rows));
    }
    try {
      const item = await api('GET', `/jump-items/${encodeURIComponent(page.info.item_id)}`);
      const groups = await api('GET', '/jump-groups');
      const list = Array.isArray(groups) ? groups : (groups && groups.items) || [];
      const groupId = item.group_id ?? item.jump_group_id ?? null;
      const group = list.find((g) => String(g.id) === String(groupId)) || null;
      if (needsCredentialChoice(item, group)) {
        button.disabled = false;
        chooseCredential(item, { onJump: (credential) => jumpAgain(button, credential ? { ...body, credential } : body) });
        return;
      }
    } catch (exc) {
      button.disabled = false;
      showBanner(exc);
      return;
    }
    await jumpAgain(button, body);
  });
  return button;
}

async function jumpAgain(button, body) {
  button.disabled = true;
  try {
    const answer = await api('POST', `/jump-items/${encodeURIComponent(page.info.item_id)}/jump`, body);
    const id = answer && (answer.session_id ?? (answer.session && answer.session.id));
    if (!id) throw new Error('The console did not say which session it started.');
    location.assign('/sessions/' + encodeURIComponent(id));
  } catch (exc) {
    button.disabled = false;
    showBanner(exc);
  }
}

function showEnded(reason = '') {
  finish('Session ended', { reason, state: 'ended' });
}

function onFinalClose(code, reason) {
  if (code === 1000) showEnded(reason);
  else finish(FINAL_TEXTS[code] || 'The session is closed for you.', { reason });
}

/** The very first socket failed before the console said hello: ask the API why, once. */
async function diagnose() {
  try {
    await api('GET', `/sessions/${encodeURIComponent(sessionId)}`, undefined, { redirectOn401: false });
  } catch (exc) {
    if (!(exc instanceof ApiError) || page.attached) return;
    if (exc.status === 401) {
      showBanner({ message: 'You are not signed in, or your invitation is no longer valid.', hint: 'Log in again, or ask for a new invitation.' });
      finish('Not signed in', { backLink: false });
      setChildren($('#session-ended'), 'Not signed in. ', el('a', { href: loginUrl() }, 'Log in'));
    } else if (exc.status === 403 || exc.status === 404) {
      showBanner(exc);
      finish(exc.status === 404 ? 'This session does not exist or has ended.' : 'You are not a participant of this session.');
    }
  }
}

// ---- idle warning -------------------------------------------------------------------------------------

function hideIdle() {
  clearInterval(idleTimer);
  idleTimer = null;
  $('#idle-warning').hidden = true;
}

/** `idle {seconds_left}`; `seconds_left: null` means someone typed: the warning is over. */
function showIdle(secondsLeft) {
  const seconds = typeof secondsLeft === 'number' ? secondsLeft : Number.NaN;
  if (!Number.isFinite(seconds) || !live()) {
    hideIdle();
    return;
  }
  const deadline = Date.now() + Math.max(0, seconds) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const clock = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    $('#idle-text').textContent =
      left > 0
        ? `No input for a while: the session ends in ${clock} unless someone types.` +
          (canType() ? (desktop ? ' Use the desktop to keep it open.' : ' Type in the terminal to keep it open.') : '')
        : 'No input for too long: the session is ending.';
  };
  tick();
  clearInterval(idleTimer);
  idleTimer = setInterval(tick, 1000);
  $('#idle-warning').hidden = false;
}

// ---- who I am -----------------------------------------------------------------------------------------

function fitNow() {
  if (!isOwner() || !fit) return;
  try {
    fit.fit();
  } catch {
    // Not laid out yet.
  }
}

function sendSize() {
  if (!isOwner() || !term || !page.helloSeen) return;
  const key = `${term.cols}x${term.rows}`;
  if (key === page.lastSentSize) return;
  if (socket.sendJson({ t: 'resize', cols: term.cols, rows: term.rows })) page.lastSentSize = key;
}

function applyRemoteSize(cols, rows) {
  if (isOwner() || !term) return;
  if (term.cols !== cols || term.rows !== rows) term.resize(cols, rows);
}

function setYou(value) {
  if (!value || typeof value !== 'object') return;
  const previous = page.you ? page.you.mode : null;
  page.you = { id: value.id, name: String(value.name ?? ''), mode: value.mode, external: Boolean(value.external) };
  if (previous === 'owner' && value.mode !== 'owner') prompts.close();
  updateControls();
  roster.setYou(page.you, isOwner());
  if (isOwner()) {
    if (previous !== 'owner') page.lastSentSize = '';
    fitNow();
    sendSize();
  } else if (stream && stream.remote) {
    applyRemoteSize(stream.remote.cols, stream.remote.rows);
  }
  if (!page.you.external && !page.userAsked) {
    page.userAsked = true;
    me().then(
      (user) => {
        page.user = user;
        updateControls();
      },
      () => {},
    );
  }
}

// ---- messages from the console -------------------------------------------------------------------------

function onHello(msg) {
  page.helloSeen = true;
  page.attached = true;
  if (!kind) setupView(msg.session);
  setSessionInfo(msg.session);
  if (msg.limits && typeof msg.limits === 'object') chat.setMax(msg.limits.chat_max);
  setYou(msg.you);
}

function onState(msg) {
  setSessionInfo(msg.session);
  if (msg.state === 'ended') {
    showEnded(msg.reason);
    return;
  }
  const previous = page.state;
  if (page.state === 'ending' && msg.state === 'connected') {
    // Shown again if the End request fails.
    page.stateBeforeEnd = 'connected';
    return;
  }
  setState(String(msg.state || 'connecting'));
  if (msg.state === 'connected' && previous !== 'connected') {
    fitNow();
    sendSize();
    focusTerminal();
    if (kind === 'desktop') noteDesktopRoom();
  }
}

function onControl(msg) {
  switch (msg.t) {
    case 'hello':
      onHello(msg);
      break;
    case 'stream':
      if (stream) stream.onStream(msg);
      break;
    case 'screen':
      if (stream) stream.onScreen(msg);
      break;
    case 'resize':
    case 'title':
    case 'bell':
      if (stream) stream.onEntry(msg);
      break;
    case 'state':
      onState(msg);
      break;
    case 'roster':
      roster.set(msg);
      $('#participant-count').textContent = `(${roster.participants.length})`;
      break;
    case 'timeline': {
      const entries = Array.isArray(msg.entries) ? msg.entries : [];
      if (msg.history) chat.replace(entries, msg.omitted);
      else if (msg.continued) chat.appendHistory(entries);
      else chat.append(entries);
      break;
    }
    case 'you':
      setYou(msg);
      break;
    case 'prompt_host_key':
      if (isOwner()) prompts.hostKey(msg);
      break;
    case 'prompt_text':
      if (isOwner()) prompts.text(msg);
      break;
    case 'prompt_done':
      prompts.close(msg.id);
      break;
    case 'idle':
      showIdle(msg.seconds_left);
      break;
    case 'error':
      page.lastError = (msg.error && msg.error.message) || '';
      showBanner(msg.error || {});
      roster.render(); // a refused mode change: show the real mode again
      break;
    default:
      break;
  }
}

// ---- start --------------------------------------------------------------------------------------------

function setupTerminal() {
  const prefs = loadPrefs();
  term = new Terminal({
    cursorBlink: true,
    disableStdin: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    fontSize: prefs.fontSize,
    scrollback: prefs.scrollback,
    // The search addon highlights every match with decorations, which xterm.js 6 still calls proposed API.
    allowProposedApi: true,
    theme: { background: '#111418', foreground: '#e6e6e6' },
  });
  fit = new FitAddon();
  term.loadAddon(fit);
  term.open($('#terminal'));
  tools = createTerminalTools(term, fit, {
    canType,
    mayType,
    refit: () => {
      fitNow();
      sendSize();
    },
    focus: focusTerminal,
    terminalType: () => (page.info && page.info.terminal_type) || 'xterm',
  });
  term.onData((data) => {
    if (!canType()) return;
    socket.sendBytes(encoder.encode(data));
    hideIdle();
  });
  term.onBinary((data) => {
    if (!canType()) return;
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i += 1) bytes[i] = data.charCodeAt(i) & 0xff;
    socket.sendBytes(bytes);
    hideIdle();
  });
  const sendSizeSoon = debounce(sendSize, RESIZE_DEBOUNCE_MS);
  term.onResize(() => sendSizeSoon());
  const fitSoon = debounce(fitNow, RESIZE_DEBOUNCE_MS);
  new ResizeObserver(() => fitSoon()).observe($('#terminal'));
  window.addEventListener('resize', fitSoon);
  stream = new TerminalStream(term, {
    onRemoteSize: applyRemoteSize,
    onTitle: (text) => {
      document.title = text.slice(0, 200) || document.title;
    },
    onBell: () => {
      document.body.classList.add('bell');
      setTimeout(() => document.body.classList.remove('bell'), 150);
    },
    onSnapshot: () => {
      fitNow();
      sendSize();
    },
    onOverflow: resyncWhenDrawn,
  });
}

/** This browser cannot draw as fast as the output comes: start again from a snapshot (keyframe) once it caught up. */
function resyncWhenDrawn() {
  socket.drop();
  setReconnecting(true);
  stream.later(() => socket.retryNow());
}

/** A desktop file name for this session: openjump-<item>-<date and time>.<ext>. */
function screenshotName() {
  const name = String((page.info && page.info.item_name) || sessionId).replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
  return `openjump-${name}-${stamp}.png`;
}

/**
 * Remember the room the desktop has in this window's usual layout (the owner's page, connected, side panel shown,
 * not full screen, nothing shown above the desktop), so that the next Jump from a window of this width asks for a
 * desktop of exactly that size (desktop/viewport.js).
 */
function noteDesktopRoom() {
  clearTimeout(roomTimer);
  roomTimer = setTimeout(() => {
    const screen = document.querySelector('#desktop .desktop-screen');
    if (!screen || kind !== 'desktop' || page.state !== 'connected' || !isOwner()) return;
    if (document.fullscreenElement || document.body.classList.contains('panel-hidden')) return;
    // A banner or the clipboard panel shown for a moment neither resizes the remote desktop nor counts as the
    // window's usual room.
    if (ROOM_EXTRAS.some((selector) => document.querySelector(selector)?.hidden === false)) return;
    rememberDesktopRoom(window, screen.clientWidth, screen.clientHeight);
    askDesktopSize(screen.clientWidth, screen.clientHeight);
  }, ROOM_DEBOUNCE_MS);
}

/**
 * An RDP desktop follows the owner's window: when the room the desktop has changes, the owner's page asks for a
 * desktop of that size (the Jumpoint makes it by the server's display control or a new connection, and says so
 * in the timeline when the server keeps its own size). Even sides: the display-control channel requires an even
 * width, and xrdp's Xorg backend copes best with even sizes.
 */
function askDesktopSize(width, height) {
  if (String((page.info && page.info.protocol) || '').toLowerCase() !== 'rdp') return;
  const w = Math.floor(width / 2) * 2;
  const h = Math.floor(height / 2) * 2;
  if (w < MIN_DESKTOP_SIDE || h < MIN_DESKTOP_SIDE) return;
  if (lastAskedSize && lastAskedSize[0] === w && lastAskedSize[1] === h) return;
  const canvas = document.querySelector('#desktop [data-testid=desktop-canvas]');
  if (canvas && canvas.width === w && canvas.height === h) return;
  lastAskedSize = [w, h];
  socket.sendBytes(sizeMessage(w, h));
}

function setupDesktop() {
  hideTerminalTools();
  $('#terminal').hidden = true;
  const host = $('#desktop');
  host.hidden = false;
  desktop = createDesktopView(host, {
    send: (bytes) => socket.sendBytes(bytes),
    canSend: canType,
    onActivity: hideIdle,
    onResync: () => {
      // The stream could not be read: a new socket without a position starts from a complete picture.
      stream.forgetPosition();
      socket.drop();
      setReconnecting(true);
      socket.retryNow();
    },
    fileName: screenshotName,
  });
  stream = new DesktopStream(desktop, { onOverflow: resyncWhenDrawn });
  new ResizeObserver(noteDesktopRoom).observe(host.querySelector('.desktop-screen'));
}

/** The first hello says what the session shows: a terminal (SSH, Telnet) or a desktop (VNC, RDP). */
function setupView(session) {
  kind = session && session.kind === 'desktop' ? 'desktop' : 'terminal';
  document.body.dataset.kind = kind;
  if (kind === 'desktop') setupDesktop();
  else setupTerminal();
}

function setupButtons() {
  $('#end-session').addEventListener('click', async () => {
    const ok = await confirmDialog('End session', 'End this session for everyone in it? The connection to the target closes.', 'End Session');
    if (!ok) {
      focusTerminal();
      return;
    }
    // Through the API, not the socket: the socket's messages queue behind typed keys that a stuck target is not
    // reading, and End must work then above all. Until the console answers, say so and take no more keys.
    if (live()) {
      page.stateBeforeEnd = page.state;
      setState('ending');
    }
    try {
      await api('POST', `/sessions/${encodeURIComponent(sessionId)}/end`, {});
      showEnded();
    } catch (exc) {
      // Not ended: back to where the session was, so End can be tried again and typing works meanwhile.
      if (page.state === 'ending') setState(page.stateBeforeEnd || 'connected');
      showBanner(exc);
      focusTerminal();
    }
  });
  $('#leave').addEventListener('click', () => {
    // The console closes the socket with 4002 (you left).
    if (!socket.sendJson({ t: 'leave' })) showBanner({ message: 'Not connected to the console: try again once reconnected.' });
  });
  $('#invite').addEventListener('click', () => {
    if (page.you && !page.you.external) openInviteDialog(sessionId, { selfId: page.user ? page.user.id : null, done: focusTerminal });
  });
  $('#external-invite').addEventListener('click', () => {
    if (page.you && !page.you.external) openExternalDialog(sessionId, { done: focusTerminal });
  });
  $('#reconnect').addEventListener('click', () => {
    $('#connection-lost').hidden = true;
    setReconnecting(true);
    socket.retryNow();
  });
  $('#idle-dismiss').addEventListener('click', () => {
    hideIdle();
    focusTerminal();
  });
  const toggle = $('#toggle-panel');
  toggle.addEventListener('click', () => {
    const hidden = document.body.classList.toggle('panel-hidden');
    toggle.setAttribute('aria-expanded', String(!hidden));
    if (!hidden) {
      page.unread = 0;
      $('#unread').hidden = true;
    }
    focusTerminal();
  });
}

function main() {
  installConstructedStyleShim();
  prompts = createPrompts({ send: (m) => socket.sendJson(m), closed: focusTerminal });
  roster = createRoster($('#roster'), { send: (m) => socket.sendJson(m), done: focusTerminal });
  chat = createChat(
    {
      timeline: $('#timeline'),
      form: $('#chat-form'),
      input: $('#chat-input'),
      counter: $('#chat-counter'),
      sendButton: $('#chat-send'),
      error: $('#chat-error'),
      exportButton: $('#export-timeline'),
      newButton: $('#timeline-new'),
    },
    {
      send: (text) => socket.sendJson({ t: 'chat', text }),
      fileName: () => {
        const name = (page.info && page.info.item_name) || sessionId;
        return `openjump-${String(name).replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60)}-${sessionId}.txt`;
      },
      onNew: (n) => {
        if (!document.body.classList.contains('panel-hidden')) return;
        page.unread += n;
        const badge = $('#unread');
        badge.textContent = String(page.unread);
        badge.hidden = false;
      },
    },
  );
  socket = new SessionSocket(sessionId, {
    onOpen: () => {
      page.helloSeen = false;
      page.lastSentSize = '';
      if (stream) stream.attach();
      setReconnecting(false);
      $('#connection-lost').hidden = true;
      updateControls();
    },
    onText: (text) => {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        return;
      }
      if (msg && typeof msg === 'object' && typeof msg.t === 'string') onControl(msg);
    },
    onBinary: (data) => {
      if (stream) stream.onBinary(data);
    },
    onFinalClose,
    onReconnecting: (attempt) => {
      page.helloSeen = false;
      if (!live()) {
        socket.stop();
        return;
      }
      prompts.close(); // the console asks again on the next socket
      setReconnecting(true);
      updateControls();
      if (!page.attached && attempt === 1) diagnose();
    },
    onLost: () => {
      setReconnecting(false);
      $('#connection-lost').hidden = false;
      setState('disconnected');
    },
    getPos: () => (stream ? stream.pos : null),
  });
  files = createFilePanel(sessionId, {
    panel: $('#files-panel'),
    toggle: $('#files-toggle'),
    onLayout: () => {
      fitNow();
      sendSize();
    },
    focusTerminal,
  });
  setupButtons();
  setState('connecting');
  socket.connect();
}

main();
