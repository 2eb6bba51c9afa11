"""Static virtual channels: the channel PDU header, chunking and reassembly (MS-RDPBCGR 2.2.6.1, 3.1.5.2).

Reassembly is bounded by the total the first chunk announces (itself bounded), each chunk counting at least
:data:`CHUNK_COST` bytes, so empty or tiny chunks cannot pile up under it.
"""

from __future__ import annotations

from protocols.rdp.wire import MalformedPdu, Reader, u32

CHANNEL_FLAG_FIRST = 0x01
CHANNEL_FLAG_LAST = 0x02
CHANNEL_FLAG_SHOW_PROTOCOL = 0x10
CHANNEL_PACKET_COMPRESSED = 0x00200000
CHUNK_SIZE = 1600
CHUNK_COST = 64
"""The least a chunk counts against the message's total (about what keeping one costs besides its bytes)."""


def chunks(message: bytes, chunk_size: int = CHUNK_SIZE) -> list[bytes]:
    """A channel message as channel PDUs (header + chunk), at most ``chunk_size`` data bytes each."""
    total = len(message)
    out = []
    for start in range(0, max(total, 1), chunk_size):
        flags = CHANNEL_FLAG_SHOW_PROTOCOL
        if start == 0:
            flags |= CHANNEL_FLAG_FIRST
        if start + chunk_size >= total:
            flags |= CHANNEL_FLAG_LAST
        out.append(u32(total) + u32(flags) + message[start : start + chunk_size])
    return out


class ChannelReassembler:
    """Joins one channel's chunks into messages of at most ``limit`` bytes; the chunks of a message carry at most
    its total and count at least :data:`CHUNK_COST` bytes each (the last one excepted, so a message cut as
    :func:`chunks` cuts it always fits)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self._parts: list[bytes] = []
        self._total = 0
        self._size = 0
        self._cost = 0

    def add(self, pdu: bytes) -> bytes | None:
        """A whole message once its last chunk came; None while more chunks are expected."""
        reader = Reader(pdu, f"{self.name} channel PDU")
        total = reader.u32()
        flags = reader.u32()
        if flags & CHANNEL_PACKET_COMPRESSED:
            raise MalformedPdu(f"the server compressed {self.name} channel data, which the client did not allow")
        data = reader.rest()
        if total > self.limit:
            raise MalformedPdu(f"a {self.name} message of {total} bytes is larger than {self.limit}")
        if flags & CHANNEL_FLAG_FIRST:
            self._parts, self._total, self._size, self._cost = [], total, 0, 0
        elif not self._parts:
            raise MalformedPdu(f"a {self.name} chunk without its first chunk")
        self._size += len(data)
        self._cost += max(len(data), CHUNK_COST)
        if self._size > self._total:
            raise MalformedPdu(f"{self.name} chunks carry more than the {self._total} bytes announced")
        if self._cost > self._total + CHUNK_COST:
            raise MalformedPdu(
                f"{self.name} chunks carry more than the {self._total} bytes announced, counting each of the "
                f"message's {len(self._parts) + 1} chunks as at least {CHUNK_COST} bytes"
            )
        self._parts.append(data)
        if flags & CHANNEL_FLAG_LAST:
            if self._size != self._total:
                raise MalformedPdu(
                    f"a {self.name} message ended after {self._size} of the {self._total} bytes announced"
                )
            message = b"".join(self._parts)
            self._parts = []
            return message
        return None
