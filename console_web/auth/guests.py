"""External invitees: guests without an account, each allowed into exactly one live session.

A guest redeems a one-time external key and gets a random token in a cookie (``__Host-oj_guest`` with Secure when
the browser uses HTTPS, as for the login cookie in :mod:`console_web.auth.cookies`; ``oj_guest`` over plain HTTP;
HttpOnly, SameSite=Strict). Only the token's SHA-256 is kept, in memory: a guest
lives no longer than the session it was invited to (or the console process).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from aiohttp import web

from console_web.auth.cookies import browser_uses_https

SECURE_GUEST_COOKIE = "__Host-oj_guest"
PLAIN_GUEST_COOKIE = "oj_guest"
MAX_GUESTS = 10_000


@dataclass(frozen=True, slots=True)
class Guest:
    """An external invitee of one session."""

    guest_id: str
    display_name: str
    session_id: str
    mode: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class GuestRegistry:
    """Guest tokens (hashed) of the live sessions."""

    def __init__(self, id_prefix: str = "") -> None:
        self._prefix = id_prefix  # a console node's "<node>_" in a cluster: the token says which node knows it
        self._by_hash: dict[str, Guest] = {}

    def create(self, *, display_name: str, session_id: str, mode: str) -> tuple[str, Guest]:
        """A new guest and the token to put in its cookie."""
        if len(self._by_hash) >= MAX_GUESTS:
            raise RuntimeError("too many guests")
        token = self._prefix + secrets.token_urlsafe(32)
        guest = Guest(secrets.token_hex(8), display_name, session_id, mode)
        self._by_hash[_hash(token)] = guest
        return token, guest

    def lookup(self, request: web.BaseRequest) -> Guest | None:
        """The guest whose cookie the request carries, if any."""
        token = guest_token(request)
        return self.by_token(token) if token else None

    def by_token(self, token: str) -> Guest | None:
        """The guest of a cookie token, if it is live here."""
        return self._by_hash.get(_hash(token)) if len(token) <= 128 else None

    def revoke(self, guest_id: str) -> None:
        """Forget one guest (removed from its session)."""
        for key, guest in list(self._by_hash.items()):
            if guest.guest_id == guest_id:
                del self._by_hash[key]

    def revoke_session(self, session_id: str) -> None:
        """Forget every guest of a session (it ended)."""
        for key, guest in list(self._by_hash.items()):
            if guest.session_id == session_id:
                del self._by_hash[key]


def guest_cookie_name(request: web.BaseRequest) -> str:
    """``__Host-oj_guest`` when the browser uses HTTPS (a TLS proxy in front included), else ``oj_guest``."""
    return SECURE_GUEST_COOKIE if browser_uses_https(request) else PLAIN_GUEST_COOKIE


def guest_token(request: web.BaseRequest) -> str | None:
    """The guest cookie's token, if the request carries a plausible one (read under the name it is set under)."""
    token = request.cookies.get(guest_cookie_name(request))
    return token if token and len(token) <= 128 else None


def set_guest_cookie(response: web.StreamResponse, request: web.BaseRequest, token: str) -> None:
    """Set the guest cookie for the browser session (no max-age: it ends with the browser or the session)."""
    response.set_cookie(
        guest_cookie_name(request),
        token,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=browser_uses_https(request),
    )
