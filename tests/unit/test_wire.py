"""The tunnel codec refuses malformed frames with a message that names the problem."""

from __future__ import annotations

import pytest

from jumpoint.core import wire
from jumpoint.core.adapter import Target
from jumpoint.core.errors import ProtocolViolation


def test_control_message_round_trips_through_a_frame() -> None:
    target = Target(protocol="ssh", hostname="10.0.0.5", port=22, username="root")
    frame = wire.encode_control(7, wire.Open(session_id="abc", target=target))
    kind, channel = wire.decode_header(frame)
    assert (kind, channel) == (wire.FRAME_CONTROL, 7)
    msg = wire.decode_control(frame[wire.HEADER.size :])
    assert isinstance(msg, wire.Open) and msg.target == target


def test_data_frame_over_the_payload_limit_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="over 65536"):
        wire.encode_data(1, b"x" * (wire.MAX_PAYLOAD + 1))


def test_short_frame_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="shorter than its 5-byte header"):
        wire.decode_header(b"\x01\x00")


def test_oversized_frame_is_refused_before_parsing() -> None:
    with pytest.raises(ProtocolViolation, match="over the"):
        wire.decode_header(b"\x02" + b"\x00" * (wire.MAX_FRAME + 1))


def test_unknown_frame_type_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="unknown frame type 9"):
        wire.decode_header(b"\x09\x00\x00\x00\x01")


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b'{"t":"resize","cols":0,"rows":24}', "resize.cols"),
        (b'{"t":"nope"}', "message"),
        (b"not json", "message"),
        (
            b'{"t":"open","session_id":"s","target":{"protocol":"ssh","hostname":"-oProxyCommand=x","port":22}}',
            "open.target.hostname",
        ),
        (b'{"t":"resize","cols":80,"rows":24,"extra":1}', "resize.extra"),
    ],
)
def test_malformed_control_message_names_the_bad_field(payload: bytes, where: str) -> None:
    with pytest.raises(ProtocolViolation) as err:
        wire.decode_control(payload)
    assert where in err.value.message or (where == "message" and "malformed control message" in err.value.message)


def test_credit_of_zero_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="out of range"):
        wire.decode_credit(b"\x00\x00\x00\x00")


def test_text_answer_repr_never_shows_the_answers() -> None:
    answer = wire.TextAnswer(id=1, answers=["hunter2"])
    assert "hunter2" not in repr(answer) and "hunter2" not in str(answer)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"t":"file_open","session_channel":0,"op":"list"}', "file_open.session_channel"),
        ('{"t":"file_open","session_channel":1,"op":"chmod"}', "file_open.op"),
        ('{"t":"file_open","session_channel":1,"op":"list","path":"' + "a" * 4097 + '"}', "file_open.path"),
        ('{"t":"file_open","session_channel":1,"op":"upload","size":-1}', "file_open.size"),
        (
            '{"t":"file_open","session_channel":1,"op":"list","roots":[' + ",".join(['"/x"'] * 17) + "]}",
            "file_open.roots",
        ),
        ('{"t":"file_entries","entries":[{"name":"","kind":"file","size":1}]}', "file_entries.entries.0.name"),
        ('{"t":"file_result","path":"/x","size":-5}', "file_result.size"),
    ],
)
def test_malformed_file_messages_are_refused_naming_the_field(body: str, where: str) -> None:
    with pytest.raises(ProtocolViolation, match=f"malformed control message at {where}"):
        wire.decode_control(body.encode())


def test_a_directory_listing_batch_fits_in_one_frame() -> None:
    entry = wire.FileEntryMsg(name="n" * 255, kind="file", size=2**40, mtime=1.5e9, mode=0o100644)
    batch = wire.FileEntries(entries=[entry] * 140)  # the Jumpoint's batches stay under 48 KiB of names
    assert len(wire.encode_control(3, batch)) <= wire.MAX_FRAME


def test_a_reply_too_large_for_one_frame_comes_in_parts_that_add_up() -> None:
    entries = [{"ref": f"vault:secret/team/{i:04d}-{'x' * 60}", "kind": None} for i in range(2000)]
    frames = wire.encode_reply(7, entries)
    assert len(frames) > 1
    replies = [wire.decode_control(f[wire.HEADER.size :]) for f in frames]
    assert all(isinstance(r, wire.Reply) and r.id == 7 for r in replies)
    assert [r.more for r in replies if isinstance(r, wire.Reply)] == [True] * (len(frames) - 1) + [False]
    joined = [e for r in replies if isinstance(r, wire.Reply) for e in r.result]
    assert joined == entries
    assert all(len(f) <= wire.MAX_FRAME for f in frames)


def test_a_small_reply_is_one_frame() -> None:
    [frame] = wire.encode_reply(3, {"removed": 1})
    assert wire.decode_control(frame[wire.HEADER.size :]) == wire.Reply(id=3, result={"removed": 1})


def test_a_credentials_request_carries_its_scopes_and_bounds_them() -> None:
    req = wire.Request(id=1, op="credentials.list", args={"scopes": ["vault:secret/a/"], "item": "web", "user": "r"})
    assert wire.decode_control(wire.encode_control(0, req)[wire.HEADER.size :]) == req
    too_many = (
        b'{"t":"request","id":1,"op":"credentials.list","args":{"scopes":['
        + b",".join(b'"x"' for _ in range(300))
        + b"]}}"
    )
    with pytest.raises(ProtocolViolation, match="args"):
        wire.decode_control(too_many)
