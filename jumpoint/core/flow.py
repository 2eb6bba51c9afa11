"""Credit-based flow control for one direction of one tunnel channel.

The sender holds a :class:`SendWindow` and may only send DATA while it has credit; the receiver holds a
:class:`ReceiveWindow`, counts what it has consumed and grants credit back in batches. Because a sender never
exceeds its window, the receiver's per-channel buffer is bounded by the window, and a slow or stuck session
never blocks the shared tunnel.
"""

from __future__ import annotations

import asyncio

from jumpoint.core.errors import ProtocolViolation, TargetClosed


class SendWindow:
    """Credit the peer has granted us; :meth:`acquire` waits until some is available."""

    __slots__ = ("_available", "_closed", "_credit")

    def __init__(self, initial: int) -> None:
        self._credit = initial
        self._available = asyncio.Event()
        self._closed = False
        if initial > 0:
            self._available.set()

    @property
    def credit(self) -> int:
        """Bytes that may be sent now."""
        return self._credit

    async def acquire(self, wanted: int) -> int:
        """Wait for credit and take up to ``wanted`` bytes of it; return how many were taken (>= 1)."""
        while self._credit <= 0:
            if self._closed:
                raise TargetClosed("the session's channel is closed")
            self._available.clear()
            await self._available.wait()
        if self._closed:
            raise TargetClosed("the session's channel is closed")
        taken = min(wanted, self._credit)
        self._credit -= taken
        return taken

    def grant(self, amount: int) -> None:
        """Add credit the peer granted."""
        self._credit += amount
        self._available.set()

    def close(self) -> None:
        """Wake every waiter with TargetClosed."""
        self._closed = True
        self._available.set()


class ReceiveWindow:
    """What we let the peer send: tracks outstanding bytes and decides when to grant credit back."""

    __slots__ = ("_consumed", "_outstanding", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._outstanding = 0
        self._consumed = 0

    def received(self, nbytes: int) -> None:
        """Account for a DATA frame; a peer that overruns the window violates the protocol."""
        self._outstanding += nbytes
        if self._outstanding > self.size:
            raise ProtocolViolation(f"peer sent {self._outstanding} bytes into a {self.size}-byte window")

    def consumed(self, nbytes: int) -> int:
        """Account for bytes handed on; return the credit to grant now (0 to keep batching)."""
        self._consumed += nbytes
        # Batching by a quarter window keeps CREDIT frames rare; a blocked sender has a full window
        # outstanding, so it is always released.
        if self._consumed >= self.size // 4:
            grant = self._consumed
            self._outstanding -= grant
            self._consumed = 0
            return grant
        return 0
