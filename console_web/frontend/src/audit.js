// The audit log page (administrators): filters, the newest events first with "older" paging, and the CSV export
// of everything that matches the same filters.

import { api, asList } from './api.js';
import { formFromLocation, localInstant, locationFromForm, queryString } from './records.js';
import { $, append, busy, el, formatDate, setChildren, setupHeader, showError, showFieldErrors, showInfo } from './ui.js';

const FILTERS = ['action', 'user_id', 'session_id', 'since', 'until', 'q'];
const PAGE = 100;

let nextBeforeId = null;

function filters() {
  const form = $('#audit-filter');
  const get = (n) => form.elements.namedItem(n).value.trim();
  return {
    action: get('action'),
    user_id: get('user_id'),
    session_id: get('session_id'),
    since: localInstant(get('since')),
    until: localInstant(get('until')),
    q: get('q'),
  };
}

function actor(ev) {
  if (ev.actor_name) return ev.actor_name;
  if (ev.actor_user_id !== null && ev.actor_user_id !== undefined) return `user #${ev.actor_user_id}`;
  if (ev.actor_jumpoint_id !== null && ev.actor_jumpoint_id !== undefined) return `Jumpoint #${ev.actor_jumpoint_id}`;
  return el('span', { class: 'muted' }, '—');
}

/** The detail object as short "key: value" chips (values as text, never HTML). */
function detailCell(detail) {
  const entries = Object.entries(detail || {});
  if (!entries.length) return el('td', { class: 'muted' }, '');
  return el(
    'td',
    { class: 'detail-cell' },
    entries.map(([k, v]) => el('span', { class: 'kv' }, el('span', { class: 'kv-key' }, k), ' ', typeof v === 'string' ? v : JSON.stringify(v))),
  );
}

function eventRow(ev) {
  return el(
    'tr',
    { dataset: { eventId: String(ev.id) } },
    el('td', { class: 'nowrap' }, el('time', { datetime: ev.at }, formatDate(ev.at))),
    el('td', { class: 'mono' }, ev.action),
    el('td', {}, actor(ev)),
    el('td', { class: 'mono' }, ev.source_address || ''),
    el('td', { class: 'mono' }, ev.session_id ? el('a', { href: `/history/${encodeURIComponent(ev.session_id)}` }, ev.session_id) : ''),
    detailCell(ev.detail),
  );
}

function updateExportLink() {
  $('#audit-export').href = '/api/v1/audit.csv' + queryString(filters());
}

async function loadEvents({ more = false } = {}) {
  const form = $('#audit-filter');
  const params = { ...filters(), limit: PAGE, before_id: more ? nextBeforeId : '' };
  let page;
  try {
    page = await api('GET', '/audit' + queryString(params));
  } catch (exc) {
    showFieldErrors(form, exc);
    throw exc;
  }
  showFieldErrors(form, null);
  const rows = asList(page).map(eventRow);
  if (more) append($('#audit-body'), rows);
  else setChildren($('#audit-body'), rows);
  nextBeforeId = page.next_before_id ?? null;
  $('#audit-more').hidden = nextBeforeId === null;
  $('#audit-empty').hidden = $('#audit-body').children.length > 0;
  updateExportLink();
}

async function loadUsers() {
  const users = asList(await api('GET', '/users'));
  const wanted = new URLSearchParams(location.search).get('user_id') || '';
  append($('#audit-user'), users.map((u) => el('option', { value: String(u.id), selected: String(u.id) === wanted }, u.username)));
}

function setupFilters() {
  const form = $('#audit-filter');
  formFromLocation(form, FILTERS);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    locationFromForm(form, FILTERS);
    await busy(form.querySelector('button[type=submit]'), $('#audit-error'), () => loadEvents());
  });
  form.addEventListener('reset', () => {
    setTimeout(() => {
      locationFromForm(form, FILTERS);
      busy(null, $('#audit-error'), () => loadEvents());
    });
  });
  form.addEventListener('input', updateExportLink);
  $('#audit-more').addEventListener('click', (ev) => busy(ev.currentTarget, $('#audit-error'), () => loadEvents({ more: true })));
}

async function main() {
  let user;
  try {
    user = await setupHeader();
  } catch (exc) {
    showError($('#audit-error'), exc);
    return;
  }
  if (!user.is_admin) {
    $('#audit-section').hidden = true;
    $('#audit-export').hidden = true;
    showInfo($('#audit-error'), 'Only administrators can read the audit log.');
    return;
  }
  setupFilters();
  await loadUsers().catch((exc) => showError($('#audit-error'), exc));
  await loadEvents().catch((exc) => showError($('#audit-error'), exc));
}

main();
