"""Benchmark: a province's 5,000 schedules load and preview in under 2 s.

Issue 6's bound: 5,000 schedules for a province (3,000 receivers, 60 communes) load and
preview in under 2 s. One run, in a temporary folder:

1. a province's calendar is generated (seeded, the same every run): 60 communes of 50
   receivers in 5 villages each (3,000 receivers' worth of targets: the commune's group id,
   its village group ids, or `all`), 5,000 schedules as operators write them, one YAML file
   per commune. The mix: daily programmes at 06:00 and 17:00 (and other daily slots),
   weekly markets, monthly meetings (nth weekday), campaigns with a date window and
   exceptions, a share of cron rules and a few one-off announcements; audio contents or
   text read aloud in one to three languages;
2. baseline: `yaml.load` of every file with PyYAML's C loader (libyaml, `CSafeLoader`)
   alone: the bare parse cost, nothing checked, no line marks kept;
3. load: `schedules.file.read_schedules(folder)`: read, parse, validate every field and
   build every `Schedule` (what `loa schedule preview DIR` and `apply` do first);
4. preview: the next 20 air times of every schedule (`schedules.when.occurrences`) after
   one fixed instant, as `loa schedule preview DIR --count 20` computes them.

Each step runs `REPEATS` times and its median counts (the first run also warms the zone
cache, as a long-running controller would be). Prints each figure with its ratio to the
baseline, and PASS/FAIL of load + preview against the bound; exits 1 on FAIL. A few seconds.
Run with `.venv/bin/python bench/schedule_load.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

# The project root, for the `schedules` package. (This file is not called bench/schedules.py:
# mypy, which checks bench/ and schedules/ together, would see two modules named `schedules`.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from schedules.file import ScheduleFileError, read_schedules
from schedules.when import occurrences

COMMUNES: Final = 60
RECEIVERS: Final = 3_000
VILLAGES: Final = 5  # per commune
SCHEDULES: Final = 5_000
COUNT: Final = 20  # air times per schedule, as `preview --count 20`
REPEATS: Final = 3
BOUND_S: Final = 2.0
SEED: Final = "bench-schedules"
#: The preview's `--after`: the province's calendar begins around 1 December 2026.
AFTER: Final = datetime(2026, 12, 1, tzinfo=UTC)
START: Final = date(2026, 11, 1)

#: Kind of schedule -> its share of the calendar (sums to 1).
MIX: Final = {
    "programme": 0.24,  # daily 06:00 and 17:00
    "daily": 0.10,  # another daily slot (a noon bulletin, an evening reading)
    "market": 0.22,  # weekly market notice
    "meeting": 0.14,  # monthly meeting, nth weekday
    "campaign": 0.20,  # daily within a window, with exceptions
    "cron": 0.08,
    "once": 0.02,
}
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "t2", "t5", "t7", "cn")
CRONS: Final = (
    "30 6 * * 1-5",
    "0 7 1,15 * *",
    "0 6 1 * mon",
    "15 18 * * sat,sun",
    "0 8 */10 * *",
    "45 5 * 1-6 *",
    "0 19 * * 0",
    "30 11 10-20 * 2-4",
)
LANGUAGES: Final = ("vi", "tay", "nung", "hmn", "dao")
PRIORITIES: Final = ("normal", "normal", "normal", "priority", "background", "emergency")


def slot(rng: random.Random) -> str:
    """A wall-clock time, on the quarter hour, between 05:00 and 20:45."""
    return f"{rng.randrange(5, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}"


def when_lines(kind: str, rng: random.Random) -> list[str]:
    """The `when:` block of one schedule of `kind`, as an operator would write it."""
    start = START + timedelta(days=rng.randrange(0, 60))
    lines: list[str] = []
    if kind == "programme":
        lines = ['      daily: ["06:00", "17:00"]', f"      from: {start}"]
    elif kind == "daily":
        lines = [f"      daily: {slot(rng)}", f"      from: {start}"]
    elif kind == "market":
        days = ", ".join(rng.sample(WEEKDAYS[:7], rng.choice((1, 2))))
        lines = [f'      weekly: {{days: [{days}], at: ["{slot(rng)}"]}}', f"      from: {start}"]
        if rng.random() < 0.3:
            lines.append(f"      except: [{start + timedelta(days=rng.randrange(20, 90))}]")
    elif kind == "meeting":
        nth = rng.choice(("1", "2", "3", "4", "last"))
        lines = [
            f'      monthly: {{nth: {nth}, day: {rng.choice(WEEKDAYS)}, at: ["{slot(rng)}"]}}',
            f"      from: {start}",
        ]
    elif kind == "campaign":
        until = start + timedelta(days=rng.randrange(7, 45))
        skipped = sorted({start + timedelta(days=rng.randrange(1, 7)) for _ in range(3)})
        times = ", ".join(
            f'"{t}"' for t in sorted({slot(rng) for _ in range(rng.choice((1, 1, 2)))})
        )
        lines = [
            f"      daily: [{times}]",
            f"      from: {start}",
            f"      until: {until}",
            f"      except: [{', '.join(map(str, skipped))}]",
        ]
    elif kind == "cron":
        lines = [f'      cron: "{rng.choice(CRONS)}"', f"      from: {start}"]
    else:  # once
        on = AFTER.date() + timedelta(days=rng.randrange(0, 30))
        lines = [f'      once: "{on} {slot(rng)}"']
    return lines


def schedule_text(number: int, commune: str, kind: str, rng: random.Random) -> str:
    """One schedule of a commune's file: what plays, to whom, how and when."""
    villages = [f"{commune}-thon-{v:02d}" for v in range(1, VILLAGES + 1)]
    targets = rng.choice(
        (commune, commune, ", ".join(rng.sample(villages, rng.randrange(1, 4))), "all")
    )
    languages = ["vi", *rng.sample(LANGUAGES[1:], rng.randrange(0, 3))]
    lines = [
        f"  - id: {commune}-{kind}-{number:04d}",
        f"    title: Chương trình {kind} số {number} của xã {commune}",
        "    when:",
        *when_lines(kind, rng),
        f"    targets: {targets}",
    ]
    if rng.random() < 0.5:
        pairs = ", ".join(f"{lang}: {rng.getrandbits(48):012x}" for lang in languages)
        lines.append(f"    contents: {{{pairs}}}")
    else:
        lines.append("    text:")
        lines += [
            f'      {lang}: "Thông báo số {number} gửi bà con trong xã."' for lang in languages
        ]
    lines.append(f"    priority: {rng.choice(PRIORITIES)}")
    if rng.random() < 0.6:
        lines.append(f"    duration_s: {rng.choice((300, 600, 900, 1800))}")
    if rng.random() < 0.3:
        lines.append(f"    lead_s: {rng.choice((600, 1800, 3600))}")
    if rng.random() < 0.2:
        lines += [f"    volume: {rng.randrange(40, 101)}", f"    repeat: {rng.randrange(1, 4)}"]
    if rng.random() < 0.3:
        lines.append(f"    chime: {rng.choice(('before', 'after', 'both'))}")
    if rng.random() < 0.05:
        lines.append("    enabled: false")
    return "\n".join(lines)


def write_province(folder: Path) -> Counter[str]:
    """One YAML file per commune, 5,000 schedules in all; returns the count of each kind."""
    rng = random.Random(SEED)  # noqa: S311 - a reproducible calendar, not a secret
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=SCHEDULES)
    per_commune: list[list[str]] = [[] for _ in range(COMMUNES)]
    for number, kind in enumerate(kinds):
        commune = number % COMMUNES
        per_commune[commune].append(schedule_text(number, f"xa-{commune:02d}", kind, rng))
    for commune, items in enumerate(per_commune):
        text = f"# xa-{commune:02d}: {len(items)} schedules\nschedules:\n" + "\n\n".join(items)
        (folder / f"xa-{commune:02d}.yaml").write_text(text + "\n", encoding="utf-8")
    return Counter(kinds)


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    """The median wall time of `REPEATS` runs of `step`, and its last result."""
    seconds: list[float] = []
    result: Any = None
    for _ in range(REPEATS):
        began = time.perf_counter()
        result = step()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def run(folder: Path) -> int:
    kinds = write_province(folder)
    files = sorted(folder.glob("*.yaml"))
    size = sum(f.stat().st_size for f in files)
    loader: Any = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        print("PyYAML was built without libyaml: the baseline uses the pure-Python SafeLoader")
        loader = yaml.SafeLoader

    def bare() -> int:
        return sum(
            len(yaml.load(f.read_text(encoding="utf-8"), Loader=loader)["schedules"])  # noqa: S506 - a safe loader
            for f in files
        )

    def load() -> list[Any]:
        return read_schedules(folder)

    base_s, parsed = timed(bare)
    try:
        load_s, schedules = timed(load)
    except ScheduleFileError as exc:
        print(f"the generated calendar has problems:\n{exc}")
        print("FAIL  the schedules did not load")
        return 1

    def preview() -> int:
        return sum(len(occurrences(s.when, AFTER, COUNT)) for s in schedules)

    preview_s, instants = timed(preview)
    total_s = load_s + preview_s

    mix = ", ".join(f"{kind} {kinds[kind]:,}" for kind in MIX)
    print(
        f"province: {COMMUNES} communes, {RECEIVERS:,} receivers' worth of targets "
        f"({VILLAGES} villages each), {len(files)} files, {size / 1e6:.1f} MB"
    )
    print(f"schedules: {len(schedules):,} ({mix})")
    print(f"preview: next {COUNT} air times of each after {AFTER:%Y-%m-%d %H:%M}Z: {instants:,}")
    print(f"median of {REPEATS} runs each:")
    print(f"  baseline: yaml.load ({loader.__name__}), {parsed:,} items  {base_s:.3f} s")
    print(f"  load: read_schedules(folder)  {load_s:.3f} s  ({load_s / base_s:.1f}x baseline)")
    print(
        f"  preview: occurrences x {len(schedules):,}  {preview_s:.3f} s  "
        f"({preview_s / base_s:.1f}x baseline)"
    )
    print(f"  load + preview  {total_s:.3f} s  ({total_s / base_s:.1f}x baseline)")
    ok = len(schedules) == SCHEDULES and parsed == SCHEDULES and total_s < BOUND_S
    print(
        f"{'PASS' if ok else 'FAIL'}  {SCHEDULES:,} schedules load and preview in "
        f"{total_s:.2f} s (bound {BOUND_S:.0f} s)"
        f"{'' if len(schedules) == SCHEDULES else f', only {len(schedules):,} schedules read'}"
    )
    return 0 if ok else 1


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="loa-bench-schedules-") as folder:
        return run(Path(folder))


if __name__ == "__main__":
    sys.exit(main())
