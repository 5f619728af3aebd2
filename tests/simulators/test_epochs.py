"""The receivers' epoch counters: they only grow, also across a restarted simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loa.errors import ConfigError
from simulators.epochs import EpochStore


def test_epochs_grow_per_receiver_in_memory() -> None:
    store = EpochStore()
    assert [store.next("a"), store.next("a"), store.next("b"), store.next("a")] == [1, 2, 1, 3]
    assert store.last("a") == 3
    assert store.last("c") is None


def test_a_restarted_simulator_continues_above_every_epoch_used(tmp_path: Path) -> None:
    path = tmp_path / "state" / "epochs.json"
    first = EpochStore(path, block=10)
    used = [first.next("a") for _ in range(25)]
    assert first.writes == 3  # one per block of 10, not one per connection
    second = EpochStore(path, block=10)
    assert second.next("a") > max(used)
    assert second.next("b") == 1


def test_reserve_writes_once_for_a_whole_fleet(tmp_path: Path) -> None:
    path = tmp_path / "epochs.json"
    store = EpochStore(path, block=100)
    store.reserve(f"rx-{n}" for n in range(500))
    for n in range(500):
        store.next(f"rx-{n}")
    assert store.writes == 1
    restarted = EpochStore(path, block=100)
    restarted.reserve(f"rx-{n}" for n in range(500))
    assert restarted.writes == 1
    assert restarted.next("rx-7") == 101


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "cannot read"),
        ('{"version": 2, "ceilings": {}}', "not a version 1"),
        ('{"version": 1, "ceilings": []}', "must be an object"),
        ('{"version": 1, "ceilings": {"a": -1}}', "ceilings.a: must be a whole number"),
    ],
)
def test_a_bad_epoch_file_says_where_and_what(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "epochs.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem) as error:
        EpochStore(path)
    assert str(path) in str(error.value)


def test_the_file_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "epochs.json"
    EpochStore(path, block=5).next("cb-tl-01")
    assert json.loads(path.read_text()) == {"version": 1, "ceilings": {"cb-tl-01": 5}}
