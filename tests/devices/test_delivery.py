"""The delivery state machine: every pair of states, duplicates, reordering, epochs, ends."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.delivery import (
    ACTIVE_ORDER,
    DELIVERY_STATES,
    RECEIPT_STATES,
    TERMINAL,
    Delivery,
    DeliveryState,
    Step,
    _slot_setters,
    apply_receipt,
    cancel,
    expire,
    is_terminal,
    offer,
    rank,
    start,
)

T0 = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
OCC = "0123456789abcdef0123456789abcdef"
CONTENT = "ab" * 32
REASONS = {"failed": "chunk_timeout", "rejected": "bad_signature"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def in_state(state: DeliveryState, *, epoch: int | None = 5, seq: int | None = 10) -> Delivery:
    """A delivery of rx-1 standing in `state`, last moved by receipt (epoch, seq)."""
    return Delivery(OCC, "rx-1", state, REASONS.get(state), T0, epoch, seq, CONTENT)


def receipt(d: Delivery, state: str, epoch: int = 5, seq: int = 11, **kw: Any) -> Step:
    reason = kw.pop("reason", REASONS.get(state))
    return apply_receipt(d, state, epoch=epoch, seq=seq, at=kw.pop("when", at(1)), reason=reason)


# Current state (rows) x receipt state (columns), for a receipt newer than the last one:
# A applied, s stale, e after_end.
GRID_COLUMNS = (
    "accepted downloading armed playing played failed rejected preempted expired cancelled"
)
GRID = """
queued       A A A A A A A A A A
offered      A A A A A A A A A A
accepted     s A A A A A A A A A
downloading  s s A A A A A A A A
armed        s s s A A A A A A A
playing      s s s s A A A A A A
played       e e e e e e e e e e
failed       e e e e e e e e e e
rejected     e e e e e e e e e e
preempted    e e e e e e e e e e
expired      e e e e e e e e e e
cancelled    e e e e e e e e e e
"""
VERDICTS = {"A": "applied", "s": "stale", "e": "after_end"}
STATE: dict[str, DeliveryState] = {s: s for s in DELIVERY_STATES}
PAIRS = [
    (STATE[current], STATE[new], VERDICTS[mark])
    for line in GRID.strip().splitlines()
    for current, *marks in [line.split()]
    for new, mark in zip(GRID_COLUMNS.split(), marks, strict=True)
]


def test_the_grid_covers_every_state_and_every_receipt_state() -> None:
    assert {current for current, _, _ in PAIRS} == set(DELIVERY_STATES)
    assert (
        {new for _, new, _ in PAIRS}
        == set(RECEIPT_STATES)
        == set(DELIVERY_STATES)
        - {
            "queued",
            "offered",
        }
    )
    assert len(PAIRS) == 12 * 10


@pytest.mark.parametrize(("current", "new", "verdict"), PAIRS)
def test_every_pair_of_states(current: DeliveryState, new: DeliveryState, verdict: str) -> None:
    before = in_state(current)
    step = receipt(before, new)

    assert step.outcome == verdict, step.detail
    if verdict == "applied":
        assert step.delivery == dataclasses.replace(
            before, state=new, reason=REASONS.get(new), epoch=5, seq=11, updated_at=at(1)
        )
        assert step.detail == f"{current} -> {new}"
    else:
        assert step.delivery is before
        assert new in step.detail


@pytest.mark.parametrize("current", DELIVERY_STATES)
@pytest.mark.parametrize("new", ["queued", "offered", "played-ish", ""])
def test_a_receipt_can_never_say_queued_or_offered_or_a_made_up_state(
    current: DeliveryState, new: str
) -> None:
    before = in_state(current)
    step = receipt(before, new)
    assert (step.outcome, step.delivery) == ("invalid", before)
    assert ("only the controller" in step.detail) == (new in ("queued", "offered"))


@pytest.mark.parametrize("state", ["failed", "rejected"])
@pytest.mark.parametrize("reason", [None, ""])
def test_failed_and_rejected_need_a_reason(state: str, reason: str | None) -> None:
    before = in_state("armed")
    step = receipt(before, state, reason=reason)
    assert (step.outcome, step.delivery, step.detail) == (
        "invalid",
        before,
        f"{state} without a reason",
    )


@pytest.mark.parametrize(
    ("epoch", "seq", "problem"),
    [(0, 3, "epoch 0"), (-1, 3, "epoch -1"), (5, -1, "seq -1"), (True, 3, "epoch True")],
)
def test_impossible_epochs_and_seqs_are_invalid(epoch: int, seq: int, problem: str) -> None:
    step = receipt(in_state("offered", epoch=None, seq=None), "armed", epoch=epoch, seq=seq)
    assert step.outcome == "invalid"
    assert step.detail.startswith(problem)


def test_a_redelivered_receipt_is_a_duplicate_even_after_the_end() -> None:
    armed = receipt(in_state("offered"), "armed", seq=11).delivery
    played = receipt(armed, "played", seq=12).delivery

    again = receipt(armed, "armed", seq=11)
    assert (again.outcome, again.delivery) == ("duplicate", armed)
    ended = receipt(played, "played", seq=12)
    assert (ended.outcome, ended.delivery) == ("duplicate", played)
    # A receiver that reuses a seq for another state is not believed either.
    liar = receipt(armed, "played", seq=11)
    assert liar.outcome == "duplicate"
    assert "which said armed" in liar.detail


def test_an_older_receipt_naming_a_later_state_is_stale() -> None:
    downloading = receipt(in_state("offered"), "downloading", seq=20).delivery
    step = receipt(downloading, "armed", seq=19)
    assert (step.outcome, step.delivery) == ("stale", downloading)
    assert "older than the receipt applied (epoch 5 seq 20)" in step.detail
    older_epoch = receipt(downloading, "played", epoch=4, seq=99)
    assert (older_epoch.outcome, older_epoch.delivery) == ("stale", downloading)


def test_a_new_epoch_is_newer_whatever_its_seq() -> None:
    """The receiver reconnected mid-download: its seq restarted at 0."""
    downloading = receipt(in_state("offered"), "downloading", epoch=7, seq=4000).delivery
    step = receipt(downloading, "armed", epoch=8, seq=0)
    assert step.outcome == "applied"
    assert (step.delivery.state, step.delivery.epoch, step.delivery.seq) == ("armed", 8, 0)
    # ...and a late receipt from before the reconnection changes nothing.
    late = receipt(step.delivery, "playing", epoch=7, seq=4001)
    assert (late.outcome, late.delivery) == ("stale", step.delivery)


def test_the_same_state_again_with_a_newer_seq_is_stale_and_keeps_the_first() -> None:
    first = receipt(in_state("offered", epoch=None, seq=None), "downloading", seq=3).delivery
    assert (first.state, first.seq) == ("downloading", 3)
    step = receipt(first, "downloading", seq=9)
    assert (step.outcome, step.delivery) == ("stale", first)
    assert step.detail == "downloading (epoch 5 seq 9) is not after downloading"


def test_the_first_receipt_of_an_offered_delivery_sets_epoch_and_seq() -> None:
    offered = offer(start(OCC, "rx-1", T0), CONTENT, at(1)).delivery
    assert (offered.epoch, offered.seq) == (None, None)
    step = receipt(offered, "accepted", epoch=3, seq=0, when=at(2))
    assert step.delivery == Delivery(OCC, "rx-1", "accepted", None, at(2), 3, 0, CONTENT)


def test_start_then_offer_then_resend() -> None:
    queued = start(OCC, "rx-1", T0)
    assert queued == Delivery(OCC, "rx-1", "queued", None, T0, None, None, None)

    first = offer(queued, CONTENT, at(5))
    assert (first.outcome, first.detail) == ("applied", "queued -> offered")
    assert first.delivery == Delivery(OCC, "rx-1", "offered", None, at(5), None, None, CONTENT)

    resend = offer(first.delivery, CONTENT, at(60))
    assert (resend.outcome, resend.delivery) == ("duplicate", first.delivery)


@pytest.mark.parametrize("state", DELIVERY_STATES)
def test_offer_from_each_state(state: DeliveryState) -> None:
    before = in_state(state)
    step = offer(before, CONTENT, at(1))
    expected = {"queued": "applied", "offered": "duplicate"}.get(
        state, "after_end" if state in TERMINAL else "stale"
    )
    assert step.outcome == expected
    assert (step.delivery is before) == (expected != "applied")


@pytest.mark.parametrize("state", DELIVERY_STATES)
@pytest.mark.parametrize("move", [expire, cancel])
def test_the_controller_ends_only_what_has_not_ended(
    state: DeliveryState, move: Callable[[Delivery, datetime], Step]
) -> None:
    before = in_state(state)
    step = move(before, at(30))
    end: DeliveryState = "expired" if move is expire else "cancelled"
    if state in TERMINAL:
        assert (step.outcome, step.delivery) == ("after_end", before)
        assert step.detail.startswith(f"not {end}: the delivery ended ({state}")
    else:
        assert step.outcome == "applied"
        assert step.delivery == dataclasses.replace(
            before, state=end, reason=None, updated_at=at(30)
        )
        # The receipt that moved it last is kept: a redelivery of it is still a duplicate.
        if state in RECEIPT_STATES:
            assert receipt(step.delivery, state, seq=10).outcome == "duplicate"
        assert receipt(step.delivery, "played", seq=11).outcome == "after_end"


def test_a_cancelled_delivery_ignores_a_late_played_receipt() -> None:
    playing = receipt(in_state("offered"), "playing", seq=11).delivery
    cancelled = cancel(playing, at(2)).delivery
    step = receipt(cancelled, "played", seq=12)
    assert (step.outcome, step.delivery) == ("after_end", cancelled)
    assert "came after the end (cancelled)" in step.detail


def test_ranks_and_ends() -> None:
    assert [rank(s) for s in ACTIVE_ORDER] == list(range(7))
    assert {rank(s) for s in TERMINAL} == {rank("played")}
    assert [s for s in DELIVERY_STATES if is_terminal(s)] == [
        "played",
        "failed",
        "rejected",
        "preempted",
        "expired",
        "cancelled",
    ]
    with pytest.raises(ValueError, match="unknown delivery state 'lost'"):
        rank("lost")
    with pytest.raises(ValueError, match="unknown delivery state"):
        is_terminal("lost")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"occurrence": "0123"}, "occurrence '0123': expected an id of 32"),
        ({"occurrence": OCC.upper()}, "expected an id of 32 lower-case"),
        ({"receiver": ""}, "receiver '': expected a receiver id, 1 to 40"),
        ({"receiver": "Loa 1"}, "receiver 'Loa 1': expected a receiver id"),
        ({"state": "lost"}, "unknown delivery state 'lost'"),
        ({"updated_at": datetime(2026, 12, 2)}, "updated_at: naive datetime"),  # noqa: DTZ001
        ({"seq": None}, "epoch 5 and seq None: give both"),
        ({"content": "xyz"}, "content 'xyz': expected a sha256"),
    ],
)
def test_a_delivery_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(in_state("armed"), **changes)


def test_naive_times_are_refused_by_every_move() -> None:
    naive = datetime(2026, 12, 2, 23, 0)  # noqa: DTZ001
    d = in_state("armed")
    for move in (
        lambda: offer(d, CONTENT, naive),
        lambda: expire(d, naive),
        lambda: cancel(d, naive),
        lambda: apply_receipt(d, "played", epoch=5, seq=11, at=naive),
        lambda: start(OCC, "rx-1", naive),
    ):
        with pytest.raises(ValueError, match="naive datetime"):
            move()


# --- Properties -------------------------------------------------------------------------

ROAD: tuple[DeliveryState, ...] = ("accepted", "downloading", "armed", "playing")
ENDS: tuple[DeliveryState, ...] = tuple(s for s in DELIVERY_STATES if s in TERMINAL)


@st.composite
def receiver_reports(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """What one well-behaved receiver says about one occurrence, in the order it said it.

    States strictly forward with skips, maybe an end; (epoch, seq) strictly growing, the
    seq restarting at 0 when the epoch grows, with gaps (receipts of other occurrences).
    """
    states = [s for s in ROAD if draw(st.booleans())]
    end = draw(st.sampled_from((None, *ENDS)))
    if end is not None:
        states.append(end)
    epoch, seq = draw(st.integers(1, 5)), draw(st.integers(0, 5))
    said: list[tuple[str, int, int]] = []
    for state in states:
        said.append((state, epoch, seq))
        if draw(st.booleans()):
            epoch, seq = epoch + draw(st.integers(1, 2)), draw(st.integers(0, 3))
        else:
            seq += draw(st.integers(1, 3))
    return said


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """A receiver's reports and the order they arrive in: shuffled, some several times."""
    said = draw(receiver_reports())
    copies = [r for r in said for _ in range(draw(st.integers(1, 3)))]
    return said, draw(st.permutations(copies))


def feed(d: Delivery, received: list[tuple[str, int, int]]) -> list[Step]:
    steps = []
    for i, (state, epoch, seq) in enumerate(received):
        step = apply_receipt(d, state, epoch=epoch, seq=seq, at=at(i), reason=REASONS.get(state))
        steps.append(step)
        d = step.delivery
    return steps


@given(arrivals())
def test_in_any_order_with_duplicates_the_last_thing_said_wins(
    case: tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]],
) -> None:
    said, received = case
    offered = offer(start(OCC, "rx-1", T0), CONTENT, T0).delivery
    steps = feed(offered, received)

    final = steps[-1].delivery if steps else offered
    if said:
        state, epoch, seq = said[-1]
        assert (final.state, final.epoch, final.seq) == (state, epoch, seq)
    else:
        assert final == offered
    # Whatever the order, each report is applied at most once and the last one is applied.
    applied = [(s.delivery.state, s.delivery.epoch, s.delivery.seq) for s in steps if s.applied]
    assert len(applied) == len(set(applied))
    assert set(applied) <= set(said)
    assert not said or said[-1] in applied
    # Hearing everything again changes nothing.
    assert all(not s.applied for s in feed(final, received))


RECEIPTS = st.tuples(
    st.sampled_from((*DELIVERY_STATES, "bogus")),
    st.integers(0, 3),
    st.integers(-1, 4),
    st.sampled_from((None, "", "no_content")),
)


@given(st.sampled_from(DELIVERY_STATES), st.lists(RECEIPTS, max_size=30))
def test_no_sequence_of_receipts_moves_a_delivery_backwards(
    initial: DeliveryState, received: list[tuple[str, int, int, str | None]]
) -> None:
    d = in_state(initial, epoch=None, seq=None)
    chain: list[tuple[int, int]] = []
    for i, (state, epoch, seq, reason) in enumerate(received):
        step = apply_receipt(d, state, epoch=epoch, seq=seq, at=at(i), reason=reason)
        after = step.delivery
        assert rank(after.state) >= rank(d.state)
        if step.applied:
            assert rank(after.state) > rank(d.state)
            assert d.state not in TERMINAL
            assert after.state == state
            assert (after.epoch, after.seq) == (epoch, seq)
            chain.append((epoch, seq))
        else:
            assert after is d
        d = after
    # The receipts applied came in strictly growing (epoch, seq) order.
    assert chain == sorted(set(chain))


def test_every_well_behaved_report_order_of_a_short_road_ends_the_same() -> None:
    said = [("accepted", 2, 0), ("armed", 2, 1), ("playing", 3, 0), ("played", 3, 1)]
    offered = offer(start(OCC, "rx-1", T0), CONTENT, T0).delivery
    finals = set()
    for order in itertools.permutations(said):
        final = feed(offered, list(order))[-1].delivery
        finals.add((final.state, final.epoch, final.seq))
    assert finals == {("played", 3, 1)}


# --- A receipt's move is the checked move ---------------------------------------------------
# `apply_receipt` makes the moved delivery without `__post_init__` (`_moved`); it must be what
# the checked constructor makes, for every delivery a receipt may move.

DELIVERIES = st.builds(
    Delivery,
    occurrence=st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    receiver=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True),
    state=st.sampled_from(DELIVERY_STATES),
    reason=st.none() | st.text(max_size=5),
    updated_at=st.just(T0),
    epoch=st.none(),
    seq=st.none(),
    content=st.none() | st.just(CONTENT),
).flatmap(
    lambda d: st.one_of(
        st.just(d),
        st.builds(dataclasses.replace, st.just(d), epoch=st.integers(1, 5), seq=st.integers(0, 5)),
    )
)
ANY_RECEIPT = st.tuples(
    st.sampled_from((*DELIVERY_STATES, "bogus")),
    st.integers(-1, 6) | st.booleans(),
    st.integers(-1, 6) | st.booleans(),
    st.sampled_from((None, "", "no_content", "not a word")),
    st.sampled_from((at(1), datetime(2026, 12, 3, 6, 0, tzinfo=timezone(timedelta(hours=7))))),
)


@given(DELIVERIES, ANY_RECEIPT)
def test_a_moved_delivery_is_the_one_the_checked_constructor_makes(
    d: Delivery, said: tuple[str, int, int, str | None, datetime]
) -> None:
    state, epoch, seq, reason, when = said
    step = apply_receipt(d, state, epoch=epoch, seq=seq, at=when, reason=reason)
    if not step.applied:
        assert step.delivery is d
        return
    checked = dataclasses.replace(
        d, state=STATE[state], reason=reason, epoch=epoch, seq=seq, updated_at=when
    )
    assert step.delivery == checked
    assert repr(step.delivery) == repr(checked)
    assert hash(step.delivery) == hash(checked)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.delivery.state = "queued"  # type: ignore[misc]


def test_the_slot_setters_name_every_field_in_order() -> None:
    names = [field.name for field in dataclasses.fields(Delivery)]
    assert len(_slot_setters(Delivery, *names)) == len(names)
    with pytest.raises(TypeError, match="fields are not"):
        _slot_setters(Delivery, *names[:-1])
    with pytest.raises(TypeError, match="fields are not"):
        _slot_setters(Delivery, *reversed(names))


@pytest.mark.parametrize(
    ("field", "value"),
    [("occurrence", OCC + "\n"), ("content", CONTENT + "\n"), ("occurrence", OCC.upper())],
)
def test_a_trailing_newline_does_not_pass_for_an_id(field: str, value: str) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(in_state("armed"), **changes)
