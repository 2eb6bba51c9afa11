// The desktop view's key messages carry the scancode of the physical key: createInput with the real
// Guacamole.Keyboard, fed DOM key events in a happy-dom document.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createInput } from '../src/desktop/input.js';
import { ctrlAltDel } from '../src/desktop/toolbar.js';
import { HEADER_SIZE, IN_KEY } from '../src/desktop/wire.js';

/** The KEY messages in `chunks` (each a whole message, or several): [keysym, down, scancode]. */
function keys(chunks) {
  const out = [];
  for (const bytes of chunks) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < bytes.byteLength; ) {
      const type = view.getUint8(at);
      const length = view.getUint32(at + 1);
      const body = at + HEADER_SIZE;
      if (type === IN_KEY) out.push([view.getUint32(body), view.getUint8(body + 4) === 1, view.getUint16(body + 5)]);
      at = body + length;
    }
  }
  return out;
}

let screen;
let sent;
let input;

beforeEach(() => {
  const canvas = document.createElement('canvas');
  screen = document.createElement('div');
  screen.tabIndex = 0;
  screen.append(canvas);
  document.body.append(screen);
  sent = [];
  input = createInput(screen, canvas, {
    send: (bytes) => {
      sent.push(bytes);
      return true;
    },
    canSend: () => true,
    onActivity: () => {},
  });
  input.setEnabled(true);
  screen.focus();
});

afterEach(() => {
  input.setEnabled(false);
  screen.remove();
});

function key(type, init) {
  screen.dispatchEvent(new KeyboardEvent(type, { bubbles: true, cancelable: true, ...init }));
}

/** A printable key as a browser sends it: keydown, keypress with the character, keyup. */
function typeKey(code, char, keyCode, modifiers = {}) {
  key('keydown', { code, key: char, keyCode, ...modifiers });
  key('keypress', { code, key: char, keyCode: char.charCodeAt(0), which: char.charCodeAt(0), ...modifiers });
  key('keyup', { code, key: char, keyCode, ...modifiers });
}

describe('key messages from the desktop view', () => {
  it('carry the scancode of an arrow key, an extended key, down and up', () => {
    key('keydown', { code: 'ArrowUp', key: 'ArrowUp', keyCode: 38 });
    key('keyup', { code: 'ArrowUp', key: 'ArrowUp', keyCode: 38 });
    expect(keys(sent)).toEqual([
      [0xff52, true, 0xe048],
      [0xff52, false, 0xe048],
    ]);
  });

  it("carry the physical key's scancode with the character of the local layout", () => {
    typeKey('KeyQ', 'a', 65); // AZERTY: the key at Q's place types 'a'
    expect(keys(sent)).toEqual([
      [0x61, true, 0x10],
      [0x61, false, 0x10],
    ]);
  });

  it('carry the scancode of each modifier and of the key it modifies', () => {
    key('keydown', { code: 'ControlRight', key: 'Control', keyCode: 17, location: 2, ctrlKey: true });
    key('keydown', { code: 'KeyC', key: 'c', keyCode: 67, ctrlKey: true });
    key('keyup', { code: 'KeyC', key: 'c', keyCode: 67, ctrlKey: true });
    key('keyup', { code: 'ControlRight', key: 'Control', keyCode: 17, location: 2 });
    expect(keys(sent)).toEqual([
      [0xffe4, true, 0xe01d],
      [0x63, true, 0x2e],
      [0x63, false, 0x2e],
      [0xffe4, false, 0xe01d],
    ]);
  });

  it('send a modifier held before the view had the focus without a scancode (the Jumpoint maps its keysym)', () => {
    key('keydown', { code: 'KeyC', key: 'c', keyCode: 67, ctrlKey: true });
    key('keyup', { code: 'KeyC', key: 'c', keyCode: 67, ctrlKey: true });
    const got = keys(sent);
    expect(got[0]).toEqual([0xffe3, true, 0]);
    expect(got).toContainEqual([0x63, true, 0x2e]);
    expect(got).toContainEqual([0x63, false, 0x2e]);
  });

  it('release a key held when the view loses the focus with the scancode it was pressed with', () => {
    key('keydown', { code: 'NumpadEnter', key: 'Enter', keyCode: 13, location: 3 });
    const [[keysym, down, scancode]] = keys(sent);
    expect([down, scancode]).toEqual([true, 0xe01c]);
    screen.dispatchEvent(new FocusEvent('blur'));
    expect(keys(sent)).toEqual([
      [keysym, true, 0xe01c],
      [keysym, false, 0xe01c],
    ]);
  });

  it('send nothing while input is off, and keep no stale scancode for later', () => {
    input.setEnabled(false);
    key('keydown', { code: 'ShiftLeft', key: 'Shift', keyCode: 16, location: 1, shiftKey: true });
    key('keyup', { code: 'ShiftLeft', key: 'Shift', keyCode: 16, location: 1 });
    expect(sent).toEqual([]);
    input.setEnabled(true);
    typeKey('KeyB', 'b', 66);
    expect(keys(sent)).toEqual([
      [0x62, true, 0x30],
      [0x62, false, 0x30],
    ]);
  });
});

describe('Send Ctrl-Alt-Del', () => {
  it('sends Control, Alt and Delete with their scancodes, released in reverse order', () => {
    expect(keys([ctrlAltDel()])).toEqual([
      [0xffe3, true, 0x1d],
      [0xffe9, true, 0x38],
      [0xffff, true, 0xe053],
      [0xffff, false, 0xe053],
      [0xffe9, false, 0x38],
      [0xffe3, false, 0x1d],
    ]);
  });
});
