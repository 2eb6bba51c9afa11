// The terminal side of a session socket (docs/protocol.md, "The terminal stream and positions"): where the stream
// starts (`stream` / `screen` + the snapshot frame), the position after the last applied entry, and the entries
// that are not output (`resize`, `title`, `bell`).
//
// Output goes to xterm.js as the Uint8Array views the socket delivered (no decoding, no copy); xterm's own write
// buffer already coalesces them into parse slices of about 12 ms. Terminal operations that must happen between two
// pieces of output (a remote resize, the reset before a snapshot) are queued behind the output written so far with
// a write callback: xterm applies resize() and reset() at once, even while earlier output is still unparsed.

const EMPTY = new Uint8Array(0);
// xterm.js throws away writes past ~50 MB of unparsed data; far before that, drop the backlog and resynchronise.
const BACKLOG_LIMIT = 24 * 1024 * 1024;

function size(value, max) {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : null;
}

export class TerminalStream {
  /**
   * hooks: onRemoteSize(cols, rows) when the remote terminal size applies (in order with the output);
   * onTitle(text); onBell(); onSnapshot() after a snapshot was written; onOverflow() when this browser fell too
   * far behind and needs a fresh start (reconnect without a position).
   */
  constructor(term, hooks) {
    this.term = term;
    this.hooks = hooks;
    this.pos = null; // the position after the last entry applied; null until the first `stream` or `screen`
    this.remote = null; // {cols, rows} of the remote terminal, when known
    this.snapshot = null; // {pos, cols, rows}: the next binary frame is the snapshot
    this.backlog = 0; // bytes handed to xterm and not parsed yet
    this.overflowed = false;
    this.stale = false; // the terminal shows something no position describes: reset it on the next start
  }

  /** Run `fn` once everything written so far has been parsed. */
  later(fn) {
    this.term.write(EMPTY, fn);
  }

  /** A new socket: what was announced on the old one no longer applies. */
  attach() {
    this.snapshot = null;
    this.overflowed = false;
  }

  /** Forget the position: the next socket starts afresh (a `screen`, or the stream from its start). */
  forgetPosition() {
    this.pos = null;
    this.stale = true;
  }

  write(bytes) {
    const n = bytes.byteLength;
    this.backlog += n;
    this.term.write(bytes, () => {
      this.backlog -= n;
    });
  }

  /** A binary frame from the console. */
  onBinary(buffer) {
    if (this.overflowed) return;
    const bytes = new Uint8Array(buffer);
    if (this.snapshot) {
      const { pos, cols, rows } = this.snapshot;
      this.snapshot = null;
      this.stale = false;
      this.later(() => {
        this.term.reset();
        if (cols && rows) this.term.resize(cols, rows);
      });
      this.write(bytes);
      this.pos = pos;
      this.later(() => this.hooks.onSnapshot());
      return;
    }
    if (this.backlog > BACKLOG_LIMIT) {
      this.overflowed = true;
      this.forgetPosition();
      this.hooks.onOverflow();
      return;
    }
    this.write(bytes);
    if (this.pos !== null) this.pos += bytes.byteLength;
  }

  /** `stream {pos}`: the entries from `pos` on follow. */
  onStream(msg) {
    const pos = Number.isSafeInteger(msg.pos) && msg.pos >= 0 ? msg.pos : 0;
    if (this.stale || (this.pos !== null && this.pos !== pos)) {
      // A fresh start, or the console could not resume where this terminal was: what it shows is stale.
      this.later(() => this.term.reset());
    }
    this.stale = false;
    this.pos = pos;
  }

  /** `screen {pos, cols, rows}`: the next binary frame is a snapshot. */
  onScreen(msg) {
    const cols = size(msg.cols, 1000);
    const rows = size(msg.rows, 500);
    this.snapshot = { pos: Number.isSafeInteger(msg.pos) && msg.pos >= 0 ? msg.pos : 0, cols, rows };
    if (cols && rows) this.remote = { cols, rows };
  }

  /** A stream entry that is not output: `resize`, `title` or `bell`. */
  onEntry(msg) {
    if (Number.isSafeInteger(msg.pos) && msg.pos >= 0) this.pos = msg.pos + 1;
    if (msg.t === 'resize') {
      const cols = size(msg.cols, 1000);
      const rows = size(msg.rows, 500);
      if (!cols || !rows) return;
      this.remote = { cols, rows };
      this.later(() => this.hooks.onRemoteSize(cols, rows));
    } else if (msg.t === 'title') {
      if (typeof msg.text === 'string') this.hooks.onTitle(msg.text);
    } else if (msg.t === 'bell') {
      this.hooks.onBell();
    }
  }
}

// Desktop sessions: the binary frames are the desktop byte stream (jumpoint/core/desktop_wire.py) from the
// position `stream {pos}` announced; a message may span frames. A socket that resumes where this view stopped
// (`?pos=` still in the console's log) continues the stream byte for byte, a partial message included; any other
// start is a fresh stream beginning with a KEYFRAME, so the view drops its partial message. No `screen` snapshots.
const DESKTOP_BACKLOG_LIMIT = 16 * 1024 * 1024;

export class DesktopStream {
  /** view: the desktop view (feed, restart, later, backlog). hooks: onOverflow() as for TerminalStream. */
  constructor(view, hooks) {
    this.view = view;
    this.hooks = hooks;
    this.pos = null;
    this.remote = null;
    this.overflowed = false;
    this.stale = false;
  }

  later(fn) {
    this.view.later(fn);
  }

  attach() {
    this.overflowed = false;
  }

  forgetPosition() {
    this.pos = null;
    this.stale = true;
  }

  onBinary(buffer) {
    if (this.overflowed || this.pos === null) return; // nothing is announced yet: not ours to guess
    const bytes = new Uint8Array(buffer);
    if (this.view.backlog > DESKTOP_BACKLOG_LIMIT) {
      // This browser cannot draw as fast as the pictures come: start again from a keyframe once it caught up.
      this.overflowed = true;
      this.forgetPosition();
      this.hooks.onOverflow();
      return;
    }
    this.pos += bytes.byteLength;
    this.view.feed(bytes);
  }

  onStream(msg) {
    const pos = Number.isSafeInteger(msg.pos) && msg.pos >= 0 ? msg.pos : 0;
    if (this.stale || this.pos === null || this.pos !== pos) this.view.restart(pos);
    this.stale = false;
    this.pos = pos;
  }

  /** Terminal snapshots do not apply to desktops. */
  onScreen() {}

  /** A stream entry that is not bytes (none are defined for desktops): it still takes its position. */
  onEntry(msg) {
    if (Number.isSafeInteger(msg.pos) && msg.pos >= 0) this.pos = msg.pos + 1;
  }
}
