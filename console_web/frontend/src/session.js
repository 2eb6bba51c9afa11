// The session panel (/sessions/{id}): an xterm.js terminal on the session WebSocket
// (docs/protocol.md, "Browser <-> console"), with the status bar, prompts, errors and the timeline.

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { ApiError, api } from './api.js';
import { installConstructedStyleShim } from './csp-styles.js';
import { $, el, errorParts, setChildren } from './ui.js';

const RESIZE_DEBOUNCE_MS = 120;
const MAX_TIMELINE = 6;
const MAX_INPUT_FRAME = 64 * 1024;

const sessionId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const encoder = new TextEncoder();

let ws = null;
let term = null;
let fit = null;
let sessionState = 'connecting';
let lastSentSize = '';
let activePrompt = null; // {id, dialog}
let endedShown = false;
let endedBeforeOpen = false;
let lastErrorMessage = '';

// ---- status bar ---------------------------------------------------------------------------------

function setState(value) {
  sessionState = value;
  const badge = $('#session-state');
  badge.textContent = value;
  badge.className = 'badge badge-' + value;
  document.body.dataset.sessionState = value;
  $('#end-session').disabled = value === 'ended' || value === 'ending';
}

function setSessionInfo(info) {
  if (!info || typeof info !== 'object') return;
  if (info.item_name) {
    $('#item-name').textContent = info.item_name;
    if (!document.title || document.title.startsWith('Session')) document.title = info.item_name + ' — OpenJump';
  }
  if (info.hostname) {
    const user = info.username ? info.username + '@' : '';
    $('#target').textContent = `${user}${info.hostname}:${info.port ?? ''}`;
  }
}

function showBanner(err, { kind = 'error' } = {}) {
  const banner = $('#session-banner');
  const { message, hint } = errorParts(err);
  const parts = [el('strong', { class: 'alert-message' }, message)];
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
  banner.className = 'alert ' + (kind === 'error' ? 'alert-error' : 'alert-info');
  banner.hidden = false;
}

function addTimeline(text, kind = 'info') {
  const list = $('#timeline');
  const time = new Date().toLocaleTimeString();
  list.append(el('li', { class: 'timeline-' + kind, title: `${time} ${text}` }, el('time', {}, time), ' ', text));
  while (list.children.length > MAX_TIMELINE) list.firstElementChild.remove();
  list.hidden = false;
}

function showEnded(reason = '') {
  setState('ended');
  if (term) {
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
  }
  closePrompt();
  if (endedShown) return;
  endedShown = true;
  const ended = $('#session-ended');
  ended.hidden = false;
  if (reason && reason !== lastErrorMessage) ended.append(el('span', { class: 'ended-reason' }, ': ' + String(reason).slice(0, 500)));
  addTimeline('Session ended');
}

// ---- sending ------------------------------------------------------------------------------------

function sendJson(message) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function sendBytes(bytes) {
  if (!ws || ws.readyState !== WebSocket.OPEN || sessionState !== 'connected') return;
  for (let i = 0; i < bytes.length; i += MAX_INPUT_FRAME) {
    ws.send(bytes.subarray(i, i + MAX_INPUT_FRAME));
  }
}

function sendSize() {
  if (!term) return;
  const key = `${term.cols}x${term.rows}`;
  if (key === lastSentSize) return;
  if (sendJson({ t: 'resize', cols: term.cols, rows: term.rows })) lastSentSize = key;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---- prompts ------------------------------------------------------------------------------------

function closePrompt(id = null) {
  if (!activePrompt) return;
  if (id !== null && activePrompt.id !== id) return;
  const { dialog } = activePrompt;
  activePrompt = null;
  // Answers typed into the prompt are cleared before the dialog goes away.
  for (const input of dialog.querySelectorAll('input')) input.value = '';
  if (dialog.open) dialog.close();
  dialog.remove();
  if (term && sessionState !== 'ended') term.focus();
}

function promptDialog(id, title, body, { onCancel }) {
  closePrompt();
  const dialog = el('dialog', { class: 'dialog prompt-dialog', 'aria-label': title, dataset: { promptId: String(id) } });
  dialog.append(el('header', { class: 'dialog-header' }, el('h2', {}, title)), body);
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    onCancel();
  });
  document.body.append(dialog);
  activePrompt = { id, dialog };
  dialog.showModal();
  return dialog;
}

function onHostKeyPrompt(msg) {
  const key = msg.key || {};
  const answer = (decision) => {
    sendJson({ t: 'answer_host_key', id: msg.id, decision });
    closePrompt(msg.id);
  };
  const hostPort = `${msg.host}:${msg.port}`;
  const save = el('button', { type: 'button', class: 'primary', onclick: () => answer('save') }, 'Save Key and Connect');
  const once = el('button', { type: 'button', onclick: () => answer('once') }, 'Connect Only');
  const abort = el('button', { type: 'button', class: 'danger', onclick: () => answer('abort') }, 'Abort');
  promptDialog(
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
    { onCancel: () => answer('abort') },
  );
  save.focus();
  addTimeline(`Host key of ${hostPort} is not known (${key.algorithm || '?'})`);
}

function onTextPrompt(msg) {
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
    sendJson({ t: 'answer_text', id: msg.id, cancelled: true });
    closePrompt(msg.id);
  };
  const ok = el('button', { type: 'submit', class: 'primary' }, 'OK');
  const cancelBtn = el('button', { type: 'button', onclick: cancel }, 'Cancel');
  const form = el(
    'form',
    { class: 'dialog-body', autocomplete: 'off' },
    msg.instruction ? el('p', { class: 'instruction' }, String(msg.instruction)) : null,
    fields.map((f, i) =>
      el('div', { class: 'field' }, el('label', { for: `prompt-field-${i}` }, String(f.text || `Answer ${i + 1}`)), inputs[i]),
    ),
    el('div', { class: 'actions' }, cancelBtn, ok),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const answers = inputs.map((input) => input.value);
    for (const input of inputs) input.value = '';
    sendJson({ t: 'answer_text', id: msg.id, answers });
    answers.fill('');
    closePrompt(msg.id);
  });
  promptDialog(msg.id, String(msg.title || 'Authentication'), form, { onCancel: cancel });
  if (inputs.length) inputs[0].focus();
}

// ---- the socket -----------------------------------------------------------------------------------

function onControl(msg) {
  switch (msg.t) {
    case 'state': {
      setSessionInfo(msg.session);
      const previous = sessionState;
      if (msg.state === 'ended') {
        showEnded(msg.reason);
      } else {
        setState(msg.state);
      }
      if (msg.state === 'connected' && previous !== 'connected') {
        addTimeline('Connected');
        lastSentSize = '';
        fitNow();
        sendSize();
        term.focus();
      }
      break;
    }
    case 'prompt_host_key':
      onHostKeyPrompt(msg);
      break;
    case 'prompt_text':
      onTextPrompt(msg);
      break;
    case 'prompt_done':
      closePrompt(msg.id);
      break;
    case 'title':
      if (typeof msg.text === 'string') document.title = msg.text.slice(0, 200);
      break;
    case 'bell':
      document.body.classList.add('bell');
      setTimeout(() => document.body.classList.remove('bell'), 150);
      break;
    case 'notice':
      addTimeline(String(msg.text || msg.kind || ''), 'notice');
      break;
    case 'error':
      lastErrorMessage = (msg.error && msg.error.message) || '';
      showBanner(msg.error || {});
      addTimeline((msg.error && msg.error.message) || 'Error', 'error');
      break;
    case 'resize':
      break;
    default:
      break;
  }
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(`${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/ws`);
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    lastSentSize = '';
    sendSize();
  });
  ws.addEventListener('message', (ev) => {
    if (typeof ev.data === 'string') {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && typeof msg === 'object') onControl(msg);
    } else {
      term.write(new Uint8Array(ev.data));
    }
  });
  ws.addEventListener('close', (ev) => {
    ws = null;
    if (sessionState === 'ended') return;
    if (sessionState === 'ending' || endedBeforeOpen) {
      showEnded();
      return;
    }
    showBanner({
      message: 'The connection to the console was lost.',
      hint: ev.reason ? `${ev.reason} Reload the page to reconnect.` : 'Reload the page to reconnect to the session.',
    });
    setState('disconnected');
    if (term) term.options.disableStdin = true;
    closePrompt();
  });
}

let fitNow = () => {};

async function main() {
  installConstructedStyleShim();
  const endBtn = $('#end-session');
  setState('connecting');

  try {
    const info = await api('GET', `/sessions/${encodeURIComponent(sessionId)}`);
    setSessionInfo(info);
    // Still attach when it has ended: the console then replays why (an `error`, then `state: ended`).
    endedBeforeOpen = Boolean(info && info.state === 'ended');
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return;
    if (exc instanceof ApiError && exc.status === 404) {
      showBanner(exc);
      showEnded();
      return;
    }
    // Anything else: the socket will tell.
  }

  term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    allowProposedApi: false,
    theme: { background: '#111418', foreground: '#e6e6e6' },
  });
  fit = new FitAddon();
  term.loadAddon(fit);
  term.open($('#terminal'));
  fitNow = () => {
    try {
      fit.fit();
    } catch {
      // Not laid out yet.
    }
  };
  fitNow();
  term.onData((data) => sendBytes(encoder.encode(data)));
  term.onBinary((data) => {
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i += 1) bytes[i] = data.charCodeAt(i) & 0xff;
    sendBytes(bytes);
  });
  const sendSizeSoon = debounce(sendSize, RESIZE_DEBOUNCE_MS);
  term.onResize(() => sendSizeSoon());
  const fitSoon = debounce(fitNow, RESIZE_DEBOUNCE_MS);
  new ResizeObserver(() => fitSoon()).observe($('#terminal'));
  window.addEventListener('resize', fitSoon);

  endBtn.addEventListener('click', async () => {
    endBtn.disabled = true;
    if (sendJson({ t: 'end' })) {
      // The console confirms with `state: ended`; until then, say so and take no more keys.
      if (sessionState !== 'ended') setState('ending');
      term.options.disableStdin = true;
    } else {
      try {
        await api('POST', `/sessions/${encodeURIComponent(sessionId)}/end`, {});
        showEnded();
      } catch (exc) {
        showBanner(exc);
        endBtn.disabled = false;
      }
    }
  });

  connect();
}

main();
