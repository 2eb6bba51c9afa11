"""The RDP protocol adapter: a Jump Item's RDP target as a desktop connection.

1. who logs on: the Jump Item's credential (user name, domain and password from the store, announced by name
   only), else the item's user name and domain with a password the rep types at Jump (never sent to the browser
   beyond the prompt's answer, never logged);
2. the server's identity is settled *before any password is sent*: the TLS certificate (or, under classic RDP
   security, the server's RSA key) is checked against the Jumpoint's cache; an unknown one is shown to the rep
   with Save Key and Connect / Connect Only / Abort, a changed one is always refused
   (:mod:`jumpoint.core.certificate_trust`), unless the item says Ignore Untrusted Certificate (TLS only: said in
   the timeline). When the rep must answer something, the connection that learnt the identity is closed first
   and the login connection is pinned to exactly the identity decided on;
3. :class:`~protocols.rdp.client.RdpClient` logs on (NLA, TLS or classic security as the item allows) at the
   desktop size the browser asked for at Jump;
4. a participant asking for another desktop size gets it by a new connection at that size once the window has
   settled (servers such as xrdp give the same session back); a server that keeps its own size is said once.
   The participants' clipboard text is offered again on the new connection (the session still pastes it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.certificate_trust import DecisionNeeded, PresentedIdentity, settle_identity
from jumpoint.core.credentials import fetch_item_credential
from jumpoint.core.desktop import Clipboard, DesktopInput, DesktopOutput, DesktopSize, FrameEnd
from jumpoint.core.errors import BadRequest, JumpError
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import certificate_fingerprint
from protocols.rdp import errors
from protocols.rdp.client import RdpClient, RdpSettings, ServerIdentity

DEFAULT_SIZE = (1280, 800)
RESIZE_SETTLE_SECONDS = 0.8
DRAW_WAIT_SECONDS = 5.0
MIN_SIDE = 200


def _presented(identity: ServerIdentity) -> PresentedIdentity:
    what = "TLS certificate" if identity.kind == "tls" else "RSA key (classic RDP security)"
    return PresentedIdentity(identity.sha256, "RDP server", what=what)


class _Login:
    """How this session logs on, and the identity it is pinned to once decided."""

    def __init__(self, settings: RdpSettings, target: Target, ctx: AdapterContext) -> None:
        self.settings = settings
        self.target = target
        self.ctx = ctx
        self.pinned: bytes | None = None
        self.notices: list[Notice] = []

    async def check(self, identity: ServerIdentity) -> None:
        """The identity check run while connecting: never asks (DecisionNeeded ends the attempt)."""
        where = self.settings.where
        if self.pinned is not None:
            if identity.sha256 != self.pinned:
                raise errors.certificate_changed(where, certificate_fingerprint(self.pinned), identity.fingerprint)
            return
        if self.target.ignore_certificate and identity.kind == "tls":
            self.ctx.log.info(
                "rdp %s: certificate %s not verified (Ignore Untrusted Certificate)", where, identity.fingerprint
            )
            self.notices.append(
                Notice(
                    kind="info",
                    text=f"{where}: TLS certificate {identity.fingerprint} not verified (the Jump Item ignores "
                    "untrusted certificates)",
                )
            )
            self.pinned = identity.sha256
            return
        self.notices += await settle_identity(
            self.settings.host, self.settings.port, _presented(identity), self.ctx, ask=False
        )
        self.pinned = identity.sha256

    async def decide(self, presented: PresentedIdentity) -> None:
        """Ask the rep about an identity (nothing is waiting on the server meanwhile), and pin it."""
        self.notices += await settle_identity(self.settings.host, self.settings.port, presented, self.ctx)
        self.pinned = presented.sha256

    async def connect(self) -> RdpClient:
        """Connect, asking about the server's identity once if needed and connecting again pinned to it."""
        try:
            return await RdpClient.connect(self.settings, self.check, self.ctx.log)
        except DecisionNeeded as exc:
            await self.decide(exc.identity)
        return await RdpClient.connect(self.settings, self.check, self.ctx.log)


class RdpDesktop:
    """One RDP session as a :class:`~jumpoint.core.adapter.DesktopConnection`, across reconnections for size."""

    def __init__(self, client: RdpClient, login: _Login) -> None:
        self.client = client
        self._login = login
        self._where = login.settings.where
        self._resize_task: asyncio.Task[None] | None = None
        self._wanted: tuple[int, int] | None = None
        self._fixed_size = False
        self._ready = asyncio.Event()
        self._ready.set()
        self._notices: list[Notice] = list(login.notices)
        login.notices = []
        self._clipboard: Clipboard | None = None

    @property
    def kind(self) -> Literal["desktop"]:
        """A desktop."""
        return "desktop"

    async def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        """Notices, the size, then each batch of changes and FrameEnd, until the server ends the session."""
        for notice in self._notices:
            yield notice
        self._notices = []
        current = self.client
        yield DesktopSize(current.screen.width, current.screen.height)
        while True:
            try:
                batch = await current.screen.take()
            except JumpError:
                if not self._resizing():
                    raise
                batch = None  # the server dropped the old connection for the new one
            if batch is None and self._resizing():
                assert self._resize_task is not None
                await asyncio.wait({self._resize_task})
            for notice in self._notices:
                yield notice
            self._notices = []
            if batch is None:
                if self.client is current:
                    return
                current = self.client  # a new connection at another size took over
                yield DesktopSize(current.screen.width, current.screen.height)
                continue
            for event in batch:
                yield event
            yield FrameEnd()

    def _resizing(self) -> bool:
        return self._resize_task is not None and not self._resize_task.done()

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        """The current RGBA rows of a region."""
        return self.client.screen.pixels[y : y + height, x : x + width].tobytes()

    async def send(self, event: DesktopInput) -> None:
        """Input to the server; a new desktop size is taken by reconnecting once the window settles."""
        if isinstance(event, DesktopSize):
            self._request_size(event.width, event.height)
            return
        # While a new connection is being made, input waits for it (never dropped, never sent to the old one).
        await self._ready.wait()
        if isinstance(event, Clipboard):
            self._clipboard = event
        await self.client.send(event)

    def _request_size(self, width: int, height: int) -> None:
        if self._fixed_size or width < MIN_SIDE or height < MIN_SIDE:
            return
        if (width, height) == (self.client.screen.width, self.client.screen.height):
            self._wanted = None
            return
        self._wanted = (width, height)
        if self._resize_task is None or self._resize_task.done():
            self._resize_task = asyncio.create_task(self._resize_when_settled(), name=f"rdp-resize-{self._where}")

    async def _resize_when_settled(self) -> None:
        while True:  # until the size asked for stays the same for RESIZE_SETTLE_SECONDS
            wanted = self._wanted
            await asyncio.sleep(RESIZE_SETTLE_SECONDS)
            if self._wanted is None:
                return
            if wanted == self._wanted:
                break
        width, height = wanted
        self._wanted = None
        settings = self._login.settings
        settings.width, settings.height = width, height
        # Servers such as xrdp check the password after activation and close within seconds when it is wrong: once
        # the old connection proved the logon, the new one closing early is not a refused password.
        settings.logged_on_before = settings.logged_on_before or self.client.logged_on
        self._ready.clear()
        client: RdpClient | None = None
        try:
            client = await RdpClient.connect(settings, self._login.check, self._login.ctx.log)
            # The server shows the session on the new connection once it drew on it; input waits until then.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.screen.drawn.wait(), DRAW_WAIT_SECONDS)
            if self._clipboard is not None:
                await client.send(self._clipboard)
        except JumpError as exc:
            if client is not None:
                await client.close()
            self._notices.append(Notice(kind="info", text=f"{self._where}: the desktop could not be resized ({exc})"))
            self._fixed_size = True
            return
        finally:
            self._ready.set()
        old = self.client
        self.client = client
        if (client.screen.width, client.screen.height) != (width, height):
            self._fixed_size = True
            size = f"{client.screen.width}x{client.screen.height}"
            self._notices.append(Notice(kind="info", text=f"{self._where} keeps its desktop size of {size}"))
        self._login.ctx.log.info("rdp %s: reconnected at %dx%d", self._where, client.screen.width, client.screen.height)
        await old.close()

    async def close(self) -> None:
        """Close the connection."""
        if self._resize_task is not None:
            self._resize_task.cancel()
            with contextlib.suppress(BaseException):
                await self._resize_task
        await self.client.close()


class RdpAdapter:
    """Registered as ``rdp`` under ``openjump.protocols``."""

    name = "rdp"
    kind: Literal["desktop"] = "desktop"

    async def connect(self, target: Target, ctx: AdapterContext) -> RdpDesktop:
        """Settle who logs on and the server's identity, then log on; TargetError (or Cancelled)."""
        where = f"{target.hostname}:{target.port}"
        width, height = target.desktop_width or DEFAULT_SIZE[0], target.desktop_height or DEFAULT_SIZE[1]
        settings = RdpSettings(
            host=target.hostname,
            port=target.port,
            width=width,
            height=height,
            quality=target.quality,
            security=target.rdp_security,
            domain=target.domain,
            username=target.username,
            console_session=target.console_session,
            connect_timeout=target.connect_timeout,
        )
        login = _Login(settings, target, ctx)
        if target.credential_ref is not None:
            purpose = f"rdp login to {where} for session {ctx.session_id}"
            credential = await fetch_item_credential(
                ctx.credentials, target.credential_ref, purpose=purpose, username=target.username or None
            )
            if credential.password is None:
                raise BadRequest(
                    f"credential '{credential.name}' has no password, and RDP logs on with a password",
                    hint="give the Jump Item a password credential",
                )
            settings.password = credential.password
            settings.username = credential.username or target.username
            settings.domain = credential.domain if credential.domain is not None else target.domain
            login.notices.append(
                Notice(
                    kind="credential_injected", text=f"credential '{credential.name}' injected", subject=credential.name
                )
            )
            ctx.log.info("credential '%s' injected for %s", credential.name, where)
        else:
            # The rep types the password: settle the server's identity first (a probe sends nothing secret), so
            # that a certificate question comes before the password prompt.
            identity = await RdpClient.probe(settings, ctx.log)
            if identity is not None:
                await self._settle_probe(login, identity)
            await self._prompt(settings, ctx, where)
        client = await login.connect()
        ctx.log.info(
            "rdp session open on %s (%s, %dx%d)", where, client.security, client.screen.width, client.screen.height
        )
        if client.security == "classic RDP security":
            login.notices.append(
                Notice(
                    kind="info",
                    text=f"{where}: classic RDP security (RC4): weak encryption, the server's key is trusted as cached",
                )
            )
        return RdpDesktop(client, login)

    @staticmethod
    async def _settle_probe(login: _Login, identity: ServerIdentity) -> None:
        try:
            await login.check(identity)
        except DecisionNeeded as exc:
            await login.decide(exc.identity)

    @staticmethod
    async def _prompt(settings: RdpSettings, ctx: AdapterContext, where: str) -> None:
        fields = []
        if not settings.username:
            fields.append(PromptField("Username:", echo=True))
        fields.append(PromptField("Password:", echo=False))
        answers = await ctx.prompter.ask_text("RDP login", f"Log on to the RDP server {where}", fields)
        if len(answers) != len(fields):
            raise errors.auth_failed(where, settings.username, "no password was given")
        if not settings.username:
            settings.username = answers[0].reveal().strip()
        settings.password = answers[-1]
