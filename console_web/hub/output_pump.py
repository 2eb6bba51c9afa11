"""The output side of a live session: terminal output from the Jumpoint into the stream, the screen and the recording,
and flow-control credit back to the Jumpoint.

Output is appended once to the bounded :class:`StreamLog` (every socket reads it at its own pace, see
:mod:`console_web.hub.senders`), fed to the :class:`TerminalScreen` (snapshots for late joiners) and queued for
the recording; nothing here blocks the tunnel reader. Credit goes back once every *pacing* socket has taken the
output (:meth:`OutputPump.consumed_position`), or is held while nobody is connected, or while the recording's disk
is behind (nothing is dropped: the target waits). A socket that stays more than ``LAG_SECONDS`` behind stops pacing
(:meth:`OutputPump.check_lag`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console_web.hub.desktop_screen import DesktopScreen
from console_web.hub.echo_guess import EchoGuess
from console_web.hub.screen import TerminalScreen
from console_web.hub.session_hooks import dumps
from console_web.hub.stream import StreamLog
from console_web.recording.recorder import SessionRecorder
from jumpoint.core import wire
from jumpoint.core.errors import JumpError
from jumpoint.core.flow import ReceiveWindow

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession

LAG_SECONDS = 2.0
RECORDING_KEYFRAME_SECONDS = 60.0  # a recorded desktop gets a complete picture at least this often (playback seeks)
RECORDER_BACKLOG_LIMIT = 16 * 1024 * 1024


class OutputPump:
    """The session's stream, screen and recording of output, and the output flow-control window."""

    def __init__(self, session: LiveSession, recorder: SessionRecorder | None, stream_bytes: int) -> None:
        self._session = session
        target = session.jump.target
        # Pacing sockets are at most one flow-control window behind the head, so a log of twice the window never
        # evicts what they have not read yet.
        self.stream = StreamLog(max(stream_bytes, 2 * wire.INITIAL_WINDOW))
        self.screen = TerminalScreen(target.cols, target.rows)
        self.desktop = DesktopScreen() if target.kind == "desktop" else None
        """For a desktop session, where its keyframes start (the terminal screen is then unused)."""
        self.recorder = recorder
        self._closing: asyncio.Future[None] | None = None
        terminal_keys = recorder is not None and session.jump.record_input and target.kind == "terminal"
        self.echo_guess = EchoGuess() if terminal_keys else None
        self.credited_out = 0
        """Output bytes the Jumpoint was given credit for (it may have sent up to a window more)."""
        self.credit_wake = asyncio.Event()
        """Set when the consumed position or the recording's backlog may have changed."""
        self._window = ReceiveWindow(wire.INITIAL_WINDOW)
        self._head_history: deque[tuple[float, int]] = deque()
        if recorder is not None:
            recorder.on_written = self.credit_wake.set  # a disk that caught up releases held-back credit

    # --- output --------------------------------------------------------------------------------------
    def on_output(self, data: bytes) -> None:
        """Terminal output: into the log, the screen and the recording; every socket's sender is woken."""
        self._window.received(len(data))
        if self.desktop is not None:
            self.desktop.feed(data)  # before the append: a malformed stream never reaches a browser
        self.stream.append_output(data)
        if self.desktop is None:
            self.screen.feed(data)
        recorder = self.recorder
        if recorder is not None:
            self.record(recorder.output, data)
            if self.echo_guess is not None:
                echo = self.echo_guess.feed(data)
                if echo is not None and self.recorder is not None:
                    self.record(self.recorder.echo, echo)
        self.wake_senders()
        self.credit_wake.set()

    def stream_event(self, msg: dict[str, Any]) -> None:
        """A stream entry other than output (``resize``, ``title``, ``bell``): it takes one position."""
        msg["pos"] = self.stream.head
        self.stream.append_event(dumps(msg))
        self.wake_senders()

    def wake_senders(self) -> None:
        """Something new to send: wake every socket's sender."""
        for conn in self._session.connections():
            conn.wake.set()

    def record(self, write: Callable[..., None], *args: Any) -> None:
        """Call a recorder method; a failure is logged and audited, and the recording stops (the session goes on,
        as the recording policy was satisfied when it started)."""
        try:
            write(*args)
        except JumpError as exc:
            self._session.log.error("RECORDING WRITE FAILED, recording stops: %s", exc.message)
            self._session.audit("recording.failed", {"error": exc.message})
            self.recorder = None

    def close_recording(self, reason: str) -> None:
        """The session ended: a marker, then a writer thread writes everything and closes the files (a slow or
        stuck disk never holds the event loop; :meth:`recording_closed` waits for it)."""
        recorder = self.recorder
        if recorder is None:
            return
        try:
            recorder.marker(f"ended: {reason}"[:200])
        except JumpError as exc:
            self._session.log.error("RECORDING CLOSE FAILED: %s", exc.message)
        self._closing = asyncio.wrap_future(recorder.close_in_background())
        self._closing.add_done_callback(self._closed_recording)

    def _closed_recording(self, closing: asyncio.Future[None]) -> None:
        error = None if closing.cancelled() else closing.exception()
        if error is not None:
            self._session.log.error("RECORDING CLOSE FAILED: %s", getattr(error, "message", repr(error)))

    async def recording_closed(self) -> None:
        """Wait until the recording closed by :meth:`close_recording` is written whole (at once if none)."""
        if self._closing is not None:
            with contextlib.suppress(JumpError):
                await asyncio.shield(self._closing)

    # --- flow control --------------------------------------------------------------------------------
    async def credit_loop(self) -> None:
        """Grant the Jumpoint credit for output every pacing socket has taken (all of it, when none paces)."""
        session = self._session
        while True:
            await self.credit_wake.wait()
            self.credit_wake.clear()
            if session.state == "ended":
                return
            consumed = self.consumed_position()
            if consumed is None:
                continue
            if self.recorder is not None and self.recorder.backlog_bytes > RECORDER_BACKLOG_LIMIT:
                continue  # the disk is behind: hold the target back rather than lose recording
            out = self.stream.output_at(consumed)
            delta = out - self.credited_out
            if delta <= 0:
                continue
            self.credited_out = out
            grant = self._window.consumed(delta)
            if grant:
                with contextlib.suppress(JumpError):
                    await session.link.send(wire.encode_credit(session.channel, grant))

    def consumed_position(self) -> int | None:
        """How far the Jumpoint may be let ahead: where the slowest pacing socket is.

        With no pacing socket, the fastest connected one sets the pace (a session whose viewers all lag runs at
        their best speed, not flat out); with nobody connected, output is held (nothing is lost between the Jump
        and the page opening, or while a browser reconnects). Desktop sockets that wait for a keyframe hold
        nothing back.
        """
        slowest: int | None = None
        fastest: int | None = None
        waiting = False
        for conn in self._session.connections():
            if conn.needs_sync:
                waiting = True
                continue
            if conn.pacing and (slowest is None or conn.cursor < slowest):
                slowest = conn.cursor
            if fastest is None or conn.cursor > fastest:
                fastest = conn.cursor
        chosen = slowest if slowest is not None else fastest
        if chosen is None and waiting and self.desktop is not None:
            # A desktop socket waiting for a keyframe needs none of the output before it: let the Jumpoint go on,
            # or a window filled while nobody watched would hold back the very keyframe it waits for.
            chosen = self.stream.head
        return None if chosen is None else max(chosen, self.stream.start)

    def keyframe_due(self, now: float) -> bool:
        """Whether a recorded desktop's last keyframe is older than :data:`RECORDING_KEYFRAME_SECONDS`."""
        desktop = self.desktop
        if desktop is None or self.recorder is None:
            return False
        return desktop.keyframe_age(now) > RECORDING_KEYFRAME_SECONDS and desktop.should_request()

    def check_lag(self, now: float) -> None:
        """The housekeeping tick: a socket still behind where the head was ``LAG_SECONDS`` ago stops pacing."""
        history = self._head_history
        history.append((now, self.stream.head))
        while len(history) > 1 and history[1][0] <= now - LAG_SECONDS:
            history.popleft()
        then, head_then = history[0]
        if now - then < LAG_SECONDS:
            return
        for conn in self._session.connections():
            if conn.pacing and conn.cursor < head_then:
                conn.pacing = False
                conn.participant.logger(self._session.log).info(
                    "socket fell behind the stream; it no longer paces the session"
                )
                self.credit_wake.set()
