"""Build the `AsyncEngine` for a store URL: SQLite (aiosqlite) or PostgreSQL (asyncpg).

SQLite follows SQLAlchemy's recipe for real transactions with aiosqlite: the
driver's own BEGIN handling is switched off (`isolation_level = None`) and a
`begin` listener emits BEGIN, so DDL and SELECTs are transactional too. A
connection whose execution options carry `BEGIN_MODE_OPTION = "IMMEDIATE"`
starts with `BEGIN IMMEDIATE`, taking the write lock up front: two processes
then queue on `busy_timeout` instead of failing on a lock upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
SUPPORTED_DRIVERS: Final = (SQLITE_DRIVER, POSTGRES_DRIVER)

#: Execution option read by the SQLite `begin` listener: "DEFERRED" or "IMMEDIATE".
BEGIN_MODE_OPTION: Final = "loa_sqlite_begin"
_BEGIN_STATEMENTS: Final = {"DEFERRED": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE"}

#: Applied to every new SQLite connection, in this order.
SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def create_engine(url: URL, *, connect_timeout: float = 10.0) -> AsyncEngine:
    """An engine for `url`, whose driver must be one of `SUPPORTED_DRIVERS`.

    For SQLite the parent folder of the database file is created if missing
    (`OSError` if it cannot be). Nothing is connected yet.
    """
    if url.drivername == SQLITE_DRIVER:
        return _sqlite_engine(url)
    if url.drivername == POSTGRES_DRIVER:
        return create_async_engine(
            url, pool_pre_ping=True, connect_args={"timeout": connect_timeout}
        )
    raise ValueError(f"unsupported driver {url.drivername!r}; expected one of {SUPPORTED_DRIVERS}")


def sqlite_file(url: URL) -> Path | None:
    """The database file an SQLite URL names, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


def _sqlite_engine(url: URL) -> AsyncEngine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Stop the driver from emitting BEGIN itself; `_on_sqlite_begin` does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
    conn.exec_driver_sql(_BEGIN_STATEMENTS[mode])
