// The File Transfer view of an SSH session (docs/protocol.md, "/sessions/{id}/files"): browse the target's
// folders (breadcrumbs, places, hidden files), download, upload (button or drag and drop; asks before replacing),
// rename, delete (permanently, after a confirmation) and new folders, with a list of transfers showing progress,
// speed, cancel and the outcome.
//
// Downloads are read with fetch and a stream reader (progress; an AbortController cancels) and saved through a
// Blob URL. Uploads send the file as the raw body of an XMLHttpRequest (upload progress; abort() cancels and the
// target keeps nothing). The console checks every permission again; the view only hides what would be refused.

import { ApiError, api, apiErrorFrom, csrfToken } from './api.js';
import { $, confirmDialog, el, errorParts, openDialog, setChildren, showError } from './ui.js';

const SPEED_WINDOW_MS = 2000;
const FINISHED_KEEP = 50;

/** "1.5 MiB" */
export function humanSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[i]}`;
}

function joinPath(dir, name) {
  return dir === '/' ? '/' + name : dir.replace(/\/+$/, '') + '/' + name;
}

function baseName(path) {
  const parts = String(path).split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : '/';
}

function within(path, root) {
  return root === '/' || path === root || path.startsWith(root.replace(/\/+$/, '') + '/');
}

/**
 * The breadcrumbs of the folder `path`, from `/`: [{label, path, current, reachable}]. With allowed folders
 * (`roots`), a folder above them is not reachable (the console would refuse it).
 */
export function breadcrumbTrail(path, roots = []) {
  const trail = [{ label: '/', path: '/' }];
  let acc = '';
  for (const part of String(path).split('/').filter(Boolean)) {
    acc += '/' + part;
    trail.push({ label: part, path: acc });
  }
  const above = (p) => !roots.some((root) => within(p, root)) && roots.some((root) => within(root, p));
  return trail.map((crumb, i) => ({ ...crumb, current: i === trail.length - 1, reachable: !above(crumb.path) }));
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : timeFormat.format(d);
}

const KIND_LABELS = { dir: 'Folder', file: 'File', link: 'Symbolic link', other: 'Other (device, socket or pipe)' };

/**
 * panel: the <section> the view is built in; toggle: the Files button; onLayout(): the terminal's space changed;
 * focusTerminal(): give the focus back to the terminal.
 */
export function createFilePanel(sessionId, { panel, toggle, onLayout, focusTerminal }) {
  const base = `/sessions/${encodeURIComponent(sessionId)}/files`;
  const state = {
    allowed: false,
    loaded: false,
    loading: false,
    path: null, // the directory shown (canonical, from the server)
    parent: null,
    entries: [],
    truncated: false,
    canUpload: false,
    canDownload: false,
    roots: [],
    showHidden: false,
    home: null, // the path the server started in
  };
  const transfers = []; // {id, name, direction, row, ...}
  const uploadQueue = [];
  let uploading = false;
  let transferSeq = 0;
  let dragDepth = 0;

  // ---- the view's skeleton ---------------------------------------------------------------------------------
  const errorBox = el('div', { class: 'alert files-error', role: 'alert', 'data-testid': 'files-error', hidden: true });
  const crumbs = el('ol', { class: 'crumbs' });
  const breadcrumbs = el('nav', { class: 'files-breadcrumbs', 'aria-label': 'Current folder', 'data-testid': 'files-breadcrumbs' }, crumbs);
  const places = el('div', { class: 'files-places', 'data-testid': 'files-places', role: 'group', 'aria-label': 'Places' });
  const hidden = el('input', { type: 'checkbox', id: 'files-hidden', 'data-testid': 'files-hidden' });
  const upButton = el('button', { type: 'button', 'data-testid': 'files-up', 'aria-label': 'Up one folder', title: 'Up one folder' }, '\u2191 Up');
  const refreshButton = el('button', { type: 'button', 'data-testid': 'files-refresh', title: 'Refresh the list' }, 'Refresh');
  const mkdirButton = el('button', { type: 'button', 'data-testid': 'files-mkdir' }, 'New folder');
  const uploadInput = el('input', {
    type: 'file',
    id: 'files-upload-input',
    class: 'visually-hidden',
    multiple: true,
    'data-testid': 'files-upload-input',
  });
  const uploadLabel = el('label', { for: 'files-upload-input', class: 'button-like', 'data-testid': 'files-upload' }, uploadInput, 'Upload');
  const closeButton = el('button', { type: 'button', class: 'dismiss', 'data-testid': 'files-close', 'aria-label': 'Close the file transfer view' }, '\u00d7');
  const permissionNote = el('p', { class: 'files-note', 'data-testid': 'files-permissions', hidden: true });
  const summary = el('p', { class: 'files-summary', 'data-testid': 'files-summary', 'aria-live': 'polite' });
  const tbody = el('tbody', {});
  const table = el(
    'table',
    { class: 'files-table', 'data-testid': 'files-list' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col', class: 'col-name' }, 'Name'),
        el('th', { scope: 'col', class: 'col-size' }, 'Size'),
        el('th', { scope: 'col', class: 'col-mtime' }, 'Modified'),
        el('th', { scope: 'col', class: 'col-mode' }, 'Permissions'),
        el('th', { scope: 'col', class: 'col-actions' }, el('span', { class: 'visually-hidden' }, 'Actions')),
      ),
    ),
    tbody,
  );
  const transferList = el('ul', { class: 'transfer-list', 'data-testid': 'transfers', 'aria-labelledby': 'transfers-title' });
  const clearButton = el('button', { type: 'button', class: 'link-button small', 'data-testid': 'transfers-clear' }, 'Clear finished');
  const dropHint = el('div', { class: 'drop-hint', 'aria-hidden': 'true' }, 'Drop files here to upload them');

  setChildren(
    panel,
    el(
      'header',
      { class: 'files-head' },
      el('h2', {}, 'Files'),
      breadcrumbs,
      closeButton,
    ),
    el(
      'div',
      { class: 'files-toolbar', role: 'toolbar', 'aria-label': 'File tools' },
      upButton,
      refreshButton,
      el('label', { class: 'checkbox', for: 'files-hidden' }, hidden, ' Show hidden files'),
      mkdirButton,
      uploadLabel,
      places,
    ),
    errorBox,
    permissionNote,
    el(
      'div',
      { class: 'files-main' },
      el('div', { class: 'files-list-wrap' }, table, summary),
      el(
        'section',
        { class: 'transfers-wrap', 'aria-labelledby': 'transfers-title', hidden: true },
        el('h3', { id: 'transfers-title' }, 'Transfers', clearButton),
        transferList,
      ),
    ),
    dropHint,
  );

  // ---- listing ----------------------------------------------------------------------------------------------
  async function load(path = state.path ?? '') {
    state.loading = true;
    panel.setAttribute('aria-busy', 'true');
    try {
      const answer = await api('GET', `${base}?${new URLSearchParams({ path })}`);
      state.path = answer.path;
      state.parent = answer.parent ?? null;
      state.entries = Array.isArray(answer.entries) ? answer.entries : [];
      state.truncated = Boolean(answer.truncated);
      state.canUpload = Boolean(answer.can_upload);
      state.canDownload = Boolean(answer.can_download);
      state.roots = Array.isArray(answer.roots) ? answer.roots : [];
      if (state.home === null) state.home = answer.path;
      state.loaded = true;
      showError(errorBox, null);
      render();
      return true;
    } catch (exc) {
      showError(errorBox, exc);
      if (!state.loaded) render();
      return false;
    } finally {
      state.loading = false;
      panel.removeAttribute('aria-busy');
    }
  }

  function renderCrumbs() {
    const path = state.path;
    if (path === null) {
      setChildren(crumbs);
      return;
    }
    const items = breadcrumbTrail(path, state.roots).map(({ label, path: target, current, reachable }) => {
      let crumb;
      if (current) crumb = el('span', { class: 'crumb current', 'aria-current': 'location', dataset: { path: target } }, label);
      else if (!reachable) crumb = el('span', { class: 'crumb', title: 'Outside the folders you may use', dataset: { path: target } }, label);
      else crumb = el('button', { type: 'button', class: 'crumb link-button', dataset: { path: target }, onclick: () => load(target) }, label);
      return el('li', {}, crumb);
    });
    setChildren(crumbs, items);
  }

  function renderPlaces() {
    const targets = [];
    if (state.home) targets.push({ label: 'Home', path: state.home });
    for (const root of state.roots) {
      if (!targets.some((t) => t.path === root)) targets.push({ label: root, path: root });
    }
    setChildren(
      places,
      targets.length > 1 || state.roots.length
        ? [
            el('span', { class: 'muted small' }, state.roots.length ? 'Allowed folders:' : 'Places:'),
            targets.map((t) => el('button', { type: 'button', class: 'link-button small', onclick: () => load(t.path) }, t.label)),
          ]
        : [],
    );
  }

  function entryRow(entry) {
    const path = joinPath(state.path, entry.name);
    const isDir = entry.kind === 'dir';
    const openable = isDir || entry.kind === 'link';
    const name = isDir
      ? el('button', { type: 'button', class: 'link-button file-open', 'data-testid': `file-open-${entry.name}`, onclick: () => load(path) }, entry.name)
      : el('span', { class: 'file-name' }, entry.name);
    const actions = [];
    if (entry.kind === 'file' || entry.kind === 'link') {
      actions.push(
        el(
          'button',
          {
            type: 'button',
            class: 'small-button',
            'data-testid': `file-download-${entry.name}`,
            'aria-label': `Download ${entry.name}`,
            title: state.canDownload ? 'Download' : 'You may not download files',
            disabled: !state.canDownload,
            onclick: () => download(entry, path),
          },
          'Download',
        ),
      );
    }
    actions.push(
      el(
        'button',
        {
          type: 'button',
          class: 'small-button',
          'data-testid': `file-rename-${entry.name}`,
          'aria-label': `Rename ${entry.name}`,
          title: state.canUpload ? 'Rename' : 'You may not change files',
          disabled: !state.canUpload,
          onclick: () => rename(entry),
        },
        'Rename',
      ),
      el(
        'button',
        {
          type: 'button',
          class: 'small-button danger',
          'data-testid': `file-delete-${entry.name}`,
          'aria-label': `Delete ${entry.name}`,
          title: state.canUpload ? 'Delete permanently' : 'You may not change files',
          disabled: !state.canUpload,
          onclick: () => remove(entry, path),
        },
        'Delete',
      ),
    );
    const row = el(
      'tr',
      { class: 'file-row kind-' + entry.kind, 'data-testid': `file-row-${entry.name}`, dataset: { kind: entry.kind, name: entry.name } },
      el(
        'td',
        { class: 'col-name' },
        el('span', {
          class: 'file-icon icon-' + (KIND_LABELS[entry.kind] ? entry.kind : 'other'),
          role: 'img',
          'aria-label': KIND_LABELS[entry.kind] || KIND_LABELS.other,
          title: KIND_LABELS[entry.kind] || KIND_LABELS.other,
        }),
        name,
      ),
      el('td', { class: 'col-size', title: isDir ? '' : `${Number(entry.size).toLocaleString()} bytes` }, isDir ? '\u2014' : humanSize(entry.size)),
      el('td', { class: 'col-mtime', title: entry.mtime || '' }, formatTime(entry.mtime)),
      el('td', { class: 'col-mode mono' }, entry.mode || ''),
      el('td', { class: 'col-actions' }, actions),
    );
    if (openable) row.addEventListener('dblclick', () => load(path));
    return row;
  }

  function render() {
    renderCrumbs();
    renderPlaces();
    upButton.disabled = !state.parent;
    hidden.checked = state.showHidden;
    const visible = state.entries.filter((e) => state.showHidden || !e.name.startsWith('.'));
    setChildren(tbody, visible.map(entryRow));
    const dirs = visible.filter((e) => e.kind === 'dir').length;
    const others = visible.length - dirs;
    const hiddenCount = state.entries.length - visible.length;
    const parts = [`${dirs} folder${dirs === 1 ? '' : 's'}, ${others} file${others === 1 ? '' : 's'}`];
    if (hiddenCount) parts.push(`${hiddenCount} hidden`);
    if (state.truncated) parts.push(`only the first ${state.entries.length} entries are shown`);
    summary.textContent = state.loaded ? (visible.length ? parts.join(' · ') : `This folder is empty${hiddenCount ? ` (${hiddenCount} hidden)` : ''}.`) : '';
    uploadInput.disabled = !state.canUpload;
    mkdirButton.disabled = !state.canUpload;
    uploadLabel.classList.toggle('disabled', !state.canUpload);
    uploadLabel.setAttribute('aria-disabled', String(!state.canUpload));
    uploadLabel.title = state.canUpload ? 'Upload files to this folder (or drop them here)' : 'You may not upload files';
    const notes = [];
    if (state.loaded && !state.canUpload) notes.push('You may not upload or change files.');
    if (state.loaded && !state.canDownload) notes.push('You may not download files.');
    if (notes.length) notes.push('An administrator can change this on your account.');
    permissionNote.textContent = notes.join(' ');
    permissionNote.hidden = notes.length === 0;
  }

  // ---- rename, delete, new folder ------------------------------------------------------------------------------
  function nameDialog({ title, label, value = '', submitLabel, testid, onSubmit }) {
    const input = el('input', {
      type: 'text',
      id: `${testid}-input`,
      name: 'name',
      required: true,
      maxlength: 255,
      value,
      autocomplete: 'off',
      spellcheck: 'false',
      'data-testid': `${testid}-input`,
    });
    const error = el('div', { class: 'alert', role: 'alert', hidden: true });
    const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': `${testid}-submit` }, submitLabel);
    const cancel = el('button', { type: 'button' }, 'Cancel');
    const form = el(
      'form',
      { class: 'dialog-body', novalidate: true },
      error,
      el('div', { class: 'field' }, el('label', { for: `${testid}-input` }, label), input),
      el('div', { class: 'actions' }, cancel, submit),
    );
    const { close } = openDialog(title, form, { testid: `${testid}-dialog` });
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text || text === '.' || text === '..' || text.includes('/')) {
        showError(error, { message: 'Enter a name without "/" (not "." or "..").' });
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      submit.disabled = true;
      try {
        await onSubmit(text);
        close();
      } catch (exc) {
        showError(error, exc);
        input.focus();
      } finally {
        submit.disabled = false;
      }
    });
    input.focus();
    const dot = value.lastIndexOf('.');
    if (dot > 0) input.setSelectionRange(0, dot);
    else input.select();
  }

  function rename(entry) {
    const dir = state.path;
    nameDialog({
      title: `Rename ${entry.name}`,
      label: 'New name',
      value: entry.name,
      submitLabel: 'Rename',
      testid: 'rename',
      onSubmit: async (name) => {
        if (name === entry.name) return;
        await api('POST', `${base}/rename`, { from: joinPath(dir, entry.name), to: joinPath(dir, name) });
        await load(dir);
      },
    });
  }

  function makeFolder() {
    const dir = state.path;
    nameDialog({
      title: 'New folder',
      label: `Name of the new folder in ${dir}`,
      submitLabel: 'Create',
      testid: 'mkdir',
      onSubmit: async (name) => {
        await api('POST', `${base}/mkdir`, { path: joinPath(dir, name) });
        await load(dir);
      },
    });
  }

  async function remove(entry, path) {
    const what = entry.kind === 'dir' ? `the folder '${entry.name}'` : `'${entry.name}'`;
    const ok = await confirmDialog(
      'Delete permanently',
      `Delete ${what} from ${state.path}? It is deleted permanently, not moved to a trash or recycle bin.` +
        (entry.kind === 'dir' ? ' Only an empty folder can be deleted.' : ''),
      'Delete',
    );
    if (!ok) return;
    try {
      await api('DELETE', `${base}?${new URLSearchParams({ path })}`);
      showError(errorBox, null);
    } catch (exc) {
      showError(errorBox, exc);
      return;
    }
    await load(state.path);
  }

  // ---- transfers ---------------------------------------------------------------------------------------------
  function newTransfer(direction, name, size) {
    // One row per name: a finished transfer of the same name makes way for the new one.
    for (const old of transfers.filter((t) => t.name === name && t.final)) dropTransfer(old);
    const t = {
      id: ++transferSeq,
      direction,
      name,
      size,
      done: 0,
      final: null,
      cancel: null,
      samples: [],
      started: performance.now(),
    };
    t.bar = el('progress', { max: 100, value: 0, 'aria-label': `${direction === 'up' ? 'Upload' : 'Download'} of ${name}` });
    t.percent = el('span', { class: 'transfer-percent', 'data-testid': 'transfer-percent' }, '0%');
    t.speed = el('span', { class: 'transfer-speed', 'data-testid': 'transfer-speed' }, '');
    t.status = el('span', { class: 'transfer-status', 'data-testid': 'transfer-status' }, direction === 'up' ? 'waiting' : 'starting');
    t.cancelButton = el(
      'button',
      {
        type: 'button',
        class: 'small-button',
        'data-testid': `transfer-cancel-${name}`,
        'aria-label': `Cancel the ${direction === 'up' ? 'upload' : 'download'} of ${name}`,
        onclick: () => cancelTransfer(t),
      },
      'Cancel',
    );
    t.row = el(
      'li',
      { class: 'transfer', 'data-testid': `transfer-${name}`, dataset: { state: 'active', direction } },
      el('span', { class: 'transfer-dir', role: 'img', 'aria-label': direction === 'up' ? 'Upload' : 'Download' }, direction === 'up' ? '\u2191' : '\u2193'),
      el('span', { class: 'transfer-name', title: name }, name),
      t.bar,
      t.percent,
      t.speed,
      t.status,
      t.cancelButton,
    );
    transfers.unshift(t);
    transferList.prepend(t.row);
    showTransfers();
    return t;
  }

  function dropTransfer(t) {
    const i = transfers.indexOf(t);
    if (i >= 0) transfers.splice(i, 1);
    t.row.remove();
    showTransfers();
  }

  function showTransfers() {
    panel.querySelector('.transfers-wrap').hidden = transfers.length === 0;
    clearButton.hidden = !transfers.some((t) => t.final);
  }

  function progress(t, done, total) {
    t.done = done;
    if (Number.isFinite(total) && total > 0) t.size = total;
    const now = performance.now();
    t.samples.push([now, done]);
    while (t.samples.length > 2 && now - t.samples[0][0] > SPEED_WINDOW_MS) t.samples.shift();
    const [t0, d0] = t.samples[0];
    const seconds = (now - t0) / 1000;
    const rate = seconds > 0.2 ? (done - d0) / seconds : 0;
    const pct = t.size > 0 ? Math.min(100, Math.floor((done / t.size) * 100)) : 0;
    t.bar.value = pct;
    t.percent.textContent = `${pct}%`;
    t.speed.textContent = rate > 0 ? `${humanSize(Math.round(rate))}/s` : '';
    t.status.textContent = `${humanSize(done)} of ${humanSize(t.size)}`;
  }

  function finishTransfer(t, outcome, message = '') {
    if (t.final) return;
    t.final = outcome;
    t.cancel = null;
    t.row.dataset.state = outcome;
    t.cancelButton.remove();
    t.speed.textContent = '';
    if (outcome === 'done') {
      const seconds = (performance.now() - t.started) / 1000;
      t.bar.value = 100;
      t.percent.textContent = '100%';
      t.status.textContent = `done: ${humanSize(t.size)}` + (seconds >= 1 ? ` in ${seconds.toFixed(1)} s` : '');
    } else if (outcome === 'cancelled') {
      t.status.textContent = 'cancelled';
    } else {
      t.status.textContent = `failed: ${message}`;
      t.status.setAttribute('role', 'alert');
    }
    t.status.classList.add('transfer-' + outcome);
    // Keep the list bounded.
    const finished = transfers.filter((x) => x.final);
    for (const old of finished.slice(FINISHED_KEEP)) dropTransfer(old);
    showTransfers();
  }

  function cancelTransfer(t) {
    if (t.final) return;
    if (t.cancel) t.cancel();
    else {
      // Still waiting in the upload queue.
      const i = uploadQueue.findIndex((job) => job.transfer === t);
      if (i >= 0) uploadQueue.splice(i, 1);
      finishTransfer(t, 'cancelled');
    }
  }

  function errorText(exc) {
    const { message, hint } = errorParts(exc);
    return hint ? `${message} (${hint})` : message;
  }

  // ---- download -------------------------------------------------------------------------------------------
  async function download(entry, path) {
    const t = newTransfer('down', entry.name, Number(entry.size) || 0);
    const controller = new AbortController();
    let cancelled = false;
    t.cancel = () => {
      cancelled = true;
      controller.abort();
    };
    try {
      const resp = await fetch(`/api/v1${base}/download?${new URLSearchParams({ path })}`, {
        credentials: 'same-origin',
        cache: 'no-store',
        signal: controller.signal,
      });
      if (!resp.ok) throw apiErrorFrom(resp.status, await resp.text());
      const total = Number(resp.headers.get('Content-Length'));
      const chunks = [];
      let received = 0;
      progress(t, 0, Number.isFinite(total) ? total : t.size);
      if (resp.body && typeof resp.body.getReader === 'function') {
        const reader = resp.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          received += value.byteLength;
          progress(t, received, t.size);
        }
      } else {
        const buffer = await resp.arrayBuffer();
        chunks.push(new Uint8Array(buffer));
        received = buffer.byteLength;
      }
      if (Number.isFinite(total) && total > 0 && received !== total) {
        throw new Error(`the download stopped after ${humanSize(received)} of ${humanSize(total)}`);
      }
      t.size = received;
      save(new Blob(chunks, { type: 'application/octet-stream' }), entry.name);
      finishTransfer(t, 'done');
    } catch (exc) {
      if (cancelled) finishTransfer(t, 'cancelled');
      else if (exc instanceof TypeError) finishTransfer(t, 'failed', 'the download was interrupted (the connection to the console broke, or the target stopped sending)');
      else finishTransfer(t, 'failed', errorText(exc));
    }
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: name, class: 'visually-hidden', tabindex: '-1' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  // ---- upload -----------------------------------------------------------------------------------------------
  async function queueUploads(fileList) {
    const list = [...fileList];
    if (!list.length) return;
    if (!state.canUpload) {
      showError(errorBox, { message: 'You may not upload files.', hint: 'An administrator can allow it on your account.' });
      return;
    }
    const dir = state.path;
    const existing = new Map(state.entries.map((e) => [e.name, e]));
    for (const file of list) {
      const there = existing.get(file.name);
      let overwrite = false;
      if (there) {
        if (there.kind === 'dir') {
          showError(errorBox, { message: `'${file.name}' is a folder in ${dir}: a file cannot replace it.`, hint: 'Rename one of them first.' });
          continue;
        }
        overwrite = await askOverwrite(file.name, dir);
        if (!overwrite) continue;
      }
      const transfer = newTransfer('up', file.name, file.size);
      uploadQueue.push({ file, dir, overwrite, transfer });
    }
    pumpUploads();
  }

  function askOverwrite(name, dir) {
    return confirmDialog('Replace the file?', `'${name}' already exists in ${dir}. Replace it with the file you are uploading?`, 'Replace');
  }

  async function pumpUploads() {
    if (uploading) return;
    uploading = true;
    try {
      while (uploadQueue.length) {
        const job = uploadQueue.shift();
        await upload(job);
        if (job.dir === state.path) await load(state.path);
      }
    } finally {
      uploading = false;
    }
  }

  async function upload(job) {
    const { file, dir, transfer: t } = job;
    let token;
    try {
      token = await csrfToken();
    } catch (exc) {
      finishTransfer(t, 'failed', errorText(exc));
      return;
    }
    for (;;) {
      const result = await sendFile(t, file, joinPath(dir, file.name), job.overwrite, token);
      if (result.ok) {
        finishTransfer(t, 'done');
        return;
      }
      if (result.cancelled) {
        finishTransfer(t, 'cancelled');
        return;
      }
      const exc = result.error;
      if (exc instanceof ApiError && exc.status === 409 && !job.overwrite && exc.code === 'conflict') {
        // Created meanwhile by someone else.
        if (await askOverwrite(file.name, dir)) {
          job.overwrite = true;
          t.samples = [];
          t.started = performance.now();
          continue;
        }
        finishTransfer(t, 'cancelled');
        return;
      }
      finishTransfer(t, 'failed', errorText(exc));
      if (exc instanceof ApiError && exc.status === 403) load(state.path); // the permissions may have changed
      return;
    }
  }

  function sendFile(t, file, path, overwrite, token) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      let cancelled = false;
      t.cancel = () => {
        cancelled = true;
        xhr.abort();
      };
      xhr.open('PUT', `/api/v1${base}/upload?${new URLSearchParams({ path, overwrite: String(overwrite) })}`);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      if (token) xhr.setRequestHeader('X-CSRF-Token', token);
      xhr.upload.addEventListener('progress', (ev) => {
        progress(t, ev.loaded, ev.lengthComputable ? ev.total : file.size);
        if (ev.loaded >= file.size) t.status.textContent = 'finishing on the target…';
      });
      xhr.addEventListener('load', () => {
        if (xhr.status === 201 || xhr.status === 200) resolve({ ok: true });
        else {
          const ra = Number.parseInt(xhr.getResponseHeader('Retry-After') || '', 10);
          resolve({ ok: false, error: apiErrorFrom(xhr.status, xhr.responseText, Number.isFinite(ra) ? ra : null) });
        }
      });
      xhr.addEventListener('error', () =>
        resolve(cancelled ? { cancelled: true } : { ok: false, error: new Error('the upload was interrupted (the connection to the console broke)') }),
      );
      xhr.addEventListener('abort', () => resolve({ cancelled: true }));
      t.status.textContent = 'starting';
      progress(t, 0, file.size);
      xhr.send(file);
    });
  }

  // ---- drag and drop ------------------------------------------------------------------------------------------
  const hasFiles = (ev) => Boolean(ev.dataTransfer) && [...ev.dataTransfer.types].includes('Files');
  panel.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dragDepth += 1;
    panel.classList.add(state.canUpload ? 'drop-active' : 'drop-refused');
  });
  panel.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = state.canUpload ? 'copy' : 'none';
  });
  panel.addEventListener('dragleave', (ev) => {
    if (!hasFiles(ev)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) panel.classList.remove('drop-active', 'drop-refused');
  });
  panel.addEventListener('drop', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dragDepth = 0;
    panel.classList.remove('drop-active', 'drop-refused');
    const files = [];
    let folders = 0;
    const items = ev.dataTransfer.items ? [...ev.dataTransfer.items] : [];
    if (items.length) {
      for (const item of items) {
        if (item.kind !== 'file') continue;
        const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
        if (entry && entry.isDirectory) {
          folders += 1;
          continue;
        }
        const file = item.getAsFile();
        if (file) files.push(file);
      }
    } else {
      files.push(...ev.dataTransfer.files);
    }
    if (folders) showError(errorBox, { message: `Folders cannot be uploaded (${folders} skipped).`, hint: 'Drop the files themselves, or upload an archive.' });
    queueUploads(files);
  });
  // A file dropped next to the panel must not replace the page.
  for (const type of ['dragover', 'drop']) {
    document.addEventListener(type, (ev) => {
      if (hasFiles(ev) && !panel.contains(ev.target)) ev.preventDefault();
    });
  }

  // ---- controls --------------------------------------------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('files-open', open);
    onLayout();
    if (open && !state.loaded && !state.loading) load('');
  }

  toggle.addEventListener('click', () => {
    setOpen(panel.hidden);
    if (!panel.hidden) (state.loaded ? refreshButton : closeButton).focus();
    else focusTerminal();
  });
  closeButton.addEventListener('click', () => {
    setOpen(false);
    toggle.focus();
  });
  upButton.addEventListener('click', () => {
    if (state.parent) load(state.parent);
  });
  refreshButton.addEventListener('click', () => load(state.path ?? ''));
  hidden.addEventListener('change', () => {
    state.showHidden = hidden.checked;
    render();
  });
  mkdirButton.addEventListener('click', makeFolder);
  uploadInput.addEventListener('change', () => {
    const files = [...uploadInput.files];
    uploadInput.value = '';
    queueUploads(files);
  });
  clearButton.addEventListener('click', () => {
    for (const t of transfers.filter((x) => x.final)) dropTransfer(t);
  });
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !document.querySelector('dialog[open]')) {
      ev.preventDefault();
      setOpen(false);
      toggle.focus();
    }
  });

  /** allowed: this participant may transfer files in this session; connected: the target is connected now. */
  function setAllowed(allowed, connected) {
    state.allowed = allowed;
    toggle.hidden = !allowed;
    toggle.disabled = !connected;
    // The session ended (or this browser became an observer): nothing more to do here. Queued uploads are
    // dropped; transfers in flight end on their own. The outcomes stay readable while there are any.
    for (const part of [panel.querySelector('.files-toolbar'), panel.querySelector('.files-list-wrap')]) {
      part.inert = !allowed;
    }
    panel.classList.toggle('files-inactive', !allowed);
    if (!allowed) {
      for (const t of [...transfers]) if (!t.final && !t.cancel) cancelTransfer(t);
      if (!panel.hidden && transfers.length === 0) setOpen(false);
    }
  }

  return { setAllowed, isOpen: () => !panel.hidden };
}
