"""Log in over Telnet by answering the server's prompts: the user name, then the password.

The user name is the Jump Item's, else the credential's, else the rep's answer. The password is the credential's
(fetched when the password prompt shows, announced by name only) or, without a credential, the rep's answer to a
non-echoed prompt. Both are sent as typed lines (the Enter is a CR, sent as CR NUL); a user name with a control
character in it (a line break would type the rest as a command) is refused before anything is typed. The password
is written to the socket and nowhere else: never logged, never in an event, and the server does not echo it. Should
the server show a stored password back all the same (the item's password prompt pattern matched an echoing prompt),
the output that shows it never leaves the protocol (:meth:`~protocols.telnet.protocol.TelnetProtocol.guard_output`)
and the login fails with a TargetProtocolError that names the credential, never the password.

Outcomes, bounded by ``timeout`` seconds of waiting for the server (the time the rep takes to answer a prompt is
not counted; the rep's prompts have their own limit):

* logged in: after the password the server printed something and then went quiet for ``settle`` seconds without
  a failure text and without the login or password prompt coming back;
* the stored password shown back by the server -> :class:`~jumpoint.core.errors.TargetProtocolError`;
* refused: the failure pattern, or the login (or password) prompt coming back, or the server hanging up after the
  password -> :class:`~jumpoint.core.errors.TargetAuthFailed`;
* no prompt recognised in time: with a credential on the item this is an error (the credential was meant to log
  in unattended; the message says what the server printed so the patterns can be fixed); without one the terminal
  is handed to the rep as it is, with a notice: devices without a login, or with prompts the patterns do not
  know, stay usable;
* after the user name or the password, silence until the timeout also hands the terminal over (the account may
  need no password, or the server printed nothing after accepting it).
"""

from __future__ import annotations

import asyncio
import enum
import unicodedata

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.credentials import Credential, fetch_item_credential
from jumpoint.core.errors import BadRequest, TargetTimeout
from jumpoint.core.events import Notice
from jumpoint.core.secret import Secret
from jumpoint.core.target_errors import closed
from protocols.telnet.codec import CommandFlood, encode_data
from protocols.telnet.errors import PATTERN_HINT, auth_failed, bad_username, command_flood, password_shown
from protocols.telnet.login import LoginPatterns, LoginWatcher, Signal, Stage
from protocols.telnet.protocol import TelnetProtocol

DEFAULT_LOGIN_TIMEOUT = 30.0
DEFAULT_SETTLE = 0.3
_LINE_BREAKS = frozenset("\r\n\0")


class Outcome(enum.Enum):
    """How the auto-login ended (when it did not raise)."""

    LOGGED_IN = "logged in"
    HANDED_OVER = "handed over to the rep"


class AutoLogin:
    """One login attempt on one connection; :meth:`run` once."""

    def __init__(
        self,
        proto: TelnetProtocol,
        target: Target,
        ctx: AdapterContext,
        patterns: LoginPatterns,
        *,
        timeout: float = DEFAULT_LOGIN_TIMEOUT,
        settle: float = DEFAULT_SETTLE,
    ) -> None:
        self._proto = proto
        self._target = target
        self._ctx = ctx
        self._where = f"{target.hostname}:{target.port}"
        self._watcher = LoginWatcher(patterns)
        self._timeout = timeout
        self._settle = settle
        self._wake = asyncio.Event()
        self._lost = False
        self._secret_shown = False
        self._credential: Credential | None = None
        self._fetched = False
        self.username = target.username
        # Watch from the first byte: the server may print its prompt before the connect call returns.
        proto.observer = self

    # --- OutputObserver -------------------------------------------------------------------------
    def on_output(self, data: bytes) -> None:
        """The server printed something."""
        self._watcher.feed(data)
        self._wake.set()

    def on_lost(self) -> None:
        """The connection ended."""
        self._lost = True
        self._wake.set()

    def on_secret_shown(self) -> None:
        """The server showed the stored password back (the output was dropped)."""
        self._secret_shown = True
        self._wake.set()

    # --- the login ------------------------------------------------------------------------------
    async def run(self) -> Outcome:
        """Log in; return how it ended, or raise TargetAuthFailed, TargetClosed, TargetTimeout, Cancelled.

        Create the AutoLogin before the connection opens (it watches the output from then on); run it once.
        """
        proto = self._proto
        self._lost = self._lost or proto.done
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        watcher = self._watcher
        logged_in = False
        try:
            while True:
                self._wake.clear()
                if self._secret_shown:
                    credential = self._credential
                    raise password_shown(self._where, credential.name if credential is not None else None)
                signal = watcher.take()
                if signal is not None:
                    started = loop.time()
                    await self._act(signal)
                    deadline += loop.time() - started  # the rep's answering time is not the server's
                    continue
                if self._lost:
                    raise self._lost_error()
                remaining = deadline - loop.time()
                if watcher.stage is Stage.SENT_PASSWORD and watcher.text_seen:
                    if not await self._woken(min(self._settle, max(remaining, 0.0))):
                        outcome = self._judge()
                        logged_in = True
                        return outcome
                    continue
                if remaining <= 0:
                    outcome = self._timed_out()
                    logged_in = True
                    return outcome
                await self._woken(remaining)
        finally:
            proto.observer = None
            proto.end_guard(release=logged_in)

    async def _act(self, signal: Signal) -> None:
        watcher = self._watcher
        if signal is Signal.FAILURE:
            raise auth_failed(self._where, self.username, watcher.failure_text)
        if signal is Signal.LOGIN_PROMPT:
            self.username = await self._username()
            self._send_line(self.username)
            watcher.sent_username()
            self._ctx.log.info("telnet auto-login: sent the user name %s", self.username)
        elif signal is Signal.PASSWORD_PROMPT:
            password = await self._password()
            if password:  # stored or typed by the rep: neither may show in the output
                self._proto.guard_output(password.reveal().encode("utf-8"))
            self._send_line(password.reveal())
            watcher.sent_password()
            self._ctx.log.info("telnet auto-login: sent the password for %s", self.username or "(no user name)")

    def _judge(self) -> Outcome:
        if self._watcher.verdict() is Signal.FAILURE:
            raise auth_failed(self._where, self.username, self._watcher.failure_text)
        self._ctx.log.info("telnet auto-login: logged in to %s as %s", self._where, self.username or "(no name)")
        return Outcome.LOGGED_IN

    def _lost_error(self) -> Exception:
        error = self._proto.error
        if isinstance(error, CommandFlood):
            return command_flood(self._where, error.budget)
        if self._watcher.stage is Stage.SENT_PASSWORD:
            return auth_failed(self._where, self.username, "the server closed the connection after the password")
        return closed(self._where, f"the server hung up during the login ({self._watcher.stage.value})")

    def _timed_out(self) -> Outcome:
        stage = self._watcher.stage
        if stage is Stage.SENT_PASSWORD and self._watcher.text_seen:
            return self._judge()
        if stage is Stage.AWAIT_PROMPT and self._target.credential_ref is not None:
            shown = " ".join(self._watcher.tail.split())[-200:]
            raise TargetTimeout(
                f"{self._where} showed no login or password prompt within {self._timeout:g} s, so credential "
                f"'{self._target.credential_ref}' could not be used"
                + (f"; the server's last words were {shown!r}" if shown else "; the server printed nothing"),
                hint=PATTERN_HINT,
                details={"target": self._where},
            )
        what = {
            Stage.AWAIT_PROMPT: "no login prompt was recognised",
            Stage.SENT_USER: "no password prompt followed the user name",
            Stage.SENT_PASSWORD: "the server said nothing after the password",
        }[stage]
        text = f"auto-login stopped: {what} within {self._timeout:g} s; the terminal is yours"
        self._ctx.log.warning("telnet auto-login to %s: %s", self._where, text)
        self._proto.output.push(Notice(kind="info", text=text))
        return Outcome.HANDED_OVER

    async def _woken(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for output or the end of the connection; False if nothing came."""
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    def _send_line(self, text: str) -> None:
        proto = self._proto
        proto.write(encode_data(text.encode("utf-8") + b"\r", binary=proto.negotiator.binary_out))

    # --- what to send ---------------------------------------------------------------------------
    async def _fetch(self) -> Credential | None:
        if not self._fetched:
            self._fetched = True
            ref = self._target.credential_ref
            if ref is not None:
                purpose = f"telnet login to {self._where} for session {self._ctx.session_id}"
                self._credential = await fetch_item_credential(
                    self._ctx.credentials, ref, purpose=purpose, username=self._target.username
                )
        return self._credential

    async def _username(self) -> str:
        if self.username:
            _check_name(self.username, "the Jump Item's user name")
            return self.username
        credential = await self._fetch()
        if credential is not None and credential.username:
            _check_name(credential.username, f"the user name of credential '{credential.name}'")
            return credential.username
        (answer,) = await self._ask("Login", [PromptField("Login as:", echo=True)])
        name = answer.reveal().strip()
        if not name or len(name) > 128 or any(ch.isspace() or ord(ch) < 32 for ch in name):
            raise BadRequest("the login name must be 1 to 128 characters without spaces")
        return name

    async def _password(self) -> Secret:
        credential = await self._fetch()
        if credential is not None:
            if credential.password is None:
                raise BadRequest(
                    f"credential '{credential.name}' holds no password, and a Telnet login needs one",
                    hint="attach a password credential to the Jump Item",
                )
            _check_line(credential.password, f"the password of credential '{credential.name}'")
            name = credential.name
            self._proto.output.push(
                Notice(kind="credential_injected", text=f"credential '{name}' injected", subject=name)
            )
            self._ctx.log.info("credential '%s' injected for %s on %s", credential.name, self.username, self._where)
            return credential.password
        host = self._target.hostname
        label = f"Password for {self.username}@{host}:" if self.username else f"Password for {host}:"
        (answer,) = await self._ask("Password", [PromptField(label, echo=False)])
        _check_line(answer, "the password")
        return answer

    async def _ask(self, title: str, fields: list[PromptField]) -> list[Secret]:
        answers = await self._ctx.prompter.ask_text(title, f"Log in to {self._where}", fields)
        limit = self._ctx.limits.max_prompt_answer
        if len(answers) != len(fields):
            raise BadRequest(f"the login prompt expected {len(fields)} answer(s), got {len(answers)}")
        if any(len(answer) > limit for answer in answers):
            raise BadRequest(f"a login answer is longer than {limit} characters")
        return answers


def _check_name(name: str, what: str) -> None:
    """Refuse a user name with a control character in it (a CR would end the line and type the rest)."""
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise bad_username(what)


def _check_line(secret: Secret, what: str) -> None:
    """Refuse a secret that would end the line early (and type the rest as a command)."""
    if any(ch in _LINE_BREAKS for ch in secret.reveal()):
        raise BadRequest(f"{what} contains a line break or NUL, which cannot be typed at a Telnet login prompt")
