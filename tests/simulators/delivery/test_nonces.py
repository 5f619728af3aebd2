"""Command ids seen: remembered until they expire, across reboots, in a file only when needed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from simulators.delivery.nonces import NonceMemory
from tests.simulators.delivery.support import START

A, B = "a" * 32, "b" * 32


def test_an_id_is_remembered_across_a_reboot_until_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "nonces.json"
    memory = NonceMemory(tmp_path, margin=timedelta(minutes=10))
    assert not memory.seen(A)
    assert not path.exists()
    memory.remember(A, START + timedelta(minutes=5), START)
    assert memory.seen(A)
    rebooted = NonceMemory(tmp_path, margin=timedelta(minutes=10))
    assert rebooted.seen(A)
    assert rebooted.prune(START + timedelta(minutes=14)) == 0
    assert rebooted.prune(START + timedelta(minutes=16)) == 1
    assert not rebooted.seen(A)
    assert not path.exists()  # nothing left to remember: no file


def test_old_ids_are_forgotten_when_a_new_one_comes(tmp_path: Path) -> None:
    memory = NonceMemory(tmp_path, margin=timedelta(0))
    memory.remember(A, START, START)
    memory.remember(B, START + timedelta(hours=1), START + timedelta(minutes=1))
    assert len(memory) == 1
    assert B in memory
    assert NonceMemory(tmp_path).seen(B)


def test_a_damaged_file_is_a_fresh_start_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "nonces.json"
    path.write_text("{not json", encoding="utf-8")
    assert len(NonceMemory(tmp_path)) == 0
    path.write_text('{"version": 1, "ids": {"x": "tomorrow", "y": 5}}', encoding="utf-8")
    memory = NonceMemory(tmp_path)
    assert memory.seen("y")
    assert not memory.seen("x")
