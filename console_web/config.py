"""The console's configuration file (YAML), validated into typed settings.

A bad file is refused at start with the file, the key path and what was expected. Unknown keys are
errors. Secret values may be given as ``{env: NAME}`` or ``{file: PATH}`` instead of inline text.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from jumpoint.core.config_files import load_config_file
from jumpoint.core.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Section):
    """A secret given by reference: exactly one of ``env`` (an environment variable) or ``file`` (a path)."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    @property
    def source(self) -> str:
        """Where the secret is read from, for messages: ``environment variable NAME`` or ``file PATH``."""
        return f"environment variable {self.env}" if self.env is not None else f"file {self.file}"

    def resolve(self) -> str:
        """Read the secret now; raise ConfigError naming the variable or file if it is missing."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {self.file}: {exc.strerror}") from None


class TlsSettings(_Section):
    """HTTPS: ``mode: self_signed`` makes a certificate on first run; ``files`` uses ``cert`` and ``key``."""

    mode: Literal["off", "self_signed", "files"] = "self_signed"
    cert: Path | None = None
    key: Path | None = None

    @model_validator(mode="after")
    def _files_need_paths(self) -> TlsSettings:
        if self.mode == "files" and (self.cert is None or self.key is None):
            raise ValueError("mode 'files' needs both 'cert' and 'key'")
        return self


class ListenSettings(_Section):
    """Where the console listens and how browsers reach it."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8443
    public_url: str | None = Field(
        default=None, description="what browsers and Jumpoints use to reach the console: an http(s) URL with a host"
    )
    tls: TlsSettings = TlsSettings()

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None:
            check_public_url(value)
        return value


def check_public_url(value: str) -> str:
    """``value`` if it is an ``http://`` or ``https://`` URL with a host (a path is allowed) and without user
    information, query, fragment, spaces or control characters; ValueError saying what is wrong otherwise."""
    shown = repr(value[:200])
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError(f"{shown} has spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown} is not an http:// or https:// URL with a host, such as https://console.example.com/")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"{shown} has a port that is not a number from 0 to 65535") from None
    if "@" in parts.netloc:
        raise ValueError(f"{shown} must not hold a user name or password")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{shown} must not have a query ('?...') or a fragment ('#...')")
    return value


class DatabaseSettings(_Section):
    """The database: SQLite in the state directory by default, or an SQLAlchemy async URL such as
    ``postgresql+asyncpg://openjump@db.example.net:5432/openjump``.

    The password goes in ``password`` as ``{env: NAME}`` or ``{file: PATH}``, not in the YAML; a whole URL that carries
    a password can also be given by reference. The pool settings apply to a server database (PostgreSQL), not to
    SQLite.
    """

    url: str | SecretRef | None = Field(
        default=None, description="default: SQLite in state_dir; the text of a URL, or {env: NAME} / {file: PATH}"
    )
    password: SecretRef | None = Field(
        default=None, description="the password of the URL's user, from an environment variable or a file"
    )
    pool_size: Annotated[int, Field(ge=1, le=200, description="connections kept open")] = 10
    max_overflow: Annotated[int, Field(ge=0, le=200, description="extra connections opened under load")] = 10
    pool_timeout_seconds: Annotated[
        int, Field(ge=1, le=600, description="how long a request waits for a free connection")
    ] = 30
    pool_recycle_seconds: Annotated[
        int, Field(ge=0, le=24 * 3600, description="connections older than this are replaced; 0 = never")
    ] = 1800
    connect_timeout_seconds: Annotated[int, Field(ge=1, le=300, description="for opening one connection")] = 10

    @field_validator("url")
    @classmethod
    def _url_not_empty(cls, value: str | SecretRef | None) -> str | SecretRef | None:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give a URL, or leave database.url out for SQLite in state_dir")
        return value


class SecuritySettings(_Section):
    """Login and session policy."""

    session_idle_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60
    session_max_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 12
    login_attempts_per_minute: Annotated[int, Field(ge=1, le=1000)] = 5
    registration_key_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60


class SessionSettings(_Section):
    """Limits of live sessions."""

    max_participants: Annotated[int, Field(ge=1, le=100)] = 10
    max_sessions_per_jumpoint: Annotated[int, Field(ge=1, le=10000)] = 1000
    prompt_timeout_seconds: Annotated[int, Field(ge=5, le=3600)] = 300
    idle_timeout_seconds: Annotated[
        int, Field(ge=0, le=24 * 3600, description="no input this long ends it; 0 = never")
    ] = 30 * 60
    reconnect_grace_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    stream_buffer_kib: Annotated[
        int, Field(ge=2048, le=64 * 1024, description="at least twice the 1 MiB flow-control window")
    ] = 4096
    websocket_compression: bool = Field(
        default=False,
        description="per-message deflate to browsers: about 3.6x less bandwidth for bulk terminal output, but "
        "about 25% more console CPU for every extra participant (each socket compresses on its own)",
    )


class RecordingSettings(_Section):
    """Session recordings (asciicast v2 plus a text transcript per terminal session)."""

    enabled: bool = True
    directory: Path | None = Field(default=None, description="default: <state_dir>/recordings")
    retention_days: Annotated[int, Field(ge=0, le=100 * 365, description="0 = keep forever")] = 0


class BuiltinJumpointSettings(_Section):
    """The Jumpoint that runs inside the console process (the all-in-one default)."""

    enabled: bool = False
    name: Annotated[str, Field(min_length=1, max_length=128)] = "Built-in"
    credential_stores: (
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")], dict[Annotated[str, Field(max_length=64)], Any]]
        | None
    ) = Field(
        default=None,
        max_length=32,
        description="the built-in Jumpoint's credential stores, as in a Jumpoint's configuration (default: local)",
    )


class ClusterSettings(_Section):
    """Several console nodes behind a load balancer: each node has its own ``node_id`` and they share the
    database (PostgreSQL), the recordings directory and a Redis server, through which they route session traffic.
    Off unless ``redis_url`` is set."""

    node_id: Annotated[
        str | None,
        Field(
            pattern=r"^[a-z0-9]{1,12}$",
            description="this node's name in the cluster: 1-12 lower-case letters or digits, unique per node",
        ),
    ] = None
    redis_url: Annotated[
        str | None,
        Field(pattern=r"^(redis|rediss|unix)://", description="redis://host:6379/0, without a password"),
    ] = None
    redis_password: SecretRef | None = Field(default=None, description="Redis's password, from a variable or file")
    request_timeout_seconds: Annotated[
        float, Field(ge=0.5, le=120, description="how long a node waits for another node's answer")
    ] = 10.0

    @model_validator(mode="after")
    def _complete(self) -> ClusterSettings:
        if self.redis_url is not None and self.node_id is None:
            raise ValueError("a cluster node needs 'node_id' (unique per console node) with 'redis_url'")
        if self.redis_url is None and (self.node_id is not None or self.redis_password is not None):
            raise ValueError("'node_id' and 'redis_password' need 'redis_url' (the cluster's Redis server)")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_url_without_password(cls, value: str | None) -> str | None:
        """Refuse a password in the URL, as user information (``user:password@``) or a ``password`` query parameter:
        redis-py would use it, and a URL is shown in messages. A user name (a Redis ACL user) may stay. The message
        does not repeat the URL."""
        if value is None:
            return None
        parts = urlsplit(value)
        query = {name.lower() for name in parse_qs(parts.query, keep_blank_values=True)}
        if parts.password is not None or "password" in query:
            raise ValueError(
                "must not hold a password: give it as cluster.redis_password, {env: NAME} or {file: PATH} "
                "(a Redis user name may stay in the URL)"
            )
        return value

    @property
    def enabled(self) -> bool:
        """Whether this console is one node of several."""
        return self.redis_url is not None


CLUSTER_NEEDS_SERVER_DATABASE = (
    "cluster: console nodes share one database; set database.url to PostgreSQL (SQLite is one machine's)"
)


class ConsoleConfig(_Section):
    """The whole console configuration."""

    state_dir: Path = Path("./state")
    listen: ListenSettings = ListenSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    sessions: SessionSettings = SessionSettings()
    recordings: RecordingSettings = RecordingSettings()
    builtin_jumpoint: BuiltinJumpointSettings = BuiltinJumpointSettings()
    cluster: ClusterSettings = ClusterSettings()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _cluster_shares_state(self) -> ConsoleConfig:
        """A cluster node needs a shared database and recordings directory. A URL given by reference is checked when
        it is read (:attr:`database_url`)."""
        if not self.cluster.enabled:
            return self
        url = self.database.url
        if url is None or (isinstance(url, str) and url.startswith("sqlite")):
            raise ValueError(CLUSTER_NEEDS_SERVER_DATABASE)
        if self.recordings.enabled and self.recordings.directory is None:
            raise ValueError(
                "cluster: set recordings.directory to a directory every console node shares (a network file system),"
                " so any node can play any recording"
            )
        return self

    @property
    def database_url(self) -> str:
        """The database URL to open: the configured one (read from its variable or file now, if given by reference)
        with ``database.password`` put in, or SQLite in ``state_dir``.

        Raises ConfigError naming the variable or file when a referenced URL or password is missing or empty, when
        the URL is not one, when the password is given twice, and when a cluster node's URL is SQLite.
        """
        url = self.database.url
        if url is None:
            if self.database.password is not None:
                raise ConfigError("database.password is set but database.url is not (SQLite takes no password)")
            return f"sqlite+aiosqlite:///{(self.state_dir / 'console.db').resolve()}"
        text = url.resolve().strip() if isinstance(url, SecretRef) else url
        if not text:
            assert isinstance(url, SecretRef)  # a text URL that is empty is refused at load
            raise ConfigError(f"database.url: the {url.source} is empty")
        try:
            parsed = make_url(text)
        except ArgumentError as exc:
            raise ConfigError(f"database.url is not a valid SQLAlchemy URL: {exc}") from None
        if self.cluster.enabled and parsed.get_backend_name() == "sqlite":
            where = f"the {url.source} gives" if isinstance(url, SecretRef) else "database.url is"
            raise ConfigError(f"{CLUSTER_NEEDS_SERVER_DATABASE}: {where} an SQLite URL")
        if self.database.password is None:
            return text
        if parsed.get_backend_name() == "sqlite":
            raise ConfigError("database.password is set but database.url is SQLite, which takes no password")
        if parsed.password is not None:
            raise ConfigError(
                "the database password is given twice, in database.url and as database.password: keep it out of the URL"
            )
        password = self.database.password.resolve()
        if not password:
            raise ConfigError(f"database.password: the {self.database.password.source} is empty")
        return parsed.set(password=password).render_as_string(hide_password=False)

    @property
    def recordings_dir(self) -> Path:
        """Where recordings are written."""
        return self.recordings.directory or self.state_dir / "recordings"


def load_console_config(path: Path | None) -> ConsoleConfig:
    """Load and validate the console configuration (defaults when ``path`` is None)."""
    return load_config_file(ConsoleConfig, path)
