// The session's timeline (chat messages and system events) and the chat input. User text only ever becomes text
// nodes; http(s) URLs become <a> elements built here (never HTML from strings).

import { el } from './ui.js';

export const CHAT_MAX = 2048;
const KEPT = 5000; // entries kept on the page (the console sends at most that many as history)
const AT_BOTTOM_PX = 24;
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Characters as the console counts them (code points, not UTF-16 units). */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** Why `text` cannot be sent, or '' when it can. */
export function chatProblem(text, max = CHAT_MAX) {
  if (!text.trim()) return 'Type a message first.';
  const n = charCount(text);
  if (n > max) return `A message is at most ${max} characters (this one has ${n}).`;
  if (CONTROL_RE.test(text)) return 'A message cannot contain control characters.';
  return '';
}

/** Drop punctuation that ends a sentence rather than the URL (and a closing bracket that was not opened). */
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    const last = url.slice(-1);
    if (/[.,;:!?'*]/.test(last)) {
      url = url.slice(0, -1);
      continue;
    }
    const pairs = { ')': '(', ']': '[', '}': '{' };
    if (pairs[last] && url.split(pairs[last]).length <= url.split(last).length - 1) {
      url = url.slice(0, -1);
      continue;
    }
    return url;
  }
}

/** `text` as DOM nodes: text nodes, and links for the http(s) URLs in it. */
export function linkify(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(URL_RE)) {
    const raw = trimUrl(match[0]);
    let href = null;
    try {
      const url = new URL(raw);
      if (url.protocol === 'http:' || url.protocol === 'https:') href = url.href;
    } catch {
      href = null;
    }
    if (!href) continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    const a = document.createElement('a');
    a.href = href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.textContent = raw;
    nodes.push(a);
    at = match.index + raw.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

const pad = (n) => String(n).padStart(2, '0');

function parseTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** `YYYY-MM-DD HH:MM:SS` in local time. */
export function stamp(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function entryAuthor(entry) {
  return typeof entry.author === 'string' && entry.author ? entry.author : entry.kind === 'chat' ? 'Unknown' : 'System';
}

/** The timeline as text, one line per entry: `[YYYY-MM-DD HH:MM:SS] author: text`. */
export function timelineText(entries) {
  return entries
    .map((e) => {
      const d = parseTime(e.at);
      return `[${d ? stamp(d) : String(e.at || '')}] ${entryAuthor(e)}: ${String(e.text ?? '')}`;
    })
    .join('\n') + (entries.length ? '\n' : '');
}

/**
 * The chat panel. parts: {timeline, form, input, counter, send (button), error, exportButton, newButton};
 * options: send(text) -> bool (false when not connected), fileName() -> the export's file name,
 * onNew(count) for entries that arrived (for an unread badge).
 */
export function createChat(parts, { send, fileName, onNew }) {
  const { timeline, form, input, counter, sendButton, error, exportButton, newButton } = parts;
  let entries = [];
  let lastSeq = -Infinity;
  let max = CHAT_MAX;
  let enabled = false;

  const atBottom = () => timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < AT_BOTTOM_PX;
  const toBottom = () => {
    timeline.scrollTop = timeline.scrollHeight;
    newButton.hidden = true;
  };

  function render(entry) {
    const kind = entry.kind === 'chat' ? 'chat' : 'system';
    const d = parseTime(entry.at);
    const time = el(
      'time',
      { class: 'tl-time', datetime: d ? d.toISOString() : null, title: d ? d.toLocaleString() : null },
      d ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : '',
    );
    const text = el('span', { class: 'tl-text' }, linkify(String(entry.text ?? '')));
    return el(
      'li',
      { class: `tl-entry tl-${kind}`, 'data-testid': `timeline-${kind}`, dataset: { seq: String(entry.seq ?? '') } },
      time,
      ' ',
      kind === 'chat' ? [el('span', { class: 'tl-author' }, entryAuthor(entry)), ' '] : null,
      text,
    );
  }

  function add(list, replace, { history = false, omitted = 0 } = {}) {
    const stick = replace || atBottom();
    const fresh = [];
    if (replace) {
      entries = [];
      lastSeq = -Infinity;
      timeline.replaceChildren();
      const left = Number(omitted);
      if (Number.isInteger(left) && left > 0) {
        timeline.append(
          el(
            'li',
            { class: 'tl-entry tl-system tl-omitted', 'data-testid': 'timeline-omitted' },
            `${left} earlier ${left === 1 ? 'entry is' : 'entries are'} not shown here; the session report has them all.`,
          ),
        );
      }
    }
    for (const entry of list) {
      if (!entry || typeof entry !== 'object') continue;
      const seq = Number(entry.seq);
      if (Number.isFinite(seq)) {
        if (seq <= lastSeq) continue; // already shown (a reconnect)
        lastSeq = seq;
      }
      entries.push(entry);
      fresh.push(render(entry));
    }
    timeline.append(...fresh);
    while (timeline.children.length > KEPT) timeline.firstElementChild.remove();
    if (entries.length > KEPT) entries = entries.slice(-KEPT);
    if (stick) toBottom();
    else if (fresh.length) newButton.hidden = false;
    if (!replace && !history && fresh.length && onNew) onNew(fresh.length);
  }

  function update() {
    const text = input.value;
    const n = charCount(text);
    counter.textContent = `${n} / ${max}`;
    counter.classList.toggle('over', n > max);
    sendButton.disabled = !enabled || chatProblem(text, max) !== '';
    if (n <= max && !error.hidden && error.dataset.kind === 'length') error.hidden = true;
  }

  function showProblem(message, kind = '') {
    error.textContent = message;
    error.dataset.kind = kind;
    error.hidden = !message;
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    const problem = chatProblem(text, max);
    if (problem) {
      showProblem(problem, charCount(text) > max ? 'length' : '');
      return;
    }
    if (!enabled || !send(text)) {
      showProblem('Not connected: the message was not sent.');
      return;
    }
    showProblem('');
    input.value = '';
    update();
    input.focus();
  });
  input.addEventListener('keydown', (ev) => {
    // Enter sends, Shift+Enter is a new line.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', update);
  timeline.addEventListener('scroll', () => {
    if (atBottom()) newButton.hidden = true;
  });
  newButton.addEventListener('click', toBottom);
  exportButton.addEventListener('click', () => {
    const blob = new Blob([timelineText(entries)], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: fileName(), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  update();

  return {
    /** The history a socket gets first; ``omitted`` older entries were left out by the console. */
    replace: (list, omitted = 0) => add(list, true, { omitted }),
    /** More of that history (``continued`` frames): shown, never counted as new. */
    appendHistory: (list) => add(list, false, { history: true }),
    append: (list) => add(list, false),
    setMax(value) {
      const n = Number(value);
      max = Number.isInteger(n) && n > 0 ? n : CHAT_MAX;
      update();
    },
    /** Whether messages can be sent now (connected); the draft stays editable meanwhile. */
    setEnabled(value) {
      enabled = Boolean(value);
      update();
    },
    /** No more chat: the session is over for this browser (the timeline stays, and Export). */
    finish() {
      enabled = false;
      input.disabled = true;
      update();
    },
    get entries() {
      return entries;
    },
  };
}
