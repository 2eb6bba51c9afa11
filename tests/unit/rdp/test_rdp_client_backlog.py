"""protocols.rdp.client: the receive loop's answers (here clipboard text) wait for a server that does not read them,
past the write backlog limit, instead of piling up in our buffer."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import string
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jumpoint.core.desktop import Clipboard
from jumpoint.core.write_backlog import WRITE_BACKLOG_LIMIT
from protocols.rdp import cliprdr, mcs, x224
from protocols.rdp.channels import CHANNEL_FLAG_FIRST, CHANNEL_FLAG_LAST, ChannelReassembler, chunks
from protocols.rdp.client import MAX_CHANNEL_MESSAGE, RdpClient, RdpSettings

CLIPRDR = 1004


def clipboard_pdu(kind: int, data: bytes, flags: int = 0) -> bytes:
    """A CLIPRDR message in one channel chunk, in an MCS Send Data Indication, in an X.224 Data TPDU."""
    message = struct.pack("<HHI", kind, flags, len(data)) + data
    payload = struct.pack("<II", len(message), CHANNEL_FLAG_FIRST | CHANNEL_FLAG_LAST) + message
    length = bytes((len(payload),)) if len(payload) < 0x80 else struct.pack(">H", len(payload) | 0x8000)
    indication = bytes((mcs.SEND_DATA_INDICATION << 2,)) + struct.pack(">HH", 1002, CLIPRDR) + b"\x70" + length
    return x224.data_tpdu(indication + payload)


@asynccontextmanager
async def active_client() -> AsyncIterator[tuple[RdpClient, asyncio.StreamReader, asyncio.StreamWriter]]:
    """A client whose session is active with the clipboard channel joined and ready, its receive loop running, and
    the server's reader and writer (the server's socket receives into a small kernel buffer; it reads nothing unless
    the test does). The connection sequence is stood in for by setting the state it leaves (TLS security: no
    security header on channel PDUs)."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))

    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    server = await asyncio.start_server(handle, sock=listening)
    port = listening.getsockname()[1]
    client = RdpClient(RdpSettings("127.0.0.1", port), logging.getLogger("test"))
    try:
        client._reader, client._writer = await asyncio.open_connection("127.0.0.1", port)
        client._user_id = 1002
        client._licensed = True
        client._channel_ids["cliprdr"] = CLIPRDR
        client._channel_names[CLIPRDR] = "cliprdr"
        client._reassemblers[CLIPRDR] = ChannelReassembler("cliprdr", MAX_CHANNEL_MESSAGE)
        client._clipboard.receive(struct.pack("<HHI", cliprdr.CB_MONITOR_READY, 0, 0))
        client._active.set()
        client._task = asyncio.create_task(client._run())
        reader, writer = await accepted
        yield client, reader, writer
    finally:
        await client.close()
        server.close()


async def settled(client: RdpClient, timeout: float = 10) -> None:
    """Wait until what the client wrote has stopped changing for half a second."""
    last, still = -1, 0
    async with asyncio.timeout(timeout):
        while still < 5:
            await asyncio.sleep(0.1)
            unsent = client.unsent_bytes
            still = still + 1 if unsent == last else 0
            last = unsent


async def test_a_server_that_asks_for_our_clipboard_but_never_reads_is_not_read_past_the_backlog_limit() -> None:
    text = "".join(random.Random(0).choices(string.ascii_letters, k=60_000))
    answer = sum(len(chunk) + 20 for chunk in chunks(b"x" * (2 * len(text) + 10)))  # with the MCS and TPKT headers
    requests = 200  # 5 KB asking for 24 MB
    async with active_client() as (client, reader, writer):
        await client.send(Clipboard(text))
        request = clipboard_pdu(cliprdr.CB_FORMAT_DATA_REQUEST, struct.pack("<I", cliprdr.CF_UNICODETEXT))
        writer.write(request * requests)
        await settled(client)

        assert 0 < client.unsent_bytes <= WRITE_BACKLOG_LIMIT + answer

        # Once the server reads, the client answers the rest and reads on.
        answers = asyncio.ensure_future(reader.read(-1))
        writer.write(clipboard_pdu(cliprdr.CB_FORMAT_LIST, struct.pack("<I", cliprdr.CF_UNICODETEXT) + b"\0\0"))
        writer.write(clipboard_pdu(cliprdr.CB_FORMAT_DATA_RESPONSE, "read\0".encode("utf-16-le"), 1))
        async with asyncio.timeout(10):
            seen: list[object] = []
            while Clipboard("read") not in seen:
                seen += await client.screen.take() or []
        answers.cancel()
