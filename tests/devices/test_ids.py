"""Receiver and group ids: what the registry, the topics and the store accept."""

from __future__ import annotations

import pytest

from devices.ids import is_valid_id


@pytest.mark.parametrize("value", ["cb-tl-01", "a", "x" * 40, "thon_na-pong-2"])
def test_good_ids(value: str) -> None:
    assert is_valid_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 41, "Cb-01", "-lead", "_lead", "rx 1", "rx/1", "rx-1\n", "x" * 40 + "\n", 7, None],
)
def test_bad_ids(value: object) -> None:
    # a trailing newline once passed: `$` matches before it, so the check is a full match
    assert not is_valid_id(value)
