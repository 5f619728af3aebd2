"""`loa sim --shard K/N`: several processes share one simulated fleet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from controller.cli.main import build_parser
from devices.protocol import Topics
from devices.registry.file import format_registry
from simulators.commune import generate_commune
from simulators.fleet import Shard
from tests.support.controller import LOA, one_error_line, run_loa, write_config
from tests.support.mosquitto import PrivateMosquitto, free_port
from tests.support.paho_client import PahoClient


def registry_file(folder: Path, receivers: int) -> tuple[Path, list[str]]:
    commune = generate_commune("shard-test", receivers=receivers, villages=2)
    path = folder / "registry.yaml"
    path.write_text(format_registry(commune.registry, "yaml"), encoding="utf-8")
    return path, [r.id for r in commune.receivers]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5/4", "argument --shard: a shard is K/N with 1 <= K <= N, not 5/4"),
        ("0/2", "argument --shard: a shard is K/N with 1 <= K <= N, not 0/2"),
        ("two", "argument --shard: expected K/N such as 2/4, not 'two'"),
    ],
)
def test_a_bad_shard_is_refused_naming_the_flag(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sim", "--registry", "r.yaml", "--shard", value])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_flag_is_read_into_a_shard() -> None:
    args = build_parser().parse_args(["sim", "--registry", "r.yaml", "--shard", "2/4"])
    assert args.shard == Shard(2, 4)


def test_a_share_with_no_receivers_is_an_error_before_anything_connects(tmp_path: Path) -> None:
    registry, _ = registry_file(tmp_path, 3)
    config = write_config(tmp_path, broker={"port": free_port()})
    result = run_loa("sim", "--config", str(config), "--registry", str(registry), "--shard", "4/4")
    assert result.returncode != 0
    assert one_error_line(result.stderr) == (
        "loa: error: --shard 4/4: share 4 of 4 is empty: the fleet has only 3 receivers; use N <= 3"
    )
    assert "simulating" not in result.stdout


def test_a_ramp_of_zero_is_refused(tmp_path: Path) -> None:
    registry, _ = registry_file(tmp_path, 3)
    config = write_config(tmp_path, broker={"port": free_port()})
    result = run_loa("sim", "--config", str(config), "--registry", str(registry), "--ramp", "0")
    assert one_error_line(result.stderr) == (
        "loa: error: --ramp must be more than 0 receivers a second, not 0.0"
    )
    assert "simulating" not in result.stdout


@pytest.mark.broker
@pytest.mark.slow
def test_two_processes_run_one_fleet_between_them(
    tmp_path: Path, mosquitto: PrivateMosquitto, topic_prefix: str
) -> None:
    registry, ids = registry_file(tmp_path, 7)
    config = write_config(tmp_path, topic_prefix=topic_prefix, broker={"port": mosquitto.port})
    command = [LOA, "sim", "--config", str(config), "--registry", str(registry)]
    command += ["--duration", "4", "--heartbeat", "1"]
    with PahoClient(mosquitto.host, mosquitto.port) as watcher:
        watcher.connect()
        watcher.subscribe(Topics(topic_prefix).every_receiver("status"))
        processes = [
            subprocess.Popen(
                [*command, "--shard", shard],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for shard in ("1/2", "2/2")
        ]
        outputs = [process.communicate(timeout=30) for process in processes]
        births = [json.loads(m.payload) for m in list(watcher.messages)]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    ordered = sorted(ids)
    first, second = ordered[0::2], ordered[1::2]
    assert (
        f"shard 1/2: 4 of the fleet's 7 receivers (positions 1, 3, 5, ... of the sorted ids), "
        f"{first[0]} to {first[-1]}"
    ) in outputs[0][0]
    assert "shard 2/2: 3 of the fleet's 7 receivers" in outputs[1][0]
    assert "stopped: 4 receivers" in outputs[0][0]
    assert "stopped: 3 receivers" in outputs[1][0]
    # Every receiver of the fleet came online exactly once, from one process or the other.
    online = sorted(b["id"] for b in births if b["state"] == "online")
    assert online == ordered
    # Each process keeps the epochs of its own share, in its own file.
    data = tmp_path / "data"
    for name, share in (("sim-epochs-1-of-2.json", first), ("sim-epochs-2-of-2.json", second)):
        ceilings = json.loads((data / name).read_text(encoding="utf-8"))["ceilings"]
        assert sorted(ceilings) == share
    assert not (data / "sim-epochs.json").exists()


def test_a_scenario_with_mistakes_starts_nothing_and_names_each_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenario: thu\nduration_s: 30\nfleet:\n  generate: {receivers: 10, villages: 2}\n"
        "faults:\n  - {at_s: 5, kind: flaping, receivers: 30%}\n"
        "  - {at_s: -1, kind: reboot, receivers: 1.5}\n",
        encoding="utf-8",
    )
    result = run_loa("sim", "--scenario", str(bad), "--report", str(tmp_path / "r.json"))
    assert result.returncode == 2
    assert f"{bad}:6: unknown fault kind 'flaping'; did you mean 'flapping'?" in result.stderr
    assert f"{bad}:7:" in result.stderr
    assert "running" not in result.stdout
    assert not (tmp_path / "r.json").exists()


def test_report_goes_with_scenario(tmp_path: Path) -> None:
    registry, _ = registry_file(tmp_path, 3)
    config = write_config(tmp_path, broker={"port": free_port()})
    result = run_loa(
        "sim", "--config", str(config), "--registry", str(registry), "--report", "r.json"
    )
    assert one_error_line(result.stderr) == "loa: error: --report goes with --scenario"


def test_a_bad_link_shape_is_refused_naming_the_flag(tmp_path: Path) -> None:
    registry, _ = registry_file(tmp_path, 3)
    config = write_config(tmp_path, broker={"port": free_port()})
    base = ("sim", "--config", str(config), "--registry", str(registry))
    latency = run_loa(*base, "--latency", "fast")
    assert latency.returncode == 2
    assert "argument --latency: 'fast' is not MS or MS:JITTER (e.g. 300:200)" in latency.stderr
    loss = run_loa(*base, "--chunk-loss", "2")
    assert one_error_line(loss.stderr) == (
        "loa: error: --chunk-loss 2.0: LinkShape.chunk_loss must be from 0 to 1, not 2.0"
    )
    assert "simulating" not in loss.stdout
