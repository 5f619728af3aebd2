"""`loa sim --scenario FILE [--seed N] [--report FILE]`: a scripted run, judged.

The scenario (`docs/scenarios.md`) is read first: any mistake is listed as `FILE:LINE:
problem` and nothing starts (exit 2). Then the run (`simulators.scenario.runner`): a
private Mosquitto, a controller and the simulated fleet in this process, in a temporary
folder deleted afterwards; the timed faults and bulletins; the expectations judged. It
prints a summary table, writes the JSON report with `--report`, and exits 0 when every
expectation held, 1 when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path

from controller.cli.output import emit_text
from loa.errors import LoaError

__all__ = ["run_scenario_command"]


def run_scenario_command(args: argparse.Namespace) -> int:
    from simulators.scenario import read_scenario
    from simulators.scenario.runner import report_text, run_scenario, write_report

    scenario = read_scenario(args.scenario)
    if args.seed is None:
        seed = scenario.seed
    else:
        try:
            seed = int(args.seed)
        except ValueError:
            raise LoaError(f"--seed {args.seed!r}: a scenario's seed is a whole number") from None
    logging.getLogger().setLevel(logging.DEBUG if args.debug else logging.WARNING)
    emit_text(
        f"scenario {scenario.name} ({args.scenario}), seed {seed}: running for "
        f"{scenario.duration_s:g} s"
    )
    with tempfile.TemporaryDirectory(prefix=f"loa-scenario-{scenario.name}-") as folder:
        report = asyncio.run(run_scenario(scenario, seed=seed, folder=Path(folder)))
    emit_text(report_text(report))
    if args.report is not None:
        write_report(report, args.report)
        emit_text(f"report: {args.report}")
    return 0 if report.ok else 1
