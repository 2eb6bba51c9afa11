// The session WebSocket (`/api/v1/sessions/{id}/ws[?pos=N]`) with the reconnection rules of docs/protocol.md:
// after a close other than 1000 (ended), 4001 (removed), 4002 (left), 4003 (full), 4004 (no owner left) or 4005 (too
// many windows of one seat), reconnect with the current position, backing off, for up to 30 s (the console keeps the
// seat that long).

export const FINAL_CLOSES = new Set([1000, 4001, 4002, 4003, 4004, 4005]);
export const RESYNC_CLOSE = 4000; // ours: this browser fell behind and starts afresh
const GIVE_UP_MS = 30_000;
const DELAYS_MS = [250, 1000, 2000, 4000, 8000];
const FINAL_TRY_MARGIN_MS = 500;
const MAX_KEY_FRAME = 64 * 1024;

export class SessionSocket {
  /**
   * hooks: onOpen(), onText(string), onBinary(ArrayBuffer), onFinalClose(code, reason), onReconnecting(attempt),
   * onLost() (gave up after 30 s); getPos() -> the position to resume from, or null.
   */
  constructor(sessionId, hooks) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/ws`;
    this.hooks = hooks;
    this.ws = null;
    this.stopped = false;
    this.lostSince = null; // when the last good socket closed (null while connected)
    this.finalTry = false; // the try just before the 30 s are up was made
    this.attempt = 0;
    this.timer = null;
    window.addEventListener('online', () => {
      if (this.timer !== null) this.retryNow();
    });
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect(pos = null) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const ws = new WebSocket(pos === null ? this.url : `${this.url}?pos=${pos}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.lostSince = null;
      this.attempt = 0;
      this.hooks.onOpen();
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === 'string') this.hooks.onText(ev.data);
      else this.hooks.onBinary(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CLOSES.has(ev.code)) {
        this.stopped = true;
        this.hooks.onFinalClose(ev.code, ev.reason || '');
        return;
      }
      this.scheduleRetry(ev.code === 1013 ? 0 : null);
    });
  }

  scheduleRetry(delay = null) {
    const now = Date.now();
    if (this.lostSince === null) {
      this.lostSince = now;
      this.finalTry = false;
    }
    const left = GIVE_UP_MS - (now - this.lostSince);
    if (left <= 0 || this.finalTry) {
      this.hooks.onLost();
      return;
    }
    let wait = delay ?? DELAYS_MS[Math.min(this.attempt, DELAYS_MS.length - 1)];
    if (wait >= left - FINAL_TRY_MARGIN_MS) {
      // The last try is made just before the console releases the seat.
      wait = Math.max(0, left - FINAL_TRY_MARGIN_MS);
      this.finalTry = true;
    }
    this.attempt += 1;
    this.hooks.onReconnecting(this.attempt);
    this.timer = setTimeout(() => this.connect(this.hooks.getPos()), wait);
  }

  /** Try again at once (the Reconnect button, the network coming back). */
  retryNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.lostSince === null || this.finalTry || Date.now() - this.lostSince >= GIVE_UP_MS) {
      this.lostSince = Date.now();
      this.finalTry = false;
    }
    this.attempt = 0;
    this.connect(this.hooks.getPos());
  }

  /** Close the current socket without reconnecting by itself (the caller calls retryNow when ready). */
  drop(code = RESYNC_CLOSE, reason = 'resynchronising') {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.close(code, reason);
  }

  /** No more sockets (the session ended, or this browser is done with it). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
  }

  sendJson(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  sendBytes(bytes) {
    if (!this.open) return false;
    for (let i = 0; i < bytes.length; i += MAX_KEY_FRAME) this.ws.send(bytes.subarray(i, i + MAX_KEY_FRAME));
    return true;
  }
}
