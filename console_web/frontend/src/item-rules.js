// Rules of the Jump Item editor that must agree with the API (console_web/api/schemas.py, db/models.py): pure
// functions, so they can be tested without a page.

// The API counts characters (code points); a `maxlength` attribute counts UTF-16 units, so an emoji counts twice.
export const TEXT_MAX = { name: 128, tag: 64, username: 128, domain: 128, comments: 1024 };
// A host name (253) with room for ':65535' or the brackets of '[v6]:port', as the API allows.
export const HOSTNAME_FIELD_MAX = 253 + 8;

const LABELS = { name: 'A name', tag: 'A tag', username: 'A user name', domain: 'A domain', comments: 'Comments' };

/** `value`'s length as the API counts it: in code points. */
export function codePoints(value) {
  return [...String(value)].length;
}

/** The `maxlength` attribute for a field of `max` characters: never cuts a value the API would take. */
export function maxlengthFor(max) {
  return 2 * max;
}

/** {field: message} for each value (already trimmed, as sent) longer than the API allows. */
export function lengthProblems(values) {
  const problems = {};
  for (const [key, value] of Object.entries(values)) {
    const max = TEXT_MAX[key];
    const length = codePoints(value ?? '');
    if (max !== undefined && length > max) {
      problems[key] = `${LABELS[key]} has at most ${max} characters (this one has ${length}).`;
    }
  }
  return problems;
}

/**
 * The port a hostname carries (`host:port`, `[v6]:port`), or null: a bare host, a bare IPv6 address, or a port that
 * is not 1-65535 (the API then names the problem). `host` is the name without the port, as the API stores it.
 */
export function splitHostPort(text) {
  const value = String(text).trim();
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value) || /^([^:[\]]+):(\d{1,5})$/.exec(value);
  if (match) {
    const port = Number(match[2]);
    if (port >= 1 && port <= 65535) return { host: match[1], port };
  }
  return { host: value, port: null };
}
