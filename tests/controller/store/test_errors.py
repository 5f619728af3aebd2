"""A store that cannot be opened says why, where (password masked) and what to do."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from controller.store import Store
from loa.errors import StoreError
from loa.redact import mask_url


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local TCP port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    [
        "mysql+aiomysql://loa:s3cret@db/loa",
        "sqlite:///loa.db",
        "postgres://loa:s3cret@db/loa",
        "postgresql+psycopg://loa:s3cret@db/loa",
    ],
)
async def test_a_driver_loa_does_not_use_is_refused(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    message = str(caught.value)
    assert "no driver for" in message
    assert "sqlite+aiosqlite:///" in message
    assert "(store.url)" in message
    assert "s3cret" not in message


async def test_text_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(StoreError, match=r"'loa\.db' is not a database URL"):
        await Store.open("loa.db")


async def test_an_in_memory_sqlite_store_is_refused() -> None:
    with pytest.raises(StoreError, match="forgets everything on restart"):
        await Store.open("sqlite+aiosqlite:///:memory:")


async def test_unreachable_postgresql_says_so_with_the_password_masked(closed_port: int) -> None:
    url = f"postgresql+asyncpg://loa:s3cret@127.0.0.1:{closed_port}/loa"
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    assert str(caught.value) == (
        f"cannot open the store at postgresql+asyncpg://loa:***@127.0.0.1:{closed_port}/loa: "
        f"connection refused; is PostgreSQL running and listening on 127.0.0.1:{closed_port}? "
        "(store.url)"
    )


@pytest.mark.postgres
async def test_a_missing_postgresql_database_is_named(postgres_url: str) -> None:
    url = make_url(postgres_url).set(database="no_such_db")
    with pytest.raises(StoreError, match='"no_such_db" does not exist; create the database'):
        await Store.open(url.render_as_string(hide_password=False))


async def test_an_sqlite_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"cannot create .*not-a-folder.*permissions"):
        await Store.open(f"sqlite+aiosqlite:///{blocker / 'loa.db'}")


async def test_a_file_that_is_not_an_sqlite_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt: file is not a database"):
        await Store.open(f"sqlite+aiosqlite:///{path}")


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql+asyncpg://loa:p%40ss@db:5432/loa") == (
        "postgresql+asyncpg://loa:***@db:5432/loa"
    )
    assert mask_url("sqlite+aiosqlite:////var/lib/loa/loa.db") == (
        "sqlite+aiosqlite:////var/lib/loa/loa.db"
    )
    assert mask_url("weird://u:pw@host/x?y") == "weird://u:***@host/x?y"
