"""What only SQLite needs: its settings, one writer at a time, and surviving a killed process."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from controller.store import Store, next_epoch
from controller.store.schema import controller_events, controller_state
from loa.errors import StoreError

NOW = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)

#: Writes three events per transaction, forever, printing each committed sequence number.
WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from sqlalchemy import insert
from controller.store import Store
from controller.store.schema import controller_events

async def main(url):
    async with await Store.open(url) as store:
        seq = 0
        while True:
            rows = [
                {"at": datetime.now(UTC), "controller_id": "child", "kind": "tick",
                 "detail": {"seq": seq, "part": part, "pad": "x" * 4000}}
                for part in range(3)
            ]
            async with store.write() as session:
                await session.execute(insert(controller_events), rows)
            print(seq, flush=True)
            seq += 1

asyncio.run(main(sys.argv[1]))
"""


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "loa" / "loa.db"
    async with await Store.open(sqlite_url(path)) as store:
        await store.upgrade()
    assert path.is_file()


async def test_connections_use_wal_normal_sync_a_busy_timeout_and_foreign_keys(
    tmp_path: Path,
) -> None:
    async with await Store.open(sqlite_url(tmp_path / "loa.db")) as store:
        await store.upgrade()  # migrating turns foreign keys off for a while, then on again
        async with store.read() as session:
            settings: dict[str, object] = {
                pragma: (await session.execute(text(f"PRAGMA {pragma}"))).scalar_one()
                for pragma in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert settings == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "busy_timeout": 5000,
            "foreign_keys": 1,
        }

        async def insert_an_orphan() -> None:
            async with store.write() as session:
                await session.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
                await session.execute(
                    text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))")
                )
                await session.execute(text("INSERT INTO child (parent_id) VALUES (42)"))

        with pytest.raises(StoreError, match="FOREIGN KEY") as caught:
            await insert_an_orphan()
        assert isinstance(caught.value.__cause__, IntegrityError)


async def test_writers_in_two_processes_are_serialized_without_lost_updates(
    tmp_path: Path,
) -> None:
    """Read-then-write transactions from two stores (as from two processes) all succeed."""
    url = sqlite_url(tmp_path / "loa.db")
    row = controller_state.c.controller_id == "counter"

    async def bump(store: Store) -> None:
        async with store.write() as session:
            query = select(controller_state.c.epoch).where(row)
            value: int = (await session.execute(query)).scalar_one()
            # Let every other writer run while this transaction has read but not yet written.
            await asyncio.sleep(0)
            await session.execute(update(controller_state).where(row).values(epoch=value + 1))

    async with await Store.open(url) as first, await Store.open(url) as second:
        await first.upgrade()
        assert await next_epoch(first, "counter", NOW) == 1
        await asyncio.gather(*(bump(store) for _ in range(10) for store in (first, second)))
        assert await next_epoch(second, "counter", NOW) == 22


async def test_a_process_killed_mid_write_leaves_only_whole_transactions(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "loa.db")
    async with await Store.open(url) as store:
        await store.upgrade()

    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert writer.stdout is not None
    reported = -1
    try:
        async with asyncio.timeout(60):
            while reported < 50:
                line = await writer.stdout.readline()
                if not line:
                    break
                reported = int(line)
    finally:
        writer.kill()
        rest, errors = await writer.communicate()
    assert reported >= 50, f"the writer stopped early: {errors.decode()}"
    assert writer.returncode == -signal.SIGKILL
    reported = max([reported, *(int(line) for line in rest.split())])

    async with await Store.open(url) as store, store.read() as session:
        check: list[str] = list((await session.execute(text("PRAGMA integrity_check"))).scalars())
        details: list[dict[str, Any]] = list(
            (await session.execute(select(controller_events.c.detail))).scalars()
        )
    assert check == ["ok"]
    parts = Counter(detail["seq"] for detail in details)
    assert set(parts.values()) == {3}, "a transaction was torn"
    assert sorted(parts) == list(range(len(parts))), "a transaction in the middle is missing"
    assert len(parts) - 1 >= reported, "a transaction reported as committed was lost"
    assert all(detail["pad"] == "x" * 4000 for detail in details)
