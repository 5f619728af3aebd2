"""Benchmark: the clash search a province's apply runs (`schedules.clashes.find_clashes`).

5,000 communes' programmes at 06:00 and 17:00 (10,000 stored slots on disjoint receivers),
and as many new slots five minutes later, each clashing with its own commune's; then the
same calendar as 28 days of a daily programme (140,000 stored slots) against one edited
schedule. Baseline in the same run: sorting the same slots by start, the least any sweep
over them costs. Medians of 5 runs; no bound (the issue bounds load and preview, not this),
the figures go in docs/performance.md. Run with `.venv/bin/python bench/schedule_clashes.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schedules.clashes import Slot, find_clashes

REPEATS: Final = 5
SIX: Final = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 06:00 on 1 December in Hà Nội


def slot(name: str, start: datetime, receivers: frozenset[str]) -> Slot:
    return Slot(
        schedule_id=name,
        title=name,
        priority="normal",
        start=start,
        duration=timedelta(minutes=12),
        expires_at=start + timedelta(hours=1),
        receivers=receivers,
    )


def province(days: int) -> tuple[list[Slot], list[Slot]]:
    """(new, existing): per commune, a programme at 06:00 and 17:00 for `days` days, and a
    new one five minutes later on the first day."""
    existing: list[Slot] = []
    new: list[Slot] = []
    for commune in range(5_000):
        receivers = frozenset(f"c{commune}-{k}" for k in range(4))
        for day in range(days):
            for hour in (0, 11):
                at = SIX + timedelta(days=day, hours=hour)
                existing.append(slot(f"old-{commune}", at, receivers))
        for hour in (0, 11):
            at = SIX + timedelta(hours=hour, minutes=5)
            new.append(slot(f"new-{commune}", at, receivers))
    return new, existing


def median_s(work: object) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    new, existing = province(1)
    everything = new + existing
    baseline = median_s(lambda: sorted(everything, key=lambda s: s.start))
    found = len(find_clashes(new, existing))
    search = median_s(lambda: find_clashes(new, existing))
    month_new, month = province(28)
    edited = month_new[:2]  # one commune's edited schedule
    one = median_s(lambda: find_clashes(edited, month))
    print("| case | slots | clashes | median s | x baseline |")
    print("|---|---|---|---|---|")
    print(f"| baseline: sort by start | {len(everything):,} | | {baseline:.3f} | 1.0x |")
    print(
        f"| province apply: new vs stored | {len(everything):,} | {found:,} | {search:.3f} "
        f"| {search / baseline:.1f}x |"
    )
    print(f"| one edited schedule vs 28 days | {len(month) + 2:,} | | {one:.4f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
