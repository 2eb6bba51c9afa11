"""The request and response models of the REST API (the OpenAPI document is generated from these).

Request models forbid unknown fields; response models describe exactly what the API returns.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from console_web.db.models import (
    COMMENTS_MAX,
    CREDENTIAL_REF_MAX,
    CREDENTIAL_SCOPES_MAX,
    DOMAIN_MAX,
    FILE_ROOT_MAX,
    FILE_ROOTS_MAX,
    HOSTNAME_MAX,
    NAME_MAX,
    PROMPT_PATTERN_MAX,
    TAG_MAX,
    USERNAME_PATTERN,
)
from console_web.db.repo import PASSWORD_MAX, PASSWORD_MIN
from jumpoint.core.adapter import (
    DESKTOP_SIDE_MAX,
    DESKTOP_SIDE_MIN,
    DesktopQuality,
    RdpSecurity,
    check_prompt_pattern,
)
from jumpoint.core.credentials import LIST_LIMIT, CredentialKind, check_ref
from jumpoint.core.errors import BadRequest

SUPPORTED_PROTOCOLS: tuple[str, ...] = ("ssh", "telnet", "vnc", "rdp")
DEFAULT_PORTS: dict[str, int] = {"ssh": 22, "telnet": 23, "vnc": 5900, "rdp": 3389}

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)]
Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Comments = Annotated[str, Field(max_length=COMMENTS_MAX)]
Tag = Annotated[str, Field(max_length=TAG_MAX)]


def _credential_ref(value: str) -> str:
    try:
        return check_ref(value)
    except BadRequest as exc:
        raise ValueError(exc.message) from None


def _credential_scope(value: str) -> str:
    try:
        return check_ref(value, what="credential scope", scope=True)
    except BadRequest as exc:
        raise ValueError(exc.message) from None


CredentialRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=CREDENTIAL_REF_MAX,
        description="a credential in a store of the Jumpoint: store:path (vault:secret/linux/web01, local:db-admin)",
    ),
    AfterValidator(_credential_ref),
]
CredentialScope = Annotated[
    str,
    Field(min_length=1, max_length=CREDENTIAL_REF_MAX),
    AfterValidator(_credential_scope),
]
CredentialScopes = Annotated[
    list[CredentialScope],
    Field(
        max_length=CREDENTIAL_SCOPES_MAX,
        description="credentials reps may pick at Jump time: references, folders ending in '/', or store:* "
        "(administrators only)",
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]


def unprintable(text: str) -> str | None:
    """The first control, format, private-use or unassigned character in ``text`` (Unicode category C*: a
    terminal escape, NUL, a line break, a bidirectional override ...) as ``U+001B``, or None if there is none."""
    for ch in text:
        if unicodedata.category(ch).startswith("C"):
            return f"U+{ord(ch):04X}"
    return None


def check_printable(value: str) -> str:
    """``value`` if it holds no control or format character (see :func:`unprintable`); ValueError otherwise."""
    found = unprintable(value)
    if found is not None:
        raise ValueError(f"must not contain control or formatting characters (found {found})")
    return value


def check_item_name(value: str) -> str:
    """A Jump Item's name: printable, and not only spaces."""
    if not value.strip():
        raise ValueError("must not be only spaces")
    return check_printable(value)


ItemName = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(check_item_name)]
ItemUsername = Annotated[str, Field(max_length=128), AfterValidator(check_printable)]
Keepalive = Annotated[int, Field(ge=0, le=3600)]
Id = Annotated[int, Field(ge=1)]
RecordingPolicy = Literal["per_item", "always", "never"]


def check_absolute_path(value: str) -> str:
    """An absolute, normalised POSIX path without NUL, ``.`` or ``..`` parts (for allowed file roots)."""
    if not value.startswith("/"):
        raise ValueError(f"{value[:64]!r} is not an absolute path (it must start with '/')")
    if "\x00" in value or any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"{value[:64]!r} must not contain NUL, '.' or '..' parts")
    return posixpath.normpath(value) if value != "/" else value


FileRoot = Annotated[str, Field(min_length=1, max_length=FILE_ROOT_MAX)]
FileRoots = Annotated[list[FileRoot], Field(max_length=FILE_ROOTS_MAX)]


def check_file_roots(roots: list[str] | None) -> list[str] | None:
    """Validate and normalise each root; duplicates are removed, order kept."""
    if roots is None:
        return None
    out: list[str] = []
    for root in roots:
        norm = check_absolute_path(root)
        if norm not in out:
            out.append(norm)
    return out


class Body(BaseModel):
    """Base of request bodies: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


def _offer_null_only_where_it_clears(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """JSON-schema hook of :class:`Update`: drop ``null`` (and a ``null`` default) from the fields that refuse it."""
    nullable: frozenset[str] = getattr(model, "NULLABLE", frozenset())
    for name, prop in schema.get("properties", {}).items():
        any_of = prop.get("anyOf")
        if name in nullable or not isinstance(any_of, list) or {"type": "null"} not in any_of:
            continue
        rest = [member for member in any_of if member != {"type": "null"}]
        del prop["anyOf"]
        if len(rest) == 1:
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Update(Body):
    """Base of PATCH bodies: a field left out keeps its value. ``null`` is refused (400 ``<field>: may not be null``)
    except for the fields in ``NULLABLE``, where it clears the value; the OpenAPI document offers null only there."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_offer_null_only_where_it_clears)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_it_clears(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("may not be null (leave it out to keep the current value)")
        return value


class Out(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(from_attributes=True)


class Items(Out, Generic[T]):
    """A list response."""

    items: list[T]


# --- errors ------------------------------------------------------------------------------------
class ErrorDetail(Out):
    """What failed, who failed (``target``, ``user`` or ``us``) and what to do."""

    code: str
    who: Literal["target", "user", "us"]
    message: str
    hint: str | None = None
    details: dict[str, Any] | None = None


class ErrorBody(Out):
    """Every error response."""

    error: ErrorDetail


# --- auth and users ----------------------------------------------------------------------------
class LoginIn(Body):
    """Log in with a username and password."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]


class UserOut(Out):
    """A user (the password is never returned)."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    disabled: bool
    file_upload: bool
    file_download: bool
    file_roots: list[str]
    created_at: datetime


class LoginOut(Out):
    """A successful login: the user and the CSRF token to send in ``X-CSRF-Token``."""

    user: UserOut
    csrf_token: str


class MeOut(Out):
    """The caller; ``csrf_token`` is present when authenticated by the login cookie."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    csrf_token: str | None = None


class UserCreate(Body):
    """A new user (also gets a personal Jump Group)."""

    username: Username
    password: Password
    display_name: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    is_admin: bool = False
    file_upload: bool = Field(default=True, description="may upload files to targets (SFTP)")
    file_download: bool = Field(default=True, description="may download files from targets (SFTP)")
    file_roots: FileRoots = Field(
        default_factory=list, description="absolute paths file transfer is limited to; empty: anywhere"
    )

    @field_validator("file_roots")
    @classmethod
    def _roots_are_absolute(cls, value: list[str] | None) -> list[str] | None:
        return check_file_roots(value)


class UserUpdate(Update):
    """Changes to a user; absent fields stay as they are."""

    display_name: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    password: Password | None = None
    is_admin: bool | None = None
    disabled: bool | None = None
    file_upload: bool | None = None
    file_download: bool | None = None
    file_roots: FileRoots | None = None

    @field_validator("file_roots")
    @classmethod
    def _roots_are_absolute(cls, value: list[str] | None) -> list[str] | None:
        return check_file_roots(value)


# --- API tokens --------------------------------------------------------------------------------
class TokenCreate(Body):
    """A new API token for the caller."""

    name: Name
    expires_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokenOut(Out):
    """An API token as listed (without its text)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


class TokenCreated(TokenOut):
    """A new API token: ``token`` is shown this once only."""

    token: str


# --- Jump Groups -------------------------------------------------------------------------------
class GroupCreate(Body):
    """A new shared Jump Group."""

    name: Name
    recording: RecordingPolicy = Field(
        default="per_item", description="per_item: each Jump Item decides; always / never: override the items"
    )
    credential_scopes: CredentialScopes = []


class GroupUpdate(Update):
    """Rename a Jump Group, change its recording policy or its credential scopes; absent fields stay."""

    name: Name | None = None
    recording: RecordingPolicy | None = None
    credential_scopes: CredentialScopes | None = None


class MemberOut(Out):
    """A member of a shared Jump Group."""

    user_id: int
    username: str


class GroupOut(Out):
    """A Jump Group: ``personal`` groups belong to one user; shared groups list ``members`` for admins."""

    id: int
    name: str
    personal: bool
    recording: str
    credential_scopes: list[str] = []
    owner_user_id: int | None = None
    members: list[MemberOut] | None = None


# --- Jumpoints ---------------------------------------------------------------------------------
class JumpointCreate(Body):
    """A new Jumpoint (then create a registration key for it)."""

    name: Name
    comments: Comments = ""


class JumpointUpdate(Update):
    """Changes to a Jumpoint."""

    name: Name | None = None
    comments: Comments | None = None


class JumpointOut(Out):
    """A Jumpoint; ``connected`` is live (at least one member connected), ``registered`` says whether any host is
    registered as its member; ``hostname`` and ``last_seen_at`` are the member that connected last's; ``members``
    and ``members_connected`` count its registered and connected members (a cluster has more than one)."""

    id: int
    name: str
    comments: str
    hostname: str
    registered: bool
    registered_at: datetime | None = None
    last_seen_at: datetime | None = None
    connected: bool
    members: int = 0
    members_connected: int = 0


class JumpointMemberOut(Out):
    """One registered host of a Jumpoint: whether it is connected now (since when, with how many active
    sessions), when it registered and was last seen; ``builtin`` for the all-in-one console's own."""

    id: int
    hostname: str
    builtin: bool
    registered_at: datetime
    last_seen_at: datetime | None = None
    connected: bool
    connected_since: datetime | None = None
    active_sessions: int = 0


class RegistrationKeyCreate(Body):
    """Ask for a one-time registration key."""

    expires_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None = None


class RegistrationKeyOut(Out):
    """A one-time registration key (shown once) and the command to run on the Jumpoint host."""

    jumpoint_id: int
    jumpoint_name: str
    key: str
    expires_at: datetime
    command: str


# The Jumpoint's own rule for the name a member host gives (jumpoint/agent/config.py, ``hostname``).
MEMBER_HOSTNAME_PATTERN = r"^[^\s/@\\]+$"


def check_member_hostname(value: str) -> str:
    """The name a registering host gives: no whitespace, '/', '@' or '\\' (the Jumpoint's own rule), and no control or
    format character (it is logged and shown: a line break would forge a log line)."""
    if not re.fullmatch(MEMBER_HOSTNAME_PATTERN, value) or unprintable(value) is not None:
        raise ValueError("must be a host name without spaces, '/', '@', '\\' or control characters")
    return value


class RegisterIn(Body):
    """A Jumpoint registering with its one-time key."""

    key: Annotated[str, Field(min_length=1, max_length=256)]
    hostname: Annotated[
        str,
        Field(min_length=1, max_length=HOSTNAME_MAX, json_schema_extra={"pattern": MEMBER_HOSTNAME_PATTERN}),
        AfterValidator(check_member_hostname),
    ]


class RegisterOut(Out):
    """The Jumpoint's identity, the new member's id and its token (keep the token secret; the Jumpoint's other
    members keep theirs)."""

    jumpoint_id: int
    name: str
    token: str
    member_id: int


class HostKeyOut(Out):
    """One host key (or TLS certificate, ``x509-sha256``) every member of a Jumpoint trusts; ``added_by`` is the
    member host that saved it."""

    host: str
    port: int
    algorithm: str
    fingerprint: str
    added_at: str = ""
    added_by: str = ""


class HostKeyRemoveQuery(Body):
    """Which cached host keys to forget (all keys of host:port unless ``fingerprint`` is given)."""

    host: Annotated[str, Field(min_length=1, max_length=HOSTNAME_MAX)]
    port: Port = 22
    fingerprint: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class RemovedOut(Out):
    """How many entries were removed."""

    removed: int


# --- Jump Items --------------------------------------------------------------------------------
def split_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address -> (host, port or None).

    A bare host with more than one ':' must be an IPv6 address (``a:b:c`` is neither that nor ``host:port``)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("an IPv6 address in brackets needs the closing ']' (e.g. [::1]:2222)")
        host, rest = text[1:end], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError("after ']' only ':port' may follow")
        return host, _port(rest[1:])
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port)
    if ":" in text:
        try:
            ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            raise ValueError(
                f"{text[:64]!r} is not an IPv6 address; write host:port, or an IPv6 address with a port as [v6]:port"
            ) from None
    return text, None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text[:20]!r} must be a number from 1 to 65535")
    return int(text)


def check_hostname(host: str) -> str:
    """Refuse empty names, spaces, '/', '@', '\\' and a leading '-' (as the Jumpoint's Target does), and control or
    format characters (a terminal escape, NUL, a bidirectional override)."""
    if not host:
        raise ValueError("the host name is empty")
    if len(host) > HOSTNAME_MAX:
        raise ValueError(f"the host name is longer than {HOSTNAME_MAX} characters")
    if any(ch.isspace() or ch in "/@\\" for ch in host) or host.startswith("-"):
        raise ValueError("must be a host name or an IP address, without spaces, '/', '@' or a leading '-'")
    return check_printable(host)


DOMAIN_FORBIDDEN = frozenset('\\/:*?"<>|@')


def check_domain(value: str) -> str:
    """A Windows domain as typed (``CORP`` or ``corp.example.com``), stripped; empty means a local account.

    Raises ValueError naming the problem: the characters no Windows domain name may hold (the ones Windows forbids in
    NetBIOS names, and ``@``), which usually mean the user name was typed here (``CORP\\alice``, ``alice@corp``)."""
    value = value.strip()
    if any(ch in DOMAIN_FORBIDDEN or ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(
            "a Windows domain (CORP or corp.example.com) has no spaces, control characters or any of "
            '\\ / : * ? " < > | @; put the user name in username'
        )
    return value


def check_protocol(value: str) -> str:
    """Only the protocols implemented so far are accepted."""
    if value not in SUPPORTED_PROTOCOLS:
        raise ValueError(f"protocol {value[:32]} is not supported yet; supported: {', '.join(SUPPORTED_PROTOCOLS)}")
    return value


HostnameText = Annotated[str, Field(min_length=1, max_length=HOSTNAME_MAX + 8)]
Domain = Annotated[
    str,
    Field(max_length=DOMAIN_MAX, description="RDP: the Windows domain of the user (empty: a local account)"),
    AfterValidator(check_domain),
]
RdpSecurityField = Annotated[
    RdpSecurity,
    Field(
        description="RDP: auto (NLA or TLS, whichever the server offers), nla, tls, or rdp (classic RDP security: "
        "weak, only for servers that offer nothing else)"
    ),
]
ConsoleSession = Annotated[bool, Field(description="RDP: connect to the console (admin) session")]
IgnoreCertificate = Annotated[
    bool,
    Field(description="RDP: connect without asking when the server's TLS certificate is not trusted"),
]
PromptPattern = Annotated[str, Field(min_length=1, max_length=PROMPT_PATTERN_MAX)]


class _ItemFields(Body):
    @field_validator("hostname", check_fields=False)
    @classmethod
    def _hostname_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _ = split_host_port(value)
        check_hostname(host)
        return value.strip()

    @field_validator("login_prompt", "password_prompt", "login_failure", check_fields=False)
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            check_prompt_pattern(value)
        return value

    @field_validator("protocol", check_fields=False)
    @classmethod
    def _protocol_supported(cls, value: str | None) -> str | None:
        return None if value is None else check_protocol(value)

    def host_and_port(self) -> tuple[str | None, int | None]:
        """The host name without a port, and the port (from ``hostname:port``, else the ``port`` field)."""
        hostname: str | None = getattr(self, "hostname", None)
        port: int | None = getattr(self, "port", None)
        if hostname is None:
            return None, port
        host, host_port = split_host_port(hostname)
        if host_port is not None and port is not None and host_port != port:
            raise ValueError(f"hostname says port {host_port} but port is {port}; give the port once")
        return host, host_port if host_port is not None else port

    @model_validator(mode="after")
    def _ports_agree(self) -> _ItemFields:
        try:
            self.host_and_port()
        except ValueError as exc:
            raise ValueError(f"hostname: {exc}") from None
        return self


SessionPolicy = Literal["join_existing", "start_new"]


class JumpItemCreate(_ItemFields):
    """A new Jump Item. ``hostname`` may carry ``:port`` (IPv6 in brackets: ``[::1]:2222``).

    Fields of another protocol (``terminal_type`` on VNC, ``domain`` on SSH ...) are kept and have no effect."""

    name: ItemName
    group_id: Id | None = Field(default=None, description="default: the caller's personal group")
    jumpoint_id: Id
    hostname: HostnameText
    protocol: Annotated[str, Field(max_length=16)] = "ssh"
    port: Port | None = Field(default=None, description="default: 22 for ssh, 23 telnet, 5900 vnc, 3389 rdp")
    username: ItemUsername = ""
    terminal_type: Literal["xterm", "vt100"] = "xterm"
    quality: DesktopQuality = Field(
        default="full_color",
        description="VNC/RDP picture quality: black_and_white, few_colors, more_colors, full_color or video",
    )
    domain: Domain = ""
    rdp_security: RdpSecurityField = "auto"
    console_session: ConsoleSession = False
    ignore_certificate: IgnoreCertificate = False
    keepalive_seconds: Keepalive = Field(default=0, description="0 = no keep-alive packets")
    tag: Tag = ""
    comments: Comments = ""
    credential_ref: CredentialRef | None = Field(
        default=None, description="inject this credential without asking (administrators only)"
    )
    credential_scopes: CredentialScopes = []
    session_policy: SessionPolicy = Field(
        default="join_existing",
        description="join_existing: a second rep who jumps joins the running session; start_new: a new session",
    )
    record_session: bool = Field(default=True, description="record the session (asciicast and transcript)")
    record_input: bool = Field(default=False, description="also record keystrokes (never while echo is off)")
    login_prompt: PromptPattern | None = Field(default=None, description="telnet: login prompt pattern (regex)")
    password_prompt: PromptPattern | None = Field(default=None, description="telnet: password prompt pattern")
    login_failure: PromptPattern | None = Field(default=None, description="telnet: failed-login pattern")


class JumpItemUpdate(_ItemFields, Update):
    """Changes to a Jump Item; absent fields stay, ``credential_ref: null`` clears it (and a prompt pattern's null
    goes back to the Telnet adapter's default)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset(
        {"credential_ref", "login_prompt", "password_prompt", "login_failure"}
    )

    name: ItemName | None = None
    group_id: Id | None = None
    jumpoint_id: Id | None = None
    hostname: HostnameText | None = None
    protocol: Annotated[str, Field(max_length=16)] | None = None
    port: Port | None = None
    username: ItemUsername | None = None
    terminal_type: Literal["xterm", "vt100"] | None = None
    quality: DesktopQuality | None = None
    domain: Domain | None = None
    rdp_security: RdpSecurityField | None = None
    console_session: ConsoleSession | None = None
    ignore_certificate: IgnoreCertificate | None = None
    keepalive_seconds: Keepalive | None = None
    tag: Tag | None = None
    comments: Comments | None = None
    credential_ref: CredentialRef | None = None
    credential_scopes: CredentialScopes | None = None
    session_policy: SessionPolicy | None = None
    record_session: bool | None = None
    record_input: bool | None = None
    login_prompt: PromptPattern | None = None
    password_prompt: PromptPattern | None = None
    login_failure: PromptPattern | None = None


class JumpItemOut(Out):
    """A Jump Item."""

    id: int
    name: str
    group_id: int
    jumpoint_id: int
    hostname: str
    protocol: str
    port: int
    username: str
    terminal_type: str
    quality: str = "full_color"
    domain: str = ""
    rdp_security: str = "auto"
    console_session: bool = False
    ignore_certificate: bool = False
    keepalive_seconds: int
    tag: str
    comments: str
    credential_ref: str | None = None
    credential_scopes: list[str] = []
    target_by_admin: bool = Field(description="an administrator set the target: only then are credentials injected")
    session_policy: str
    record_session: bool
    record_input: bool
    login_prompt: str | None = None
    password_prompt: str | None = None
    login_failure: str | None = None
    created_by: int | None = None
    created_at: datetime
    updated_at: datetime


class JumpItemList(Out):
    """Jump Items ordered by name; at most 200 (``truncated`` says more matched)."""

    items: list[JumpItemOut]
    truncated: bool


class JumpItemQuery(Body):
    """Filters: ``search`` matches name, hostname, tag and comments (case-insensitive)."""

    search: Annotated[str, Field(max_length=256)] | None = None
    group_id: Id | None = None


DesktopSide = Annotated[int, Field(ge=DESKTOP_SIDE_MIN, le=DESKTOP_SIDE_MAX)]


class JumpIn(Body):
    """The size of the panel that will show the session (terminal cells; desktop pixels), and the chosen credential.

    ``desktop_width`` and ``desktop_height`` come together or not at all; RDP sizes the remote desktop to them (VNC
    servers choose their own size and ignore them)."""

    cols: Annotated[int, Field(ge=1, le=1000)] = 80
    rows: Annotated[int, Field(ge=1, le=500)] = 24
    desktop_width: DesktopSide | None = Field(
        default=None, description="desktops: the width in CSS pixels the session panel has for the remote desktop"
    )
    desktop_height: DesktopSide | None = Field(
        default=None, description="desktops: the height in CSS pixels the session panel has for the remote desktop"
    )
    credential: CredentialRef | None = Field(
        default=None, description="inject this credential (one the item's credential list offers)"
    )

    @model_validator(mode="after")
    def _desktop_size_is_whole(self) -> JumpIn:
        if (self.desktop_width is None) != (self.desktop_height is None):
            raise ValueError("desktop_width and desktop_height go together: give both or neither")
        return self


class CredentialChoiceOut(Out):
    """A credential a rep may inject: its reference and, when the store knows it, its kind. Never a secret."""

    ref: str
    kind: CredentialKind | None = None


class CredentialStoreProblem(Out):
    """A credential store that could not answer the listing."""

    store: str
    code: str
    message: str


class CredentialChoices(Out):
    """What the Jump dialog offers: the item's own credential (injected without asking) or a list to pick from."""

    fixed: str | None = Field(description="the item injects this credential without asking")
    credentials: list[CredentialChoiceOut]
    truncated: bool = Field(description=f"more matched than the {LIST_LIMIT} returned: narrow the search")
    problems: list[CredentialStoreProblem] = []


class ParticipantOut(Out):
    """A participant of a live session."""

    id: str
    name: str
    mode: str
    external: bool
    connected: bool
    joined_at: str


class SessionOut(Out):
    """A live session."""

    session_id: str
    item_id: int
    item_name: str
    owner_user_id: int
    jumpoint_id: int
    protocol: str
    state: str
    started_at: str
    participants: list[ParticipantOut] = Field(default_factory=list)


class JumpOut(Out):
    """A started (or, for a join-existing item with a running session, joined) session and its WebSocket URL."""

    session_id: str
    url: str
    session: SessionOut
    joined: bool = False


def check_search_string(value: str) -> str:
    """A Client Scripting search string without its outer spaces; ValueError if nothing is left."""
    value = value.strip()
    if not value:
        raise ValueError("the search string is empty; give the name, host name, tag or comments of the Jump Item")
    return value


class ClientScriptQuery(Body):
    """Client Scripting: ``type=web_console&operation=execute&action=start_jump_item_session``."""

    type: Literal["web_console"]
    operation: Literal["execute"]
    action: Literal["start_jump_item_session"]
    # No min_length: the length that counts is the one after stripping, which check_search_string checks (with a
    # message that says what is missing); the OpenAPI document still says minLength 1.
    search_string: Annotated[
        str, Field(max_length=256, json_schema_extra={"minLength": 1}), AfterValidator(check_search_string)
    ]
