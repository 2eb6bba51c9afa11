"""Column types and SQL functions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# The name of the SQL function every SQLite connection gets (Database.open): Python's str.lower.
SQLITE_LOWER = "oj_lower"


def python_lower(value: object) -> object:
    """What ``oj_lower`` returns on SQLite: text lower-cased by Python (every script, as PostgreSQL's lower() does
    in a UTF-8 database), anything else (NULL, a number) unchanged."""
    return value.lower() if isinstance(value, str) else value


class text_lower(FunctionElement[str]):
    """``lower(text)`` that lower-cases every letter on both databases: PostgreSQL's lower(); on SQLite, whose own
    lower() changes only A-Z (so 'Ärzte' never matched 'ärzte'), the ``oj_lower`` function each connection gets.

    Search with it and with ``str.lower()`` on the Python side: ``text_lower(col).contains(needle.lower())``."""

    type = String()
    name = "lower"
    inherit_cache = True


@compiles(text_lower)
def _lower(element: text_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(text_lower, "sqlite")
def _lower_on_sqlite(element: text_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


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
