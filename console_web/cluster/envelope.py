"""The messages console nodes publish to each other through Redis, and their byte layout.

Every message is one Redis pub/sub message on a node's channel (``oj:n:<node>``) or on everyone's (``oj:all``):

- ``Q`` + JSON ``{"id", "from", "op", "args"}``: a request to the node(s);
- ``P`` + JSON ``{"id", "ok", "result" | "error"}``: the answer, on the asker's channel;
- ``F`` + pipe id (16 ASCII bytes) + ``>IB`` (sequence number, kind) + payload: a frame of a pipe (an ordered,
  windowed stream between two nodes, :mod:`console_web.cluster.pipe`).

Nothing here trusts its input: a message that does not decode raises :class:`BadEnvelope`.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

REQUEST = b"Q"
REPLY = b"P"
FRAME = b"F"
PIPE_ID_SIZE = 16
FRAME_HEADER = struct.Struct(">IB")
MAX_MESSAGE = 16 * 1024 * 1024  # the largest message a node accepts: a terminal snapshot with long scrollback

# frame kinds
TEXT = 1
BINARY = 2
ACK = 3  # payload: ">Q" bytes consumed so far (cumulative)
CLOSE = 4  # payload: ">H" close code + reason (UTF-8)


class BadEnvelope(ValueError):
    """A message from the bus that is not one of ours (or is damaged)."""


@dataclass(frozen=True, slots=True)
class Request:
    """A request to one node or to all."""

    id: str
    sender: str
    op: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request: ``result`` when ``ok``, else ``error`` (a JumpError's dict)."""

    id: str
    sender: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a pipe."""

    pipe_id: str
    seq: int
    kind: int
    payload: bytes


def encode_request(request: Request) -> bytes:
    """``Q`` + JSON."""
    body = {"id": request.id, "from": request.sender, "op": request.op, "args": request.args}
    return REQUEST + json.dumps(body, separators=(",", ":")).encode()


def encode_reply(reply: Reply) -> bytes:
    """``P`` + JSON."""
    body: dict[str, Any] = {"id": reply.id, "from": reply.sender, "ok": reply.ok}
    if reply.ok:
        body["result"] = reply.result
    else:
        body["error"] = reply.error
    return REPLY + json.dumps(body, separators=(",", ":")).encode()


def encode_frame(frame: Frame) -> bytes:
    """``F`` + pipe id + header + payload."""
    pipe_id = frame.pipe_id.encode("ascii")
    if len(pipe_id) != PIPE_ID_SIZE:
        raise ValueError("a pipe id is 16 ASCII characters")
    return b"".join((FRAME, pipe_id, FRAME_HEADER.pack(frame.seq, frame.kind), frame.payload))


def decode(data: bytes) -> Request | Reply | Frame:
    """One message from the bus; BadEnvelope when it is not well formed."""
    if not data or len(data) > MAX_MESSAGE:
        raise BadEnvelope(f"a message of {len(data)} bytes")
    tag = data[:1]
    if tag == FRAME:
        head = 1 + PIPE_ID_SIZE
        if len(data) < head + FRAME_HEADER.size:
            raise BadEnvelope("a frame shorter than its header")
        try:
            pipe_id = data[1:head].decode("ascii")
        except UnicodeDecodeError:
            raise BadEnvelope("a frame whose pipe id is not ASCII") from None
        seq, kind = FRAME_HEADER.unpack_from(data, head)
        if kind not in (TEXT, BINARY, ACK, CLOSE):
            raise BadEnvelope(f"a frame of unknown kind {kind}")
        return Frame(pipe_id, seq, kind, data[head + FRAME_HEADER.size :])
    if tag not in (REQUEST, REPLY):
        raise BadEnvelope(f"a message tagged {tag!r}")
    try:
        body = json.loads(data[1:])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadEnvelope("a request or reply that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("from"), str):
        raise BadEnvelope("a request or reply without its id and sender")
    if tag == REQUEST:
        op, args = body.get("op"), body.get("args")
        if not isinstance(op, str) or not isinstance(args, dict):
            raise BadEnvelope("a request without its op and args")
        return Request(body["id"], body["from"], op, args)
    ok = body.get("ok")
    error = body.get("error")
    if not isinstance(ok, bool) or (not ok and not isinstance(error, dict)):
        raise BadEnvelope("a reply without its outcome")
    return Reply(body["id"], body["from"], ok, body.get("result"), error if not ok else None)


def close_payload(code: int, reason: str) -> bytes:
    """A CLOSE frame's payload."""
    return struct.pack(">H", code) + reason.encode()[:120]


def parse_close(payload: bytes) -> tuple[int, str]:
    """A CLOSE frame's code and reason (1002 and a note when malformed)."""
    if len(payload) < 2:
        return 1002, "malformed close"
    return struct.unpack_from(">H", payload)[0], payload[2:].decode(errors="replace")
