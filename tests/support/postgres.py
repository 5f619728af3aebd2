"""PostgreSQL for tests: a private role and schema per test, and `store_url` over both backends.

`LOA_TEST_POSTGRES_URL` (default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`)
names a server and a role allowed to create roles. Each test gets a new role
whose own schema has the role's name: PostgreSQL's default `search_path`
("$user", public) puts that schema first, so the plain URL the test receives
works inside that schema only. Both are dropped after the test.

When the server cannot be reached the test is skipped, or fails when `CI` is
set, so a CI job without PostgreSQL cannot pass by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final, NoReturn

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

ENV: Final = "LOA_TEST_POSTGRES_URL"
DEFAULT_URL: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT: Final = 5.0

#: Why the server could not be reached, remembered so later tests do not wait again.
_unreachable: str | None = None


def _admin_url() -> URL:
    return make_url(os.environ.get(ENV, DEFAULT_URL))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    message = (
        f"PostgreSQL is not reachable at {_admin_url().render_as_string(hide_password=True)} "
        f"({ENV}): {reason}. Start the local one (`pg_ctlcluster VERSION main start`) "
        "or a container (`docker run --rm -d -p 5432:5432 "
        "-e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16`), "
        f"or point {ENV} at a server where that role may create roles"
    )
    if _in_ci():
        pytest.fail(f"{message} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(message)


async def _connect_admin(url: URL) -> AsyncEngine:
    """An engine on the admin URL that has answered once; dispose of it."""
    global _unreachable  # noqa: PLW0603 - one probe result per test session
    if _unreachable is not None:
        _unavailable(_unreachable)
    engine = create_async_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("select 1")
    except (OSError, TimeoutError, DBAPIError) as exc:
        await engine.dispose()
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        _unreachable = f"{type(exc).__name__}: {reason}"
        _unavailable(_unreachable)
    return engine


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A URL for a new role that sees only its own, empty schema."""
    admin_url = _admin_url()
    admin = await _connect_admin(admin_url)
    name = f"loa_test_{secrets.token_hex(6)}"
    password = secrets.token_hex(12)
    try:
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
                await conn.exec_driver_sql(f"CREATE SCHEMA {name} AUTHORIZATION {name}")
        except DBAPIError as exc:
            pytest.fail(
                f"cannot create the test role and schema {name} as {admin_url.username!r}: "
                f"{exc.orig}; {ENV} must name a role that may create roles",
                pytrace=False,
            )
        yield admin_url.set(username=name, password=password).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"),
                {"n": name},
            )
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            await conn.exec_driver_sql(f"DROP ROLE IF EXISTS {name}")
        await admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty store, once on SQLite (a file in a new folder) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'loa.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
