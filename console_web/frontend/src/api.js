// A small fetch wrapper for the console's REST API (/api/v1): JSON in and out, the CSRF token on unsafe
// methods, errors turned into ApiError (message + hint), and a redirect to /login when the login expired.

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let csrfToken_ = null;
let mePromise = null;

/** An error answered by the API: `{"error": {code, who, message, hint?, details?}}`. */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const err = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : {};
    super(typeof err.message === 'string' && err.message ? err.message : `The console answered HTTP ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof err.code === 'string' ? err.code : 'http_' + status;
    this.who = typeof err.who === 'string' ? err.who : '';
    this.hint = typeof err.hint === 'string' ? err.hint : '';
    this.details = err.details && typeof err.details === 'object' ? err.details : {};
    this.retryAfter = retryAfter;
  }
}

/** Where to send the user to log in again, coming back here afterwards. */
export function loginUrl() {
  return '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

/** Remember the CSRF token of the login session (from the login answer or GET /me). */
export function setCsrfToken(token) {
  csrfToken_ = typeof token === 'string' && token ? token : null;
}

/**
 * Call the API. `path` is relative to /api/v1 unless it starts with /api/.
 * Options: `redirectOn401` (default true): go to /login when the login session is gone; `csrf` (default true):
 * fetch and send the login session's CSRF token on unsafe methods (false for public routes such as POST /join,
 * where a guest has no login session to ask).
 */
export async function api(method, path, body, { redirectOn401 = true, csrf = true } = {}) {
  method = method.toUpperCase();
  const url = path.startsWith('/api/') ? path : '/api/v1' + path;
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (UNSAFE.has(method) && csrf) {
    if (csrfToken_ === null && url !== '/api/v1/auth/login') {
      await me();
    }
    if (csrfToken_ !== null) headers['X-CSRF-Token'] = csrfToken_;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (exc) {
    const err = new ApiError(0, {
      error: { message: 'The console cannot be reached.', hint: 'Check your network connection and try again.' },
    });
    err.cause = exc;
    throw err;
  }
  let data = null;
  if (resp.status !== 204) {
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
  }
  if (resp.status === 401 && redirectOn401) {
    location.assign(loginUrl());
    throw new ApiError(401, data);
  }
  if (!resp.ok) {
    const ra = Number.parseInt(resp.headers.get('Retry-After') || '', 10);
    throw new ApiError(resp.status, data, Number.isFinite(ra) ? ra : null);
  }
  return data;
}

/** The login session's CSRF token, for requests made without api() (uploads with XMLHttpRequest). */
export async function csrfToken() {
  if (csrfToken_ === null) await me();
  return csrfToken_;
}

/** An ApiError from a status and the raw text of an answer (JSON error body or anything else). */
export function apiErrorFrom(status, text, retryAfter = null) {
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return new ApiError(status, body, retryAfter);
}

/** GET /me once per page (it also carries the CSRF token of the login session). */
export function me() {
  if (mePromise === null) {
    mePromise = api('GET', '/me').then(
      (user) => {
        if (user && user.csrf_token) setCsrfToken(user.csrf_token);
        return user;
      },
      (exc) => {
        mePromise = null;
        throw exc;
      },
    );
  }
  return mePromise;
}

/** A list from an answer that is either a bare array or an object wrapping one. */
export function asList(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    for (const k of [...keys, 'items', 'data', 'results']) {
      if (Array.isArray(data[k])) return data[k];
    }
  }
  return [];
}

/** Per-field messages of a validation error, as {field: message}. Accepts the shapes the API may use. */
export function fieldErrors(err) {
  const out = {};
  if (!(err instanceof ApiError)) return out;
  const d = err.details || {};
  if (d.fields && typeof d.fields === 'object' && !Array.isArray(d.fields)) {
    for (const [k, v] of Object.entries(d.fields)) out[k] = Array.isArray(v) ? v.join(' ') : String(v);
  }
  const list = Array.isArray(d.errors) ? d.errors : Array.isArray(d.fields) ? d.fields : [];
  for (const e of list) {
    if (!e || typeof e !== 'object') continue;
    let field = e.field ?? e.name ?? e.loc;
    if (Array.isArray(field)) field = field.filter((p) => p !== 'body').join('.');
    const msg = e.message ?? e.msg;
    if (field && msg) out[String(field)] = String(msg);
  }
  if (typeof d.field === 'string' && !out[d.field]) out[d.field] = err.message;
  return out;
}
