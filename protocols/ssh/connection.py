"""A logged-in SSH shell on a PTY as a core terminal :class:`~jumpoint.core.adapter.Connection`.

Output path (hot): asyncssh hands each channel packet to :meth:`ShellSession.data_received`, which appends the
bytes object to the session's :class:`~jumpoint.core.output_buffer.OutputBuffer` (no copy) and wakes the reader.
:meth:`SshConnection.events` takes what is buffered, joining packets into one ``Output`` of at most
``max_output_chunk`` bytes (one copy, only when more than one packet waits), and yields at once: a lone keystroke
echo is never held back. When more than ``buffer_limit`` bytes wait unread, the buffer stops the channel reading,
so the SSH window closes and the server stops sending; it resumes when the reader has drained half of it. Memory
per connection is therefore bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import asyncssh

from jumpoint.core.errors import BadRequest, TargetError
from jumpoint.core.events import Keys, Notice, Output, Resize, TerminalInput, TerminalOutput
from jumpoint.core.output_buffer import DEFAULT_BUFFER_LIMIT, OutputBuffer
from jumpoint.core.target_errors import closed
from protocols.ssh.errors import from_ssh_error
from protocols.ssh.sftp import SftpFiles

CLOSE_WAIT = 5.0


class ShellSession(asyncssh.SSHClientSession[bytes]):
    """Receives the shell's output (stdout and stderr merged, as on a PTY) into a bounded :attr:`output` buffer."""

    def __init__(self, buffer_limit: int = DEFAULT_BUFFER_LIMIT) -> None:
        self.output = OutputBuffer(buffer_limit)
        self._writable = asyncio.Event()
        self._writable.set()
        self.chan: asyncssh.SSHClientChannel[bytes] | None = None
        self.done = False
        self.error: Exception | None = None

    # --- asyncssh callbacks ----------------------------------------------------------------------
    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        """Remember the channel (for flow control)."""
        self.chan = chan
        self.output.source = chan

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        """Buffer one packet of output; the buffer stops the channel when the reader falls too far behind."""
        self.output.append(data)

    def eof_received(self) -> bool:
        """The shell closed its output: let the channel close."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The channel closed: normally (``exc`` is None) or because the connection was lost."""
        self.done = True
        self.error = exc
        self._writable.set()
        self.output.close()

    def pause_writing(self) -> None:
        """The server's window is full: hold further input."""
        self._writable.clear()

    def resume_writing(self) -> None:
        """The server accepts input again."""
        self._writable.set()

    # --- reader side ------------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Output bytes received and not yet taken by the reader."""
        return self.output.buffered

    async def writable(self) -> None:
        """Wait until the channel accepts input."""
        await self._writable.wait()


class SshConnection:
    """An interactive shell: output as ``Output`` events, input as ``Keys`` and ``Resize``."""

    kind: Literal["terminal"] = "terminal"

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        chan: asyncssh.SSHClientChannel[bytes],
        session: ShellSession,
        *,
        where: str,
        username: str,
        cols: int,
        rows: int,
        max_output_chunk: int,
        notices: list[Notice],
    ) -> None:
        self._conn = conn
        self._chan = chan
        self._session = session
        self._where = where
        self._username = username
        self._cols = cols
        self._rows = rows
        self._max_chunk = max(1, max_output_chunk)
        self._notices = list(notices)
        self._closed = False
        self._iterating = False
        self._files: SftpFiles | None = None
        self._files_lock = asyncio.Lock()

    @property
    def buffered_bytes(self) -> int:
        """Output held for the reader right now (bounded: the channel pauses past the buffer limit)."""
        return self._session.buffered

    def events(self) -> AsyncIterator[TerminalOutput]:
        """Notices from the login first, then output until the shell exits (normal end) or the link fails.

        Raises TargetClosed when the connection is lost. Only one reader may iterate at a time.
        """
        if self._iterating:
            raise BadRequest("this connection's events are already being read")
        self._iterating = True
        return self._events()

    async def _events(self) -> AsyncIterator[TerminalOutput]:
        notices, self._notices = self._notices, []
        for notice in notices:
            yield notice
        session = self._session
        output = session.output
        limit = self._max_chunk
        try:
            while True:
                item = output.take(limit)
                if item is not None:
                    yield Output(item) if isinstance(item, bytes) else item
                    continue
                if session.done:
                    break
                await output.wait()
        finally:
            self._iterating = False
        if session.error is not None and not self._closed:
            raise from_ssh_error(self._where, self._username, session.error, established=True) from session.error

    async def send(self, event: TerminalInput) -> None:
        """Write typed bytes to the shell, or tell it the new terminal size."""
        if self._closed or self._session.done:
            raise closed(self._where, "the shell has ended")
        try:
            if isinstance(event, Keys):
                await self._session.writable()
                if self._session.done:
                    raise closed(self._where, "the shell has ended")
                self._chan.write(event.data)
            elif isinstance(event, Resize):
                self._chan.change_terminal_size(event.cols, event.rows)
                self._cols, self._rows = event.cols, event.rows
            else:
                raise BadRequest(f"an SSH shell cannot take {type(event).__name__} input")
        except (asyncssh.Error, OSError) as exc:  # BrokenPipeError when the channel closed meanwhile
            raise from_ssh_error(self._where, self._username, exc, established=True) from exc

    async def snapshot(self) -> dict[str, Any]:
        """The terminal's kind and current size only: no screen contents yet.

        A late joiner sees output from the moment it joins; carrying the screen needs a terminal emulator on
        the output path, which this adapter does not run.
        """
        return {"kind": "terminal", "cols": self._cols, "rows": self._rows}

    async def files(self) -> SftpFiles:
        """SFTP on this connection (one subsystem channel, opened on first use, closed with the connection)."""
        async with self._files_lock:
            if self._closed or self._session.done:
                raise closed(self._where, "the shell has ended")
            if self._files is None:
                try:
                    sftp = await self._conn.start_sftp_client(path_errors="replace")
                except (asyncssh.Error, OSError) as exc:
                    raise TargetError(
                        f"{self._where} did not start SFTP: {getattr(exc, 'reason', '') or exc}",
                        hint="file transfer needs the SSH server's SFTP subsystem (Subsystem sftp in sshd_config)",
                    ) from exc
                self._files = SftpFiles(sftp)
            return self._files

    async def close(self) -> None:
        """Close the channel and the SSH connection and wait (briefly) for them; idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        if self._files is not None:
            with contextlib.suppress(Exception):
                await self._files.close()
        with contextlib.suppress(Exception):
            self._chan.close()
        with contextlib.suppress(Exception):
            self._conn.close()
            await asyncio.wait_for(self._conn.wait_closed(), CLOSE_WAIT)
