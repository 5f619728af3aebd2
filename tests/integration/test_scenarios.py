"""The CI scenarios (`docs/examples/scenarios/`): one small run of each kind of fault.

Each runs as `loa sim --scenario FILE --report R.json`, as an operator would run it, all
six at once in their own processes (each has its own broker, controller and fleet), so
together they take about as long as the longest (under a minute of scenario time each).
Every expectation of every scenario must hold; a failure prints the run's table.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.controller import LOA

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "scenarios"
CI = ("power", "link", "bad-4g-small", "broker", "clock", "device")


def test_every_ci_scenario_holds(tmp_path: Path) -> None:
    def start(name: str) -> subprocess.Popen[str]:
        command = [LOA, "sim", "--scenario", str(EXAMPLES / f"{name}.yaml")]
        command += ["--report", str(tmp_path / f"{name}.json")]
        out = subprocess.PIPE
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)

    runs = {name: start(name) for name in CI}
    failed: list[str] = []
    for name, run in runs.items():
        output, _ = run.communicate(timeout=240)
        report_path = tmp_path / f"{name}.json"
        if run.returncode != 0 or not report_path.exists():
            failed.append(f"--- {name} (exit {run.returncode})\n{output}")
            continue
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert report["ok"] is True, output
        assert report["outcomes"], f"{name}: a CI scenario checks something"
        assert report["receivers"] >= 20
    assert not failed, "\n".join(failed)
