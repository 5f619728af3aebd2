"""Large batches of INSERTs sent with the least Python per row.

`AsyncSession.execute(statement, [dict, ...])` pays, for every row, SQLAlchemy's
parameter building and each column's bind processor (for `UtcDateTime`: a check, a
conversion to UTC and, on SQLite, a dict-formatted string). At thousands of receipts a
second that is most of the cost of the write, all of it on the event loop thread.

`BulkInsert` keeps the SQL generated from the schema's `Table` objects, compiles it once
per dialect, and sends rows the caller built as plain tuples through the driver's
executemany (`AsyncConnection.exec_driver_sql`, so driver errors are still wrapped as
SQLAlchemy `DBAPIError`s and the statement joins the session's transaction). The caller
then owns what the bind processors did; `stamp_writer` does it for `UtcDateTime` columns,
byte for byte. So that a schema change cannot silently store something else, compiling
refuses a statement whose parameters are not the expected columns in order, or which has
a column with a bind processor the caller did not say it converts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Dialect, Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

__all__ = ["BulkInsert", "Stamp", "aware_stamp", "sqlite_stamp", "stamp_writer"]

#: Turns an aware datetime into what the driver must receive for a `UtcDateTime` column.
Stamp = Callable[[datetime], Any]

#: SQLAlchemy's SQLite `DATETIME` storage format (`sqlalchemy.dialects.sqlite.DATETIME`),
#: as a positional %-format, which is the cheapest way to build it.
_SQLITE_FORMAT: Final = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _naive(value: datetime) -> ValueError:
    # The message `schema.UtcDateTime` gives, so callers see the same refusal.
    return ValueError(f"naive datetime {value!r}: the store keeps timezone-aware instants")


def sqlite_stamp(value: datetime) -> str:
    """`value` as `UtcDateTime` stores it on SQLite: naive UTC text with microseconds."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(UTC)
    return _SQLITE_FORMAT % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def aware_stamp(value: datetime) -> datetime:
    """`value` as `UtcDateTime` hands it to a driver with time zones: aware, in UTC."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(UTC)
    return value


def stamp_writer(dialect: Dialect) -> Stamp:
    """The conversion `schema.UtcDateTime` applies on `dialect`, without its per-call cost."""
    return sqlite_stamp if dialect.name == "sqlite" else aware_stamp


class BulkInsert:
    """An INSERT into one table, compiled once per dialect and sent as executemany.

    `build(dialect_name)` returns the statement (a dialect's `insert` may carry ON
    CONFLICT); rows are tuples in the order of `columns`. `converted` names the columns
    whose values the caller converts itself (SQLAlchemy would have run a bind processor
    on them); any other column with a bind processor is refused when compiling.
    """

    __slots__ = ("_build", "_columns", "_converted", "_sql", "_table")

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        build: Callable[[str], Insert],
        *,
        converted: Collection[str] = (),
    ) -> None:
        unknown = [name for name in (*columns, *converted) if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
        self._table = table
        self._columns = tuple(columns)
        self._build = build
        self._converted = frozenset(converted)
        #: the SQL by (dialect name, driver, paramstyle): what compiling depends on here
        self._sql: dict[tuple[str, str, str], str] = {}

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns each row gives, in order."""
        return self._columns

    def sql(self, dialect: Dialect) -> str:
        """The statement's SQL for `dialect`, compiled on first use and checked."""
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = self._compile(dialect)
        return sql

    async def execute(self, connection: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Send `rows` in one executemany on `connection` (nothing if there are none)."""
        if rows:
            await connection.exec_driver_sql(self.sql(connection.dialect), rows)

    def _compile(self, dialect: Dialect) -> str:
        compiled = self._build(dialect.name).compile(dialect=dialect, column_keys=self._columns)
        if not dialect.positional or tuple(compiled.positiontup or ()) != self._columns:
            raise RuntimeError(
                f"INSERT INTO {self._table.name} on {dialect.name} takes parameters "
                f"{compiled.positiontup}, not the columns {self._columns} its rows give"
            )
        processed = [
            name
            for name in self._columns
            if name not in self._converted
            and self._table.c[name].type.dialect_impl(dialect).bind_processor(dialect) is not None
        ]
        if processed:
            raise RuntimeError(
                f"{self._table.name}.{', '.join(processed)} on {dialect.name}: SQLAlchemy "
                "converts these values when binding; convert them in the row builder and "
                "name them in `converted`"
            )
        return compiled.string
