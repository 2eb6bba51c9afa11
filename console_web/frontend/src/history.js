// The session history page: past and live sessions with filters and "older" paging, and a search through the
// transcripts whose results open the report at the moment the text appeared (/history/<id>?t=<seconds>).

import { api, asList } from './api.js';
import { dayEnd, dayStart, formFromLocation, formatDuration, formatOffset, locationFromForm, queryString } from './records.js';
import { $, append, busy, el, formatDate, setChildren, setupHeader, showError, showFieldErrors } from './ui.js';

const FILTERS = ['q', 'user_id', 'since', 'until'];
const PAGE = 50;

let nextBefore = null;

function reportUrl(id, seconds) {
  return `/history/${encodeURIComponent(id)}` + (seconds === undefined ? '' : `?t=${Math.max(0, Math.floor(seconds))}`);
}

function statusCell(s) {
  if (s.live) return el('td', {}, el('span', { class: 'badge badge-connected', 'data-testid': 'live-badge' }, 'live'));
  const reason = s.error_code ? `${s.end_reason || 'ended'} (${s.error_code})` : s.end_reason || 'ended';
  return el('td', { class: s.error_code ? 'status-error' : 'muted' }, reason);
}

function sessionRow(s) {
  return el(
    'tr',
    { class: 'item-row', dataset: { sessionId: s.id } },
    el('td', {}, el('a', { href: reportUrl(s.id), class: 'item-name' }, s.item_name)),
    el('td', { class: 'mono' }, s.target),
    el('td', {}, s.owner ? s.owner.name : ''),
    el('td', {}, el('time', { datetime: s.started_at }, formatDate(s.started_at))),
    el('td', {}, formatDuration(s.duration_seconds)),
    statusCell(s),
    el('td', {}, s.recorded ? 'Yes' : el('span', { class: 'muted' }, 'No')),
  );
}

function filters() {
  const form = $('#history-filter');
  const get = (n) => form.elements.namedItem(n).value.trim();
  return { q: get('q'), user_id: get('user_id'), since: dayStart(get('since')), until: dayEnd(get('until')) };
}

async function loadSessions({ more = false } = {}) {
  const params = { ...filters(), limit: PAGE, before: more ? nextBefore : '' };
  const page = await api('GET', '/session-history' + queryString(params));
  const rows = asList(page).map(sessionRow);
  if (more) append($('#history-body'), rows);
  else setChildren($('#history-body'), rows);
  nextBefore = page.next_before || null;
  $('#history-more').hidden = !nextBefore;
  $('#history-empty').hidden = $('#history-body').children.length > 0;
}

async function loadUsers() {
  const users = asList(await api('GET', '/users'));
  const select = $('#history-user');
  const wanted = new URLSearchParams(location.search).get('user_id') || '';
  append(select, users.map((u) => el('option', { value: String(u.id), selected: String(u.id) === wanted }, u.username)));
  select.closest('[data-admin-only]').hidden = false;
}

function setupFilters() {
  const form = $('#history-filter');
  formFromLocation(form, FILTERS);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    locationFromForm(form, FILTERS);
    await busy(form.querySelector('button[type=submit]'), $('#history-error'), () => loadSessions());
  });
  form.addEventListener('reset', () => {
    setTimeout(() => {
      locationFromForm(form, FILTERS);
      busy(null, $('#history-error'), () => loadSessions());
    });
  });
  $('#history-more').addEventListener('click', (ev) => busy(ev.currentTarget, $('#history-error'), () => loadSessions({ more: true })));
}

function hitItem(hit) {
  return el(
    'li',
    { class: 'search-hit', dataset: { sessionId: hit.session_id } },
    el(
      'a',
      { href: reportUrl(hit.session_id, hit.time), 'data-testid': 'transcript-hit' },
      el('span', { class: 'item-name' }, hit.item_name),
      ' ',
      el('time', { class: 'muted', datetime: hit.started_at }, formatDate(hit.started_at)),
      ' ',
      el('span', { class: 'badge' }, `at ${formatOffset(hit.time)}`),
    ),
    el('pre', { class: 'hit-text' }, hit.text),
  );
}

function setupTranscriptSearch() {
  const form = $('#transcript-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, null);
    const q = form.elements.namedItem('q').value.trim();
    if (q.length < 2) {
      showError($('#transcript-error'), { message: 'Type at least 2 characters to search the transcripts.' });
      return;
    }
    await busy(form.querySelector('button[type=submit]'), $('#transcript-error'), async () => {
      let answer;
      try {
        answer = await api('GET', '/recordings/search' + queryString({ q, limit: 100 }));
      } catch (exc) {
        showFieldErrors(form, exc);
        throw exc;
      }
      const hits = asList(answer);
      setChildren($('#transcript-results'), hits.map(hitItem));
      const empty = $('#transcript-empty');
      empty.textContent = hits.length ? '' : `No transcript line contains '${q}'.`;
      empty.hidden = hits.length > 0;
      if (answer.truncated) append($('#transcript-results'), el('li', { class: 'muted' }, 'More lines match: refine the search.'));
    });
  });
}

async function main() {
  let user;
  try {
    user = await setupHeader();
  } catch (exc) {
    showError($('#history-error'), exc);
    return;
  }
  setupFilters();
  setupTranscriptSearch();
  // The user filter needs its options before the first load reads it.
  if (user.is_admin) await loadUsers().catch((exc) => showError($('#history-error'), exc));
  await loadSessions().catch((exc) => showError($('#history-error'), exc));
}

main();
