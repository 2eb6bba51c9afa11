"""The VNC protocol adapter: a Jump Item's VNC target as a desktop connection.

1. a probe (:meth:`RfbClient.probe`) learns the strongest security both sides allow (VeNCrypt with TLS first) and
   the server's X509 certificate, sending nothing secret;
2. the server's identity is settled before any password: a certificate a CA vouches for is accepted, any other is
   trusted like an SSH host key (:mod:`protocols.vnc.trust`: cached per host:port, Save Key and Connect / Connect
   Only / Abort, a changed one always refused); anonymous TLS and plain sessions are announced in the timeline;
3. the password, only if that security needs one: the Jump Item's credential (fetched now, announced by name
   only), else the rep's answer to a password prompt;
4. :meth:`RfbClient.connect` logs in, pinned to exactly the certificate checked and the security probed;
5. the connection yields the desktop vocabulary; the Jumpoint encodes it for the browser
   (:mod:`jumpoint.agent.desktop_stream`). A desktop size the server refuses, or cannot take, is said once in the
   timeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.credentials import fetch_item_credential
from jumpoint.core.desktop import DesktopInput, DesktopOutput, DesktopSize, Quality
from jumpoint.core.errors import BadRequest
from jumpoint.core.events import Notice
from jumpoint.core.secret import Secret
from protocols.vnc.client import RfbClient
from protocols.vnc.errors import auth_failed
from protocols.vnc.trust import verify_certificate


class VncDesktop:
    """One VNC session as a :class:`~jumpoint.core.adapter.DesktopConnection`.

    Besides the connection's notices (first), the events say once, after the update that follows, that the server
    refused a desktop size asked for (its reason) or cannot be resized by the client at all: a browser asking for
    its window's size is then told why the desktop keeps its own.
    """

    def __init__(self, client: RfbClient, notices: list[Notice], where: str = "") -> None:
        self.client = client
        self._notices = notices
        self._where = where or "the VNC server"
        self._told_refused: str | None = None
        self._told_cannot = False

    @property
    def kind(self) -> Literal["desktop"]:
        """A desktop."""
        return "desktop"

    async def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        """The connection's notices, then the desktop's events until the server closes."""
        for notice in self._notices:
            yield notice
        self._notices = []
        async for event in self.client.updates():
            yield event
            for notice in self._resize_notices():
                yield notice

    def _resize_notices(self) -> list[Notice]:
        """What to say about resizing now (at most once per reason)."""
        out = [*self._notices]
        self._notices = []
        refused = self.client.resize_refused
        if refused is not None and refused != self._told_refused:
            self._told_refused = refused
            size = f"{self.client.width}x{self.client.height}"
            out.append(
                Notice(
                    kind="info", text=f"{self._where} refused to change the desktop size ({refused}); it stays {size}"
                )
            )
        return out

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        """The current RGBA rows of a region."""
        return self.client.pixels(x, y, width, height)

    async def send(self, event: DesktopInput) -> None:
        """Pointer, keys, wheel, clipboard, refresh, size and quality to the server."""
        if isinstance(event, DesktopSize) and not self.client.can_resize and not self._told_cannot:
            self._told_cannot = True
            size = f"{self.client.width}x{self.client.height}"
            self._notices.append(
                Notice(
                    kind="info",
                    text=f"{self._where} cannot be resized by the viewer (no SetDesktopSize); the desktop stays {size}",
                )
            )
        await self.client.send(event)

    async def close(self) -> None:
        """Close the connection."""
        await self.client.close()


class VncAdapter:
    """Registered as ``vnc`` under ``openjump.protocols``.

    ``tls_ca_file``: CA certificates (PEM) that vouch for VeNCrypt X509 servers on every item, in place of the
    system CAs (None: the system CAs). A certificate no CA vouches for is trusted like an SSH host key
    (:mod:`protocols.vnc.trust`).
    """

    name = "vnc"
    kind: Literal["desktop"] = "desktop"

    def __init__(self, *, tls_ca_file: Path | None = None) -> None:
        self.tls_ca_file = tls_ca_file

    async def connect(self, target: Target, ctx: AdapterContext) -> VncDesktop:
        """Probe, settle the server's identity, then the password, then log in; TargetError (or Cancelled).

        1. :meth:`RfbClient.probe`: the security the login will use and the X509 certificate (nothing secret sent);
        2. an X509 certificate is checked (CA, cache, or the rep's Save / Connect Only / Abort); anonymous TLS and
           plain sessions are announced in the timeline;
        3. only a security that needs a password gets one: the item's credential, else the rep's answer;
        4. :meth:`RfbClient.connect` pinned to that certificate and that security.
        """
        where = f"{target.hostname}:{target.port}"
        probe = await RfbClient.probe(
            target.hostname,
            target.port,
            tls_ca_file=self.tls_ca_file,
            connect_timeout=target.connect_timeout,
            log=ctx.log.logger,
        )
        notices: list[Notice] = []
        pinned: bytes | None = None
        if probe.certificate is not None:
            notices += await verify_certificate(target.hostname, target.port, probe.certificate, ctx)
            pinned = probe.certificate.sha256
        password: Secret | None = None
        if probe.needs_password:
            password = await self._password(target, ctx, where, notices)
            if password is None:
                raise auth_failed(where, f"the server asks for a password ({probe.security}) and none was given")
        elif target.credential_ref is not None:
            ctx.log.info(
                "the VNC server %s asks for no password (%s); the credential was not used", where, probe.security
            )
        client = await RfbClient.connect(
            target.hostname,
            target.port,
            password=password,
            tls_ca_file=self.tls_ca_file,
            connect_timeout=target.connect_timeout,
            quality=Quality(target.quality),
            log=ctx.log.logger,
            pinned_certificate=pinned,
            expected_security=probe.security,
            extended_clipboard=True,
        )
        security = client.security
        if security.warning:
            notices.append(Notice(kind="info", text=f"{where}: {security.warning}"))
        ctx.log.info("vnc session open on %s (%s, %dx%d)", where, security.name, client.width, client.height)
        return VncDesktop(client, notices, where)

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
            "VNC password", f"The password of the VNC server {where}", [PromptField("Password:", echo=False)]
        )
        return answers[0] if answers and answers[0] else None
