// Splits the desktop byte stream into messages (the JS port of desktop_wire.StreamParser). Frames may cut a message
// anywhere: the header is checked (type allowed, length under its cap) before a single byte of the body is kept, so
// at most one partial message is buffered and its size is known and capped. A body that arrives whole inside one
// frame is handed out as a view of that frame (no copy).

import { HEADER_SIZE, MAX_BODY, OUTPUT_TYPES } from './wire.js';

const EMPTY = new Uint8Array(0);

export class DesktopStreamError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DesktopStreamError';
  }
}

const hex = (n) => '0x' + n.toString(16);

export class StreamParser {
  /** allowed: the set of message types this direction may carry; offset: the stream position of the next byte. */
  constructor(allowed = OUTPUT_TYPES, offset = 0) {
    this.allowed = allowed;
    this.header = new Uint8Array(HEADER_SIZE);
    this.reset(offset);
  }

  /** Forget any partial message: the next byte starts a message at stream position `offset`. */
  reset(offset = 0) {
    this.headerFill = 0;
    this.kind = 0;
    this.body = null; // the partial body being filled
    this.bodyFill = 0;
    this.start = offset; // stream position of the message being read
    this.position = offset; // stream position after the last byte fed
    this.failed = null;
  }

  /** The bytes held for a message not complete yet. */
  get buffered() {
    return this.headerFill + this.bodyFill;
  }

  /**
   * Add `chunk` (a Uint8Array) and return the messages it completes, in order, as {offset, kind, body}.
   * A type this direction does not carry or a length over its cap sets `failed` (a DesktopStreamError): the
   * messages before it are still returned, and every later feed() throws it until reset().
   */
  feed(chunk) {
    if (this.failed) throw this.failed;
    const out = [];
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.body === null) {
        const take = Math.min(HEADER_SIZE - this.headerFill, end - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < HEADER_SIZE) break;
        const kind = this.header[0];
        const length = new DataView(this.header.buffer).getUint32(1);
        const cap = this.allowed.has(kind) ? MAX_BODY.get(kind) : undefined;
        if (cap === undefined || length > cap) {
          this.failed = new DesktopStreamError(
            cap === undefined
              ? `unexpected desktop message type ${hex(kind)} at offset ${this.start}`
              : `desktop message ${hex(kind)} of ${length} bytes is over its ${cap}-byte cap`,
          );
          return out;
        }
        this.headerFill = 0;
        if (length === 0 || end - i >= length) {
          out.push({ offset: this.start, kind, body: length === 0 ? EMPTY : chunk.subarray(i, i + length) });
          i += length;
          this.start += HEADER_SIZE + length;
          continue;
        }
        this.kind = kind;
        this.body = new Uint8Array(length);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, end - i);
      this.body.set(chunk.subarray(i, i + take), this.bodyFill);
      this.bodyFill += take;
      i += take;
      if (this.bodyFill === this.body.length) {
        out.push({ offset: this.start, kind: this.kind, body: this.body });
        this.start += HEADER_SIZE + this.body.length;
        this.body = null;
        this.bodyFill = 0;
      }
    }
    this.position += end;
    return out;
  }
}
