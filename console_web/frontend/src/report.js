// The session report (/history/<id>): who, what and when; the participants; the chat and system events (URLs as
// links built as DOM nodes); the recording in asciinema-player (?t=<seconds> starts there; event times seek); the
// transcript; downloads; and, for administrators, deleting the recording.
//
// A desktop session's recording plays in the desktop renderer instead (report-desktop.js: seek bar, speed, MP4
// export); the rest of the page is the same.
//
// A live session is followed by re-reading its cast: with "Follow live" on, every few seconds the page fetches the
// cast again and, when it grew, re-creates the player positioned at the last event (asciinema-player's streaming
// drivers speak the asciinema server's live protocols, which this console does not serve).

import { create } from 'asciinema-player';
import { ApiError, api } from './api.js';
import { createDesktopPlayback } from './report-desktop.js';
import { formatDuration, formatOffset } from './records.js';
import { linkify } from './session-chat.js';
import { $, busy, confirmDialog, el, formatDate, setChildren, setupHeader, showError, showInfo } from './ui.js';

const FOLLOW_EVERY_MS = 3000;
const REFRESH_LIVE_MS = 10000;
const TRANSCRIPT_SHOWN = 256 * 1024;

const sessionId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const base = `/api/v1/session-history/${encodeURIComponent(sessionId)}`;

const state = {
  user: null,
  report: null,
  player: null,
  desktop: null, // the desktop recording's player (report-desktop.js), for a desktop session
  castText: null,
  castStart: null, // unix seconds of the recording's first moment (the cast header's timestamp)
  followTimer: null,
  refreshTimer: null,
};

// ---- fetching files -------------------------------------------------------------------------------------

async function fetchFile(url, headers = {}) {
  let resp;
  try {
    resp = await fetch(url, { credentials: 'same-origin', cache: 'no-store', headers });
  } catch {
    throw new ApiError(0, { error: { message: 'The console cannot be reached.', hint: 'Check your network connection and try again.' } });
  }
  if (resp.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  if (!resp.ok && resp.status !== 206 && resp.status !== 416) {
    let body = null;
    try {
      body = await resp.json();
    } catch {
      body = null;
    }
    throw new ApiError(resp.status, body);
  }
  return resp;
}

/** The cast's header and the time of its last event (asciicast v2: absolute times; v3: intervals). */
function castInfo(text) {
  const lines = text.split('\n');
  let header = null;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    return { header: null, events: 0, last: 0 };
  }
  let events = 0;
  let last = 0;
  if (header && header.version === 3) {
    for (const line of lines.slice(1)) {
      if (!line.trim()) continue;
      try {
        const ev = JSON.parse(line);
        if (Array.isArray(ev)) {
          last += Number(ev[0]) || 0;
          events += 1;
        }
      } catch {
        // a comment or a torn line: skipped
      }
    }
    return { header, events, last };
  }
  for (const line of lines.slice(1)) if (line.trim()) events += 1;
  for (let i = lines.length - 1; i > 0; i -= 1) {
    if (!lines[i].trim()) continue;
    try {
      const ev = JSON.parse(lines[i]);
      if (Array.isArray(ev)) {
        last = Number(ev[0]) || 0;
        break;
      }
    } catch {
      // keep looking further up
    }
  }
  return { header, events, last };
}

// ---- the player -----------------------------------------------------------------------------------------

function disposePlayer() {
  if (state.player) {
    try {
      state.player.dispose();
    } catch {
      // already gone
    }
    state.player = null;
  }
  $('#player').replaceChildren();
}

function mountPlayer(text, { startAt = 0, autoPlay = false } = {}) {
  const info = castInfo(text);
  disposePlayer();
  state.castText = text;
  state.castStart = info.header && Number.isFinite(Number(info.header.timestamp)) ? Number(info.header.timestamp) : null;
  if (info.events === 0) {
    showInfo($('#recording-none'), 'Nothing has been recorded yet.');
    $('#recording-none').hidden = false;
    return;
  }
  $('#recording-none').hidden = true;
  const at = Math.min(Math.max(0, startAt), info.last);
  state.player = create({ data: text }, $('#player'), {
    startAt: at,
    autoPlay,
    // Paused somewhere other than the start (following a live session): show that moment's screen. The poster
    // leaves out an event at exactly its time, hence the extra millisecond.
    poster: !autoPlay && at > 0 ? `npt:${at + 0.001}` : undefined,
    preload: true,
    fit: 'width',
    terminalFontSize: 'small',
  });
}

async function loadCast(options) {
  const resp = await fetchFile(`${base}/recording.cast`);
  const text = await resp.text();
  if (text === state.castText && state.player) return false;
  const info = castInfo(text);
  mountPlayer(text, typeof options === 'function' ? options(info) : options);
  return true;
}

/** Seek the player to an absolute time (ISO), relative to the recording's start. */
function seekTo(at) {
  if (state.desktop) {
    const when = new Date(at).getTime() / 1000;
    if (!Number.isFinite(when)) return;
    state.desktop.seek(Math.max(0, when - state.desktop.startedAt)).catch((exc) => showError($('#recording-error'), exc));
    $('#desktop-player').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    return;
  }
  if (!state.player) return;
  const when = new Date(at).getTime() / 1000;
  const start = state.castStart ?? new Date(state.report.session.started_at).getTime() / 1000;
  if (!Number.isFinite(when) || !Number.isFinite(start)) return;
  setFollow(false);
  state.player.seek(Math.max(0, when - start)).then(() => state.player && state.player.play());
  $('#player').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

// ---- a desktop recording --------------------------------------------------------------------------------

function disposeDesktop() {
  if (state.desktop) state.desktop.dispose();
  state.desktop = null;
}

async function mountDesktop(report) {
  const t = Number.parseFloat(new URLSearchParams(location.search).get('t') || '');
  try {
    state.desktop = await createDesktopPlayback($('#desktop-player'), {
      base,
      fetchFile,
      live: report.session.live,
      startAt: Number.isFinite(t) && t >= 0 ? t : 0,
      errorBox: $('#recording-error'),
    });
  } catch (exc) {
    showError($('#recording-error'), exc);
    return;
  }
  state.castStart = state.desktop.startedAt;
  renderTimeline(report.timeline, report.timeline_truncated, true);
}

// ---- follow live ----------------------------------------------------------------------------------------

function setFollow(on) {
  const box = $('#follow-live');
  box.checked = on;
  clearInterval(state.followTimer);
  state.followTimer = null;
  if (!on) return;
  const tick = () =>
    loadCast((info) => ({ startAt: info.last, autoPlay: false })).catch((exc) => {
      if (exc instanceof ApiError && exc.status === 404) {
        showInfo($('#recording-none'), 'Nothing has been recorded yet.');
        $('#recording-none').hidden = false;
      } else {
        showError($('#recording-error'), exc);
      }
    });
  tick();
  state.followTimer = setInterval(() => {
    if (document.visibilityState === 'visible') tick();
  }, FOLLOW_EVERY_MS);
}

// ---- rendering ------------------------------------------------------------------------------------------

function row(label, ...value) {
  return [el('dt', {}, label), el('dd', {}, ...value)];
}

function renderSummary(s) {
  $('#report-title').textContent = s.item_name;
  document.title = `${s.item_name} — Session report — OpenJump`;
  const status = $('#report-status');
  status.textContent = s.live ? 'live' : 'ended';
  status.className = 'badge ' + (s.live ? 'badge-connected' : 'badge-ended');
  const live = $('#open-live');
  live.hidden = !s.live;
  live.href = `/sessions/${encodeURIComponent(s.id)}`;
  const ended = s.ended_at ? el('time', { datetime: s.ended_at }, formatDate(s.ended_at)) : el('span', { class: 'muted' }, 'still running');
  setChildren(
    $('#report-summary'),
    row('Jump Item', s.item_name),
    row('Target', el('span', { class: 'mono' }, s.target), ` (${s.protocol})`),
    row('Owner', s.owner ? s.owner.name : ''),
    row('Started', el('time', { datetime: s.started_at }, formatDate(s.started_at))),
    row('Ended', ended),
    row('Duration', formatDuration(s.duration_seconds), s.live ? ' so far' : ''),
    s.end_reason ? row('End reason', s.end_reason) : null,
    s.error_code ? row('Error', el('code', {}, s.error_code)) : null,
    row('Session', el('code', {}, s.id)),
  );
}

function renderParticipants(list) {
  if (!list.length) {
    setChildren($('#participants'), el('p', { class: 'muted' }, 'No participants were recorded.'));
    return;
  }
  setChildren(
    $('#participants'),
    el(
      'table',
      { class: 'table', 'data-testid': 'participants-table' },
      el('thead', {}, el('tr', {}, ['Name', 'Mode', 'Joined', 'Left', 'Why'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        list.map((p) =>
          el(
            'tr',
            {},
            el('td', {}, p.name, p.external ? el('span', { class: 'badge' }, 'guest') : null),
            el('td', {}, p.mode),
            el('td', {}, el('time', { datetime: p.joined_at }, formatDate(p.joined_at))),
            el('td', {}, p.left_at ? el('time', { datetime: p.left_at }, formatDate(p.left_at)) : el('span', { class: 'muted' }, '—')),
            el('td', {}, p.left_reason || ''),
          ),
        ),
      ),
    ),
  );
}

function offsetLabel(at) {
  const start = state.castStart ?? new Date(state.report.session.started_at).getTime() / 1000;
  const when = new Date(at).getTime() / 1000;
  return Number.isFinite(when - start) ? formatOffset(when - start) : '';
}

function renderTimeline(entries, truncated, canSeek) {
  $('#timeline-truncated').hidden = !truncated;
  $('#timeline-empty').hidden = entries.length > 0;
  setChildren(
    $('#report-timeline'),
    entries.map((e) => {
      const kind = e.kind === 'chat' ? 'chat' : 'system';
      return el(
        'li',
        { class: `tl-entry tl-${kind}`, dataset: { seq: String(e.seq) }, 'data-testid': `report-${kind}` },
        el('time', { class: 'tl-time', datetime: e.at }, formatDate(e.at)),
        canSeek
          ? el('button', { type: 'button', class: 'link-button seek', title: 'Play the recording from here', onclick: () => seekTo(e.at) }, `▶ ${offsetLabel(e.at)}`)
          : null,
        kind === 'chat' ? el('span', { class: 'tl-author' }, e.author || 'Unknown') : null,
        el('span', { class: 'tl-text' }, linkify(String(e.text ?? ''))),
      );
    }),
  );
}

function renderDownloads(report) {
  const { recording: rec, session: s } = report;
  const desktop = rec.kind === 'desktop';
  const cast = $('#download-cast');
  cast.href = `${base}/recording.cast`;
  cast.hidden = !rec.available || desktop;
  const desktopFile = $('#download-desktop');
  desktopFile.href = `${base}/recording.ojd`;
  desktopFile.hidden = !rec.available || !desktop;
  const transcript = $('#download-transcript');
  transcript.href = `${base}/transcript.txt`;
  transcript.hidden = rec.transcript_bytes === null || rec.transcript_bytes === undefined || Boolean(rec.deleted_at);
  $('#download-timeline').href = `${base}/timeline.txt`;
  const hasFiles = rec.available || (rec.transcript_bytes !== null && rec.transcript_bytes !== undefined);
  $('#delete-recording').hidden = !(state.user.is_admin && !s.live && !rec.deleted_at && hasFiles);
}

function recordingMessage(report) {
  const { recording: rec, session: s } = report;
  const box = $('#recording-none');
  if (rec.deleted_at) box.textContent = `The recording was deleted on ${formatDate(rec.deleted_at)}.`;
  else if (!rec.available && s.live) box.textContent = 'Nothing has been recorded yet.';
  else if (!rec.available) box.textContent = 'This session was not recorded.';
  box.hidden = rec.available && !rec.deleted_at;
}

async function loadTranscript(report) {
  const rec = report.recording;
  const section = $('#transcript-section');
  if (rec.deleted_at || rec.transcript_bytes === null || rec.transcript_bytes === undefined) {
    section.hidden = true;
    return;
  }
  const resp = await fetchFile(`${base}/transcript.txt`, { Range: `bytes=0-${TRANSCRIPT_SHOWN - 1}` });
  const text = resp.status === 416 ? '' : new TextDecoder('utf-8').decode(await resp.arrayBuffer());
  const total = Number((resp.headers.get('Content-Range') || '').split('/')[1]);
  const note = $('#transcript-note');
  note.hidden = !(Number.isFinite(total) && total > TRANSCRIPT_SHOWN);
  note.textContent = note.hidden ? '' : `The first ${TRANSCRIPT_SHOWN / 1024} KiB are shown; download the transcript for all of it.`;
  $('#transcript').textContent = text || '(empty)';
  section.hidden = false;
}

function render(report) {
  state.report = report;
  renderSummary(report.session);
  renderParticipants(report.participants);
  renderTimeline(report.timeline, report.timeline_truncated, report.recording.available);
  renderDownloads(report);
  recordingMessage(report);
  $('#follow-live-label').hidden = !report.session.live || report.recording.kind === 'desktop';
  $('#report-body').hidden = false;
}

// ---- actions --------------------------------------------------------------------------------------------

async function deleteRecording() {
  const s = state.report.session;
  const ok = await confirmDialog(
    'Delete recording',
    `Delete the recording and transcript of this session on '${s.item_name}'? The report and the chat stay; this cannot be undone.`,
    'Delete recording',
  );
  if (!ok) return;
  await busy($('#delete-recording'), $('#recording-error'), async () => {
    await api('DELETE', `/session-history/${encodeURIComponent(sessionId)}/recording`);
    disposePlayer();
    disposeDesktop();
    const report = await api('GET', `/session-history/${encodeURIComponent(sessionId)}`);
    render(report);
    $('#transcript-section').hidden = true;
  });
}

async function refreshLive() {
  const wasLive = state.report.session.live;
  const report = await api('GET', `/session-history/${encodeURIComponent(sessionId)}`);
  render(report);
  if (wasLive && !report.session.live) {
    clearInterval(state.refreshTimer);
    state.refreshTimer = null;
    if (state.desktop) await state.desktop.refresh().catch((exc) => showError($('#recording-error'), exc));
    if (state.followTimer) {
      setFollow(false);
      await loadCast((info) => ({ startAt: info.last })).catch((exc) => showError($('#recording-error'), exc));
    }
    $('#follow-live-label').hidden = true;
  }
}

// ---- start ----------------------------------------------------------------------------------------------

function reportCspProblem() {
  document.addEventListener('securitypolicyviolation', (ev) => {
    if (String(ev.violatedDirective || '').startsWith('script-src') && String(ev.blockedURI || '').includes('wasm')) {
      showError($('#recording-error'), {
        message: 'The player cannot run: this console does not allow WebAssembly on its pages.',
        hint: "The page's Content-Security-Policy needs 'wasm-unsafe-eval' in script-src. The downloads still work.",
      });
    }
  });
}

async function main() {
  reportCspProblem();
  try {
    state.user = await setupHeader();
    render(await api('GET', `/session-history/${encodeURIComponent(sessionId)}`));
  } catch (exc) {
    showError($('#report-error'), exc);
    return;
  }
  $('#delete-recording').addEventListener('click', deleteRecording);
  $('#follow-live').addEventListener('change', (ev) => setFollow(ev.currentTarget.checked));
  const report = state.report;
  if (report.recording.available && report.recording.kind === 'desktop') {
    await mountDesktop(report);
  } else if (report.recording.available) {
    const t = Number.parseFloat(new URLSearchParams(location.search).get('t') || '');
    const startAt = Number.isFinite(t) && t >= 0 ? t : 0;
    await loadCast({ startAt, autoPlay: startAt > 0 }).catch((exc) => showError($('#recording-error'), exc));
    renderTimeline(report.timeline, report.timeline_truncated, Boolean(state.player));
  }
  loadTranscript(report).catch((exc) => showError($('#recording-error'), exc));
  if (report.session.live) {
    state.refreshTimer = setInterval(() => {
      if (document.visibilityState === 'visible') refreshLive().catch((exc) => showError($('#report-error'), exc));
    }, REFRESH_LIVE_MS);
  }
}

main();
