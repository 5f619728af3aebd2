"""`loa uptime` and `loa alerts` on a registry whose receivers were never heard from."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.controller import one_error_line, run_loa, write_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "registry.yaml"


def imported(tmp_path: Path) -> Path:
    config = write_config(tmp_path)
    assert run_loa("db", "upgrade", "--config", str(config)).returncode == 0
    result = run_loa("devices", "import", str(EXAMPLE), "--config", str(config))
    assert result.returncode == 0, result.stderr
    return config


def test_uptime_of_receivers_never_heard_from_is_zero(tmp_path: Path) -> None:
    config = imported(tmp_path)
    result = run_loa("uptime", "--json", "--days", "1", "--config", str(config))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["receivers"]) == 30
    assert {r["uptime"] for r in data["receivers"]} == {0.0}
    one = run_loa("uptime", "tl-na-vuong-1", "--since", "2026-11-01", "--config", str(config))
    assert one.returncode == 0, one.stderr
    assert "tl-na-vuong-1" in one.stdout
    assert "0.0%" in one.stdout


def test_uptime_of_an_unknown_receiver_or_an_empty_period_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    config = imported(tmp_path)
    unknown = run_loa("uptime", "tl-nowhere-9", "--config", str(config))
    assert unknown.returncode == 2
    assert "no registered receiver tl-nowhere-9" in one_error_line(unknown.stderr)
    empty = run_loa(
        "uptime", "--since", "2026-11-05", "--until", "2026-11-01", "--config", str(config)
    )
    assert empty.returncode == 2
    assert "is empty" in one_error_line(empty.stderr)


def test_alerts_list_receivers_never_heard_from(tmp_path: Path) -> None:
    config = imported(tmp_path)
    result = run_loa("alerts", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert len(found) == 30
    assert {a["kind"] for a in found} == {"offline"}
    assert found[0]["message"] == "offline: never heard from"
