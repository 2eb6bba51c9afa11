"""What crosses between console nodes, as JSON: principals, Jumps, sessions, Jumpoint states, guests.

Each ``*_from`` function validates what it rebuilds (another node runs the same code, but a message that does not
fit is refused with ProtocolViolation rather than trusted).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from console_web.auth.guests import Guest
from console_web.auth.principal import Principal
from console_web.hub.clusters import JumpointLive, MemberLive
from console_web.hub.file_channel import FileOp
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core.adapter import Target
from jumpoint.core.errors import ProtocolViolation


def _fields(data: Any, cls: type, what: str) -> Any:
    if not isinstance(data, dict):
        raise ProtocolViolation(f"another console node sent a {what} that is not an object")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ProtocolViolation(f"another console node sent a malformed {what}: {exc}") from None


def principal_to(principal: Principal) -> dict[str, Any]:
    """A principal as JSON."""
    return asdict(principal)


def _typed(obj: Any, types: dict[str, type | tuple[type, ...]], what: str) -> None:
    for name, kind in types.items():
        value = getattr(obj, name)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise ProtocolViolation(f"another console node sent a {what} whose {name} is not a {kind}")


def principal_from(data: Any) -> Principal:
    """A principal from JSON."""
    principal: Principal = _fields(data, Principal, "principal")
    _typed(principal, {"user_id": int, "username": str, "display_name": str, "is_admin": bool}, "principal")
    if principal.address is not None and (not isinstance(principal.address, str) or len(principal.address) > 64):
        raise ProtocolViolation("another console node sent a principal whose address is not an address")
    if principal.via not in ("session", "token"):
        raise ProtocolViolation("another console node sent a malformed principal")
    return principal


def jump_to(jump: JumpRequest) -> dict[str, Any]:
    """A Jump as JSON (the target as its validated model)."""
    body = asdict(jump)
    body["target"] = jump.target.model_dump(mode="json")
    return body


def jump_from(data: Any) -> JumpRequest:
    """A Jump from JSON; its target is validated again."""
    if not isinstance(data, dict):
        raise ProtocolViolation("another console node sent a Jump that is not an object")
    try:
        target = Target.model_validate(data.get("target"))
    except ValidationError as exc:
        raise ProtocolViolation(f"another console node sent an invalid Jump target: {exc}") from None
    jump: JumpRequest = _fields({**data, "target": target}, JumpRequest, "Jump")
    return jump


def session_to(info: SessionInfo) -> dict[str, Any]:
    """A live session's listing as JSON."""
    return asdict(info)


def session_from(data: Any) -> SessionInfo:
    """A live session's listing from JSON."""
    info: SessionInfo = _fields(data, SessionInfo, "session")
    _typed(
        info,
        {
            "session_id": str,
            "item_id": int,
            "item_name": str,
            "owner_user_id": int,
            "jumpoint_id": int,
            "protocol": str,
            "state": str,
            "started_at": str,
            "participants": list,
            "joined": bool,
        },
        "session",
    )
    return info


def jumpoints_to(live: dict[int, JumpointLive]) -> dict[str, Any]:
    """Jumpoint states as JSON (keys as strings)."""
    return {
        str(jumpoint_id): {
            "connected": state.connected,
            "members": {
                str(member_id): {**asdict(m), "connected_since": m.connected_since.isoformat()}
                for member_id, m in state.members.items()
            },
        }
        for jumpoint_id, state in live.items()
    }


def jumpoints_from(data: Any) -> dict[int, JumpointLive]:
    """Jumpoint states from JSON."""
    if not isinstance(data, dict):
        raise ProtocolViolation("another console node sent Jumpoint states that are not an object")
    out: dict[int, JumpointLive] = {}
    try:
        for key, state in data.items():
            members = {
                int(member_id): MemberLive(**{**m, "connected_since": datetime.fromisoformat(m["connected_since"])})
                for member_id, m in state["members"].items()
            }
            out[int(key)] = JumpointLive(bool(state["connected"]), members)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolViolation(f"another console node sent malformed Jumpoint states: {exc!r}") from None
    return out


def merge_jumpoints(parts: list[dict[int, JumpointLive]]) -> dict[int, JumpointLive]:
    """Several nodes' views of the same Jumpoints as one: connected when any node has it connected."""
    merged: dict[int, JumpointLive] = {}
    for part in parts:
        for jumpoint_id, state in part.items():
            seen = merged.get(jumpoint_id)
            if seen is None:
                merged[jumpoint_id] = state
            else:
                merged[jumpoint_id] = JumpointLive(seen.connected or state.connected, {**seen.members, **state.members})
    return merged


def file_op_to(op: FileOp) -> dict[str, Any]:
    """A file operation as JSON."""
    return {**asdict(op), "roots": list(op.roots)}


def file_op_from(data: Any) -> FileOp:
    """A file operation from JSON (its paths are checked again on the Jumpoint)."""
    if not isinstance(data, dict) or data.get("op") not in ("list", "download", "upload", "rename", "delete", "mkdir"):
        raise ProtocolViolation("another console node sent a malformed file operation")
    roots = data.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise ProtocolViolation("another console node sent a file operation with malformed roots")
    op: FileOp = _fields({**data, "roots": tuple(roots)}, FileOp, "file operation")
    return op


def guest_to(guest: Guest) -> dict[str, Any]:
    """A guest as JSON."""
    return asdict(guest)


def guest_from(data: Any) -> Guest:
    """A guest from JSON."""
    guest: Guest = _fields(data, Guest, "guest")
    _typed(guest, {"guest_id": str, "display_name": str, "session_id": str, "mode": str}, "guest")
    return guest
