// The login page: POST /api/v1/auth/login, then go to `next` (same-origin relative paths only) or /console.

import { ApiError, api, setCsrfToken } from './api.js';
import { $, showError } from './ui.js';

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

function main() {
  const form = $('#login-form');
  const errorBox = $('#login-error');
  const submit = $('#login-submit');
  const next = safeNext(new URLSearchParams(location.search).get('next'));
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
        const seconds = exc.retryAfter || Number(exc.details.retry_after) || 30;
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
}

main();
