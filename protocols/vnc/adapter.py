"""The VNC protocol adapter: a Jump Item's VNC target as a desktop connection.

1. the password: the Jump Item's credential (fetched now, announced by name only), else the rep's answer to a
   password prompt (empty: the server asks for none);
2. :meth:`RfbClient.connect` agrees on the strongest security both sides allow (VeNCrypt with TLS first) and logs
   in; a plain-text session is announced in the timeline;
3. the connection yields the desktop vocabulary; the Jumpoint encodes it for the browser
   (:mod:`jumpoint.agent.desktop_stream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.credentials import fetch_item_credential
from jumpoint.core.desktop import DesktopInput, DesktopOutput, Quality
from jumpoint.core.errors import BadRequest
from jumpoint.core.events import Notice
from jumpoint.core.secret import Secret
from protocols.vnc.client import RfbClient


class VncDesktop:
    """One VNC session as a :class:`~jumpoint.core.adapter.DesktopConnection`."""

    def __init__(self, client: RfbClient, notices: list[Notice]) -> None:
        self.client = client
        self._notices = notices

    @property
    def kind(self) -> Literal["desktop"]:
        """A desktop."""
        return "desktop"

    async def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        """The connection's notices, then the desktop's events until the server closes."""
        for notice in self._notices:
            yield notice
        async for event in self.client.updates():
            yield event

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        """The current RGBA rows of a region."""
        return self.client.pixels(x, y, width, height)

    async def send(self, event: DesktopInput) -> None:
        """Pointer, keys, wheel, clipboard, refresh, size and quality to the server."""
        await self.client.send(event)

    async def close(self) -> None:
        """Close the connection."""
        await self.client.close()


class VncAdapter:
    """Registered as ``vnc`` under ``openjump.protocols``."""

    name = "vnc"
    kind: Literal["desktop"] = "desktop"

    async def connect(self, target: Target, ctx: AdapterContext) -> VncDesktop:
        """Connect and log in; TargetError (or Cancelled) on failure."""
        where = f"{target.hostname}:{target.port}"
        notices: list[Notice] = []
        password = await self._password(target, ctx, where, notices)
        client = await RfbClient.connect(
            target.hostname,
            target.port,
            password=password,
            connect_timeout=target.connect_timeout,
            quality=Quality(target.quality),
            log=ctx.log.logger,
        )
        security = client.security
        if security.warning:
            notices.append(Notice(kind="info", text=f"{where}: {security.warning}"))
        ctx.log.info("vnc session open on %s (%s, %dx%d)", where, security.name, client.width, client.height)
        return VncDesktop(client, notices)

    @staticmethod
    async def _password(target: Target, ctx: AdapterContext, where: str, notices: list[Notice]) -> Secret | None:
        if target.credential_ref is not None:
            purpose = f"vnc login to {where} for session {ctx.session_id}"
            credential = await fetch_item_credential(
                ctx.credentials, target.credential_ref, purpose=purpose, username=target.username or None
            )
            if credential.password is None:
                raise BadRequest(
                    f"credential '{credential.name}' has no password, and VNC logs in with a password",
                    hint="give the Jump Item a password credential",
                )
            name = credential.name
            notices.append(Notice(kind="credential_injected", text=f"credential '{name}' injected", subject=name))
            ctx.log.info("credential '%s' injected for %s", name, where)
            return credential.password
        answers = await ctx.prompter.ask_text(
            "VNC password",
            f"The password of the VNC server {where} (leave it empty if the server asks for none)",
            [PromptField("Password:", echo=False)],
        )
        return answers[0] if answers and answers[0] else None
