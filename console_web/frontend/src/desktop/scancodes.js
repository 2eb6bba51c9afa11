// The physical key of each key message, as a PC/AT scancode (set 1), for RDP: a Windows or xrdp server applies
// its own keyboard layout to scancodes, so the key a rep presses is the key the server sees whatever the local
// layout. Extended keys (E0 prefix) are 0xE000 | code; 0 means unknown (the wire's KEY message,
// jumpoint/core/desktop_wire.py), and then the Jumpoint falls back to the keysym.
//
// The table goes from KeyboardEvent.code (https://www.w3.org/TR/uievents-code/) to the scancode a PC keyboard
// sends for that key. Keys with no single make code (Pause sends E1 1D 45) are left out: they travel as keysyms.
//
// Guacamole.Keyboard turns key events into keysyms, and not always one per DOM event: it waits for keypress to
// learn a printable key's character, presses and releases modifiers it sees held or released in an event's flags,
// repeats held keys on a timer, and releases everything on reset. So a tracker follows the DOM events (listeners
// registered before Guacamole's see each event first) and, when Guacamole presses a keysym, gives it the scancode of
// the event being handled; a modifier keysym that event is not about (Guacamole syncing Ctrl from a KeyC event's
// flags) gets the scancode of a held key of that modifier, else 0. The scancode a keysym went down with is
// remembered, so its release and Guacamole's repeats carry the same one whatever event (or timer) causes them.

const EXTENDED = 0xe000;

/** KeyboardEvent.code -> set-1 scancode (extended keys: 0xE000 | code). */
export const SCANCODES = Object.freeze({
  Escape: 0x01,
  Digit1: 0x02,
  Digit2: 0x03,
  Digit3: 0x04,
  Digit4: 0x05,
  Digit5: 0x06,
  Digit6: 0x07,
  Digit7: 0x08,
  Digit8: 0x09,
  Digit9: 0x0a,
  Digit0: 0x0b,
  Minus: 0x0c,
  Equal: 0x0d,
  Backspace: 0x0e,
  Tab: 0x0f,
  KeyQ: 0x10,
  KeyW: 0x11,
  KeyE: 0x12,
  KeyR: 0x13,
  KeyT: 0x14,
  KeyY: 0x15,
  KeyU: 0x16,
  KeyI: 0x17,
  KeyO: 0x18,
  KeyP: 0x19,
  BracketLeft: 0x1a,
  BracketRight: 0x1b,
  Enter: 0x1c,
  ControlLeft: 0x1d,
  KeyA: 0x1e,
  KeyS: 0x1f,
  KeyD: 0x20,
  KeyF: 0x21,
  KeyG: 0x22,
  KeyH: 0x23,
  KeyJ: 0x24,
  KeyK: 0x25,
  KeyL: 0x26,
  Semicolon: 0x27,
  Quote: 0x28,
  Backquote: 0x29,
  ShiftLeft: 0x2a,
  Backslash: 0x2b,
  KeyZ: 0x2c,
  KeyX: 0x2d,
  KeyC: 0x2e,
  KeyV: 0x2f,
  KeyB: 0x30,
  KeyN: 0x31,
  KeyM: 0x32,
  Comma: 0x33,
  Period: 0x34,
  Slash: 0x35,
  ShiftRight: 0x36,
  NumpadMultiply: 0x37,
  AltLeft: 0x38,
  Space: 0x39,
  CapsLock: 0x3a,
  F1: 0x3b,
  F2: 0x3c,
  F3: 0x3d,
  F4: 0x3e,
  F5: 0x3f,
  F6: 0x40,
  F7: 0x41,
  F8: 0x42,
  F9: 0x43,
  F10: 0x44,
  NumLock: 0x45,
  ScrollLock: 0x46,
  Numpad7: 0x47,
  Numpad8: 0x48,
  Numpad9: 0x49,
  NumpadSubtract: 0x4a,
  Numpad4: 0x4b,
  Numpad5: 0x4c,
  Numpad6: 0x4d,
  NumpadAdd: 0x4e,
  Numpad1: 0x4f,
  Numpad2: 0x50,
  Numpad3: 0x51,
  Numpad0: 0x52,
  NumpadDecimal: 0x53,
  IntlBackslash: 0x56,
  F11: 0x57,
  F12: 0x58,
  NumpadEqual: 0x59,
  F13: 0x64,
  F14: 0x65,
  F15: 0x66,
  F16: 0x67,
  F17: 0x68,
  F18: 0x69,
  F19: 0x6a,
  F20: 0x6b,
  F21: 0x6c,
  F22: 0x6d,
  F23: 0x6e,
  KanaMode: 0x70,
  Lang2: 0x71,
  Lang1: 0x72,
  IntlRo: 0x73,
  F24: 0x76,
  Convert: 0x79,
  NonConvert: 0x7b,
  IntlYen: 0x7d,
  NumpadComma: 0x7e,
  MediaTrackPrevious: EXTENDED | 0x10,
  MediaTrackNext: EXTENDED | 0x19,
  NumpadEnter: EXTENDED | 0x1c,
  ControlRight: EXTENDED | 0x1d,
  AudioVolumeMute: EXTENDED | 0x20,
  LaunchApp2: EXTENDED | 0x21,
  MediaPlayPause: EXTENDED | 0x22,
  MediaStop: EXTENDED | 0x24,
  AudioVolumeDown: EXTENDED | 0x2e,
  AudioVolumeUp: EXTENDED | 0x30,
  BrowserHome: EXTENDED | 0x32,
  NumpadDivide: EXTENDED | 0x35,
  PrintScreen: EXTENDED | 0x37,
  AltRight: EXTENDED | 0x38,
  Home: EXTENDED | 0x47,
  ArrowUp: EXTENDED | 0x48,
  PageUp: EXTENDED | 0x49,
  ArrowLeft: EXTENDED | 0x4b,
  ArrowRight: EXTENDED | 0x4d,
  End: EXTENDED | 0x4f,
  ArrowDown: EXTENDED | 0x50,
  PageDown: EXTENDED | 0x51,
  Insert: EXTENDED | 0x52,
  Delete: EXTENDED | 0x53,
  MetaLeft: EXTENDED | 0x5b,
  MetaRight: EXTENDED | 0x5c,
  ContextMenu: EXTENDED | 0x5d,
  Power: EXTENDED | 0x5e,
  Sleep: EXTENDED | 0x5f,
  WakeUp: EXTENDED | 0x63,
  BrowserSearch: EXTENDED | 0x65,
  BrowserFavorites: EXTENDED | 0x66,
  BrowserRefresh: EXTENDED | 0x67,
  BrowserStop: EXTENDED | 0x68,
  BrowserForward: EXTENDED | 0x69,
  BrowserBack: EXTENDED | 0x6a,
  LaunchApp1: EXTENDED | 0x6b,
  LaunchMail: EXTENDED | 0x6c,
  MediaSelect: EXTENDED | 0x6d,
  // Names older browsers used (Firefox before 118 for the Windows keys, before 48 for the volume keys).
  OSLeft: EXTENDED | 0x5b,
  OSRight: EXTENDED | 0x5c,
  VolumeMute: EXTENDED | 0x20,
  VolumeDown: EXTENDED | 0x2e,
  VolumeUp: EXTENDED | 0x30,
});

/** The scancode of a KeyboardEvent.code; 0 (unknown) for anything else ('', 'Unidentified', Pause, Fn ...). */
export function scancodeOf(code) {
  return (typeof code === 'string' && Object.hasOwn(SCANCODES, code) && SCANCODES[code]) || 0;
}

// The modifiers Guacamole.Keyboard keeps in step with an event's flags: their keysyms and the keys that make them.
const MODIFIERS = [
  { keysyms: [0xffe1, 0xffe2], codes: ['ShiftLeft', 'ShiftRight'] },
  { keysyms: [0xffe3, 0xffe4], codes: ['ControlLeft', 'ControlRight'] },
  { keysyms: [0xffe9, 0xffea, 0xfe03], codes: ['AltLeft', 'AltRight'] }, // Alt_L, Alt_R, ISO_Level3_Shift (AltGr)
  { keysyms: [0xffe7, 0xffe8, 0xffeb, 0xffec], codes: ['MetaLeft', 'MetaRight', 'OSLeft', 'OSRight'] },
];
const MODIFIER_OF_KEYSYM = new Map(MODIFIERS.flatMap((m) => m.keysyms.map((k) => [k, m])));
const MODIFIER_CODES = new Set(MODIFIERS.flatMap((m) => m.codes));

/**
 * Follows key events and answers which scancode each keysym Guacamole presses or releases carries.
 *
 * begin(event) at the start of a key event's dispatch (before Guacamole sees it) and end() after it; pressed(keysym)
 * when a keysym goes down: during an event, the scancode that event's key stands for; outside one (Guacamole's
 * key repeat), the scancode the keysym last went down with. released(keysym): the scancode it went down with (0 if
 * never seen). reset() after every key was let go (the view lost the focus).
 */
export function createScancodeTracker() {
  let current = null; // the KeyboardEvent.code of the event being dispatched, else null
  const held = new Set(); // codes down now, from keydown / keyup
  const byKeysym = new Map(); // keysym -> the scancode it last went down with

  function begin(event) {
    const code = typeof event.code === 'string' ? event.code : '';
    current = code;
    if (event.type === 'keydown' && code) held.add(code);
    else if (event.type === 'keyup') held.delete(code);
  }

  function end() {
    current = null;
  }

  function scancodeFor(keysym) {
    const modifier = MODIFIER_OF_KEYSYM.get(keysym);
    if (!modifier) {
      // During a modifier's event another keysym is a key Guacamole held back (or typed): not this key.
      return current !== null && !MODIFIER_CODES.has(current) ? scancodeOf(current) : 0;
    }
    if (current !== null && modifier.codes.includes(current)) return scancodeOf(current);
    const code = modifier.codes.find((c) => held.has(c));
    return code ? scancodeOf(code) : 0;
  }

  function pressed(keysym) {
    if (current === null && byKeysym.has(keysym)) return byKeysym.get(keysym);
    const scancode = scancodeFor(keysym);
    byKeysym.set(keysym, scancode);
    return scancode;
  }

  function released(keysym) {
    return byKeysym.get(keysym) ?? 0;
  }

  function reset() {
    held.clear();
    byKeysym.clear();
    current = null;
  }

  return { begin, end, pressed, released, reset };
}
