// The join page for external invitees (/join/<key>): a display name, then POST /api/v1/join {key, display_name},
// which spends the key and sets the guest cookie; then the session page. A guest has no login session, so no CSRF
// token is asked for or sent (the console exempts this public route).

import { ApiError, api } from './api.js';
import { $, showError } from './ui.js';

const NAME_MAX = 64;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** The session page to go to: a same-origin /sessions/... path only. */
function sessionPage(answer) {
  const page = answer && typeof answer.page === 'string' ? answer.page : '';
  if (/^\/sessions\/[A-Za-z0-9_-]{1,128}$/.test(page)) return page;
  if (answer && answer.session_id) return '/sessions/' + encodeURIComponent(answer.session_id);
  return null;
}

function main() {
  const key = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
  const form = $('#join-form');
  const input = $('#display-name');
  const submit = $('#join-submit');
  const errorBox = $('#join-error');
  if (!key) {
    showError(errorBox, { message: 'This invitation link is incomplete.', hint: 'Ask the representative who invited you for a new link.' });
    submit.disabled = true;
    return;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    const length = [...name].length;
    let problem = '';
    if (length < 1) problem = 'Enter your name.';
    else if (length > NAME_MAX) problem = `A name is at most ${NAME_MAX} characters.`;
    else if (CONTROL_RE.test(name)) problem = 'A name cannot contain control characters.';
    if (problem) {
      showError(errorBox, { message: problem });
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    submit.disabled = true;
    showError(errorBox, null);
    try {
      const answer = await api('POST', '/join', { key, display_name: name }, { csrf: false, redirectOn401: false });
      const page = sessionPage(answer);
      if (!page) throw new Error('The console did not say which session to open.');
      location.href = page;
      return;
    } catch (exc) {
      showError(errorBox, exc);
      if (exc instanceof ApiError && exc.status === 429 && exc.retryAfter) {
        setTimeout(() => {
          submit.disabled = false;
        }, exc.retryAfter * 1000);
        return;
      }
    }
    submit.disabled = false;
  });
  input.focus();
}

main();
