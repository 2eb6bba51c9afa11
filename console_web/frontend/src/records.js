// Helpers shared by the history, report and audit pages: durations, local dates as API times, query strings.

const pad = (n) => String(n).padStart(2, '0');

/** "1 h 02 min", "3 min 05 s", "12 s" for a number of seconds. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${pad(m)} min`;
  if (m) return `${m} min ${pad(r)} s`;
  return `${r} s`;
}

/** A position in a recording as "m:ss" or "h:mm:ss". */
export function formatOffset(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The ISO instant of a local `<input type=date>` value (start of that day), or '' when empty. */
export function dayStart(value) {
  if (!value) return '';
  const d = new Date(`${value}T00:00:00`);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** The ISO instant just after a local `<input type=date>` day (the API's `until` is exclusive), or ''. */
export function dayEnd(value) {
  if (!value) return '';
  const d = new Date(`${value}T00:00:00`);
  if (Number.isNaN(d.getTime())) return '';
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

/** The ISO instant of a local `<input type=datetime-local>` value, or ''. */
export function localInstant(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** `?a=1&b=2` from an object, leaving out empty values ('' when nothing is left). */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? '?' + text : '';
}

/** Copy the page's own query parameters into the named fields of `form`. */
export function formFromLocation(form, names) {
  const params = new URLSearchParams(location.search);
  for (const name of names) {
    const input = form.elements.namedItem(name);
    if (input && params.has(name)) input.value = params.get(name);
  }
}

/** Put the form's field values in the page's address (so reload and back keep the filters). */
export function locationFromForm(form, names) {
  const params = {};
  for (const name of names) {
    const input = form.elements.namedItem(name);
    if (input) params[name] = input.value.trim();
  }
  history.replaceState(null, '', location.pathname + queryString(params));
}
