"""The built-in Jumpoint of the all-in-one console (the ``openjump.builtin_jumpoint`` entry point).

It is an ordinary Jumpoint that connects back to its own console over loopback with a token the console
minted, pinning the console's certificate fingerprint. This is the only module that serves both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from jumpoint.agent.service import build_tunnel_client
from jumpoint.agent.tunnel import TunnelClient
from jumpoint.core.errors import ConfigError, JumpointUnavailable

CONNECT_TIMEOUT = 20.0


class BuiltinJumpoint:
    """Runs a :class:`TunnelClient` as a task of the console's event loop."""

    def __init__(self) -> None:
        self._client: TunnelClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(
        self,
        *,
        console_url: str,
        token: str,
        fingerprint: str | None,
        state_dir: Path,
        credential_stores: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Connect to the console; raise JumpointUnavailable if it is not connected in time, ConfigError naming
        ``builtin_jumpoint.credential_stores...`` for a bad store."""
        ssl_param: aiohttp.Fingerprint | bool = (
            aiohttp.Fingerprint(bytes.fromhex(fingerprint.replace(":", ""))) if fingerprint else True
        )
        try:
            self._client = build_tunnel_client(
                state_dir=state_dir,
                console_url=console_url,
                token=token,
                ssl_param=ssl_param,
                credential_stores=credential_stores,
            )
        except ConfigError as exc:
            raise ConfigError(f"builtin_jumpoint.{exc.message}", hint=exc.hint) from None
        self._task = asyncio.create_task(self._client.run(), name="builtin-jumpoint")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._client.wait_connected()
        except TimeoutError:
            raise JumpointUnavailable(
                f"the built-in Jumpoint could not connect: {self._client.status.last_error}"
            ) from None

    async def stop(self) -> None:
        """Disconnect and end its sessions."""
        if self._client is not None:
            await self._client.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
