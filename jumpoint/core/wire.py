"""The tunnel wire codec between the console and a Jumpoint (see docs/protocol.md).

Every WebSocket message on the tunnel is one binary frame::

    +--------+----------------+-----------------------------+
    | type:1 | channel:4 (BE) | payload (<= MAX_PAYLOAD)    |
    +--------+----------------+-----------------------------+

``CONTROL`` payloads are UTF-8 JSON objects validated against :data:`ControlMessage`; ``DATA`` payloads are
raw terminal bytes (output from the Jumpoint, keys from the console); ``CREDIT`` payloads are a 4-byte
big-endian byte count the receiver grants the sender on that channel (flow control, one window per
direction per channel). Channel 0 carries tunnel-level control; every session has its own channel.
Lengths are checked before anything is allocated or parsed.
"""

from __future__ import annotations

import json
import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from jumpoint.core.adapter import Target
from jumpoint.core.errors import ProtocolViolation
from jumpoint.core.hostkeys import KEY_BLOB_MAX, KNOWN_HOST_MAX, HostKey, check_known_host, parse_host_key

PROTOCOL_VERSION = 1
FRAME_CONTROL = 1
FRAME_DATA = 2
FRAME_CREDIT = 3
HEADER = struct.Struct(">BI")
CREDIT = struct.Struct(">I")
MAX_PAYLOAD = 64 * 1024
MAX_FRAME = HEADER.size + MAX_PAYLOAD
# aiohttp refuses a message whose size *equals* max_msg_size, so sockets carrying frames are given one byte more.
WS_MAX_MSG_SIZE = MAX_FRAME + 1
INITIAL_WINDOW = 1024 * 1024
MAX_CHANNEL = 2**31 - 1

Text = Annotated[str, Field(max_length=4096)]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Msg):
    """Jumpoint -> console, first message: who is speaking and what it can do."""

    t: Literal["hello"] = "hello"
    version: int
    agent: Text
    hostname: Text
    protocols: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=32)]


class Welcome(_Msg):
    """Console -> Jumpoint, answer to hello."""

    t: Literal["welcome"] = "welcome"
    version: int
    jumpoint_id: int
    name: Text


class Open(_Msg):
    """Console -> Jumpoint: start a session on this channel."""

    t: Literal["open"] = "open"
    session_id: Annotated[str, Field(max_length=64)]
    target: Target


class HostKeyInfo(_Msg):
    """A host key as shown to the rep."""

    algorithm: Annotated[str, Field(max_length=64)]
    fingerprint: Annotated[str, Field(max_length=128)]


class PromptFieldMsg(_Msg):
    """One question of a text prompt."""

    text: Annotated[str, Field(max_length=1024)]
    echo: bool


class HostKeyPrompt(_Msg):
    """Jumpoint -> console: an unknown host key awaits Save Key and Connect / Connect Only / Abort."""

    t: Literal["prompt_host_key"] = "prompt_host_key"
    id: Annotated[int, Field(ge=1)]
    host: Text
    port: int
    key: HostKeyInfo


class TextPrompt(_Msg):
    """Jumpoint -> console: questions for the rep (password, keyboard-interactive / MFA)."""

    t: Literal["prompt_text"] = "prompt_text"
    id: Annotated[int, Field(ge=1)]
    title: Text
    instruction: Text
    fields: Annotated[list[PromptFieldMsg], Field(max_length=16)]


class HostKeyAnswer(_Msg):
    """Console -> Jumpoint: the rep's host-key decision."""

    t: Literal["answer_host_key"] = "answer_host_key"
    id: int
    decision: Literal["save", "once", "abort"]


class TextAnswer(_Msg):
    """Console -> Jumpoint: answers to a text prompt, or ``cancelled``."""

    t: Literal["answer_text"] = "answer_text"
    id: int
    answers: Annotated[list[Annotated[str, Field(max_length=4096)]], Field(max_length=16)] = []
    cancelled: bool = False

    def __repr__(self) -> str:  # answers are secrets
        return f"TextAnswer(id={self.id}, answers=<{len(self.answers)} redacted>, cancelled={self.cancelled})"

    __str__ = __repr__


class Connected(_Msg):
    """Jumpoint -> console: logged in, output follows."""

    t: Literal["connected"] = "connected"


class ResizeMsg(_Msg):
    """Either way: the terminal size."""

    t: Literal["resize"] = "resize"
    cols: Annotated[int, Field(ge=1, le=1000)]
    rows: Annotated[int, Field(ge=1, le=500)]


class TitleMsg(_Msg):
    """Jumpoint -> console: the remote set the window title."""

    t: Literal["title"] = "title"
    text: Text


class BellMsg(_Msg):
    """Jumpoint -> console: the remote rang the bell."""

    t: Literal["bell"] = "bell"


class EchoMsg(_Msg):
    """Jumpoint -> console: remote echo turned on or off."""

    t: Literal["echo"] = "echo"
    echo: bool


class NoticeMsg(_Msg):
    """Jumpoint -> console: a system event for the session timeline."""

    t: Literal["notice"] = "notice"
    kind: Annotated[str, Field(max_length=64)]
    text: Text
    subject: Annotated[str, Field(max_length=1024)] | None = None


class Close(_Msg):
    """Console -> Jumpoint: end this session."""

    t: Literal["close"] = "close"
    reason: Text = ""


class ErrorBody(_Msg):
    """A :class:`~jumpoint.core.errors.JumpError` as sent on the wire."""

    code: Annotated[str, Field(max_length=64)]
    who: Literal["target", "user", "us"]
    message: Text
    hint: Text | None = None
    details: dict[str, Any] | None = None


class Closed(_Msg):
    """Jumpoint -> console: the session ended (``error`` set if it failed)."""

    t: Literal["closed"] = "closed"
    reason: Text = ""
    error: ErrorBody | None = None


FilePath = Annotated[str, Field(min_length=1, max_length=4096)]
FileKindField = Literal["file", "dir", "link", "other"]


class FileOpen(_Msg):
    """Console -> Jumpoint on a fresh channel: one file operation on the target of the session on ``session_channel``.

    ``path`` empty (``list`` only) means where browsing starts. ``roots``: the user's allowed folders (empty:
    anywhere), enforced on the Jumpoint against the target's canonical paths. ``size``: the bytes an upload sends.
    """

    t: Literal["file_open"] = "file_open"
    session_channel: Annotated[int, Field(ge=1, le=MAX_CHANNEL)]
    op: Literal["list", "download", "upload", "rename", "delete", "mkdir"]
    path: Annotated[str, Field(max_length=4096)] = ""
    to: FilePath | None = None
    size: Annotated[int, Field(ge=0, le=2**53)] | None = None
    overwrite: bool = False
    roots: Annotated[list[FilePath], Field(max_length=16)] = []


class FileEntryMsg(_Msg):
    """One directory entry."""

    name: Annotated[str, Field(min_length=1, max_length=1024)]
    kind: FileKindField
    size: Annotated[int, Field(ge=0)]
    mtime: float | None = None
    mode: Annotated[int, Field(ge=0)] | None = None


class FileEntries(_Msg):
    """Jumpoint -> console: a batch of a directory listing (``list``), before its ``file_result``."""

    t: Literal["file_entries"] = "file_entries"
    entries: Annotated[list[FileEntryMsg], Field(max_length=1000)]


class FileResult(_Msg):
    """Jumpoint -> console: the operation's canonical ``path``; for a download its ``size`` (DATA follows), for an
    upload the go-ahead (the console then sends DATA and ``file_end``); ``closed`` always ends the channel."""

    t: Literal["file_result"] = "file_result"
    path: FilePath
    kind: FileKindField | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    truncated: bool = False


class FileEnd(_Msg):
    """Console -> Jumpoint: every byte of the upload was sent; commit it."""

    t: Literal["file_end"] = "file_end"


ArgText = Annotated[str, Field(max_length=4096)]


class Request(_Msg):
    """Console -> Jumpoint on channel 0: a request (host-key cache, the credentials a rep may inject)."""

    t: Literal["request"] = "request"
    id: Annotated[int, Field(ge=1)]
    op: Literal["hostkeys.list", "hostkeys.remove", "credentials.list"]
    args: Annotated[
        dict[
            Annotated[str, Field(max_length=64)],
            ArgText | int | Annotated[list[ArgText], Field(max_length=256)] | None,
        ],
        Field(max_length=16),
    ] = {}


class Reply(_Msg):
    """Jumpoint -> console on channel 0: the answer to a :class:`Request`.

    A list result too large for one frame comes in parts: every part but the last has ``more`` set, and the
    receiver concatenates the parts' lists.
    """

    t: Literal["reply"] = "reply"
    id: int
    result: Any = None
    error: ErrorBody | None = None
    more: bool = False


# --- a Jumpoint cluster's trusted host keys (channel 0) ----------------------------------------------------------
# The console holds the keys every member of a Jumpoint trusts. A member reports a key its rep saved
# (``hostkey_saved``); the console stores it and passes it to the other members (``hostkey_added``); a member that
# connects gets the whole set (``hostkeys_sync``, in parts), which replaces its cache; an administrator's removal
# reaches every member (``hostkeys_removed``). TLS certificates travel the same way (algorithm ``x509-sha256``).
MAX_SYNC_KEYS = 1000
MAX_CLUSTER_KEYS = 100_000
"""The most keys a Jumpoint cluster trusts (the console stores no more; a member collects no more from a sync)."""


class HostKeyEntry(_Msg):
    """One trusted key: ``host`` (kept in lower case), ``port``, and the key as ``algorithm`` and base64 ``key``.

    Refused unless ``host`` is a plain host name or address, ``port`` is 1..65535 and ``key`` is base64 of a key
    of exactly ``algorithm`` (:func:`~jumpoint.core.hostkeys.parse_host_key`).
    """

    host: Annotated[str, Field(min_length=1, max_length=KNOWN_HOST_MAX)]
    port: Annotated[int, Field(ge=1, le=65535)]
    algorithm: Annotated[str, Field(min_length=1, max_length=64)]
    key: Annotated[str, Field(min_length=1, max_length=KEY_BLOB_MAX)]

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str) -> str:
        return check_known_host(value)

    @model_validator(mode="after")
    def _key_of_its_algorithm(self) -> HostKeyEntry:
        parse_host_key(self.algorithm, self.key)
        return self

    @property
    def host_key(self) -> HostKey:
        """The key as the host-key store takes it."""
        return HostKey(algorithm=self.algorithm, blob_b64=self.key)


class HostKeySaved(HostKeyEntry):
    """Jumpoint -> console: a rep chose Save Key and Connect on this member; the cluster should trust the key."""

    t: Literal["hostkey_saved"] = "hostkey_saved"


class HostKeyAdded(HostKeyEntry):
    """Console -> Jumpoint: another member of the cluster saved this key; trust it too."""

    t: Literal["hostkey_added"] = "hostkey_added"


class HostKeysRemoved(_Msg):
    """Console -> Jumpoint: an administrator removed the keys of ``host:port`` (only ``fingerprint`` if given)."""

    t: Literal["hostkeys_removed"] = "hostkeys_removed"
    host: Annotated[str, Field(min_length=1, max_length=KNOWN_HOST_MAX)]
    port: Annotated[int, Field(ge=1, le=65535)]
    fingerprint: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str) -> str:
        return check_known_host(value)


class HostKeysSync(_Msg):
    """Console -> Jumpoint, when it connects: the cluster's keys, replacing the member's cache.

    A set too large for one frame comes in parts: every part but the last has ``more`` set; the member replaces
    its cache only with the last part, so a tunnel lost halfway changes nothing.
    """

    t: Literal["hostkeys_sync"] = "hostkeys_sync"
    keys: Annotated[list[HostKeyEntry], Field(max_length=MAX_SYNC_KEYS)]
    more: bool = False


def encode_host_key_sync(entries: list[HostKeyEntry]) -> list[bytes]:
    """The ``hostkeys_sync`` frames carrying ``entries`` (at least one frame, even for no keys)."""
    budget = MAX_PAYLOAD - 256  # the envelope around the list
    frames: list[bytes] = []
    part: list[HostKeyEntry] = []
    size = 0
    for entry in entries:
        entry_size = len(entry.model_dump_json()) + 1
        if part and (size + entry_size > budget or len(part) >= MAX_SYNC_KEYS):
            frames.append(encode_control(0, HostKeysSync(keys=part, more=True)))
            part, size = [], 0
        part.append(entry)
        size += entry_size
    frames.append(encode_control(0, HostKeysSync(keys=part)))
    return frames


class Draining(_Msg):
    """Jumpoint -> console (channel 0): this member is shutting down and refuses new Jumps; its running sessions go on
    until they end or the drain time is up. The console routes new Jumps to the cluster's other members."""

    t: Literal["draining"] = "draining"


ControlMessage = Annotated[
    Hello
    | Welcome
    | Open
    | HostKeyPrompt
    | TextPrompt
    | HostKeyAnswer
    | TextAnswer
    | Connected
    | ResizeMsg
    | TitleMsg
    | BellMsg
    | EchoMsg
    | NoticeMsg
    | Close
    | Closed
    | Request
    | Reply
    | FileOpen
    | FileEntries
    | FileResult
    | FileEnd
    | HostKeySaved
    | HostKeyAdded
    | HostKeysRemoved
    | HostKeysSync
    | Draining,
    Field(discriminator="t"),
]
_control_adapter: TypeAdapter[ControlMessage] = TypeAdapter(ControlMessage)


def encode_control(channel: int, msg: _Msg) -> bytes:
    """One CONTROL frame carrying ``msg``."""
    payload = msg.model_dump_json(exclude_none=True).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolViolation(f"control message {msg.__class__.__name__} is {len(payload)} bytes, over {MAX_PAYLOAD}")
    return HEADER.pack(FRAME_CONTROL, channel) + payload


def encode_reply(req_id: int, result: Any) -> list[bytes]:
    """The frames answering request ``req_id``: one, or for a list too large for a frame, several parts."""
    try:
        return [encode_control(0, Reply(id=req_id, result=result))]
    except ProtocolViolation:
        if not isinstance(result, list):
            raise
    budget = MAX_PAYLOAD - 256  # the envelope around the list
    frames: list[bytes] = []
    part: list[Any] = []
    size = 0
    for entry in result:
        entry_size = len(dumps_json(entry).encode()) + 1
        if entry_size > budget:
            raise ProtocolViolation(f"one entry of the reply is {entry_size} bytes, over {budget}")
        if size + entry_size > budget:
            frames.append(encode_control(0, Reply(id=req_id, result=part, more=True)))
            part, size = [], 0
        part.append(entry)
        size += entry_size
    frames.append(encode_control(0, Reply(id=req_id, result=part)))
    return frames


def encode_data(channel: int, data: bytes) -> bytes:
    """One DATA frame; ``data`` must be at most :data:`MAX_PAYLOAD` bytes (split larger output first)."""
    if len(data) > MAX_PAYLOAD:
        raise ProtocolViolation(f"data frame of {len(data)} bytes is over {MAX_PAYLOAD}")
    return HEADER.pack(FRAME_DATA, channel) + data


def encode_credit(channel: int, grant: int) -> bytes:
    """One CREDIT frame granting ``grant`` more bytes on ``channel``."""
    return HEADER.pack(FRAME_CREDIT, channel) + CREDIT.pack(grant)


def decode_header(frame: bytes) -> tuple[int, int]:
    """Return ``(type, channel)`` after checking the frame's length and type."""
    if len(frame) < HEADER.size:
        raise ProtocolViolation(f"frame of {len(frame)} bytes is shorter than its {HEADER.size}-byte header")
    if len(frame) > MAX_FRAME:
        raise ProtocolViolation(f"frame of {len(frame)} bytes is over the {MAX_FRAME}-byte limit")
    kind, channel = HEADER.unpack_from(frame)
    if kind not in (FRAME_CONTROL, FRAME_DATA, FRAME_CREDIT):
        raise ProtocolViolation(f"unknown frame type {kind}")
    if channel > MAX_CHANNEL:
        raise ProtocolViolation(f"channel {channel} is out of range")
    return kind, channel


def decode_control(payload: bytes | memoryview) -> ControlMessage:
    """Parse and validate a CONTROL payload; anything malformed raises :class:`ProtocolViolation`."""
    try:
        return _control_adapter.validate_json(bytes(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ProtocolViolation(f"malformed control message at {where}: {first['msg']}") from None


def decode_credit(payload: bytes | memoryview) -> int:
    """Parse a CREDIT payload."""
    if len(payload) != CREDIT.size:
        raise ProtocolViolation(f"credit frame payload must be {CREDIT.size} bytes, got {len(payload)}")
    (grant,) = CREDIT.unpack(payload)
    if grant == 0 or grant > 64 * 1024 * 1024:
        raise ProtocolViolation(f"credit grant {grant} is out of range")
    return int(grant)


def dumps_json(obj: Any) -> str:
    """Compact JSON for control messages sent to browsers."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
