// The desktop stream's message types, caps and input encoders: the browser's half of jumpoint/core/desktop_wire.py.
// Every message is `type:u8 | length:u32 BE | body`; integers are big-endian.

export const HEADER_SIZE = 5;

// output (Jumpoint -> browser)
export const SIZE = 0x01;
export const IMAGE = 0x02;
export const COPY = 0x03;
export const CURSOR = 0x04;
export const FRAME_END = 0x05;
export const CLIPBOARD = 0x06;
export const KEYFRAME = 0x07;
// input (browser -> Jumpoint)
export const IN_POINTER = 0x81;
export const IN_WHEEL = 0x82;
export const IN_KEY = 0x83;
export const IN_CLIPBOARD = 0x84;
export const IN_REFRESH = 0x85;
export const IN_SIZE = 0x86;
export const IN_QUALITY = 0x87;

export const MAX_IMAGE = 60 * 1024;
export const MAX_CLIPBOARD = 60 * 1024;
export const MAX_DESKTOP_SIDE = 8192;

export const MAX_BODY = new Map([
  [SIZE, 4],
  [IMAGE, 9 + MAX_IMAGE],
  [COPY, 12],
  [CURSOR, 8 + MAX_IMAGE],
  [FRAME_END, 0],
  [CLIPBOARD, MAX_CLIPBOARD],
  [KEYFRAME, 0],
  [IN_POINTER, 5],
  [IN_WHEEL, 6],
  [IN_KEY, 7],
  [IN_CLIPBOARD, MAX_CLIPBOARD],
  [IN_REFRESH, 0],
  [IN_SIZE, 4],
  [IN_QUALITY, 1],
]);
export const OUTPUT_TYPES = new Set([SIZE, IMAGE, COPY, CURSOR, FRAME_END, CLIPBOARD, KEYFRAME]);
export const INPUT_TYPES = new Set([IN_POINTER, IN_WHEEL, IN_KEY, IN_CLIPBOARD, IN_REFRESH, IN_SIZE, IN_QUALITY]);

/** IMAGE codec number -> the MIME type of the complete image file in the body. */
export const CODEC_TYPES = new Map([
  [1, 'image/jpeg'],
  [2, 'image/png'],
  [3, 'image/webp'],
]);

/** QUALITY levels: the index is what travels. */
export const QUALITY_LEVELS = ['black_and_white', 'few_colors', 'more_colors', 'full_color', 'video'];

export const KEYSYM_CONTROL_L = 0xffe3;
export const KEYSYM_ALT_L = 0xffe9;
export const KEYSYM_DELETE = 0xffff;

const encoder = new TextEncoder();

/** One message: the header and `body` (a Uint8Array). */
export function message(kind, body = new Uint8Array(0)) {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setUint32(1, body.length);
  out.set(body, HEADER_SIZE);
  return out;
}

function fixed(kind, size, fill) {
  const body = new Uint8Array(size);
  fill(new DataView(body.buffer));
  return message(kind, body);
}

const u16 = (n) => Math.max(0, Math.min(0xffff, Math.trunc(n) || 0));
const i8 = (n) => Math.max(-100, Math.min(100, Math.trunc(n) || 0));

/** POINTER: the position in desktop pixels and the buttons held (bit 0 left, 1 middle, 2 right). */
export function pointerMessage(x, y, buttons) {
  return fixed(IN_POINTER, 5, (v) => {
    v.setUint16(0, u16(x));
    v.setUint16(2, u16(y));
    v.setUint8(4, buttons & 7);
  });
}

/** WHEEL: steps at the pointer; positive dy scrolls down, positive dx right (each -100..100). */
export function wheelMessage(x, y, dx, dy) {
  return fixed(IN_WHEEL, 6, (v) => {
    v.setUint16(0, u16(x));
    v.setUint16(2, u16(y));
    v.setInt8(4, i8(dx));
    v.setInt8(5, i8(dy));
  });
}

/** KEY: an X11 keysym pressed or released; scancode 0 = unknown. */
export function keyMessage(keysym, down, scancode = 0) {
  return fixed(IN_KEY, 7, (v) => {
    v.setUint32(0, keysym >>> 0);
    v.setUint8(4, down ? 1 : 0);
    v.setUint16(5, u16(scancode));
  });
}

/** `text` as UTF-8, cut at a character boundary to at most `limit` bytes: {bytes, cut}. */
export function cutUtf8(text, limit = MAX_CLIPBOARD) {
  const data = encoder.encode(text);
  if (data.length <= limit) return { bytes: data, cut: false };
  let end = limit;
  while (end > 0 && (data[end] & 0xc0) === 0x80) end -= 1; // do not split a character
  return { bytes: data.subarray(0, end), cut: true };
}

/** CLIPBOARD (input): {bytes, cut}: `cut` says the text was longer than a message holds. */
export function clipboardMessage(text) {
  const { bytes, cut } = cutUtf8(text);
  return { bytes: message(IN_CLIPBOARD, bytes), cut };
}

export function refreshMessage() {
  return message(IN_REFRESH);
}

/** SIZE: the size the viewer asks the desktop to take (each side 1..MAX_DESKTOP_SIDE). */
export function sizeMessage(width, height) {
  const side = (n) => Math.max(1, Math.min(MAX_DESKTOP_SIDE, Math.trunc(n) || 1));
  return fixed(IN_SIZE, 4, (v) => {
    v.setUint16(0, side(width));
    v.setUint16(2, side(height));
  });
}

/** QUALITY: one of QUALITY_LEVELS. */
export function qualityMessage(level) {
  const index = QUALITY_LEVELS.indexOf(level);
  if (index < 0) throw new Error(`unknown quality level ${level}`);
  return message(IN_QUALITY, new Uint8Array([index]));
}

/** Several messages as one frame. */
export function concat(messages) {
  const out = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
  let at = 0;
  for (const m of messages) {
    out.set(m, at);
    at += m.length;
  }
  return out;
}
