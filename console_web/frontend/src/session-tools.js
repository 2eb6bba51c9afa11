// The terminal tools of the session panel: copy and paste with the browser's clipboard, the font size, the
// scrollback size, search in the scrollback (@xterm/addon-search) and a "Send special key" menu, whose function keys
// are those of the terminal the target was told it talks to (the session's `terminal_type`).
//
// Pasted text always goes through xterm.js (term.paste(), or xterm's own handler of the browser's paste event), so
// it is sent as bracketed paste when the remote program asked for it (DEC mode 2004). xterm drops input while
// `disableStdin` is set, which the page sets whenever this browser may not type (observers, a closed session).

import { SearchAddon } from '@xterm/addon-search';
import { $, el, openDialog } from './ui.js';

const PREFS_KEY = 'openjump.terminal';
export const FONT_DEFAULT = 14;
export const FONT_MIN = 8;
export const FONT_MAX = 32;
export const SCROLLBACK_DEFAULT = 5000;
export const SCROLLBACK_MIN = 1000;
export const SCROLLBACK_MAX = 100000;
const STATUS_MS = 4000;

// The same on every terminal.
const CONTROL_KEYS = [
  { id: 'ctrl-c', label: 'Ctrl+C', hint: 'interrupt', data: '\x03' },
  { id: 'ctrl-d', label: 'Ctrl+D', hint: 'end of input', data: '\x04' },
  { id: 'ctrl-z', label: 'Ctrl+Z', hint: 'suspend', data: '\x1a' },
  { id: 'ctrl-backslash', label: 'Ctrl+\\', hint: 'quit', data: '\x1c' },
  { id: 'esc', label: 'Esc', data: '\x1b' },
  { id: 'tab', label: 'Tab', data: '\t' },
];
// The function keys as each terminal type sends them, so the remote program (whose TERM is the item's terminal type)
// reads them as those keys. xterm: what xterm.js itself sends (xterm's Keyboard.ts, normal cursor-key mode). vt100:
// its terminfo entry (kf1..kf10: ESC O P..S, then ESC O t u v l w x); a VT100 has no F11 or F12, so they are left out.
const FUNCTION_KEYS = {
  xterm: [
    ['f1', '\x1bOP'], ['f2', '\x1bOQ'], ['f3', '\x1bOR'], ['f4', '\x1bOS'],
    ['f5', '\x1b[15~'], ['f6', '\x1b[17~'], ['f7', '\x1b[18~'], ['f8', '\x1b[19~'],
    ['f9', '\x1b[20~'], ['f10', '\x1b[21~'], ['f11', '\x1b[23~'], ['f12', '\x1b[24~'],
  ],
  vt100: [
    ['f1', '\x1bOP'], ['f2', '\x1bOQ'], ['f3', '\x1bOR'], ['f4', '\x1bOS'],
    ['f5', '\x1bOt'], ['f6', '\x1bOu'], ['f7', '\x1bOv'], ['f8', '\x1bOl'],
    ['f9', '\x1bOw'], ['f10', '\x1bOx'],
  ],
};

/** The "Send special key" menu for a terminal type (`xterm` or `vt100`; anything else: xterm's keys), in order:
 * [{id, label, hint?, data}]. */
export function specialKeys(terminalType) {
  const fkeys = Object.hasOwn(FUNCTION_KEYS, terminalType) ? FUNCTION_KEYS[terminalType] : FUNCTION_KEYS.xterm;
  return [...CONTROL_KEYS, ...fkeys.map(([id, data]) => ({ id, label: id.toUpperCase(), data }))];
}

const SEARCH_DECORATIONS = {
  matchBackground: '#5c4a00',
  matchBorder: '#8f7400',
  matchOverviewRuler: '#d9a400',
  activeMatchBackground: '#b35c00',
  activeMatchBorder: '#ffb347',
  activeMatchColorOverviewRuler: '#ff8c00',
};

function clampInt(value, min, max, fallback) {
  const n = Number(value);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.round(n)));
}

/** The remembered terminal preferences: {fontSize, scrollback, copyOnSelect}. */
export function loadPrefs() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}') || {};
  } catch {
    saved = {};
  }
  return {
    fontSize: clampInt(saved.fontSize, FONT_MIN, FONT_MAX, FONT_DEFAULT),
    scrollback: clampInt(saved.scrollback, SCROLLBACK_MIN, SCROLLBACK_MAX, SCROLLBACK_DEFAULT),
    copyOnSelect: saved.copyOnSelect === true,
  };
}

function savePrefs(prefs) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // Private mode or storage full: the settings last for this page only.
  }
}

/** Desktop sessions have none of the terminal's tools (copy and paste, font size, scrollback, search, special
 * keys, file transfer): the desktop view brings its own toolbar. */
export function hideTerminalTools() {
  for (const id of ['#term-toolbar', '#search-bar', '#files-panel']) $(id).hidden = true;
}

/** Put text on the clipboard: the async Clipboard API, or (plain HTTP) a hidden textarea and execCommand. */
async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const helper = el('textarea', { class: 'clipboard-helper', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  helper.value = text;
  document.body.append(helper);
  helper.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } finally {
    helper.remove();
  }
  if (!ok) throw new Error('the browser refused to copy');
}

/**
 * term, fit: the xterm.js terminal and its fit addon. hooks: canType() -> bool (this browser may send keys now);
 * mayType() -> bool (this participant may type at all: not an observer, the session is live); refit() fits the
 * terminal to its panel and sends the new size (owner); focus() gives the terminal the focus; terminalType() -> the
 * session's terminal type (the hello's `session.terminal_type`), read each time the special keys menu opens.
 */
export function createTerminalTools(term, fit, hooks) {
  const prefs = loadPrefs();
  const search = new SearchAddon({ highlightLimit: 2000 });
  term.loadAddon(search);
  let searching = false; // a search is moving the selection: not something to copy
  let statusTimer = null;

  // ---- status line ------------------------------------------------------------------------------------
  function status(text, { error = false } = {}) {
    const box = $('#tool-status');
    box.textContent = text;
    box.classList.toggle('error', error);
    clearTimeout(statusTimer);
    if (text) statusTimer = setTimeout(() => (box.textContent = ''), STATUS_MS);
  }

  // ---- copy ---------------------------------------------------------------------------------------------
  async function copySelection({ quiet = false } = {}) {
    const text = term.getSelection();
    if (!text) {
      if (!quiet) status('Nothing selected: select text in the terminal first.');
      return false;
    }
    try {
      await writeClipboard(text);
      status(`Copied ${text.length} character${text.length === 1 ? '' : 's'}.`);
      return true;
    } catch (exc) {
      status(`Could not copy: ${exc && exc.message ? exc.message : exc}`, { error: true });
      return false;
    } finally {
      if (!quiet) hooks.focus();
    }
  }

  // ---- paste --------------------------------------------------------------------------------------------
  function pasteText(text) {
    if (!hooks.canType()) {
      status('You cannot type in this session.', { error: true });
      return;
    }
    if (!text) {
      status('The clipboard holds no text.');
      return;
    }
    term.paste(text); // bracketed when the remote enabled mode 2004
    hooks.focus();
  }

  async function pasteFromClipboard() {
    if (!hooks.canType()) return;
    if (!navigator.clipboard || typeof navigator.clipboard.readText !== 'function') {
      status("This browser does not let pages read the clipboard: use Ctrl+Shift+V or the browser's Paste.", { error: true });
      hooks.focus();
      return;
    }
    let text;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      status("The browser did not allow reading the clipboard: use Ctrl+Shift+V or the browser's Paste.", { error: true });
      hooks.focus();
      return;
    }
    pasteText(text);
  }

  // ---- font size ------------------------------------------------------------------------------------------
  function setFontSize(size) {
    const next = clampInt(size, FONT_MIN, FONT_MAX, FONT_DEFAULT);
    prefs.fontSize = next;
    savePrefs(prefs);
    showFontSize();
    if (term.options.fontSize === next) return;
    term.options.fontSize = next;
    // xterm measures the new cell size at once; fit (and send the size) once the layout settled.
    requestAnimationFrame(() => hooks.refit());
  }

  function showFontSize() {
    const reset = $('#font-reset');
    reset.textContent = `${prefs.fontSize} px`;
    reset.setAttribute('aria-label', `Font size ${prefs.fontSize} pixels: reset to ${FONT_DEFAULT}`);
    $('#font-smaller').disabled = prefs.fontSize <= FONT_MIN;
    $('#font-larger').disabled = prefs.fontSize >= FONT_MAX;
  }

  // ---- search ---------------------------------------------------------------------------------------------
  const searchBar = $('#search-bar');
  const searchInput = $('#search-input');

  function searchOptions(incremental = false) {
    return {
      caseSensitive: $('#search-case').checked,
      regex: $('#search-regex').checked,
      incremental,
      decorations: SEARCH_DECORATIONS,
    };
  }

  function find(direction, incremental = false) {
    const text = searchInput.value;
    if (!text) {
      search.clearDecorations();
      term.clearSelection();
      $('#search-count').textContent = '';
      return;
    }
    searching = true;
    try {
      if (direction < 0) search.findPrevious(text, searchOptions());
      else search.findNext(text, searchOptions(incremental));
      searchInput.removeAttribute('aria-invalid');
    } catch {
      // An invalid regular expression.
      searchInput.setAttribute('aria-invalid', 'true');
      $('#search-count').textContent = 'Invalid expression';
    } finally {
      searching = false;
    }
  }

  search.onDidChangeResults(({ resultIndex, resultCount }) => {
    const count = $('#search-count');
    if (!searchInput.value) count.textContent = '';
    else if (resultCount === 0) count.textContent = 'No matches';
    else if (resultIndex < 0) count.textContent = `${resultCount}+ matches`;
    else count.textContent = `${resultIndex + 1} of ${resultCount}`;
  });

  function openSearch() {
    searchBar.hidden = false;
    $('#search-toggle').setAttribute('aria-expanded', 'true');
    const selected = term.getSelection();
    if (selected && !selected.includes('\n') && selected.length <= 200) searchInput.value = selected;
    searchInput.focus();
    searchInput.select();
    if (searchInput.value) find(1, true);
  }

  function closeSearch() {
    if (searchBar.hidden) return;
    searchBar.hidden = true;
    $('#search-toggle').setAttribute('aria-expanded', 'false');
    search.clearDecorations();
    term.clearSelection();
    $('#search-count').textContent = '';
    hooks.focus();
  }

  // ---- special keys menu ------------------------------------------------------------------------------------
  const keysButton = $('#special-keys');
  const keysMenu = $('#special-keys-menu');
  let menuType = null; // the terminal type the menu was made for

  function renderMenu() {
    const type = (hooks.terminalType && hooks.terminalType()) || 'xterm';
    if (type === menuType) return;
    menuType = type;
    const menuItems = specialKeys(type).map((key) =>
      el(
        'li',
        { role: 'none', class: /^f\d+$/.test(key.id) ? null : 'wide' },
        el(
          'button',
          {
            type: 'button',
            role: 'menuitem',
            tabindex: '-1',
            class: 'menu-item',
            'data-testid': `key-${key.id}`,
            onclick: () => sendKey(key),
          },
          el('span', { class: 'menu-key' }, key.label),
          key.hint ? el('span', { class: 'menu-hint' }, key.hint) : null,
        ),
      ),
    );
    keysMenu.replaceChildren(...menuItems);
    keysMenu.dataset.terminalType = type;
  }
  renderMenu();
  const menuButtons = () => [...keysMenu.querySelectorAll('[role=menuitem]')];

  function openMenu() {
    renderMenu();
    keysMenu.hidden = false;
    keysButton.setAttribute('aria-expanded', 'true');
    menuButtons()[0].focus();
  }

  function closeMenu({ focusButton = false } = {}) {
    if (keysMenu.hidden) return;
    keysMenu.hidden = true;
    keysButton.setAttribute('aria-expanded', 'false');
    if (focusButton) keysButton.focus();
  }

  function sendKey(key) {
    closeMenu();
    if (!hooks.canType()) {
      status('You cannot type in this session.', { error: true });
      return;
    }
    term.input(key.data, true);
    status(`Sent ${key.label}.`);
    hooks.focus();
  }

  keysButton.addEventListener('click', () => {
    if (keysMenu.hidden) openMenu();
    else closeMenu();
  });
  keysButton.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      openMenu();
      if (ev.key === 'ArrowUp') menuButtons().at(-1).focus();
    }
  });
  keysMenu.addEventListener('keydown', (ev) => {
    const items = menuButtons();
    const at = items.indexOf(document.activeElement);
    let next = null;
    if (ev.key === 'ArrowDown') next = (at + 1) % items.length;
    else if (ev.key === 'ArrowUp') next = (at - 1 + items.length) % items.length;
    else if (ev.key === 'Home') next = 0;
    else if (ev.key === 'End') next = items.length - 1;
    else if (ev.key === 'Escape') {
      ev.preventDefault();
      closeMenu({ focusButton: true });
      return;
    } else if (ev.key === 'Tab') {
      closeMenu();
      return;
    }
    if (next !== null) {
      ev.preventDefault();
      items[next].focus();
    }
  });
  document.addEventListener('pointerdown', (ev) => {
    if (!keysMenu.hidden && !keysMenu.contains(ev.target) && !keysButton.contains(ev.target)) closeMenu();
  });

  // ---- settings dialog -----------------------------------------------------------------------------------------
  function openSettings() {
    const scrollback = el('input', {
      id: 'settings-scrollback',
      name: 'scrollback',
      type: 'number',
      min: SCROLLBACK_MIN,
      max: SCROLLBACK_MAX,
      step: 1000,
      required: true,
      value: String(prefs.scrollback),
      'data-testid': 'settings-scrollback',
    });
    const copyOnSelect = el('input', {
      id: 'settings-copy-on-select',
      name: 'copy_on_select',
      type: 'checkbox',
      checked: prefs.copyOnSelect,
      'data-testid': 'settings-copy-on-select',
    });
    const error = el('div', { class: 'field-error', role: 'alert', hidden: true });
    const save = el('button', { type: 'submit', class: 'primary', 'data-testid': 'settings-save' }, 'Save');
    const cancel = el('button', { type: 'button' }, 'Cancel');
    const form = el(
      'form',
      { class: 'dialog-body', novalidate: true },
      el(
        'div',
        { class: 'field' },
        el('label', { for: 'settings-scrollback' }, 'Scrollback (lines)'),
        scrollback,
        el('div', { class: 'help' }, `How many lines the terminal keeps above the screen: ${SCROLLBACK_MIN.toLocaleString()} to ${SCROLLBACK_MAX.toLocaleString()}.`),
        error,
      ),
      el(
        'div',
        { class: 'field checkbox-field' },
        el('label', { class: 'checkbox', for: 'settings-copy-on-select' }, copyOnSelect, ' Copy on select'),
        el('div', { class: 'help' }, 'Put text on the clipboard as soon as it is selected in the terminal.'),
      ),
      el('div', { class: 'actions' }, cancel, save),
    );
    const { close } = openDialog('Terminal settings', form, { testid: 'settings-dialog', onClose: () => hooks.focus() });
    cancel.addEventListener('click', close);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const lines = Number(scrollback.value);
      if (!Number.isInteger(lines) || lines < SCROLLBACK_MIN || lines > SCROLLBACK_MAX) {
        error.textContent = `Enter a whole number from ${SCROLLBACK_MIN} to ${SCROLLBACK_MAX}.`;
        error.hidden = false;
        scrollback.setAttribute('aria-invalid', 'true');
        scrollback.focus();
        return;
      }
      prefs.scrollback = lines;
      prefs.copyOnSelect = copyOnSelect.checked;
      savePrefs(prefs);
      term.options.scrollback = lines;
      status('Settings saved.');
      close();
    });
    scrollback.focus();
  }

  // ---- keyboard shortcuts in the terminal -------------------------------------------------------------------
  term.attachCustomKeyEventHandler((ev) => {
    if (!ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return true;
    if (ev.code === 'KeyC') {
      if (ev.type === 'keydown') {
        ev.preventDefault();
        copySelection();
      }
      return false;
    }
    if (ev.code === 'KeyV') {
      // Leave it to the browser: its "paste as plain text" fires a paste event that xterm.js turns into a
      // (bracketed) paste, without asking for the permission to read the clipboard.
      if (ev.type === 'keydown' && !hooks.canType()) {
        ev.preventDefault();
        status('You cannot type in this session.', { error: true });
      }
      return false;
    }
    if (ev.code === 'KeyF') {
      if (ev.type === 'keydown') {
        ev.preventDefault();
        openSearch();
      }
      return false;
    }
    return true;
  });

  // xterm reports every step of a mouse drag: copy once the selection stopped changing.
  let selectTimer = null;
  term.onSelectionChange(() => {
    clearTimeout(selectTimer);
    if (!prefs.copyOnSelect || searching || !term.hasSelection()) return;
    selectTimer = setTimeout(() => {
      if (term.hasSelection()) copySelection({ quiet: true });
    }, 150);
  });

  // ---- wiring ----------------------------------------------------------------------------------------------
  $('#copy').addEventListener('click', () => copySelection());
  $('#paste').addEventListener('click', () => pasteFromClipboard());
  $('#font-smaller').addEventListener('click', () => setFontSize(prefs.fontSize - 1));
  $('#font-larger').addEventListener('click', () => setFontSize(prefs.fontSize + 1));
  $('#font-reset').addEventListener('click', () => setFontSize(FONT_DEFAULT));
  $('#search-toggle').addEventListener('click', () => (searchBar.hidden ? openSearch() : closeSearch()));
  $('#search-next').addEventListener('click', () => find(1));
  $('#search-prev').addEventListener('click', () => find(-1));
  $('#search-close').addEventListener('click', closeSearch);
  for (const box of [$('#search-case'), $('#search-regex')]) {
    box.addEventListener('change', () => {
      search.clearDecorations();
      find(1, true);
    });
  }
  searchInput.addEventListener('input', () => find(1, true));
  searchInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      find(ev.shiftKey ? -1 : 1);
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      closeSearch();
    }
  });
  searchBar.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      closeSearch();
    }
  });
  $('#terminal-settings').addEventListener('click', openSettings);
  showFontSize();

  /** Show or hide the controls that type (observers and closed sessions do not get them). */
  function update() {
    const may = hooks.mayType();
    const can = hooks.canType();
    for (const id of ['#paste', '#special-keys']) {
      $(id).disabled = !can;
    }
    $('#paste').hidden = !may;
    keysButton.parentElement.hidden = !may;
    if (!may || !can) closeMenu();
  }

  return { update, paste: pasteText, copy: copySelection, closeSearch };
}
