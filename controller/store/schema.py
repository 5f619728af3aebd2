"""The store's tables, as SQLAlchemy Core metadata.

Alembic migrations (`controller/store/migrations/versions/`) create these
tables; a test checks the two agree. Constraint and index names follow
`NAMING_CONVENTION`, so later migrations can refer to them by name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC and read back as UTC.

    SQLite has no time zones: values are stored as naive UTC text and given
    `UTC` on the way out. A naive datetime is refused with `ValueError`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: What happened to a controller, newest rows last: start, stop, broker links, ...
controller_events = Table(
    "controller_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("controller_id", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", JSON(none_as_null=True), nullable=True),
)

#: One row per controller: the session epoch handed out last.
controller_state = Table(
    "controller_state",
    metadata,
    Column("controller_id", String(128), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
