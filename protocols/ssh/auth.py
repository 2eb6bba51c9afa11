"""The login side of the SSH connection: answers asyncssh's authentication callbacks.

Method order is asyncssh's (public key, keyboard-interactive, password). A Jump Item's stored credential is
fetched the first time a method needs it and each of its secrets is offered once; without a credential the
rep is asked, at most ``max_attempts`` times. Keyboard-interactive challenges (PAM prompts, MFA codes) are
relayed to the rep as they are; a lone non-echoed ``Password:`` prompt is answered from a stored password.

Failures inside a callback (the rep cancelled, the credential does not exist) are kept in :attr:`failure`
and re-raised by the adapter: asyncssh only sees that the connection must close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncssh

from jumpoint.core.adapter import AdapterContext, PromptField
from jumpoint.core.credentials import Credential
from jumpoint.core.errors import BadRequest, JumpError
from jumpoint.core.events import Notice
from jumpoint.core.secret import Secret

_T = TypeVar("_T")
CredentialLoader = Callable[[], Awaitable[Credential | None]]

MAX_SERVER_NOTICES = 5
"""Banners and instructions kept from one login; a server may send any number of them."""
SERVER_NOTICE_CHARS = 2000
"""The most characters of one banner or instruction kept."""

_PASSWORD_WORDS = ("password", "passwort", "passphrase", "mot de passe", "contraseña")


def is_password_prompt(text: str, echo: bool) -> bool:
    """Whether a keyboard-interactive prompt asks for the account password (not a one-time code)."""
    lowered = text.lower()
    return not echo and any(word in lowered for word in _PASSWORD_WORDS) and "code" not in lowered


class LoginClient(asyncssh.SSHClient):
    """One login attempt's answers to the SSH server; create one per connection."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        ctx: AdapterContext,
        credential: CredentialLoader,
        max_attempts: int,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._ctx = ctx
        self._load_credential = credential
        self._max_attempts = max_attempts
        self._rounds = 0
        self._key_offered = False
        self._password_used = False
        self._injected = False
        self.failure: JumpError | None = None
        self.notices: list[Notice] = []
        self._server_notices = 0
        self.handshake_done = asyncio.Event()

    # --- progress ------------------------------------------------------------------------------
    def auth_banner_received(self, msg: str, lang: str) -> None:
        """Keep the server's pre-login banner for the session timeline."""
        self.handshake_done.set()
        text = msg.strip()
        if text:
            self._server_notice(f"server banner: {text}")

    def _server_notice(self, text: str) -> None:
        """Keep a banner or an instruction the server sent for the timeline: the first :data:`MAX_SERVER_NOTICES`,
        then one line saying that more were left out (a server may send any number during the login)."""
        self._server_notices += 1
        if self._server_notices <= MAX_SERVER_NOTICES:
            self.notices.append(Notice(kind="info", text=text[:SERVER_NOTICE_CHARS]))
        elif self._server_notices == MAX_SERVER_NOTICES + 1:
            self.notices.append(Notice(kind="info", text="the server sent more login messages; they are not shown"))

    def auth_completed(self) -> None:
        """The server accepted the login."""
        self.handshake_done.set()

    # --- methods -------------------------------------------------------------------------------
    async def public_key_auth_requested(
        self,
    ) -> asyncssh.SSHKey | tuple[asyncssh.SSHKey, asyncssh.SSHCertificate] | None:
        """Offer the credential's private key once (with its certificate, if it has one)."""
        self.handshake_done.set()
        return await self._guard(self._private_key)

    async def kbdint_auth_requested(self) -> str | None:
        """Accept keyboard-interactive while attempts remain (each round may carry several challenges)."""
        self.handshake_done.set()
        if self._rounds >= self._max_attempts:
            return None
        self._rounds += 1
        return ""

    async def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Sequence[tuple[str, bool]]
    ) -> list[str] | None:
        """Answer one challenge: from the stored password for a lone password prompt, else from the rep."""
        return await self._guard(lambda: self._challenge(name, instructions, prompts))

    async def password_auth_requested(self) -> str | None:
        """Give the stored password once, or ask the rep while attempts remain."""
        self.handshake_done.set()
        return await self._guard(self._password)

    # --- helpers -------------------------------------------------------------------------------
    async def _guard(self, step: Callable[[], Awaitable[_T | None]]) -> _T | None:
        try:
            return await step()
        except JumpError as exc:
            # asyncssh turns a raised exception into closing the connection; the adapter re-raises ours.
            self.failure = exc
            raise

    async def _credential(self) -> Credential | None:
        return await self._load_credential()

    def _injecting(self, credential: Credential) -> None:
        if not self._injected:
            self._injected = True
            name = credential.name
            self.notices.append(Notice(kind="credential_injected", text=f"credential '{name}' injected", subject=name))
            self._ctx.log.info("credential '%s' injected for %s@%s", name, self._username, self._host)

    async def _private_key(self) -> asyncssh.SSHKey | tuple[asyncssh.SSHKey, asyncssh.SSHCertificate] | None:
        if self._key_offered:
            return None
        self._key_offered = True
        credential = await self._credential()
        if credential is None or credential.private_key is None:
            return None
        passphrase = credential.passphrase.reveal() if credential.passphrase else None
        try:
            key = asyncssh.import_private_key(credential.private_key.reveal(), passphrase)
        except (asyncssh.KeyImportError, ValueError):
            raise BadRequest(
                f"credential '{credential.name}' holds a private key that cannot be read",
                hint="check the key text and its passphrase in the credential store",
            ) from None
        if credential.certificate:
            try:
                certificate = asyncssh.import_certificate(credential.certificate)
            except (asyncssh.KeyImportError, ValueError):
                raise BadRequest(
                    f"credential '{credential.name}' holds an SSH certificate that cannot be read",
                    hint="check the certificate text (an OpenSSH user certificate) in the credential store",
                ) from None
            self._injecting(credential)
            return key, certificate
        self._injecting(credential)
        return key

    async def _stored_password(self) -> str | None:
        """The stored password the first time it is asked for; None after that or if there is none."""
        credential = await self._credential()
        if credential is None or credential.password is None or self._password_used:
            return None
        self._password_used = True
        self._injecting(credential)
        return credential.password.reveal()

    async def _password(self) -> str | None:
        if await self._credential() is not None:
            return await self._stored_password()
        if self._rounds >= self._max_attempts:
            return None
        self._rounds += 1
        (answer,) = await self._ask(
            "Password",
            f"Log in to {self._host}:{self._port}",
            [PromptField(f"Password for {self._username}@{self._host}:", echo=False)],
        )
        return answer.reveal()

    async def _challenge(self, name: str, instructions: str, prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
        if not prompts:
            if instructions.strip():
                self._server_notice(instructions.strip())
            return []
        credential = await self._credential()
        if credential is not None and len(prompts) == 1 and is_password_prompt(*prompts[0]):
            # With a credential the rep is never asked for the account password; a second password prompt
            # means the stored one was refused, so this method gives up.
            password = await self._stored_password()
            return None if password is None else [password]
        title = name.strip() or f"Log in to {self._host}:{self._port}"
        fields = [PromptField(text, echo) for text, echo in prompts]
        answers = await self._ask(title, instructions, fields)
        return [answer.reveal() for answer in answers]

    async def _ask(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        answers = await self._ctx.prompter.ask_text(title, instruction, fields)
        limit = self._ctx.limits.max_prompt_answer
        if len(answers) != len(fields):
            raise BadRequest(f"the login prompt expected {len(fields)} answer(s), got {len(answers)}")
        if any(len(answer) > limit for answer in answers):
            raise BadRequest(f"a login answer is longer than {limit} characters")
        return answers
