"""The one clock the storage layer uses: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 text (``None`` stays ``None``)."""
    return value.isoformat() if value is not None else None
