import { describe, expect, it } from 'vitest';

import { SCANCODES, createScancodeTracker, scancodeOf } from '../src/desktop/scancodes.js';

const CONTROL_L = 0xffe3;
const CONTROL_R = 0xffe4;
const SHIFT_L = 0xffe1;
const ALT_GR = 0xfe03;
const META_L = 0xffe7;
const KEYSYM_C = 0x63;
const KEYSYM_A = 0x61;

describe('the scancode table', () => {
  it('gives letters, digits and the main keys their set-1 make codes', () => {
    expect(scancodeOf('Escape')).toBe(0x01);
    expect(scancodeOf('Digit1')).toBe(0x02);
    expect(scancodeOf('Digit0')).toBe(0x0b);
    expect(scancodeOf('KeyQ')).toBe(0x10);
    expect(scancodeOf('KeyA')).toBe(0x1e);
    expect(scancodeOf('KeyZ')).toBe(0x2c);
    expect(scancodeOf('Enter')).toBe(0x1c);
    expect(scancodeOf('ControlLeft')).toBe(0x1d);
    expect(scancodeOf('ShiftLeft')).toBe(0x2a);
    expect(scancodeOf('ShiftRight')).toBe(0x36);
    expect(scancodeOf('AltLeft')).toBe(0x38);
    expect(scancodeOf('Space')).toBe(0x39);
    expect(scancodeOf('F1')).toBe(0x3b);
    expect(scancodeOf('F10')).toBe(0x44);
    expect(scancodeOf('F11')).toBe(0x57);
    expect(scancodeOf('F12')).toBe(0x58);
    expect(scancodeOf('NumLock')).toBe(0x45);
    expect(scancodeOf('Numpad7')).toBe(0x47);
    expect(scancodeOf('NumpadDecimal')).toBe(0x53);
    expect(scancodeOf('IntlBackslash')).toBe(0x56);
  });

  it('marks the extended keys with 0xE000', () => {
    expect(scancodeOf('ArrowUp')).toBe(0xe048);
    expect(scancodeOf('ArrowDown')).toBe(0xe050);
    expect(scancodeOf('ArrowLeft')).toBe(0xe04b);
    expect(scancodeOf('ArrowRight')).toBe(0xe04d);
    expect(scancodeOf('NumpadEnter')).toBe(0xe01c);
    expect(scancodeOf('NumpadDivide')).toBe(0xe035);
    expect(scancodeOf('ControlRight')).toBe(0xe01d);
    expect(scancodeOf('AltRight')).toBe(0xe038);
    expect(scancodeOf('MetaLeft')).toBe(0xe05b);
    expect(scancodeOf('MetaRight')).toBe(0xe05c);
    expect(scancodeOf('OSLeft')).toBe(0xe05b);
    expect(scancodeOf('ContextMenu')).toBe(0xe05d);
    expect(scancodeOf('Insert')).toBe(0xe052);
    expect(scancodeOf('Delete')).toBe(0xe053);
    expect(scancodeOf('Home')).toBe(0xe047);
    expect(scancodeOf('End')).toBe(0xe04f);
    expect(scancodeOf('PageUp')).toBe(0xe049);
    expect(scancodeOf('PageDown')).toBe(0xe051);
    expect(scancodeOf('PrintScreen')).toBe(0xe037);
  });

  it('answers 0 (unknown) for keys without a single make code and for anything that is not a code', () => {
    for (const code of ['Pause', 'Fn', 'Unidentified', '', 'keya', 'toString', 'constructor', '__proto__']) {
      expect(scancodeOf(code)).toBe(0);
    }
    for (const notACode of [undefined, null, 30, {}]) expect(scancodeOf(notACode)).toBe(0);
  });

  it('holds only values the wire carries: one byte, or 0xE0 and one byte below 0x80', () => {
    for (const [code, value] of Object.entries(SCANCODES)) {
      const low = value & 0xff;
      expect([0, 0xe000], code).toContain(value & 0xff00);
      expect(low > 0 && low < 0x80, code).toBe(true);
    }
  });

  it('gives two physical keys one scancode only where a browser renamed a key', () => {
    const aliases = new Set(['OSLeft', 'OSRight', 'VolumeMute', 'VolumeDown', 'VolumeUp']);
    const seen = new Map();
    for (const [code, value] of Object.entries(SCANCODES)) {
      if (aliases.has(code)) continue;
      expect(seen.get(value), `${code} and ${seen.get(value)}`).toBeUndefined();
      seen.set(value, code);
    }
  });
});

describe('the scancode tracker', () => {
  const keydown = (code) => ({ type: 'keydown', code });
  const keyup = (code) => ({ type: 'keyup', code });

  /** What Guacamole does inside one DOM event: begin, the presses and releases, end. */
  function during(tracker, event, fn) {
    tracker.begin(event);
    try {
      return fn();
    } finally {
      tracker.end();
    }
  }

  it("gives a keysym pressed during a key's event the scancode of that physical key", () => {
    const tracker = createScancodeTracker();
    // AZERTY: the key at Q's place types 'a'; the scancode is the key's, not the character's
    expect(during(tracker, keydown('KeyQ'), () => tracker.pressed(KEYSYM_A))).toBe(0x10);
    expect(during(tracker, keyup('KeyQ'), () => tracker.released(KEYSYM_A))).toBe(0x10);
  });

  it('gives a printable key pressed on its keypress the scancode of that key', () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('KeyC'), () => {});
    expect(during(tracker, { type: 'keypress', code: 'KeyC' }, () => tracker.pressed(KEYSYM_C))).toBe(0x2e);
  });

  it('releases a keysym with the scancode it was pressed with, whatever event or timer releases it', () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('NumpadEnter'), () => tracker.pressed(0xff8d));
    // released by another key's event (Guacamole letting go of keys whose keyup it will never see)
    expect(during(tracker, keydown('KeyA'), () => tracker.released(0xff8d))).toBe(0xe01c);
    during(tracker, keydown('AltRight'), () => tracker.pressed(ALT_GR));
    expect(tracker.released(ALT_GR)).toBe(0xe038); // outside any event: reset on blur
  });

  it("keeps the scancode for Guacamole's key repeat, which presses again outside any event", () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('ArrowUp'), () => tracker.pressed(0xff52));
    expect(tracker.released(0xff52)).toBe(0xe048);
    expect(tracker.pressed(0xff52)).toBe(0xe048);
  });

  it('gives a modifier Guacamole syncs from an event of another key the scancode of the modifier key held', () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('ControlRight'), () => {}); // seen, but Guacamole pressed nothing yet
    expect(during(tracker, keydown('KeyC'), () => [tracker.pressed(CONTROL_R), tracker.pressed(KEYSYM_C)])).toEqual([
      0xe01d, 0x2e,
    ]);
  });

  it('gives a modifier synced from the flags of another key 0 when its key was pressed before the focus came', () => {
    const tracker = createScancodeTracker();
    expect(during(tracker, keydown('KeyC'), () => tracker.pressed(CONTROL_L))).toBe(0);
    expect(during(tracker, keydown('KeyA'), () => tracker.pressed(SHIFT_L))).toBe(0);
  });

  it('gives the Windows key held back until the next key the scancode of the Windows key', () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('MetaLeft'), () => {}); // Guacamole waits to see whether Meta is a modifier
    expect(during(tracker, keydown('KeyR'), () => [tracker.pressed(META_L), tracker.pressed(0x72)])).toEqual([
      0xe05b, 0x13,
    ]);
  });

  it("gives another keysym pressed during a modifier's event 0, not the modifier's scancode", () => {
    const tracker = createScancodeTracker();
    expect(during(tracker, keydown('ShiftLeft'), () => [tracker.pressed(SHIFT_L), tracker.pressed(KEYSYM_A)])).toEqual(
      [0x2a, 0],
    );
  });

  it('forgets the keys held and the scancodes remembered on reset', () => {
    const tracker = createScancodeTracker();
    during(tracker, keydown('ControlLeft'), () => tracker.pressed(CONTROL_L));
    tracker.reset();
    expect(tracker.released(CONTROL_L)).toBe(0);
    expect(during(tracker, keydown('KeyC'), () => tracker.pressed(CONTROL_L))).toBe(0);
  });

  it('answers 0 for keys the table does not know', () => {
    const tracker = createScancodeTracker();
    expect(during(tracker, keydown('Pause'), () => tracker.pressed(0xff13))).toBe(0);
    expect(during(tracker, { type: 'keydown' }, () => tracker.pressed(0xff14))).toBe(0);
  });
});
