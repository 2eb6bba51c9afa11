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
        (b'{"t":"open","session_id":"s","target":{"protocol":"ssh","hostname":"-oProxyCommand=x","port":22}}',
         "open.target.hostname"),
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
