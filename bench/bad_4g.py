"""Benchmark: 1,000 simulated receivers on bad 4G still play every bulletin, once.

Issue 7's figure: under the "bad 4G" scenario (30% of receivers flapping every 30-120 s,
5% chunk loss, 300 ms +- 200 ms latency, a 64 kbit/s cap on 10%) with 1,000 receivers,
100% of the receivers online at least 2 minutes before an occurrence's expiry played it,
and none played anything twice. `docs/examples/scenarios/bad-4g.yaml` is that scenario;
this runs it (`loa sim --scenario`'s runner) and, in the same run, the same scenario with
no faults as the baseline, and prints for both: plays owed, heard, repeated, and the
bulletins' delivery states in the controller's store. Exits 1 if the bad-4G run breaks an
expectation. About 10 + 10 minutes; `--baseline-s S` shortens the baseline run.

Run with `.venv/bin/python bench/bad_4g.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.scenario import read_scenario
from simulators.scenario.runner import RunReport, report_text, run_scenario

SCENARIO: Final = Path(__file__).resolve().parents[1] / "docs/examples/scenarios/bad-4g.yaml"


async def one(scenario_path: Path, *, faults: bool, duration_s: float | None) -> RunReport:
    scenario = read_scenario(scenario_path)
    if not faults:
        scenario = dataclasses.replace(scenario, faults=(), name=f"{scenario.name}-baseline")
    if duration_s is not None:
        scenario = dataclasses.replace(scenario, duration_s=duration_s)
    with tempfile.TemporaryDirectory(prefix="loa-bench-bad-4g-") as folder:
        return await run_scenario(scenario, seed=scenario.seed, folder=Path(folder))


def row(label: str, report: RunReport, took: float) -> str:
    figures = {o.kind: o.figures for o in report.outcomes}
    owed = figures.get("played_each", {})
    repeats = figures.get("no_double_play", {})
    share = owed.get("played", 0) / owed["owed"] if owed.get("owed") else float("nan")
    return (
        f"| {label} | {report.receivers:,} | {owed.get('owed', 0):,.0f} | "
        f"{owed.get('played', 0):,.0f} | {share:.1%} | {repeats.get('repeated', 0):.0f} | "
        f"{took:.0f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument(
        "--baseline-s", type=float, default=None, help="shorter baseline run (seconds)"
    )
    args = parser.parse_args()
    began = time.monotonic()
    baseline = asyncio.run(one(args.scenario, faults=False, duration_s=args.baseline_s))
    baseline_s = time.monotonic() - began
    began = time.monotonic()
    bad = asyncio.run(one(args.scenario, faults=True, duration_s=None))
    bad_s = time.monotonic() - began
    print(report_text(baseline))
    print()
    print(report_text(bad))
    print()
    print("| run | receivers | plays owed | heard | share | repeated | took |")
    print("|---|---|---|---|---|---|---|")
    print(row("baseline: same fleet and bulletins, no faults", baseline, baseline_s))
    print(row("bad 4G", bad, bad_s))
    return 0 if bad.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
