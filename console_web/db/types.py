"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; SQLite gives naive values back, which are marked UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware values converted to UTC; refuse naive ones (they are a bug)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Int(TypeDecorator[int]):
    """An INTEGER column (32 bits on PostgreSQL, 64 on SQLite) whose query parameters are sent as 64-bit integers.

    asyncpg sends a parameter with the type of its column, so on PostgreSQL ``WHERE id = 99999999999`` (an id
    typed by a user) failed before reaching the server (out of int32 range) where SQLite simply finds no row.
    As BIGINT the comparison is made by the server (with the column's index) and finds nothing, as on SQLite; a
    value out of range written into the column is still refused. The column itself stays INTEGER.
    """

    impl = Integer
    cache_ok = True

    def bind_expression(self, bindvalue: BindParameter[int]) -> ColumnElement[int] | None:
        """The parameter as BIGINT (PostgreSQL renders ``$1::BIGINT``; SQLite renders no cast)."""
        return type_coerce(bindvalue, BigInteger())
