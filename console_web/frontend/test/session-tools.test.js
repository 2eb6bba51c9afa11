import { describe, expect, it } from 'vitest';

import { specialKeys } from '../src/session-tools.js';

const functionKeys = (type) =>
  Object.fromEntries(specialKeys(type).filter((key) => /^f\d+$/.test(key.id)).map((key) => [key.label, key.data]));

describe('the special keys menu', () => {
  it('sends the function keys of a VT100 (its terminfo kf1..kf10) to a vt100 item, and has no F11 or F12', () => {
    expect(functionKeys('vt100')).toEqual({
      F1: '\x1bOP',
      F2: '\x1bOQ',
      F3: '\x1bOR',
      F4: '\x1bOS',
      F5: '\x1bOt',
      F6: '\x1bOu',
      F7: '\x1bOv',
      F8: '\x1bOl',
      F9: '\x1bOw',
      F10: '\x1bOx',
    });
  });

  it('sends the function keys as xterm.js does to an xterm item', () => {
    const keys = functionKeys('xterm');
    expect(Object.keys(keys)).toEqual(['F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7', 'F8', 'F9', 'F10', 'F11', 'F12']);
    expect([keys.F1, keys.F4, keys.F5, keys.F10, keys.F11, keys.F12]).toEqual([
      '\x1bOP',
      '\x1bOS',
      '\x1b[15~',
      '\x1b[21~',
      '\x1b[23~',
      '\x1b[24~',
    ]);
  });

  it('has the same control keys first on every terminal', () => {
    const controls = (type) => specialKeys(type).slice(0, 6).map((key) => [key.id, key.data]);
    expect(controls('vt100')).toEqual(controls('xterm'));
    expect(controls('xterm')[0]).toEqual(['ctrl-c', '\x03']);
  });

  it('falls back to xterm for a type it does not know, or none', () => {
    for (const type of [undefined, null, '', 'linux', 'toString', '__proto__']) {
      expect(specialKeys(type)).toEqual(specialKeys('xterm'));
    }
  });
});
