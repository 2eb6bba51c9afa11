// Credential injection in the rep console: the "Inject Credentials" dialog a rep sees when a Jump Item offers
// credentials to choose from (its own or its Jump Group's credential scopes), and small helpers for the editors
// that set those scopes. Only names and kinds reach the browser, never a secret.

import { api, fieldErrors } from './api.js';
import { el, openDialog, setChildren, showError } from './ui.js';

export const LIST_LIMIT = 2000;
const SEARCH_DELAY_MS = 250;
const KIND_LABELS = { password: 'Password', private_key: 'SSH key', ssh_certificate: 'SSH certificate' };

/** The scopes reps may choose from for `item`: the item's own and its Jump Group's. */
export function credentialScopes(item, group) {
  const own = Array.isArray(item && item.credential_scopes) ? item.credential_scopes : [];
  const shared = Array.isArray(group && group.credential_scopes) ? group.credential_scopes : [];
  return [...own, ...shared];
}

/** Whether a Jump to `item` asks the rep for a credential first (no fixed credential, and scopes to choose from). */
export function needsCredentialChoice(item, group) {
  return !(item && item.credential_ref) && credentialScopes(item, group).length > 0;
}

/** Scopes typed one per line: trimmed, blank lines and repeats dropped. */
export function parseScopes(text) {
  const out = [];
  for (const line of String(text || '').split('\n')) {
    const scope = line.trim();
    if (scope && !out.includes(scope)) out.push(scope);
  }
  return out;
}

/**
 * Put the API's messages about `credential_scopes.N` (one per bad line) into the form's
 * `[data-field-error=credential_scopes]` slot; showFieldErrors only knows plain field names.
 */
export function showScopeErrors(form, err, name = 'credential_scopes') {
  const slot = form.querySelector(`[data-field-error="${name}"]`);
  const input = form.elements.namedItem(name);
  const lines = [];
  for (const [field, msg] of Object.entries(fieldErrors(err))) {
    const parts = field.split('.');
    if (parts[0] !== name) continue;
    const index = Number(parts[1]);
    lines.push(Number.isInteger(index) ? `Line ${index + 1}: ${msg}` : msg);
  }
  if (!slot || lines.length === 0) return 0;
  slot.textContent = lines.join(' ');
  slot.hidden = false;
  if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
  return lines.length;
}

function problemText(problem) {
  const store = problem && problem.store && problem.store !== '*' ? `Store ${problem.store}: ` : '';
  return store + String((problem && problem.message) || (problem && problem.code) || 'unavailable');
}

/**
 * Ask which credential to inject into `item`. `onJump(ref)` runs synchronously inside the click (or key press)
 * that chose, after the dialog closed, so the session tab it opens counts as opened by the user; `ref` is null
 * for "Jump without a credential". Returns {close}.
 */
export function chooseCredential(item, { onJump }) {
  let all = []; // what the API answered for the current search
  let selected = null; // the chosen reference
  let seq = 0;
  let timer = null;
  let lastQuery = null;
  let truncated = false;

  const search = el('input', {
    type: 'search',
    id: 'credential-search',
    class: 'credential-search',
    placeholder: 'Search credentials',
    maxlength: 256,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-controls': 'credential-list',
    'data-testid': 'credential-search',
  });
  const status = el('p', { class: 'muted small credential-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'credential-status' }, 'Loading…');
  const problems = el('ul', { class: 'credential-problems', 'data-testid': 'credential-problems', hidden: true });
  const errorBox = el('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'credential-error' });
  const list = el('ul', {
    id: 'credential-list',
    class: 'credential-list',
    role: 'listbox',
    tabindex: '0',
    'aria-label': 'Credentials',
    'data-testid': 'credential-list',
  });
  const withBtn = el('button', { type: 'button', class: 'primary', disabled: true, 'data-testid': 'jump-with-credential' }, 'Jump with this credential');
  const withoutBtn = el('button', { type: 'button', 'data-testid': 'jump-without-credential' }, 'Jump without a credential');
  const cancelBtn = el('button', { type: 'button', 'data-testid': 'credential-cancel' }, 'Cancel');
  const target = `${item.username ? item.username + '@' : ''}${item.hostname}`;

  const body = el(
    'div',
    { class: 'dialog-body credential-picker' },
    el('p', {}, `Log in to '${item.name}' (${target}) with a credential from a store of its Jumpoint. The secret goes from the store to the target; it is never shown here.`),
    errorBox,
    problems,
    el('label', { for: 'credential-search' }, 'Search'),
    search,
    status,
    list,
    el('p', { class: 'muted small' }, 'Jump without a credential to type the password in the session.'),
    el('div', { class: 'actions' }, cancelBtn, withoutBtn, withBtn),
  );
  const { dialog, close } = openDialog('Inject Credentials', body, { className: 'wide', testid: 'credential-dialog' });
  dialog.setAttribute('aria-describedby', 'credential-status');
  status.id = 'credential-status';

  const options = () => [...list.querySelectorAll('[role=option]')];

  function visible() {
    const needle = search.value.trim().toLowerCase();
    return needle ? all.filter((c) => c.ref.toLowerCase().includes(needle)) : all;
  }

  function select(ref, { scroll = true } = {}) {
    selected = ref;
    let active = null;
    for (const option of options()) {
      const on = option.dataset.ref === ref;
      option.setAttribute('aria-selected', String(on));
      option.classList.toggle('selected', on);
      if (on) active = option;
    }
    if (active) {
      list.setAttribute('aria-activedescendant', active.id);
      if (scroll) active.scrollIntoView({ block: 'nearest' });
    } else {
      list.removeAttribute('aria-activedescendant');
    }
    withBtn.disabled = selected === null;
  }

  function render() {
    const shown = visible();
    setChildren(
      list,
      shown.map((c, i) =>
        el(
          'li',
          {
            id: `credential-option-${i}`,
            role: 'option',
            class: 'credential-option',
            'aria-selected': 'false',
            dataset: { ref: c.ref },
            'data-testid': 'credential-option',
          },
          el('span', { class: 'mono credential-ref' }, c.ref),
          c.kind ? el('span', { class: 'badge credential-kind' }, KIND_LABELS[c.kind] || c.kind) : null,
        ),
      ),
    );
    if (!shown.some((c) => c.ref === selected)) selected = null;
    select(selected, { scroll: false });
    const needle = search.value.trim();
    if (truncated) {
      status.textContent = `More than ${LIST_LIMIT.toLocaleString('en')} match: type to narrow the list.`;
    } else if (shown.length === 0) {
      status.textContent = needle ? `No credential matches '${needle}'.` : 'No credential is offered for this Jump Item.';
    } else {
      status.textContent = `${shown.length} credential${shown.length === 1 ? '' : 's'}.`;
    }
  }

  async function load() {
    const query = search.value.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    const mine = ++seq;
    const qs = query ? '?search=' + encodeURIComponent(query) : '';
    let answer;
    try {
      answer = await api('GET', `/jump-items/${encodeURIComponent(item.id)}/credentials${qs}`);
    } catch (exc) {
      if (mine !== seq) return;
      lastQuery = null;
      showError(errorBox, exc);
      status.textContent = 'The credential list is not available.';
      return;
    }
    if (mine !== seq || !dialog.isConnected) return;
    showError(errorBox, null);
    if (answer && answer.fixed) {
      // Changed since the list was loaded: the item now injects its own credential.
      all = [];
      truncated = false;
      render();
      status.textContent = `This Jump Item injects its own credential (${answer.fixed}): Jump without choosing one.`;
      return;
    }
    all = Array.isArray(answer && answer.credentials) ? answer.credentials.filter((c) => c && typeof c.ref === 'string') : [];
    truncated = Boolean(answer && answer.truncated);
    const found = Array.isArray(answer && answer.problems) ? answer.problems : [];
    setChildren(
      problems,
      found.map((p) => el('li', { class: 'alert alert-warning', 'data-testid': 'credential-problem' }, problemText(p))),
    );
    problems.hidden = found.length === 0;
    render();
  }

  function jumpWith(ref) {
    close();
    onJump(ref);
  }

  function move(delta) {
    const opts = options();
    if (opts.length === 0) return;
    const at = opts.findIndex((o) => o.dataset.ref === selected);
    let next;
    if (delta === 'first') next = 0;
    else if (delta === 'last') next = opts.length - 1;
    else next = at < 0 ? (delta > 0 ? 0 : opts.length - 1) : Math.min(opts.length - 1, Math.max(0, at + delta));
    select(opts[next].dataset.ref);
  }

  search.addEventListener('input', () => {
    // The list on screen narrows at once; the stores are asked again after a pause in typing.
    render();
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY_MS);
  });
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const had = selected;
      list.focus(); // selects the first credential when none was
      if (had !== null) move(ev.key === 'ArrowDown' ? 1 : -1);
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      if (selected !== null) jumpWith(selected);
      else if (options().length === 1) select(options()[0].dataset.ref);
    }
  });
  list.addEventListener('keydown', (ev) => {
    const keys = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10, Home: 'first', End: 'last' };
    if (ev.key in keys) {
      ev.preventDefault();
      move(keys[ev.key]);
    } else if (ev.key === 'Enter' && selected !== null) {
      ev.preventDefault();
      jumpWith(selected);
    } else if (ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      // Typing in the list searches.
      search.focus();
    }
  });
  list.addEventListener('focus', () => {
    if (selected === null && options().length) move('first');
  });
  list.addEventListener('click', (ev) => {
    const option = ev.target.closest('[role=option]');
    if (option) select(option.dataset.ref, { scroll: false });
  });
  list.addEventListener('dblclick', (ev) => {
    const option = ev.target.closest('[role=option]');
    if (option) jumpWith(option.dataset.ref);
  });
  withBtn.addEventListener('click', () => {
    if (selected !== null) jumpWith(selected);
  });
  withoutBtn.addEventListener('click', () => jumpWith(null));
  cancelBtn.addEventListener('click', close);
  dialog.addEventListener('close', () => clearTimeout(timer));

  search.focus();
  load();
  return { close };
}
