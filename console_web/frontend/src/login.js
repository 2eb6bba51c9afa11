// The login page: POST /api/v1/auth/login, then go to `next` (same-origin relative paths only) or /console.
// A rep who is logged in already goes straight on to `next`: a link followed from another site (a Client Scripting
// URL in a ticketing tool) arrives here because the browser held the SameSite=Strict cookie back on that
// cross-site navigation, but this page's own GET /api/v1/me is same-site, so it sends the cookie.

import { ApiError, api, setCsrfToken } from './api.js';
import { $, showError, showInfo } from './ui.js';

export const LOGGED_OUT_MESSAGE = 'You have been logged out.';

/**
 * The line to show after Logout (`?logged_out=1`, set by the header's Logout button), else null. Always the same
 * text: nothing from the URL is shown, so a link cannot make this page say something else.
 */
export function loggedOutNotice(search) {
  return new URLSearchParams(search).get('logged_out') === '1' ? LOGGED_OUT_MESSAGE : null;
}

/** `next` if it is a relative path on this origin, otherwise /console. */
export function safeNext(raw) {
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) {
    return '/console';
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return '/console';
  let url;
  try {
    url = new URL(raw, location.origin);
  } catch {
    return '/console';
  }
  if (url.origin !== location.origin || url.pathname.startsWith('/login')) return '/console';
  return url.pathname + url.search + url.hash;
}

/**
 * Ask GET /api/v1/me whether this browser is logged in; if so, go on to `next` with `navigate` (by default
 * location.replace, so Back does not return to this page) and resolve true. Resolves false when not logged in or
 * when the console cannot be asked (the form stays).
 */
export async function goOnIfLoggedIn(next, navigate = (url) => location.replace(url)) {
  let user;
  try {
    user = await api('GET', '/me', undefined, { redirectOn401: false });
  } catch {
    return false;
  }
  if (!user || typeof user !== 'object' || user.id === undefined) return false;
  navigate(next);
  return true;
}

function main() {
  const form = $('#login-form');
  const errorBox = $('#login-error');
  const submit = $('#login-submit');
  const next = safeNext(new URLSearchParams(location.search).get('next'));
  const notice = loggedOutNotice(location.search);
  if (notice) showInfo(errorBox, notice);
  let lockedUntil = 0;
  let timer = null;

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (Date.now() < lockedUntil) return;
    const username = form.elements.namedItem('username').value.trim();
    const passwordInput = form.elements.namedItem('password');
    if (!username || !passwordInput.value) {
      showError(errorBox, { message: 'Enter your username and password.' });
      return;
    }
    submit.disabled = true;
    showError(errorBox, null);
    try {
      const answer = await api(
        'POST',
        '/auth/login',
        { username, password: passwordInput.value },
        { redirectOn401: false },
      );
      passwordInput.value = '';
      setCsrfToken(answer && answer.csrf_token);
      location.assign(next);
      return;
    } catch (exc) {
      passwordInput.value = '';
      if (exc instanceof ApiError && exc.status === 401 && !exc.hint) {
        exc.hint = 'Check your username and password and try again.';
      }
      showError(errorBox, exc);
      if (exc instanceof ApiError && exc.status === 429) {
        const seconds = exc.retryAfter || Number(exc.details.retry_after_seconds) || 30;
        lockedUntil = Date.now() + seconds * 1000;
        clearTimeout(timer);
        timer = setTimeout(() => {
          submit.disabled = false;
        }, seconds * 1000);
        passwordInput.focus();
        return;
      }
      passwordInput.focus();
    }
    submit.disabled = false;
  });
  form.elements.namedItem('username').focus();
  goOnIfLoggedIn(next);
}

if (document.getElementById('login-form')) main();
