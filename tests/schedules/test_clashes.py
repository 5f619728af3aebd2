"""Clashes: who plays, who waits, who is cut or missed; grouped for people; fast at scale."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.protocol.priority import PRIORITIES, Priority
from schedules.clashes import Clash, Slot, find_clashes, interrupts, slots_for, summarise
from schedules.model import Schedule, ScheduleError
from schedules.recurrence import Daily, Weekly
from schedules.when import When

HCM = "Asia/Ho_Chi_Minh"
# 2026-12-01 06:00 in Vietnam (+07).
SIX = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
VILLAGE = frozenset(f"tl-na-vuong-{i}" for i in range(1, 10)) | {"tl-po-tau-1", "tl-po-tau-2"}


def slot(
    schedule_id: str,
    title: str,
    priority: Priority = "normal",
    *,
    at: int = 0,
    minutes: int = 12,
    expires: int = 60,
    receivers: frozenset[str] = VILLAGE,
) -> Slot:
    """A slot starting `at` minutes after 06:00 local on 2026-12-01."""
    start = SIX + timedelta(minutes=at)
    return Slot(
        schedule_id,
        title,
        priority,
        start,
        timedelta(minutes=minutes),
        start + timedelta(minutes=expires),
        receivers,
    )


@pytest.mark.parametrize(
    ("new", "playing", "expected"),
    [
        ("priority", "normal", True),
        ("live", "priority", True),
        ("emergency", "live", True),
        ("priority", "background", True),
        ("normal", "background", False),  # normal never interrupts
        ("background", "background", False),
        ("priority", "priority", False),
        ("normal", "emergency", False),
    ],
)
def test_interrupts_only_from_priority_up(new: Priority, playing: Priority, expected: bool) -> None:
    assert interrupts(new, playing) is expected


def test_a_later_normal_waits_and_the_line_says_how_long() -> None:
    sang = slot("tin-sang", "Tin sáng")
    hop = slot("hop-xom", "Họp xóm", at=5, minutes=10, receivers=VILLAGE | {"tl-khac-1"})
    [clash] = find_clashes([hop], [sang])
    assert (clash.first, clash.second, clash.outcome) == (sang, hop, "waits")
    assert clash.delay == timedelta(minutes=7)
    assert clash.receivers == VILLAGE
    assert clash.describe(HCM) == (
        '2026-12-01 06:00-06:12 +07: "Tin sáng" (normal) and "Họp xóm" (normal, 06:05) share '
        '11 receivers (tl-na-vuong-1, tl-na-vuong-2, tl-na-vuong-3 and 8 more): "Họp xóm" '
        "waits 7 min until 06:12"
    )


def test_a_priority_interrupts_a_normal_one() -> None:
    sang = slot("tin-sang", "Tin sáng")
    bao = slot("bao-9", "Bão số 9", "priority", at=5, receivers=frozenset({"tl-po-tau-1"}))
    [clash] = find_clashes([bao], [sang])
    assert (clash.first.schedule_id, clash.outcome) == ("tin-sang", "interrupts")
    assert clash.delay == timedelta(0)
    assert clash.describe(HCM).endswith(
        'share 1 receiver (tl-po-tau-1): "Bão số 9" interrupts "Tin sáng" at 06:05 '
        "(it is cut: preempted)"
    )


def test_a_wait_past_its_expiry_is_a_miss() -> None:
    sang = slot("tin-sang", "Tin sáng", minutes=70)
    x = slot("x", "X", at=5, expires=60)  # may start until 07:05; the receivers are free at 07:10
    [clash] = find_clashes([x], [sang])
    assert clash.outcome == "expires"
    assert clash.describe(HCM).endswith(
        '"X" cannot start before it expires at 07:05: it will be missed on these receivers'
    )
    # Free exactly at the expiry still counts as missed (after expires_at it must not start).
    exact = slot("x", "X", at=5, expires=65)
    assert find_clashes([exact], [sang])[0].outcome == "expires"


def test_equal_start_higher_plays_lower_waits() -> None:
    normal = slot("a-normal", "Tin sáng")
    urgent = slot("z-urgent", "Khẩn", "priority", minutes=3)
    [clash] = find_clashes([normal], [urgent])
    assert (clash.first, clash.second, clash.outcome) == (urgent, normal, "waits")
    assert clash.delay == timedelta(minutes=3)
    assert "at the same time" not in clash.describe(HCM)


def test_equal_start_and_rank_orders_by_id_and_warns() -> None:
    b = slot("b-second", "Hai")
    a = slot("a-first", "Một")
    [clash] = find_clashes([b], [a])
    assert (clash.first, clash.second) == (a, b)
    line = clash.describe(HCM)
    assert 'at the same time; "Một" plays first, "Hai" waits 12 min until 06:12' in line
    assert "move one" in line


def test_a_later_higher_normal_does_not_cut_background() -> None:
    music = slot("nhac", "Nhạc", "background", minutes=30)
    notice = slot("thong-bao", "Thông báo", at=10)
    [clash] = find_clashes([notice], [music])
    assert (clash.outcome, clash.delay) == ("waits", timedelta(minutes=20))


def test_no_clash_when_touching_disjoint_or_the_same_schedule() -> None:
    sang = slot("tin-sang", "Tin sáng")
    after = slot("sau", "Sau", at=12)  # starts when the first ends
    elsewhere = slot("khac", "Khác", at=5, receivers=frozenset({"qh-1"}))
    itself = slot(
        "tin-sang", "Tin sáng (sửa)", at=3, minutes=5
    )  # the edited version of a stored one
    assert find_clashes([after, elsewhere, itself], [sang]) == []


def test_existing_slots_never_clash_with_each_other() -> None:
    a, b = slot("a", "A"), slot("b", "B", at=1)
    assert find_clashes([], [a, b]) == []
    assert len(find_clashes([a, b], [])) == 1  # two new ones do


def test_same_titles_are_told_apart_by_id() -> None:
    [clash] = find_clashes([slot("a", "Tin")], [slot("b", "Tin", at=1)])
    assert '"Tin" [a] (normal) and "Tin" [b] (normal, 06:01)' in clash.describe(HCM)


def test_results_are_sorted_by_first_start_then_ids() -> None:
    new = [slot("n1", "N1", at=30), slot("n2", "N2", at=1), slot("n3", "N3", at=2)]
    existing = [slot("e", "E", minutes=60)]
    found = find_clashes(new, existing)
    keys = [(c.first.start, c.first.schedule_id, c.second.schedule_id) for c in found]
    assert keys == sorted(keys)
    # Each new one with e (06:00-07:00), by second id, and n2 (06:01-06:13) with n3 (06:02-06:14).
    assert [(c.first.schedule_id, c.second.schedule_id) for c in found] == [
        ("e", "n1"),
        ("e", "n2"),
        ("e", "n3"),
        ("n2", "n3"),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration": timedelta(0)}, "duration"),
        ({"start": datetime(2026, 12, 1, 6)}, "start"),  # noqa: DTZ001 - the point: naive
        ({"expires_at": SIX - timedelta(minutes=1)}, "expires_at"),
        ({"receivers": frozenset()}, "receivers"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_a_bad_slot_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "schedule_id": "tin-sang",
        "title": "Tin sáng",
        "priority": "normal",
        "start": SIX,
        "duration": timedelta(minutes=5),
        "expires_at": SIX + timedelta(hours=1),
        "receivers": VILLAGE,
    }
    with pytest.raises(ScheduleError, match=f"slot 'tin-sang': {field}"):
        Slot(**(fields | changes))


def _schedule(schedule_id: str, title: str, when: When, **more: Any) -> Schedule:
    return Schedule(
        id=schedule_id,
        title=title,
        when=when,
        targets="tra-linh",
        contents=(("vi", "3fa2b1"),),
        **more,
    )


def test_slots_for_a_daily_schedule_over_four_weeks() -> None:
    when = When(Daily((time(6), time(17))), start=date(2026, 12, 1))
    schedule = _schedule("sang-chieu", "Sáng chiều", when, priority="priority", expires_after_s=600)
    slots = slots_for(schedule, VILLAGE, timedelta(minutes=30), SIX, SIX + timedelta(days=28))
    assert len(slots) == 56
    assert slots[1].start == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 17:00 local
    assert {s.expires_at - s.start for s in slots} == {timedelta(minutes=10)}
    assert {(s.schedule_id, s.priority, s.receivers) for s in slots} == {
        ("sang-chieu", "priority", VILLAGE)
    }
    assert (
        len(
            slots_for(
                schedule, VILLAGE, timedelta(minutes=1), SIX, SIX + timedelta(days=28), limit=5
            )
        )
        == 5
    )
    with pytest.raises(ScheduleError, match="limit"):
        slots_for(schedule, VILLAGE, timedelta(minutes=1), SIX, SIX, limit=0)


def test_summarise_folds_a_daily_overlap_into_one_line() -> None:
    start = date(2026, 12, 1)
    sang = _schedule("tin-sang", "Tin sáng", When(Daily((time(6),)), start=start))
    hop = _schedule("hop-xom", "Họp xóm", When(Daily((time(6, 5),)), start=start))
    market = _schedule("cho", "Chợ", When(Weekly((1,), (time(6, 10),)), start=start))
    end = SIX + timedelta(days=28)
    existing = slots_for(sang, VILLAGE, timedelta(minutes=12), SIX, end)
    new = slots_for(hop, VILLAGE, timedelta(minutes=2), SIX, end)
    new += slots_for(market, VILLAGE, timedelta(minutes=1), SIX, end)
    clashes = find_clashes(new, existing)
    assert len(clashes) == 28 + 4
    lines = summarise(clashes, HCM)
    assert lines == [  # ordered by first start, then schedule ids (cho < hop-xom)
        '06:00-06:12 +07: "Tin sáng" (normal) and "Chợ" (normal, 06:10) share 11 receivers '
        '(tl-na-vuong-1, tl-na-vuong-2, tl-na-vuong-3 and 8 more): "Chợ" waits 2 min until '
        "06:12; every week from 2026-12-01 to 2026-12-22 (4 times)",
        '06:00-06:12 +07: "Tin sáng" (normal) and "Họp xóm" (normal, 06:05) share 11 receivers '
        '(tl-na-vuong-1, tl-na-vuong-2, tl-na-vuong-3 and 8 more): "Họp xóm" waits 7 min until '
        "06:12; every day from 2026-12-01 to 2026-12-28 (28 times)",
    ]


def test_summarise_irregular_days_and_single_clashes() -> None:
    days = [0, 3, 4]
    existing = [slot("a", "A", at=24 * 60 * d) for d in days]
    new = [slot("b", "B", at=24 * 60 * d + 1) for d in days] + [slot("c", "C", at=5 * 24 * 60)]
    new.append(slot("d", "D", at=5 * 24 * 60 + 1))
    lines = summarise(find_clashes(new, existing), HCM)
    assert lines[0].endswith("; on 3 days: first 2026-12-01, last 2026-12-05 (3 times)")
    assert lines[1].startswith('2026-12-06 06:00-06:12 +07: "C" (normal) and "D"')


# Brute force: every pair with a new side, compared directly.
def _brute(new: list[Slot], existing: list[Slot]) -> list[Clash]:
    from schedules.clashes import _clash  # noqa: PLC0415 - the oracle shares the pair rule only

    tagged = [(s, True) for s in new] + [(s, False) for s in existing]
    found = []
    for i, (a, a_new) in enumerate(tagged):
        for b, b_new in tagged[i + 1 :]:
            if not (a_new or b_new) or a.schedule_id == b.schedule_id:
                continue
            shared = a.receivers & b.receivers
            if shared and a.start < b.end and b.start < a.end:
                found.append(_clash(a, b, shared))
    return found


def _key(c: Clash) -> tuple[object, ...]:
    return (c.first, c.second, c.outcome, c.delay, sorted(c.receivers))


SLOTS = st.builds(
    slot,
    st.sampled_from(["a", "b", "c", "d"]),
    st.just("T"),
    st.sampled_from(PRIORITIES),
    at=st.integers(0, 60),
    minutes=st.integers(1, 30),
    expires=st.integers(0, 40),
    receivers=st.frozensets(st.sampled_from(["r1", "r2", "r3", "r4"]), min_size=1),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(SLOTS, max_size=8), st.lists(SLOTS, max_size=8))
def test_find_clashes_matches_brute_force(new: list[Slot], existing: list[Slot]) -> None:
    found = find_clashes(new, existing)
    assert sorted(map(_key, found), key=repr) == sorted(map(_key, _brute(new, existing)), key=repr)
    keys = [(c.first.start, c.first.schedule_id, c.second.schedule_id) for c in found]
    assert keys == sorted(keys)
    for c in found:
        assert (c.first.start, -_rank(c.first)) <= (c.second.start, -_rank(c.second))
        assert c.delay >= timedelta(0)


def _rank(s: Slot) -> int:
    return len(PRIORITIES) - PRIORITIES.index(s.priority)


def test_twenty_thousand_slots_on_disjoint_communes_pair_only_within_a_commune() -> None:
    """A province: 5,000 communes' programmes at 06:00 and 17:00, and as many new ones five
    minutes later: each new slot clashes with its own commune's only (the time it takes is
    `bench/schedule_clashes.py`'s)."""
    existing = []
    new = []
    for commune in range(5_000):
        receivers = frozenset(f"c{commune}-{k}" for k in range(4))
        for hour in (0, 11):  # 06:00 and 17:00 local
            existing.append(slot(f"old-{commune}", "Cũ", at=hour * 60, receivers=receivers))
            new.append(slot(f"new-{commune}", "Mới", at=hour * 60 + 5, receivers=receivers))
    found = find_clashes(new, existing)
    assert len(found) == 10_000
    assert all(c.first.schedule_id[4:] == c.second.schedule_id[4:] for c in found)
