import { afterEach, describe, expect, it, vi } from 'vitest';

import { goOnIfLoggedIn, loggedOutNotice } from '../src/login.js';

function answer(status, body) {
  return new Response(body === undefined ? '' : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the login page of a rep who is logged in already', () => {
  it('goes straight on to `next` when GET /api/v1/me answers (the same-site fetch sends the cookie)', async () => {
    const fetchMock = vi.fn(async () => answer(200, { id: 7, username: 'alice', csrf_token: 'c' }));
    vi.stubGlobal('fetch', fetchMock);
    const navigate = vi.fn();
    const next = '/api/client_script?type=web_console&search_string=web01';
    await expect(goOnIfLoggedIn(next, navigate)).resolves.toBe(true);
    expect(navigate).toHaveBeenCalledWith(next);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/v1/me');
    expect(init.method).toBe('GET');
    expect(init.credentials).toBe('same-origin');
  });

  it('keeps the form when the browser is not logged in (401), without redirecting to /login again', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(401, { error: { code: 'unauthorized', message: 'no' } })));
    const assign = vi.spyOn(location, 'assign').mockImplementation(() => {});
    const navigate = vi.fn();
    await expect(goOnIfLoggedIn('/console', navigate)).resolves.toBe(false);
    expect(navigate).not.toHaveBeenCalled();
    expect(assign).not.toHaveBeenCalled();
    assign.mockRestore();
  });

  it('keeps the form when the console cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('network down'))));
    const navigate = vi.fn();
    await expect(goOnIfLoggedIn('/console', navigate)).resolves.toBe(false);
    expect(navigate).not.toHaveBeenCalled();
  });
});

describe('the login page after Logout', () => {
  it('says "You have been logged out." for ?logged_out=1', () => {
    expect(loggedOutNotice('?logged_out=1')).toBe('You have been logged out.');
    expect(loggedOutNotice('?next=%2Fconsole&logged_out=1')).toBe('You have been logged out.');
  });

  it('shows nothing else: no other value, and never text from the URL', () => {
    for (const search of ['', '?next=%2Fconsole', '?logged_out=0', '?logged_out=Your+account+is+locked', '?logged_out=1x', '?message=hi']) {
      expect(loggedOutNotice(search), search).toBeNull();
    }
  });
});
