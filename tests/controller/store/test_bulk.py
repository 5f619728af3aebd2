"""`BulkInsert` and the stamps: what SQLAlchemy would have bound, without its per-row cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Dialect, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

from controller.store import Store
from controller.store.bulk import BulkInsert, aware_stamp, sqlite_stamp, stamp_writer
from controller.store.schema import UtcDateTime, delivery_events
from loa.errors import StoreError

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NEW_YORK = ZoneInfo("America/New_York")


def dialect_of(url: str) -> Dialect:
    """The dialect the store uses for `url`, made without connecting."""
    return make_url(url).get_dialect()()


SQLITE = dialect_of("sqlite+aiosqlite://")
DIALECTS = [
    pytest.param(SQLITE, id="sqlite"),
    pytest.param(dialect_of("postgresql+asyncpg://"), id="postgresql"),
]

INSTANTS = [
    datetime(2026, 12, 3, 0, 30, tzinfo=UTC),  # no microseconds: still written as .000000
    datetime(2026, 12, 3, 0, 30, 5, 123_000, tzinfo=UTC),
    datetime(2026, 12, 3, 0, 30, 5, 7, tzinfo=ZoneInfo("UTC")),  # UTC, but not `UTC` itself
    datetime(2026, 12, 3, 6, 45, 0, 999_999, tzinfo=HANOI),  # the day before in UTC
    datetime(2026, 12, 31, 22, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),  # next year
    datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1),  # the second 01:30 (EST)
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC),  # a year of three digits
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


def utc_datetime_bind(dialect: Dialect) -> object:
    """SQLAlchemy's own bind processor for a `UtcDateTime` column on `dialect`."""
    process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return process


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("instant", INSTANTS, ids=str)
def test_a_stamp_is_what_utc_datetime_binds(dialect: Dialect, instant: datetime) -> None:
    expected = utc_datetime_bind(dialect)(instant)  # type: ignore[operator]
    stamped = stamp_writer(dialect)(instant)
    assert stamped == expected
    assert type(stamped) is type(expected)
    if isinstance(stamped, datetime):
        assert stamped.tzinfo is UTC


def test_sqlite_text_is_naive_utc_with_microseconds() -> None:
    assert sqlite_stamp(datetime(2026, 12, 3, 14, 45, tzinfo=HANOI)) == "2026-12-03 07:45:00.000000"
    assert sqlite_stamp(datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "0999-01-02 03:04:05.000006"


class _Unknown(tzinfo):
    """A zone that does not know its offset: the instant is as naive as without one."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


@pytest.mark.parametrize("stamp", [sqlite_stamp, aware_stamp])
@pytest.mark.parametrize(
    "naive",
    [datetime(2026, 12, 3, 7, 45), datetime(2026, 12, 3, 7, 45, tzinfo=_Unknown())],  # noqa: DTZ001
)
def test_a_naive_datetime_is_refused(stamp: object, naive: datetime) -> None:
    with pytest.raises(ValueError, match=r"naive datetime .*timezone-aware"):
        stamp(naive)  # type: ignore[operator]


EVENT_COLUMNS = tuple(c.name for c in delivery_events.columns if c.name != "id")


def build_events(_dialect: str) -> Insert:
    return insert(delivery_events)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_sql_is_compiled_once_per_dialect(dialect: Dialect) -> None:
    built: list[str] = []

    def build(name: str) -> Insert:
        built.append(name)
        return insert(delivery_events)

    bulk = BulkInsert(delivery_events, EVENT_COLUMNS, build, converted=("at", "received_at"))
    sql = bulk.sql(dialect)
    assert bulk.sql(dialect) is sql
    assert built == [dialect.name]
    assert sql.startswith("INSERT INTO delivery_events (occurrence_id, receiver_id, source,")
    assert sql.count("?" if dialect.name == "sqlite" else "$") == len(EVENT_COLUMNS)


def test_rows_in_another_order_than_the_statement_are_refused() -> None:
    shuffled = (EVENT_COLUMNS[1], EVENT_COLUMNS[0], *EVENT_COLUMNS[2:])
    bulk = BulkInsert(delivery_events, shuffled, build_events, converted=("at", "received_at"))
    with pytest.raises(RuntimeError, match="not the columns"):
        bulk.sql(SQLITE)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_column_sqlalchemy_would_convert_must_be_converted_by_the_caller(
    dialect: Dialect,
) -> None:
    bulk = BulkInsert(delivery_events, EVENT_COLUMNS, build_events, converted=("at",))
    with pytest.raises(RuntimeError, match=r"delivery_events\.received_at on"):
        bulk.sql(dialect)


def test_an_unknown_column_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="delivery_events has no column nope"):
        BulkInsert(delivery_events, ("nope",), build_events)
    with pytest.raises(ValueError, match="has no column later"):
        BulkInsert(delivery_events, EVENT_COLUMNS, build_events, converted=("later",))


async def test_rows_go_through_the_driver_and_driver_errors_are_wrapped(store: Store) -> None:
    """One executemany in the session's transaction; a bad row fails the whole write."""

    def build(dialect: str) -> Insert:
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(delivery_events)

    bulk = BulkInsert(delivery_events, EVENT_COLUMNS, build, converted=("at", "received_at"))
    t0 = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)

    def row(receiver_id: str | None, seq: int) -> tuple[object, ...]:
        stamp = sqlite_stamp if store.is_sqlite else aware_stamp
        at = stamp(t0 + timedelta(seconds=seq))
        return (None, receiver_id, "receiver", "armed", None, None, 1, seq, at, at, "applied", "-")

    async with store.write() as session:
        connection = await session.connection()
        await bulk.execute(connection, [row("rx-1", 0), row("rx-2", 1)])
        await bulk.execute(connection, [])
    with pytest.raises(StoreError, match=r"(?i)not null|null value"):
        async with store.write() as session:
            await bulk.execute(await session.connection(), [row("rx-3", 2), row(None, 3)])
    async with store.read() as session:
        result = await session.execute(delivery_events.select().order_by(delivery_events.c.id))
        stored = [(r.receiver_id, r.seq, r.at) for r in result]
    assert stored == [("rx-1", 0, t0), ("rx-2", 1, t0 + timedelta(seconds=1))]
