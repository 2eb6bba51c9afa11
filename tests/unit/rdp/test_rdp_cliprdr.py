"""protocols.rdp.cliprdr: Unicode text clipboard over CLIPRDR (MS-RDPECLIP), both ways."""

from __future__ import annotations

import struct

import pytest

from protocols.rdp import cliprdr
from protocols.rdp.cliprdr import ClipboardChannel
from protocols.rdp.wire import MalformedPdu, Reader
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

CF_TEXT = 1
CF_HTML = 0xC0F3


def message(kind: int, data: bytes, flags: int = 0) -> bytes:
    """A CLIPRDR PDU: msgType, msgFlags, dataLen and the data."""
    return struct.pack("<HHI", kind, flags, len(data)) + data


def caps(long_names: bool) -> bytes:
    general = struct.pack("<HHII", 1, 12, 2, cliprdr.CB_USE_LONG_FORMAT_NAMES if long_names else 0)
    return message(cliprdr.CB_CLIP_CAPS, struct.pack("<HH", 1, 0) + general)


def long_format_list(*formats: tuple[int, str]) -> bytes:
    return message(
        cliprdr.CB_FORMAT_LIST, b"".join(struct.pack("<I", f) + (n + "\0").encode("utf-16-le") for f, n in formats)
    )


def short_format_list(*formats: tuple[int, str]) -> bytes:
    entries = b"".join(struct.pack("<I", f) + n.encode("utf-16-le")[:30].ljust(32, b"\0") for f, n in formats)
    return message(cliprdr.CB_FORMAT_LIST, entries)


def data_response(text: str, ok: bool = True) -> bytes:
    flags = cliprdr.CB_RESPONSE_OK if ok else cliprdr.CB_RESPONSE_FAIL
    return message(cliprdr.CB_FORMAT_DATA_RESPONSE, (text + "\0").encode("utf-16-le"), flags)


def parsed(pdu: bytes) -> tuple[int, int, bytes]:
    reader = Reader(pdu, "reply")
    kind, flags, length = reader.u16(), reader.u16(), reader.u32()
    data = reader.rest()
    assert len(data) == length
    return kind, flags, data


REQUEST_TEXT = message(cliprdr.CB_FORMAT_DATA_REQUEST, struct.pack("<I", cliprdr.CF_UNICODETEXT))
LIST_RESPONSE_OK = message(cliprdr.CB_FORMAT_LIST_RESPONSE, b"", cliprdr.CB_RESPONSE_OK)


def ready_channel(long_names: bool = True) -> ClipboardChannel:
    channel = ClipboardChannel()
    channel.receive(caps(long_names))
    channel.receive(message(cliprdr.CB_MONITOR_READY, b""))
    return channel


# --- the server copies -------------------------------------------------------------------------------------------


def test_monitor_ready_is_answered_with_the_client_s_capabilities_and_an_empty_format_list() -> None:
    replies, text = ClipboardChannel().receive(message(cliprdr.CB_MONITOR_READY, b""))

    assert text is None
    kind, _, data = parsed(replies[0])
    assert kind == cliprdr.CB_CLIP_CAPS
    assert struct.unpack("<HHHHII", data) == (1, 0, 1, 12, 2, cliprdr.CB_USE_LONG_FORMAT_NAMES)
    assert replies[1] == message(cliprdr.CB_FORMAT_LIST, b"")


def test_the_channel_is_ready_only_once_the_server_s_side_announced_itself() -> None:
    channel = ClipboardChannel()
    channel.receive(message(cliprdr.CB_CLIP_CAPS, struct.pack("<HHHHII", 1, 0, 1, 12, 2, 0)))
    assert not channel.ready
    channel.receive(message(cliprdr.CB_MONITOR_READY, b""))
    assert channel.ready


def test_a_format_list_with_long_names_offering_text_is_acknowledged_and_the_text_asked_for() -> None:
    channel = ready_channel(long_names=True)

    replies, text = channel.receive(
        long_format_list((CF_HTML, "HTML Format"), (cliprdr.CF_UNICODETEXT, ""), (CF_TEXT, ""))
    )

    assert replies == [LIST_RESPONSE_OK, REQUEST_TEXT]
    assert text is None


def test_a_format_list_with_short_names_offering_text_is_acknowledged_and_the_text_asked_for() -> None:
    channel = ready_channel(long_names=False)

    replies, _ = channel.receive(short_format_list((CF_HTML, "HTML Format"), (cliprdr.CF_UNICODETEXT, "")))

    assert replies == [LIST_RESPONSE_OK, REQUEST_TEXT]


def test_a_long_name_is_not_mistaken_for_a_format_id() -> None:
    # The name "\r" and its NUL are 0d 00 00 00: read as a format id, that would be CF_UNICODETEXT.
    channel = ready_channel(long_names=True)

    replies, _ = channel.receive(long_format_list((CF_HTML, "\r"), (CF_TEXT, "")))

    assert replies == [LIST_RESPONSE_OK]


def test_a_format_list_without_text_is_only_acknowledged() -> None:
    replies, _ = ready_channel().receive(long_format_list((CF_HTML, "HTML Format")))

    assert replies == [LIST_RESPONSE_OK]


def test_the_text_asked_for_arrives_with_crlf_as_lf_and_cut_at_its_nul() -> None:
    channel = ready_channel()
    channel.receive(long_format_list((cliprdr.CF_UNICODETEXT, "")))

    replies, text = channel.receive(data_response("line 1\r\nline 2\r\n€ ünïcode\0garbage"))

    assert replies == []
    assert text == "line 1\nline 2\n€ ünïcode"


def test_text_the_client_did_not_ask_for_is_ignored() -> None:
    assert ready_channel().receive(data_response("unsolicited")) == ([], None)


def test_a_failed_data_response_gives_no_text_and_ends_the_wait() -> None:
    channel = ready_channel()
    channel.receive(long_format_list((cliprdr.CF_UNICODETEXT, "")))

    assert channel.receive(data_response("ignored", ok=False)) == ([], None)
    assert channel.receive(data_response("late")) == ([], None)


def test_text_from_the_server_is_cut_to_the_bound() -> None:
    channel = ready_channel()
    channel.receive(long_format_list((cliprdr.CF_UNICODETEXT, "")))

    _, text = channel.receive(data_response("x" * (cliprdr.MAX_TEXT_CHARS + 100)))

    assert text is not None
    assert len(text) == cliprdr.MAX_TEXT_CHARS


# --- a participant copies ------------------------------------------------------------------------------------------


def test_text_offered_before_the_channel_is_ready_is_announced_once_it_is() -> None:
    channel = ClipboardChannel()

    assert channel.offer("early") == []
    replies, _ = channel.receive(message(cliprdr.CB_MONITOR_READY, b""))

    assert replies[1] == message(cliprdr.CB_FORMAT_LIST, struct.pack("<I", cliprdr.CF_UNICODETEXT) + bytes(32))


@pytest.mark.parametrize(
    ("long_names", "entry"),
    [(True, b"\0\0"), (False, bytes(32))],
    ids=["long-names", "short-names"],
)
def test_offered_text_is_announced_in_the_format_list_form_the_server_uses(long_names: bool, entry: bytes) -> None:
    replies = ready_channel(long_names).offer("hello")

    assert replies == [message(cliprdr.CB_FORMAT_LIST, struct.pack("<I", cliprdr.CF_UNICODETEXT) + entry)]


@pytest.mark.parametrize(
    ("offered", "sent"),
    [("a\nb", "a\r\nb"), ("a\r\nb", "a\r\nb"), ("\n\n", "\r\n\r\n"), ("plain", "plain")],
)
def test_the_server_pasting_gets_the_text_with_crlf_line_ends_and_a_nul(offered: str, sent: str) -> None:
    channel = ready_channel()
    channel.offer(offered)

    replies, _ = channel.receive(REQUEST_TEXT)

    assert replies == [
        message(cliprdr.CB_FORMAT_DATA_RESPONSE, (sent + "\0").encode("utf-16-le"), cliprdr.CB_RESPONSE_OK)
    ]


def test_offered_text_is_cut_to_the_bound() -> None:
    channel = ready_channel()
    channel.offer("y" * (cliprdr.MAX_TEXT_CHARS + 5))

    (reply,), _ = channel.receive(REQUEST_TEXT)

    assert len(parsed(reply)[2]) == cliprdr.MAX_TEXT_CHARS * 2 + 2


@pytest.mark.parametrize("offer", [None, "text"])
def test_a_request_for_another_format_or_before_any_offer_fails(offer: str | None) -> None:
    channel = ready_channel()
    if offer is not None:
        channel.offer(offer)
    request = REQUEST_TEXT if offer is None else message(cliprdr.CB_FORMAT_DATA_REQUEST, struct.pack("<I", CF_TEXT))

    replies, _ = channel.receive(request)

    assert replies == [message(cliprdr.CB_FORMAT_DATA_RESPONSE, b"", cliprdr.CB_RESPONSE_FAIL)]


# --- malformed messages ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\x02\x00\x00", "clipboard message is truncated"),
        (message(cliprdr.CB_FORMAT_DATA_REQUEST, b"\x0d\x00"), "format data request is truncated"),
        (message(cliprdr.CB_CLIP_CAPS, struct.pack("<HHHH", 1, 0, 1, 2)), "a clipboard capability set is too short"),
        (message(cliprdr.CB_CLIP_CAPS, struct.pack("<HHHH", 1, 0, 1, 40)), "clipboard capabilities is truncated"),
        (message(cliprdr.CB_CLIP_CAPS, struct.pack("<HH", 0xFFFF, 0)), "clipboard capabilities is truncated"),
    ],
    ids=["short-header", "request-without-format", "set-length-2", "set-overruns", "count-65535"],
)
def test_a_malformed_clipboard_message_is_refused_with_what_is_wrong(data: bytes, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        ClipboardChannel().receive(data)


def test_random_corruptions_and_prefixes_of_clipboard_messages_raise_only_malformed_pdu() -> None:
    valid = [
        caps(True),
        message(cliprdr.CB_MONITOR_READY, b""),
        long_format_list((CF_HTML, "HTML Format"), (cliprdr.CF_UNICODETEXT, "")),
        REQUEST_TEXT,
        data_response("some text\r\n"),
    ]
    channel = ready_channel()
    channel.offer("offered")

    for pdu in valid:
        assert unexpected_failures(channel.receive, flips(pdu, 200), (MalformedPdu,)) == []
        assert unexpected_failures(channel.receive, prefixes(pdu), (MalformedPdu,)) == []


def test_a_message_shorter_than_its_data_length_is_refused() -> None:
    channel = ready_channel()
    channel.receive(long_format_list((cliprdr.CF_UNICODETEXT, "")))

    with pytest.raises(MalformedPdu, match="clipboard message is truncated"):
        channel.receive(data_response("the whole text")[:-10])
