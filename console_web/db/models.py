"""The tables, as SQLAlchemy 2 declarative models (portable SQL only: SQLite and PostgreSQL).

Tokens and keys are never stored: only their SHA-256 hashes (hex). Times are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from console_web.db.clock import utcnow
from console_web.db.types import Int, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USERNAME_MAX = 64
USERNAME_PATTERN = r"^[a-z0-9._-]{1,64}$"
NAME_MAX = 128
TAG_MAX = 64
COMMENTS_MAX = 1024
CREDENTIAL_REF_MAX = 512
CREDENTIAL_SCOPES_MAX = 32
HOSTNAME_MAX = 253
PROTOCOLS_PLANNED = ("ssh", "telnet", "vnc", "rdp")
FILE_ROOTS_MAX = 16
FILE_ROOT_MAX = 1024
PROMPT_PATTERN_MAX = 256
DOMAIN_MAX = 128
RECORDING_POLICIES = ("per_item", "always", "never")


class Base(DeclarativeBase):
    """The declarative base; its metadata is what Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person who logs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # File transfer (SFTP) permissions; ``file_roots`` is a JSON list of absolute paths (empty: anywhere).
    file_upload: Mapped[bool] = mapped_column(Boolean, default=True)
    file_download: Mapped[bool] = mapped_column(Boolean, default=True)
    file_roots: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A login session; ``id`` is the SHA-256 of the cookie token."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A user's API token (Bearer); only its hash and a display prefix are kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


# Shared Jump Groups have unique names (personal groups' names may repeat): a partial unique index (migration 0008).
SHARED_GROUP_NAME_INDEX = "uq_jump_groups_shared_name"
_SHARED = "personal_owner_id IS NULL"


class JumpGroup(Base):
    """A Jump Group: shared (``personal_owner_id`` NULL) or one user's personal group."""

    __tablename__ = "jump_groups"
    __table_args__ = (
        Index(SHARED_GROUP_NAME_INDEX, "name", unique=True, sqlite_where=text(_SHARED), postgresql_where=text(_SHARED)),
    )

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    personal_owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    # "per_item": each Jump Item's record_session decides; "always" / "never" override it for the whole group.
    recording: Mapped[str] = mapped_column(String(16), default="per_item")
    # Credential references or folders (``vault:secret/linux/``) the group's items may inject (admin-set).
    credential_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JumpGroupMember(Base):
    """Membership of a user in a shared Jump Group."""

    __tablename__ = "jump_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("jump_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Jumpoint(Base):
    """A Jumpoint: a name Jump Items use, served by one or more registered hosts (:class:`JumpointMember`).

    ``hostname`` and ``last_seen_at`` are those of the member that connected last, ``registered_at`` the first
    registration. ``token_hash`` is no longer used: since migration 0006 each member has its own token (SQLite
    cannot drop a unique column of a table others refer to inside the migration's transaction, so it stays NULL).
    """

    __tablename__ = "jumpoints"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    comments: Mapped[str] = mapped_column(String(COMMENTS_MAX), default="")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    hostname: Mapped[str] = mapped_column(String(HOSTNAME_MAX), default="")
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class JumpointMember(Base):
    """One registered host of a Jumpoint (several make a cluster serving the same network).

    ``token_hash`` authenticates its tunnel (revoking the member deletes the row, so the token stops working).
    ``builtin``: the all-in-one console's own Jumpoint, whose token is minted again at every start.
    ``adopt_host_keys``: the host's own cached keys become the cluster's the next time it connects (set by
    migration 0006 for hosts registered before clusters existed, so upgrading asks no rep again).
    """

    __tablename__ = "jumpoint_members"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    jumpoint_id: Mapped[int] = mapped_column(ForeignKey("jumpoints.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(HOSTNAME_MAX), default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    adopt_host_keys: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class JumpointHostKey(Base):
    """A host key (or TLS certificate, ``x509-sha256``) every member of a Jumpoint trusts for ``host:port``.

    ``host`` is in lower case; ``fingerprint`` is derived from ``key_blob`` (SHA256 as OpenSSH shows it);
    ``added_by`` is the member host that saved it.
    """

    __tablename__ = "jumpoint_host_keys"
    __table_args__ = (UniqueConstraint("jumpoint_id", "host", "port", "fingerprint"),)

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    jumpoint_id: Mapped[int] = mapped_column(ForeignKey("jumpoints.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(HOSTNAME_MAX))
    port: Mapped[int] = mapped_column(Int)
    algorithm: Mapped[str] = mapped_column(String(64))
    key_blob: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(HOSTNAME_MAX), default="")


class JumpointRegistrationKey(Base):
    """A single-use key that lets a Jumpoint register (and get its token)."""

    __tablename__ = "jumpoint_registration_keys"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    jumpoint_id: Mapped[int] = mapped_column(ForeignKey("jumpoints.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class JumpItem(Base):
    """A Jump Item: a shortcut to one machine, reached through one Jumpoint."""

    __tablename__ = "jump_items"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("jump_groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    jumpoint_id: Mapped[int] = mapped_column(ForeignKey("jumpoints.id", ondelete="RESTRICT"), index=True)
    hostname: Mapped[str] = mapped_column(String(HOSTNAME_MAX))
    # Free text (not an enum) so telnet, vnc and rdp need no migration; the API validates the value.
    protocol: Mapped[str] = mapped_column(String(16), default="ssh")
    port: Mapped[int] = mapped_column(Int)
    username: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    terminal_type: Mapped[str] = mapped_column(String(16), default="xterm")
    keepalive_seconds: Mapped[int] = mapped_column(Int, default=0)
    tag: Mapped[str] = mapped_column(String(TAG_MAX), default="")
    comments: Mapped[str] = mapped_column(String(COMMENTS_MAX), default="")
    credential_ref: Mapped[str | None] = mapped_column(String(CREDENTIAL_REF_MAX), nullable=True)
    credential_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Whether an administrator set the target (host, port, protocol, Jumpoint, and for RDP the domain and how the
    # server is authenticated): credentials are injected only then,
    # so a rep cannot point an item with a credential at a machine of their own and read the secret there.
    target_by_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Desktops (VNC, RDP): the picture quality a session starts with.
    quality: Mapped[str] = mapped_column(String(16), default="full_color")
    # RDP: the Windows domain (empty: a local account); the security to use (auto, nla, tls or rdp, checked by the
    # API); the console (admin) session; connect without asking when the server's certificate is not trusted.
    domain: Mapped[str] = mapped_column(String(DOMAIN_MAX), default="")
    rdp_security: Mapped[str] = mapped_column(String(8), default="auto")
    console_session: Mapped[bool] = mapped_column(Boolean, default=False)
    ignore_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
    # "join_existing": a second rep who jumps joins the running session; "start_new": each Jump is its own session.
    session_policy: Mapped[str] = mapped_column(String(16), default="join_existing")
    record_session: Mapped[bool] = mapped_column(Boolean, default=True)
    record_input: Mapped[bool] = mapped_column(Boolean, default=False)
    # Telnet auto-login prompt patterns (regular expressions); NULL: the adapter's defaults.
    login_prompt: Mapped[str | None] = mapped_column(String(PROMPT_PATTERN_MAX), nullable=True)
    password_prompt: Mapped[str | None] = mapped_column(String(PROMPT_PATTERN_MAX), nullable=True)
    login_failure: Mapped[str | None] = mapped_column(String(PROMPT_PATTERN_MAX), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SessionRecord(Base):
    """The history of one Jump session (no foreign keys: history outlives users, items and Jumpoints)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[int | None] = mapped_column(Int, nullable=True)
    item_name: Mapped[str] = mapped_column(String(NAME_MAX))
    user_id: Mapped[int] = mapped_column(Int, index=True)
    jumpoint_id: Mapped[int] = mapped_column(Int)
    protocol: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SessionParticipant(Base):
    """One seat in a session's history: who joined, how, when they left (external guests have no user id)."""

    __tablename__ = "session_participants"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    participant_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(Int, nullable=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    left_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)


class TimelineEntry(Base):
    """A chat message or a system event in a session's timeline."""

    __tablename__ = "session_timeline"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Int)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(Int, nullable=True)
    author_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    text: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """One audit event: who did what, when (``detail`` never holds secrets)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Int, nullable=True, index=True)
    actor_jumpoint_id: Mapped[int | None] = mapped_column(Int, nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsoleNodeKey(Base):
    """A key console nodes share through the database (``cluster``: the one signing their messages in Redis)."""

    __tablename__ = "console_node_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hex: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "ConsoleNodeKey",
    "JumpGroup",
    "JumpGroupMember",
    "JumpItem",
    "Jumpoint",
    "JumpointHostKey",
    "JumpointMember",
    "JumpointRegistrationKey",
    "SessionParticipant",
    "SessionRecord",
    "TimelineEntry",
    "User",
    "WebSession",
]
