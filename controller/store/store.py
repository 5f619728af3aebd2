"""`Store`: the controller's database, SQLite by default or PostgreSQL.

Work happens in `read()` and `write()` blocks, each one transaction on an
`AsyncSession` that commits when the block ends and rolls back on error. On
SQLite, `write()` lets one writer in at a time in this process (an
`asyncio.Lock`) and starts with `BEGIN IMMEDIATE`, so other processes wait on
`busy_timeout` rather than fail. Do not nest `write()` blocks (the lock is
not reentrant), and do not write in a `read()` block. Do not commit inside a
block either: the block commits.

Driver errors become `StoreError`s naming the URL (password masked) and what
to do; the settings key is `store.url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controller.store.engine import (
    BEGIN_MODE_OPTION,
    SQLITE_DRIVER,
    SUPPORTED_DRIVERS,
    create_engine,
    sqlite_file,
)
from loa.errors import StoreError
from loa.redact import mask_url

log = logging.getLogger(__name__)

MIGRATIONS: Final = Path(__file__).with_name("migrations")
KEY: Final = "store.url"
#: `INSERT ... ON CONFLICT ... RETURNING` needs SQLite 3.35.
MIN_SQLITE: Final = (3, 35, 0)
#: PostgreSQL advisory lock held while migrating, so two controllers never migrate at once.
_MIGRATION_LOCK: Final = 0x4C6F61  # "Loa"
_PG_HINTS: Final = {
    "3D000": "create the database or fix its name in the URL",
    "28000": "check the user name in the URL",
    "28P01": "check the user name and password in the URL",
    "42501": "grant the user access to this database",
    "53300": "the server has no free connection slots; raise max_connections or retry",
    "57P03": "the server is starting or shutting down; retry in a moment",
}


class Store:
    """An open store. Make one with `await Store.open(url)`; close it when done."""

    def __init__(self, engine: AsyncEngine, display_url: str) -> None:
        self._engine = engine
        self._display_url = display_url
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @classmethod
    async def open(cls, url: str, *, connect_timeout: float = 10.0) -> Store:
        """Connect to the store at `url` and check that it answers.

        `url` is `sqlite+aiosqlite:///PATH` or `postgresql+asyncpg://USER:PASSWORD@HOST/DB`.
        The schema is not touched: call `upgrade()` for that.
        """
        display = mask_url(url)
        parsed = _parse(url, display)
        try:
            engine = create_engine(parsed, connect_timeout=connect_timeout)
        except OSError as exc:
            folder = Path(exc.filename) if exc.filename else "its folder"
            raise _open_error(
                display, f"cannot create {folder}: {exc.strerror}", "check the path and permissions"
            ) from exc
        store = cls(engine, display)
        try:
            async with asyncio.timeout(connect_timeout):
                await store._check(parsed)
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, TimeoutError):
                raise _open_error(
                    display,
                    f"no answer within {connect_timeout:g} s",
                    "check the host, the port and any firewall between",
                ) from exc
            if isinstance(exc, sa_exc.DBAPIError | OSError):
                raise _open_error(display, *_explain(exc, parsed)) from exc
            raise
        log.info("store open: %s", display)
        return store

    async def close(self) -> None:
        """Close every connection. Safe to call twice."""
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def dialect(self) -> str:
        """The database family: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with its password masked, for messages and logs."""
        return self._display_url

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision this version of Loa knows."""
        return _head_revision()

    async def current_revision(self) -> str | None:
        """The schema revision of the database, or None if it was never migrated."""
        with self._errors("read the schema version of"):
            async with self._engine.connect() as conn:
                return await conn.run_sync(_current_revision)

    async def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to `head_revision()`; returns (revision before, after).

        Idempotent. Runs in one transaction: a failed migration changes nothing.
        """
        with self._errors("upgrade the schema of"):
            async with self._writer(), self._engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
                before, after = await conn.run_sync(_upgrade)
        if before != after:
            log.info("store schema upgraded from %s to %s", before or "empty", after)
        return before, after

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction: a consistent view of the data."""
        with self._errors("read from"):
            async with self._sessions() as session, session.begin():
                yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed when the block ends without error."""
        with self._errors("write to"):
            async with self._writer(), self._sessions() as session, session.begin():
                if self.is_sqlite:
                    await session.connection(execution_options={BEGIN_MODE_OPTION: "IMMEDIATE"})
                yield session

    def _writer(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self._write_lock or contextlib.nullcontext()

    async def _check(self, url: URL) -> None:
        async with self._engine.connect() as conn:
            if url.drivername == SQLITE_DRIVER:
                version = (await conn.exec_driver_sql("select sqlite_version()")).scalar_one()
                if tuple(int(part) for part in version.split(".")) < MIN_SQLITE:
                    raise StoreError(
                        f"the store at {self._display_url} needs SQLite 3.35 or newer, and "
                        f"Python here uses {version}; upgrade SQLite or use PostgreSQL ({KEY})"
                    )
            else:
                await conn.exec_driver_sql("select 1")

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except TimeoutError:
            raise
        except (sa_exc.DBAPIError, OSError, CommandError) as exc:
            raise StoreError(
                f"cannot {doing} the store at {self._display_url}: {_message(exc)}"
            ) from exc


def _parse(url: str, display: str) -> URL:
    expected = "expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise StoreError(f"{display!r} is not a database URL; {expected} ({KEY})") from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise StoreError(
            f"cannot open the store at {display}: Loa has no driver for "
            f"{parsed.drivername!r}; {expected} ({KEY})"
        )
    if parsed.drivername == SQLITE_DRIVER and sqlite_file(parsed) is None:
        raise StoreError(
            f"cannot open the store at {display}: an in-memory SQLite store forgets "
            f"everything on restart; give a file path ({KEY})"
        )
    return parsed


def _open_error(display: str, problem: str, hint: str) -> StoreError:
    return StoreError(f"cannot open the store at {display}: {problem}; {hint} ({KEY})")


def _explain(exc: sa_exc.DBAPIError | OSError, url: URL) -> tuple[str, str]:
    """What went wrong opening the store, and what to do about it."""
    if isinstance(exc, OSError):
        return _explain_os_error(exc, url)
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        path = sqlite_file(url)
        if "unable to open" in str(orig):
            return (
                f"cannot open the file {path}",
                "check that it is a file (not a folder) that this user may write",
            )
        return f"{path}: {orig}", "check that the path names an SQLite database file"
    sqlstate = getattr(orig, "sqlstate", None)
    hint = _PG_HINTS.get(sqlstate or "", "check the URL and the server's log")
    return _message(exc), hint


def _explain_os_error(exc: OSError, url: URL) -> tuple[str, str]:
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", f"is PostgreSQL running and listening on {where}?"
    if url.drivername == SQLITE_DRIVER:
        return exc.strerror or str(exc), "check the path and permissions"
    return f"cannot reach {where}: {exc.strerror or exc}", "check the host name and port"


def _message(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement dump."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip() or type(exc.orig).__name__
    return str(exc).strip() or type(exc).__name__


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return cfg


@functools.cache
def _head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError(f"no migrations found in {MIGRATIONS}; the installation is broken")
    return head


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> tuple[str | None, str]:
    """Run the migrations on `conn`, which has not begun a transaction yet."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations copy tables; with foreign keys on, dropping the old copy
        # would cascade. The pragma is a no-op inside a transaction, so set it first.
        _pragma_outside_transaction(conn, "PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            if not sqlite:
                conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            before = _current_revision(conn)
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise StoreError(
                    "a migration left rows whose foreign keys point nowhere; nothing was "
                    "changed. Report this as a bug in Loa"
                )
            after = _current_revision(conn)
    finally:
        if sqlite:
            _pragma_outside_transaction(conn, "PRAGMA foreign_keys=ON")
    if after is None:  # pragma: no cover - alembic always stamps the head it reached
        raise StoreError("the upgrade finished without a schema version")
    return before, after


def _pragma_outside_transaction(conn: Connection, pragma: str) -> None:
    try:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(pragma)
        finally:
            cursor.close()
    except BaseException:
        conn.invalidate()  # never hand a connection in an unknown state back to the pool
        raise
