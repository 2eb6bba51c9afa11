"""The byte layout of what console nodes publish to each other (``console_web/cluster/envelope.py``): requests,
replies and pipe frames round-trip, and anything else from the bus is refused with a BadEnvelope saying what was
wrong."""

from __future__ import annotations

import json

import pytest

from console_web.cluster import envelope
from console_web.cluster.envelope import (
    ACK,
    BINARY,
    CLOSE,
    FRAME_HEADER,
    MAX_MESSAGE,
    PIPE_ID_SIZE,
    TEXT,
    BadEnvelope,
    Frame,
    Reply,
    Request,
)

PIPE_ID = "0123456789abcdef"


def _frame_bytes(pipe_id: bytes = PIPE_ID.encode(), seq: int = 0, kind: int = TEXT, payload: bytes = b"") -> bytes:
    return envelope.FRAME + pipe_id + FRAME_HEADER.pack(seq, kind) + payload


# --- round trips -----------------------------------------------------------------------------------
def test_a_request_comes_out_as_it_went_in() -> None:
    request = Request("r1", "nodea", "sessions.list", {"user": 7, "names": ["ann", "bob"], "deep": {"x": None}})
    data = envelope.encode_request(request)
    assert data.startswith(b"Q")
    assert envelope.decode(data) == request


def test_a_successful_reply_carries_its_result_and_no_error() -> None:
    reply = Reply("r1", "nodeb", True, result={"sessions": [1, 2]})
    decoded = envelope.decode(envelope.encode_reply(reply))
    assert decoded == reply
    assert isinstance(decoded, Reply) and decoded.error is None


def test_a_failed_reply_carries_its_error_and_no_result() -> None:
    error = {"code": "not_found", "who": "user", "message": "no such session"}
    reply = Reply("r2", "nodeb", False, result="ignored", error=error)
    decoded = envelope.decode(envelope.encode_reply(reply))
    assert decoded == Reply("r2", "nodeb", False, None, error)


def test_a_successful_reply_whose_result_is_null_is_still_a_success() -> None:
    decoded = envelope.decode(envelope.encode_reply(Reply("r3", "nodeb", True)))
    assert decoded == Reply("r3", "nodeb", True, None, None)


@pytest.mark.parametrize("kind", [TEXT, BINARY, ACK, CLOSE])
def test_a_frame_of_every_kind_comes_out_as_it_went_in(kind: int) -> None:
    frame = Frame(PIPE_ID, 4_000_000_000, kind, bytes(range(256)) * 3)
    data = envelope.encode_frame(frame)
    assert len(data) == 1 + PIPE_ID_SIZE + FRAME_HEADER.size + 768
    assert envelope.decode(data) == frame


def test_a_frame_without_payload_comes_out_empty() -> None:
    frame = Frame(PIPE_ID, 0, BINARY, b"")
    assert envelope.decode(envelope.encode_frame(frame)) == frame


@pytest.mark.parametrize("pipe_id", ["short", "0123456789abcdef0", "0123456789abcdé"])
def test_a_frame_is_not_encoded_for_a_pipe_id_that_is_not_16_ascii_characters(pipe_id: str) -> None:
    with pytest.raises((ValueError, UnicodeEncodeError)):
        envelope.encode_frame(Frame(pipe_id, 0, TEXT, b""))


def test_the_largest_message_is_accepted() -> None:
    data = _frame_bytes(kind=BINARY, payload=b"\0" * (MAX_MESSAGE - 1 - PIPE_ID_SIZE - FRAME_HEADER.size))
    assert len(data) == MAX_MESSAGE
    decoded = envelope.decode(data)
    assert isinstance(decoded, Frame) and len(decoded.payload) == MAX_MESSAGE - 22


# --- what is refused -------------------------------------------------------------------------------
def test_an_empty_message_is_refused() -> None:
    with pytest.raises(BadEnvelope, match="a message of 0 bytes"):
        envelope.decode(b"")


def test_a_message_over_the_largest_size_is_refused_naming_its_size() -> None:
    with pytest.raises(BadEnvelope, match=f"a message of {MAX_MESSAGE + 1} bytes"):
        envelope.decode(b"F" + b"\0" * MAX_MESSAGE)


@pytest.mark.parametrize("data", [b"X{}", b"q{}", b"{}", b"\x00"])
def test_a_message_with_an_unknown_tag_is_refused_naming_the_tag(data: bytes) -> None:
    with pytest.raises(BadEnvelope, match="a message tagged") as err:
        envelope.decode(data)
    assert repr(data[:1]) in str(err.value)


@pytest.mark.parametrize("length", [1, 1 + PIPE_ID_SIZE, 1 + PIPE_ID_SIZE + FRAME_HEADER.size - 1])
def test_a_frame_shorter_than_its_header_is_refused(length: int) -> None:
    with pytest.raises(BadEnvelope, match="a frame shorter than its header"):
        envelope.decode(_frame_bytes()[:length])


def test_a_frame_whose_pipe_id_is_not_ascii_is_refused() -> None:
    with pytest.raises(BadEnvelope, match="a frame whose pipe id is not ASCII"):
        envelope.decode(_frame_bytes(pipe_id=b"\xff" * PIPE_ID_SIZE))


@pytest.mark.parametrize("kind", [0, 5, 255])
def test_a_frame_of_unknown_kind_is_refused_naming_the_kind(kind: int) -> None:
    with pytest.raises(BadEnvelope, match=f"a frame of unknown kind {kind}$"):
        envelope.decode(_frame_bytes(kind=kind))


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe", b'{"id": "r1"'])
@pytest.mark.parametrize("tag", [b"Q", b"P"])
def test_a_request_or_reply_that_is_not_json_is_refused(tag: bytes, body: bytes) -> None:
    with pytest.raises(BadEnvelope, match="a request or reply that is not JSON"):
        envelope.decode(tag + body)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        7,
        None,
        {"from": "nodea", "op": "x", "args": {}},
        {"id": "r1", "op": "x", "args": {}},
        {"id": 1, "from": "nodea", "op": "x", "args": {}},
        {"id": "r1", "from": None, "op": "x", "args": {}},
    ],
)
@pytest.mark.parametrize("tag", [b"Q", b"P"])
def test_a_request_or_reply_without_its_id_and_sender_is_refused(tag: bytes, body: object) -> None:
    with pytest.raises(BadEnvelope, match="a request or reply without its id and sender"):
        envelope.decode(tag + json.dumps(body).encode())


@pytest.mark.parametrize(
    "body",
    [
        {"id": "r1", "from": "nodea", "args": {}},
        {"id": "r1", "from": "nodea", "op": "x"},
        {"id": "r1", "from": "nodea", "op": 3, "args": {}},
        {"id": "r1", "from": "nodea", "op": "x", "args": []},
        {"id": "r1", "from": "nodea", "op": "x", "args": None},
    ],
)
def test_a_request_without_its_op_and_args_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(BadEnvelope, match="a request without its op and args"):
        envelope.decode(b"Q" + json.dumps(body).encode())


@pytest.mark.parametrize(
    "body",
    [
        {"id": "r1", "from": "nodeb"},
        {"id": "r1", "from": "nodeb", "result": 1},
        {"id": "r1", "from": "nodeb", "ok": "yes", "result": 1},
        {"id": "r1", "from": "nodeb", "ok": 1, "result": 1},
        {"id": "r1", "from": "nodeb", "ok": False},
        {"id": "r1", "from": "nodeb", "ok": False, "error": "it broke"},
        {"id": "r1", "from": "nodeb", "ok": False, "error": None},
    ],
)
def test_a_reply_without_its_outcome_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(BadEnvelope, match="a reply without its outcome"):
        envelope.decode(b"P" + json.dumps(body).encode())


def test_a_bad_envelope_is_a_value_error() -> None:
    assert issubclass(BadEnvelope, ValueError)


# --- close payloads --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "reason"), [(1000, ""), (1001, "console node stopping"), (4403, "removed by ann: späte Stunde")]
)
def test_a_close_payload_round_trips_its_code_and_reason(code: int, reason: str) -> None:
    assert envelope.parse_close(envelope.close_payload(code, reason)) == (code, reason)


def test_a_close_reason_is_cut_to_120_bytes() -> None:
    code, reason = envelope.parse_close(envelope.close_payload(1000, "x" * 500))
    assert (code, reason) == (1000, "x" * 120)


def test_a_close_reason_cut_inside_a_character_still_reads() -> None:
    code, reason = envelope.parse_close(envelope.close_payload(1000, "a" + "é" * 100))
    assert (code, reason) == (1000, "a" + "é" * 59 + "\N{REPLACEMENT CHARACTER}")


@pytest.mark.parametrize("payload", [b"", b"\x03"])
def test_a_close_payload_too_short_for_its_code_reads_as_a_protocol_error(payload: bytes) -> None:
    assert envelope.parse_close(payload) == (1002, "malformed close")
