// Draws the desktop stream's output messages on a <canvas>. Everything is drawn on a back buffer in stream order
// and copied to the visible canvas at FRAME_END, so a viewer never sees half a frame. Images decode in parallel
// (createImageBitmap) but are drawn through one promise chain: a later COPY or image never runs before an earlier
// image is on the back buffer.

import { DesktopStreamError } from './stream-parser.js';
import { CLIPBOARD, CODEC_TYPES, COPY, CURSOR, FRAME_END, IMAGE, KEYFRAME, MAX_DESKTOP_SIDE, SIZE } from './wire.js';

const utf8 = new TextDecoder('utf-8');

function u16s(body, count) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = [];
  for (let i = 0; i < count; i += 1) out.push(view.getUint16(i * 2));
  return out;
}

function need(body, size, what) {
  if (body.length < size) throw new DesktopStreamError(`a ${what} message of ${body.length} bytes is too short`);
}

function checkRect(x, y, w, h, what) {
  if (w <= 0 || h <= 0 || x + w > MAX_DESKTOP_SIDE || y + h > MAX_DESKTOP_SIDE) {
    throw new DesktopStreamError(`${what} rectangle ${w}x${h}+${x}+${y} is empty or out of range`);
  }
}

function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export class DesktopRenderer {
  /**
   * canvas: the visible canvas. hooks: onPresent(width, height) after a frame was shown; onCursor(css) with the CSS
   * `cursor` value for the remote pointer; onClipboard(text); onDecodeError(message) when an image could not be
   * decoded (the picture goes on; Refresh repairs it).
   */
  constructor(canvas, hooks) {
    this.canvas = canvas;
    this.hooks = hooks;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.back = document.createElement('canvas');
    this.back.width = canvas.width;
    this.back.height = canvas.height;
    this.backCtx = this.back.getContext('2d', { alpha: false });
    this.tail = Promise.resolve();
    this.backlog = 0; // bytes of images queued and not drawn yet
    this.frames = 0; // frames presented
    this.generation = 0; // bumped by clear(): queued work of an older generation is dropped
  }

  /** Run `fn` after everything queued so far. */
  later(fn) {
    this.enqueue(() => fn());
  }

  /** Queue an operation; `ready` (optional) is a promise it waits for (a decoding image). */
  enqueue(op, ready = null, bytes = 0) {
    const generation = this.generation;
    this.backlog += bytes;
    const run = async () => {
      try {
        const value = await ready;
        if (generation === this.generation) op(value);
        else if (value && typeof value.close === 'function') value.close();
      } catch (exc) {
        if (generation === this.generation) this.hooks.onDecodeError(exc && exc.message ? exc.message : String(exc));
      } finally {
        this.backlog -= bytes;
      }
    };
    this.tail = this.tail.then(run);
  }

  /** Drop what is queued (a new stream starts; its KEYFRAME repaints everything). */
  clear() {
    this.generation += 1;
  }

  /** Apply one output message; throws DesktopStreamError for a malformed one. */
  apply(kind, body) {
    switch (kind) {
      case KEYFRAME:
        break;
      case SIZE: {
        need(body, 4, 'SIZE');
        const [width, height] = u16s(body, 2);
        if (width < 1 || height < 1 || width > MAX_DESKTOP_SIDE || height > MAX_DESKTOP_SIDE) {
          throw new DesktopStreamError(`desktop size ${width}x${height} is out of range`);
        }
        this.enqueue(() => this.resize(width, height));
        break;
      }
      case IMAGE: {
        need(body, 9, 'IMAGE');
        const [x, y, w, h] = u16s(body, 4);
        checkRect(x, y, w, h, 'image');
        const type = CODEC_TYPES.get(body[8]);
        if (!type) throw new DesktopStreamError(`unknown image codec ${body[8]}`);
        const data = body.subarray(9);
        const bitmap = createImageBitmap(new Blob([data], { type }));
        bitmap.catch(() => {}); // reported in order, by enqueue
        this.enqueue(
          (image) => {
            this.backCtx.drawImage(image, x, y, w, h);
            image.close();
          },
          bitmap,
          data.length,
        );
        break;
      }
      case COPY: {
        need(body, 12, 'COPY');
        const [sx, sy, x, y, w, h] = u16s(body, 6);
        checkRect(sx, sy, w, h, 'copy source');
        checkRect(x, y, w, h, 'copy');
        // A canvas drawn onto itself reads its pixels as they were before the copy, overlap or not.
        this.enqueue(() => this.backCtx.drawImage(this.back, sx, sy, w, h, x, y, w, h));
        break;
      }
      case CURSOR: {
        need(body, 8, 'CURSOR');
        const [hotX, hotY, w, h] = u16s(body, 4);
        const png = body.subarray(8);
        let css = 'none';
        if (w > 0 && h > 0 && png.length > 0) {
          const hx = Math.min(hotX, w - 1);
          const hy = Math.min(hotY, h - 1);
          css = `url("data:image/png;base64,${base64(png)}") ${hx} ${hy}, auto`;
        }
        this.enqueue(() => this.hooks.onCursor(css));
        break;
      }
      case FRAME_END:
        this.enqueue(() => this.present());
        break;
      case CLIPBOARD: {
        const text = utf8.decode(body);
        this.enqueue(() => this.hooks.onClipboard(text));
        break;
      }
      default:
        throw new DesktopStreamError(`unexpected desktop message type 0x${kind.toString(16)}`);
    }
  }

  /** The desktop's new size: keep what the picture holds (SIZE clears nothing by itself). */
  resize(width, height) {
    if (this.back.width === width && this.back.height === height) return;
    const old = this.back;
    this.back = document.createElement('canvas');
    this.back.width = width;
    this.back.height = height;
    this.backCtx = this.back.getContext('2d', { alpha: false });
    if (old.width && old.height) this.backCtx.drawImage(old, 0, 0);
  }

  /** Show the back buffer. */
  present() {
    const { width, height } = this.back;
    if (!width || !height) return; // no SIZE yet: nothing to show
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.ctx.drawImage(this.back, 0, 0);
    this.frames += 1;
    this.hooks.onPresent(width, height);
  }
}
