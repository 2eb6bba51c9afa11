// Playback of a desktop session's recording on its report page, with the session view's own renderer
// (desktop/stream-parser.js + desktop/renderer.js), and the "Export MP4" button.
//
// recording.ojd (docs/protocol.md, desktop recordings) is a magic + JSON header, then records
// `u8 kind | u32 ms | u32 length | data`; OUTPUT records hold the desktop stream, and every KEYFRAME message starts
// a record whose offset is in the index (GET .../recording-index). The player reads the file in byte ranges from a
// keyframe on, and feeds each record to the parser when the playback clock reaches its time. Seeking to T restarts
// from the last keyframe at or before T (a fresh parser, the renderer's queue dropped) and fast-forwards to T.

import { ApiError, api } from './api.js';
import { DesktopRenderer } from './desktop/renderer.js';
import { DesktopStreamError, StreamParser } from './desktop/stream-parser.js';
import { formatOffset } from './records.js';
import { el, showError } from './ui.js';

const RECORD_HEADER = 9;
const OUTPUT = 1;
const KINDS = new Set([1, 2]);
const MAX_RECORD_DATA = 1 << 20;
const CHUNK = 1 << 20; // bytes per range request
const MAX_BACKLOG = 24 << 20; // image bytes queued in the renderer: wait for it beyond this
const TICK_MS = 40;
const LIVE_INDEX_MS = 3000;
const EXPORT_POLL_MS = 500;
const SPEEDS = [0.5, 1, 2, 4, 8, 16];

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

/** Reads whole records of recording.ojd from `offset` up to `end` (range requests of CHUNK bytes). */
class RecordReader {
  constructor(url, offset, end, fetchFile) {
    this.url = url;
    this.offset = offset; // file offset of buf[0]
    this.end = end;
    this.fetchFile = fetchFile;
    this.buf = new Uint8Array(0);
    this.pos = 0; // read position in buf
    this.done = false;
  }

  /** More of the file is whole now (a live recording grew). */
  extend(end) {
    if (end > this.end) {
      this.end = end;
      this.done = false;
    }
  }

  async fill(need) {
    const have = this.buf.length - this.pos;
    const from = this.offset + this.buf.length;
    const to = Math.min(this.end, from + Math.max(CHUNK, need - have));
    if (to <= from) return false;
    const resp = await this.fetchFile(this.url, { Range: `bytes=${from}-${to - 1}` });
    if (resp.status === 416) return false;
    const chunk = new Uint8Array(await resp.arrayBuffer());
    if (!chunk.length) return false;
    const rest = this.buf.subarray(this.pos);
    const merged = new Uint8Array(rest.length + chunk.length);
    merged.set(rest, 0);
    merged.set(chunk, rest.length);
    this.offset += this.pos;
    this.buf = merged;
    this.pos = 0;
    return true;
  }

  /** The next record {offset, kind, ms, data}, or null at the end (or at a torn or malformed record). */
  async next() {
    if (this.done) return null;
    for (;;) {
      const have = this.buf.length - this.pos;
      if (have >= RECORD_HEADER) {
        const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, RECORD_HEADER);
        const kind = view.getUint8(0);
        const ms = view.getUint32(1);
        const length = view.getUint32(5);
        if (!KINDS.has(kind) || length > MAX_RECORD_DATA) {
          this.done = true;
          return null;
        }
        if (have >= RECORD_HEADER + length) {
          const start = this.pos + RECORD_HEADER;
          const record = { offset: this.offset + this.pos, kind, ms, data: this.buf.subarray(start, start + length) };
          this.pos = start + length;
          return record;
        }
        if (!(await this.fill(RECORD_HEADER + length))) {
          this.done = true;
          return null;
        }
      } else if (!(await this.fill(RECORD_HEADER))) {
        this.done = true;
        return null;
      }
    }
  }
}

/**
 * Mount the player in `host`. options: base (the session's /api/v1/session-history/<id> URL), fetchFile(url,
 * headers) -> Response (errors thrown as ApiError), live (the session still runs), startAt (seconds), errorBox.
 * Returns { seek(seconds), refresh(), dispose(), startedAt } once the index is loaded.
 */
export async function createDesktopPlayback(host, { base, fetchFile, live = false, startAt = 0, errorBox }) {
  const fileUrl = `${base}/recording.ojd`;
  const apiBase = base.replace(/^\/api\/v1/, '');
  let index = await api('GET', `${apiBase}/recording-index`);
  let isLive = live && index.live;

  // ---- the page -------------------------------------------------------------------------------------------
  const canvas = el('canvas', { class: 'desktop-canvas', width: 0, height: 0, 'data-testid': 'playback-canvas' });
  const waiting = el('div', { class: 'desktop-waiting', 'data-testid': 'playback-waiting' }, 'Loading the recording\u2026');
  const screen = el('div', { class: 'desktop-screen view-only', 'data-testid': 'playback-screen' }, canvas, waiting);
  const play = el('button', { type: 'button', 'data-testid': 'playback-play', title: 'Play or pause the recording' }, 'Play');
  const seekBar = el('input', {
    type: 'range',
    min: '0',
    max: String(index.duration_ms),
    step: '100',
    value: '0',
    'aria-label': 'Position in the recording',
    'data-testid': 'playback-seek',
  });
  const time = el('span', { class: 'playback-time', 'data-testid': 'playback-time', 'aria-live': 'off' }, '0:00 / 0:00');
  const speed = el(
    'select',
    { id: 'playback-speed', 'data-testid': 'playback-speed' },
    SPEEDS.map((s) => el('option', { value: String(s), selected: s === 1 }, `${s}\u00d7`)),
  );
  const exportButton = el('button', { type: 'button', 'data-testid': 'export-mp4', title: 'Make an MP4 video of this recording' }, 'Export MP4');
  const progress = el('progress', { max: '1', value: '0', 'data-testid': 'export-progress', hidden: true });
  const exportStatus = el('span', { class: 'tool-status', role: 'status', 'data-testid': 'export-status' });
  const download = el('a', { class: 'button-like', href: `${base}/export.mp4`, download: '', 'data-testid': 'export-download', hidden: true }, 'Download MP4');
  const bar = el('div', { class: 'term-toolbar desktop-toolbar playback-toolbar', role: 'toolbar', 'aria-label': 'Playback' },
    play, seekBar, time, el('span', { class: 'desktop-quality' }, el('label', { for: 'playback-speed' }, 'Speed'), speed), exportButton, progress, download, exportStatus);
  // Sizes the stylesheets do not know: set through the CSSOM (allowed by the pages' CSP, unlike style attributes).
  seekBar.style.flex = '1 1 200px';
  screen.style.minHeight = '240px';
  canvas.style.maxWidth = '100%';
  canvas.style.maxHeight = '75vh';
  canvas.style.width = 'auto';
  canvas.style.height = 'auto';
  time.style.fontVariantNumeric = 'tabular-nums';
  time.style.fontSize = '13px';
  host.classList.add('desktop-host');
  host.replaceChildren(bar, screen);
  host.hidden = false;

  // ---- rendering ------------------------------------------------------------------------------------------
  const parser = new StreamParser();
  const renderer = new DesktopRenderer(canvas, {
    onPresent: (width, height) => {
      waiting.hidden = true;
      host.dataset.frames = String(renderer.frames);
      host.dataset.width = String(width);
      host.dataset.height = String(height);
    },
    onCursor: () => {}, // the pointer's position is not recorded: its shape means nothing here
    onClipboard: () => {},
    onDecodeError: (message) => {
      exportStatus.textContent = `Part of the picture could not be shown (${message}).`;
    },
  });

  const clock = { playing: false, rate: 1, baseMs: 0, anchor: 0 };
  let generation = 0; // bumped by every seek: a pump or fast-forward of an older one stops
  let reader = null;
  let pending = null; // the next record, read and not due yet
  let ended = false;
  let dragging = false;
  let timer = null;
  let liveTimer = null;
  let broken = null;

  const now = () => performance.now();
  const position = () => Math.min(index.duration_ms, clock.playing ? clock.baseMs + (now() - clock.anchor) * clock.rate : clock.baseMs);

  function setClock(ms) {
    clock.baseMs = ms;
    clock.anchor = now();
  }

  function showPosition() {
    const ms = position();
    time.textContent = `${formatOffset(ms / 1000)} / ${formatOffset(index.duration_ms / 1000)}`;
    if (!dragging) seekBar.value = String(Math.round(ms));
    host.dataset.position = String(Math.round(ms));
  }

  function setState(value) {
    host.dataset.state = value;
    play.textContent = clock.playing ? 'Pause' : 'Play';
    play.setAttribute('aria-pressed', clock.playing ? 'true' : 'false');
  }

  function fail(exc) {
    broken = exc;
    pause();
    showError(errorBox, exc instanceof DesktopStreamError ? { message: `The recording cannot be played: ${exc.message}.` } : exc);
    setState('failed');
  }

  function feed(record) {
    if (record.kind !== OUTPUT) return;
    const messages = parser.feed(record.data);
    for (const { kind, body } of messages) renderer.apply(kind, body);
    if (parser.failed) throw parser.failed;
  }

  /** Resolves when the renderer has drawn what is queued, if too much is (so memory stays bounded). */
  function drained() {
    if (renderer.backlog <= MAX_BACKLOG) return null;
    return new Promise((resolve) => renderer.later(resolve));
  }

  /** Feed every record due by the clock; then wait for the next one's time. */
  async function pump(gen) {
    timer = null;
    if (gen !== generation || broken) return;
    try {
      for (;;) {
        if (gen !== generation) return;
        const wait = drained();
        if (wait) await wait;
        if (gen !== generation) return;
        if (pending === null) pending = await reader.next();
        if (gen !== generation) return;
        if (pending === null) {
          if (position() >= index.duration_ms && !isLive) {
            ended = true;
            pause();
            setClock(index.duration_ms);
          }
          break;
        }
        if (pending.ms > position()) break;
        const record = pending;
        pending = null;
        feed(record);
      }
    } catch (exc) {
      if (gen === generation) fail(exc);
      return;
    }
    showPosition();
    if (clock.playing) timer = setTimeout(() => pump(gen), TICK_MS);
  }

  function keyframeAt(ms) {
    const list = index.keyframes;
    let lo = 0;
    let hi = list.length - 1;
    let found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].ms <= ms) {
        found = list[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found || list[0] || null;
  }

  /** Restart from the keyframe at or before `ms` and fast-forward to `ms`. */
  async function seek(ms) {
    ms = Math.max(0, Math.min(index.duration_ms, Math.round(ms)));
    generation += 1;
    const gen = generation;
    clearTimeout(timer);
    timer = null;
    broken = null;
    ended = false;
    const wasPlaying = clock.playing;
    clock.playing = false;
    setClock(ms);
    setState('seeking');
    showPosition();
    const keyframe = keyframeAt(ms);
    parser.reset(0);
    renderer.clear();
    reader = new RecordReader(fileUrl, keyframe ? keyframe.offset : index.data_start, index.end, fetchFile);
    pending = null;
    try {
      for (;;) {
        const wait = drained();
        if (wait) await wait;
        if (gen !== generation) return;
        const record = await reader.next();
        if (gen !== generation) return;
        if (record === null) break;
        if (record.ms > ms) {
          pending = record;
          break;
        }
        feed(record);
      }
      await new Promise((resolve) => renderer.later(resolve)); // the picture at `ms` is on the canvas
    } catch (exc) {
      if (gen === generation) fail(exc);
      return;
    }
    if (gen !== generation) return;
    clock.playing = wasPlaying;
    setClock(ms);
    setState(wasPlaying ? 'playing' : 'paused');
    showPosition();
    if (wasPlaying) pump(gen);
  }

  function start() {
    if (broken) return;
    if (ended || position() >= index.duration_ms) {
      clock.playing = true;
      seek(0);
      return;
    }
    clock.playing = true;
    setClock(clock.baseMs);
    setState('playing');
    clearTimeout(timer);
    pump(generation);
  }

  function pause() {
    if (clock.playing) setClock(position());
    clock.playing = false;
    clearTimeout(timer);
    timer = null;
    setState('paused');
    showPosition();
  }

  /** A live recording grew: take the new index (duration, keyframes, end). */
  async function refresh() {
    const fresh = await api('GET', `${apiBase}/recording-index`);
    index = fresh;
    isLive = fresh.live;
    seekBar.max = String(index.duration_ms);
    if (reader) reader.extend(index.end);
    showPosition();
    if (!isLive) clearInterval(liveTimer);
  }

  play.addEventListener('click', () => (clock.playing ? pause() : start()));
  seekBar.addEventListener('pointerdown', () => (dragging = true));
  seekBar.addEventListener('input', () => {
    time.textContent = `${formatOffset(Number(seekBar.value) / 1000)} / ${formatOffset(index.duration_ms / 1000)}`;
  });
  seekBar.addEventListener('change', () => {
    dragging = false;
    seek(Number(seekBar.value));
  });
  speed.addEventListener('change', () => {
    setClock(position());
    clock.rate = Number(speed.value) || 1;
  });
  screen.addEventListener('click', () => (clock.playing ? pause() : start()));

  // ---- export ---------------------------------------------------------------------------------------------
  let pollTimer = null;

  function showExport(status) {
    const active = status.state === 'queued' || status.state === 'running';
    exportButton.disabled = active;
    progress.hidden = !active;
    progress.value = status.progress || 0;
    download.hidden = status.state !== 'done';
    host.dataset.export = status.state;
    if (active) {
      const pct = Math.floor((status.progress || 0) * 100);
      exportStatus.textContent = status.state === 'queued' ? 'Export waiting for its turn\u2026' : `Exporting\u2026 ${pct}%`;
      exportStatus.classList.remove('error');
    } else if (status.state === 'done') {
      download.textContent = status.bytes ? `Download MP4 (${formatBytes(status.bytes)})` : 'Download MP4';
      exportButton.textContent = 'Export MP4 again';
      exportStatus.textContent = '';
    } else if (status.state === 'failed') {
      exportStatus.textContent = `The export failed: ${status.error || 'unknown error'}`;
      exportStatus.classList.add('error');
    }
  }

  async function poll() {
    pollTimer = null;
    let status;
    try {
      status = await api('GET', `${apiBase}/export.mp4/status`);
    } catch (exc) {
      showError(errorBox, exc);
      return;
    }
    showExport(status);
    if (status.state === 'queued' || status.state === 'running') pollTimer = setTimeout(poll, EXPORT_POLL_MS);
  }

  exportButton.addEventListener('click', async () => {
    exportButton.disabled = true;
    try {
      showExport(await api('POST', `${apiBase}/export.mp4`));
    } catch (exc) {
      exportButton.disabled = false;
      if (!(exc instanceof ApiError && exc.status === 409)) {
        showError(errorBox, exc);
        return;
      }
    }
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, EXPORT_POLL_MS);
  });

  // ---- start ----------------------------------------------------------------------------------------------
  if (isLive) liveTimer = setInterval(() => document.visibilityState === 'visible' && refresh().catch(() => {}), LIVE_INDEX_MS);
  poll();
  if (!index.keyframes.length && index.end <= index.data_start) {
    waiting.textContent = 'Nothing has been recorded yet.';
  }
  // Opening at the start shows the first picture: a live session's first keyframe comes a moment after it began.
  const firstPicture = index.keyframes.length ? index.keyframes[0].ms : 0;
  await seek(startAt > 0 ? startAt * 1000 : firstPicture);
  if (startAt > 0) start();

  return {
    startedAt: index.started_at,
    seek: (seconds) => {
      clock.playing = true;
      return seek(seconds * 1000);
    },
    refresh,
    dispose() {
      generation += 1;
      clearTimeout(timer);
      clearTimeout(pollTimer);
      clearInterval(liveTimer);
      renderer.clear();
      host.replaceChildren();
      host.classList.remove('desktop-host');
      host.hidden = true;
    },
  };
}
