"""Alembic environment for the Loa store.

`Store.upgrade()` runs migrations on its own connection, passed in
`config.attributes["connection"]` (Alembic cookbook: "Programmatic API use
(connection sharing) With Asyncio"), inside a transaction it owns. Run from
the `alembic` command line instead, the URL comes from `sqlalchemy.url` or
the `LOA_STORE_URL` environment variable, already in its async form.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection, make_url

from controller.store.engine import create_engine
from controller.store.schema import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("LOA_STORE_URL", "")
    if not url:
        raise RuntimeError("no store URL: set sqlalchemy.url or LOA_STORE_URL")
    return url


def run_migrations_offline() -> None:
    """Write the SQL to stdout (`alembic upgrade --sql`)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=make_url(url).get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite can alter little in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # Our SQLite engine emits BEGIN itself, so DDL is transactional there too.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(make_url(_url()))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
