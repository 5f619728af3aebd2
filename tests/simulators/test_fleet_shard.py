"""`Shard`: how several `loa sim` processes split one fleet without talking to each other."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.config import ReceiverSpec
from simulators.fleet import Shard


def test_a_share_is_every_nth_receiver_by_sorted_id() -> None:
    receivers = [(f"rx-{n}", 60) for n in (5, 1, 4, 2, 3, 6, 7)]
    assert Shard(1, 3).select(receivers) == [("rx-1", 60), ("rx-4", 60), ("rx-7", 60)]
    assert Shard(2, 3).select(receivers) == [("rx-2", 60), ("rx-5", 60)]
    assert Shard(3, 3).select(receivers) == [("rx-3", 60), ("rx-6", 60)]


def test_it_takes_specs_as_well_as_pairs() -> None:
    specs = [ReceiverSpec("b-1"), ReceiverSpec("a-1")]
    assert Shard(1, 2).select(specs) == [ReceiverSpec("a-1")]
    assert Shard(1, 1).select(specs) == [ReceiverSpec("a-1"), ReceiverSpec("b-1")]


@given(
    ids=st.sets(st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True), max_size=60),
    count=st.integers(min_value=1, max_value=9),
)
def test_the_shares_cover_the_fleet_once_and_differ_by_at_most_one(
    ids: set[str], count: int
) -> None:
    receivers = [(receiver_id, 60) for receiver_id in ids]
    shares = [Shard(k, count).select(receivers) for k in range(1, count + 1)]
    chosen = [item[0] for share in shares for item in share]
    assert sorted(chosen) == sorted(ids)
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1
    # The order the receivers come in does not change who runs where.
    assert shares == [Shard(k, count).select(reversed(receivers)) for k in range(1, count + 1)]


@pytest.mark.parametrize(("text", "shard"), [("2/4", Shard(2, 4)), (" 1 / 1 ", Shard(1, 1))])
def test_parse(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard
    assert str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5/4", r"1 <= K <= N, not 5/4"),
        ("0/4", r"1 <= K <= N, not 0/4"),
        ("1/0", r"1 <= K <= N, not 1/0"),
        ("3", r"expected K/N such as 2/4, not '3'"),
        ("-1/2", r"expected K/N such as 2/4, not '-1/2'"),
        ("a/b", r"expected K/N such as 2/4, not 'a/b'"),
        ("1/2/3", r"expected K/N such as 2/4, not '1/2/3'"),
        ("", r"expected K/N such as 2/4, not ''"),
    ],
)
def test_a_bad_shard_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Shard.parse(text)
