"""One exception hierarchy whose classes say who failed: the target, the user, or us.

Every error carries a stable ``code`` (used on the wire and in the API), a message a person can act on,
and an optional hint saying what to do next. Library exceptions are wrapped into these at the adapter
boundary; nothing else crosses the wire or reaches the browser.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Culprit = Literal["target", "user", "us"]


class JumpError(Exception):
    """Base of every error the product raises on purpose."""

    code: ClassVar[str] = "internal"
    who: ClassVar[Culprit] = "us"
    http_status: ClassVar[int] = 500
    _registry: ClassVar[dict[str, type[JumpError]]] = {}

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            JumpError._registry[cls.code] = cls

    def to_dict(self) -> dict[str, Any]:
        """The error as the JSON body the API, the tunnel and the browser socket send."""
        body: dict[str, Any] = {"code": self.code, "who": self.who, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body

    @staticmethod
    def from_dict(body: dict[str, Any]) -> JumpError:
        """Rebuild an error sent by :meth:`to_dict`; an unknown code becomes an :class:`InternalError`."""
        cls = JumpError._registry.get(str(body.get("code")), InternalError)
        details = body.get("details")
        return cls(
            str(body.get("message", "unknown error"))[:2000],
            hint=str(body["hint"])[:2000] if body.get("hint") else None,
            details=details if isinstance(details, dict) else None,
        )

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- the target failed -------------------------------------------------------------------------
class TargetError(JumpError):
    """The remote machine (or the path to it) failed."""

    code = "target_error"
    who = "target"
    http_status = 502


class TargetUnreachable(TargetError):
    """The name did not resolve, the connection was refused, or the network is unreachable."""

    code = "target_unreachable"


class TargetTimeout(TargetError):
    """The target did not answer in time."""

    code = "target_timeout"
    http_status = 504


class TargetAuthFailed(TargetError):
    """The target refused the credentials."""

    code = "target_auth_failed"


class HostKeyMismatch(TargetError):
    """The target presented a key that differs from the one cached for it: always refused."""

    code = "host_key_mismatch"


class HostKeyRejected(TargetError):
    """The rep chose Abort on an unknown host key."""

    code = "host_key_rejected"


class TargetClosed(TargetError):
    """The target closed the connection."""

    code = "target_closed"


class TargetDenied(TargetError):
    """The target refused an operation for lack of permission (a file it will not let this login read or write)."""

    code = "target_denied"
    http_status = 403


class TargetProtocolError(TargetError):
    """The target spoke something the adapter could not understand."""

    code = "target_protocol_error"


# --- the user failed ---------------------------------------------------------------------------
class UserError(JumpError):
    """The request was wrong: fix it and try again."""

    code = "bad_request"
    who = "user"
    http_status = 400


class BadRequest(UserError):
    """A field, a message or a file is malformed."""

    code = "bad_request"


class Unauthorized(UserError):
    """No valid login session or token."""

    code = "unauthorized"
    http_status = 401


class Forbidden(UserError):
    """Logged in, but not allowed to do this."""

    code = "forbidden"
    http_status = 403


class NotFound(UserError):
    """The thing asked for does not exist (or is not visible to this user)."""

    code = "not_found"
    http_status = 404


class Conflict(UserError):
    """The request conflicts with the current state (a duplicate name, a used key)."""

    code = "conflict"
    http_status = 409


class PayloadTooLarge(UserError):
    """A body, a field or a message is over its size bound."""

    code = "payload_too_large"
    http_status = 413


class TooManyRequests(UserError):
    """Rate limited: wait and try again."""

    code = "too_many_requests"
    http_status = 429


class Cancelled(UserError):
    """The user ended or abandoned the operation."""

    code = "cancelled"
    http_status = 409


# --- we failed ---------------------------------------------------------------------------------
class ServiceError(JumpError):
    """The console or the Jumpoint failed."""

    code = "service_error"
    who = "us"
    http_status = 500


class InternalError(ServiceError):
    """A bug or an unexpected condition; the log has the details."""

    code = "internal"


class Busy(ServiceError):
    """A limit was reached (sessions, participants, queue): try again later."""

    code = "busy"
    http_status = 503


class JumpointUnavailable(ServiceError):
    """The Jumpoint serving this item is not connected to the console."""

    code = "jumpoint_unavailable"
    http_status = 503


class ProtocolViolation(ServiceError):
    """A peer of ours (console, Jumpoint or browser) sent a malformed message."""

    code = "protocol_violation"
    http_status = 400


class ConfigError(ServiceError):
    """A configuration file or value is invalid; the message names the file, the key and what was expected."""

    code = "config_error"


class CredentialStoreUnavailable(ServiceError):
    """The credential store cannot answer: unreachable, sealed, on standby, or too slow."""

    code = "credential_store_unavailable"
    http_status = 503


class CredentialStoreDenied(ServiceError):
    """The credential store refused the Jumpoint (its token or policy does not cover the path)."""

    code = "credential_store_denied"
    http_status = 502
