"""The as-run query on a real store (SQLite, and PostgreSQL where marked): deliveries are
counted per occurrence in SQL, a commune counts only its own receivers, the period's
bounds hold, days are summed for the chart, and the CSV reads back."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from controller.reports.asrun import as_run, daily
from controller.reports.export import AS_RUN_HEADER, as_run_csv
from controller.reports.period import PeriodError, period_of
from controller.store import Store
from controller.store.registry import import_registry
from controller.store.schema import bulletin_targets, bulletins, deliveries, occurrences
from simulators.commune import GeneratedCommune, generate_commune

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam, a Sunday


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await Store.open(store_url) as opened:
        await opened.upgrade()
        yield opened


def communes() -> tuple[GeneratedCommune, GeneratedCommune]:
    first, second = generate_commune(1, 4, 2), generate_commune(2, 3, 1)
    assert first.commune.id != second.commune.id
    return first, second


async def add(
    store: Store,
    occurrence: str,
    title: str,
    *,
    play_at: datetime,
    targets: list[tuple[str, str]],
    delivered: dict[str, str],
    **columns: Any,
) -> None:
    bulletin = "b" + occurrence[1:]
    async with store.write() as session:
        await session.execute(
            insert(bulletins).values(
                id=bulletin, title=title, priority=columns.pop("priority", "normal"),
                repeat=1, chime="none", created_by="test", created_at=play_at - timedelta(hours=1),
            )
        )  # fmt: skip
        for kind, target in targets:
            await session.execute(
                insert(bulletin_targets).values(bulletin_id=bulletin, kind=kind, target_id=target)
            )
        await session.execute(
            insert(occurrences).values(
                id=occurrence, bulletin_id=bulletin, play_at=play_at,
                expires_at=play_at + timedelta(hours=1), created_at=play_at - timedelta(hours=1),
                state=columns.pop("state", "done"), **columns,
            )
        )  # fmt: skip
        for receiver, state in delivered.items():
            started = play_at + timedelta(seconds=1) if state == "played" else None
            await session.execute(
                insert(deliveries).values(
                    occurrence_id=occurrence, receiver_id=receiver, state=state,
                    updated_at=play_at, started_at=started,
                )
            )  # fmt: skip


async def test_as_run_counts_reach_commune_period_and_csv(store: Store) -> None:
    a, b = communes()
    await import_registry(
        store,
        [a.province, a.commune, *a.villages, b.commune, *b.villages],
        [*a.receivers, *b.receivers],
        dry_run=False,
        at=NOW - timedelta(days=30),
    )
    ra, rb = [r.id for r in a.receivers], [r.id for r in b.receivers]
    yesterday = NOW - timedelta(days=1)
    await add(
        store, "o" + "1" * 31, "Thông báo tiêm chủng", play_at=yesterday,
        targets=[("all", "")],
        delivered={ra[0]: "played", ra[1]: "played", ra[2]: "failed", ra[3]: "played",
                   rb[0]: "played", rb[1]: "expired", rb[2]: "armed"},
    )  # fmt: skip
    await add(
        store, "o" + "2" * 31, "Lịch họp thôn", play_at=NOW - timedelta(hours=2),
        targets=[("group", b.commune.id)], delivered={}, state="missed",
        schedule_id="hop-thon", planned_at=NOW - timedelta(hours=2), reason="quiet hours",
    )  # fmt: skip
    await add(
        store, "o" + "3" * 31, "Tin cũ", play_at=NOW - timedelta(days=20),
        targets=[("all", "")], delivered={ra[0]: "played"},
    )  # fmt: skip
    await add(
        store, "o" + "4" * 31, "Khẩn cấp: lũ", play_at=NOW - timedelta(hours=1),
        targets=[("group", a.villages[0].id)], priority="emergency",
        delivered={r.id: "played" for r in a.receivers if r.village_id == a.villages[0].id},
    )  # fmt: skip

    week = period_of(None, None, ZONE, NOW)
    rows = await as_run(store, week)
    assert [r.title for r in rows] == ["Thông báo tiêm chủng", "Lịch họp thôn", "Khẩn cấp: lũ"]
    first, missed, flood = rows
    assert (first.targeted, first.played, first.failed, first.pending) == (7, 4, 2, 1)
    assert first.reach == pytest.approx(4 / 7)
    assert first.targets == "all"
    assert first.first_played_at == yesterday + timedelta(seconds=1)
    assert (missed.schedule, missed.state, missed.reason) == ("hop-thon", "missed", "quiet hours")
    assert (missed.targeted, missed.reach) == (0, None)
    assert flood.reach == 1.0
    assert flood.priority == "emergency"

    # One commune: only its receivers count; a missed airing meant for it is still listed.
    only_a = {r.title: r for r in await as_run(store, week, commune=a.commune.id)}
    assert set(only_a) == {"Thông báo tiêm chủng", "Khẩn cấp: lũ"}
    assert (only_a["Thông báo tiêm chủng"].targeted, only_a["Thông báo tiêm chủng"].played) == (
        4,
        3,
    )
    only_b = {r.title: r for r in await as_run(store, week, commune=b.commune.id)}
    assert set(only_b) == {"Thông báo tiêm chủng", "Lịch họp thôn"}
    assert only_b["Thông báo tiêm chủng"].targeted == 3

    days = daily(rows, week)
    assert len(days) == 7
    assert days[-1].day == NOW.astimezone(ZONE).date()
    assert (days[-1].occurrences, days[-1].targeted, days[-1].played) == (2, 2, 2)
    assert days[-2].reach == pytest.approx(4 / 7)
    assert days[0].reach is None

    longer = await as_run(store, period_of("2026-11-01", "2026-11-29", ZONE, NOW))
    assert len(longer) == 4

    table = list(csv.reader(io.StringIO(as_run_csv(rows, ZONE).removeprefix("\ufeff"))))
    assert table[0] == list(AS_RUN_HEADER)
    assert table[1][1] == "Thông báo tiêm chủng"
    assert table[1][AS_RUN_HEADER.index("reach_percent")] == "57.1"
    assert table[2][AS_RUN_HEADER.index("reach_percent")] == ""
    assert table[3][AS_RUN_HEADER.index("play_local")] == "2026-11-29 11:00:00"
    assert table[3][AS_RUN_HEADER.index("play_utc")] == "2026-11-29T04:00:00Z"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (("2026-11-10", "2026-11-01"), "from"),
        (("2025-01-01", "2026-11-01"), "to"),
        (("1/11/2026", None), "from"),
        ((None, "next week"), "to"),
    ],
)
def test_periods_that_cannot_be_reported_name_the_field(
    given: tuple[str | None, str | None], field: str
) -> None:
    with pytest.raises(PeriodError) as caught:
        period_of(*given, ZONE, NOW)
    assert caught.value.field == field


def test_default_period_is_the_last_seven_whole_days() -> None:
    week = period_of(None, None, ZONE, NOW)
    assert week.start == datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # 23/11 00:00 in Vietnam
    assert week.end == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    assert (week.first_day.isoformat(), week.last_day.isoformat()) == ("2026-11-23", "2026-11-29")
    whole_year = period_of("2025-12-01", "2026-11-30", ZONE, NOW)
    assert (whole_year.end - whole_year.start).days == 365
