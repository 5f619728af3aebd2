"""Scenario files: a full scenario read whole; every bad input named with FILE:LINE."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from devices.registry.file import read_registry
from simulators.scenario import (
    FAULT_KINDS,
    Bulletin,
    Count,
    Expectation,
    Fault,
    GeneratedFleet,
    Listed,
    RegistryFleet,
    ScenarioFileError,
    Share,
    check_receivers,
    parse_scenario,
    read_scenario,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples" / "scenarios"

FULL = """\
scenario: bad-4g
description: the issue's bad 4G
seed: 7
duration_s: 240
fleet:
  generate: {communes: 1, villages: 10, receivers: 1000}
  heartbeat_s: 60
  ramp_per_s: 500
  clock_skew_s: 1.0
controller: in-process
bulletins:
  - {at_s: 30, to: all, text: "Thông báo", priority: normal, play_in_s: 60, expires_in_s: 600}
  - {at_s: 90, text: "Bão", priority: emergency, lang: vi}
faults:
  - {at_s: 0, kind: flapping, receivers: 30%, up_s: [30, 120], down_s: [30, 120]}
  - {at_s: 0, kind: latency, receivers: all, ms: 300, jitter_ms: 200}
  - {at_s: 0, kind: bandwidth, receivers: 0.1, kbit_s: 64}
  - {at_s: 0, kind: chunk_loss, receivers: all, rate: 5%}
  - at_s: 60
    kind: power_loss
    receivers:
      - rx-1
      - rx-2
    cache: lost
    for_s: 30
  - {at_s: 60, kind: reboot, receivers: 5%}
  - {at_s: 60, kind: half_open, receivers: 2, for_s: 60}
  - {at_s: 100, kind: broker_restart, down_s: 5}
  - {at_s: 0, kind: clock_offset, receivers: 10%, offset_s: -3, drift_ppm: 50}
  - {at_s: 120, kind: clock_jump, receivers: 1%, by_s: -30}
  - {at_s: 0, kind: speaker_fail, receivers: 1%}
  - {at_s: 0, kind: amplifier_fail, receivers: 1.0}
  - {at_s: 0, kind: storage_full, receivers: 1%}
  - {at_s: 0, kind: codec_reject, receivers: 1%}
  - {at_s: 0, kind: slow_firmware, receivers: 1%, delay_ms: 2000}
expect:
  - {kind: played_each, online_before_expiry_s: 120}
  - {kind: no_double_play}
  - {kind: reach, priority: emergency, share: 0.95, within_s: 3}
"""

MINIMAL = """\
scenario: tiny
duration_s: 60
fleet: {generate: {}}
"""


def write(folder: Path, text: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioFileError) as caught:
        read_scenario(path)
    return str(caught.value).splitlines()


def test_a_full_scenario_is_read_with_every_section_and_fault_kind() -> None:
    scenario = parse_scenario(FULL, "bad-4g.yaml")
    assert (scenario.name, scenario.seed, scenario.duration_s) == ("bad-4g", 7, 240.0)
    assert scenario.description == "the issue's bad 4G"
    assert scenario.fleet.source == GeneratedFleet(1, 10, 1000)
    assert (scenario.fleet.heartbeat_s, scenario.fleet.ramp_per_s) == (60, 500.0)
    assert scenario.fleet.clock_skew_s == 1.0
    assert scenario.bulletins == (
        Bulletin(30.0, "Thông báo", "all", "normal", None, 60.0, 600.0),
        Bulletin(90.0, "Bão", "all", "emergency", "vi"),
    )
    faults = scenario.faults
    assert faults[0] == Fault(
        "flapping", 0.0, Share(0.3), None, {"up_s": (30.0, 120.0), "down_s": (30.0, 120.0)}
    )
    assert faults[1].params == {"ms": 300.0, "jitter_ms": 200.0}
    assert faults[1].receivers == Share(1.0)
    assert faults[2].receivers == Share(0.1)
    assert faults[3].params == {"rate": 0.05}
    assert faults[4] == Fault("power_loss", 60.0, Listed(("rx-1", "rx-2")), 30.0, {"cache": "lost"})
    assert isinstance(faults[4].receivers, Listed)
    assert faults[4].receivers.lines == (22, 23)  # each id keeps its own line
    assert faults[6].receivers == Count(2)
    assert faults[7] == Fault("broker_restart", 100.0, None, None, {"down_s": 5.0})
    assert faults[7].end_s == 105.0
    assert faults[8].params == {"offset_s": -3.0, "drift_ppm": 50.0}
    assert faults[11].receivers == Share(1.0)  # 1.0 is a fraction (all); 1 would be a count
    assert faults[14].params == {"delay_ms": 2000.0}
    assert [f.kind for f in faults] == [
        "flapping", "latency", "bandwidth", "chunk_loss", "power_loss", "reboot", "half_open",
        "broker_restart", "clock_offset", "clock_jump", "speaker_fail", "amplifier_fail",
        "storage_full", "codec_reject", "slow_firmware",
    ]  # fmt: skip
    assert scenario.expect == (
        Expectation("played_each", {"online_before_expiry_s": 120.0}),
        Expectation("no_double_play", {}),
        Expectation("reach", {"priority": "emergency", "share": 0.95, "within_s": 3.0}),
    )


def test_left_out_keys_take_their_defaults() -> None:
    text = MINIMAL + (
        "faults:\n"
        "  - {at_s: 1, kind: power_loss, receivers: 1}\n"
        "  - {at_s: 1, kind: latency, receivers: 1, ms: 100}\n"
        "  - {at_s: 1, kind: broker_restart}\n"
        "expect:\n"
        "  - {kind: played_each}\n"
        "  - {kind: reach, share: 90%, within_s: 5}\n"
    )
    scenario = parse_scenario(text)
    assert (scenario.seed, scenario.controller, scenario.bulletins) == (1, "in-process", ())
    assert scenario.fleet.source == GeneratedFleet(1, 6, 30)
    assert (scenario.fleet.heartbeat_s, scenario.fleet.ramp_per_s) == (60, 100.0)
    assert [f.params for f in scenario.faults] == [
        {"cache": "kept"},
        {"ms": 100.0, "jitter_ms": 0.0},
        {"down_s": 0.0},
    ]
    assert scenario.faults[0].for_s is None  # lasts the run
    assert [e.params for e in scenario.expect] == [
        {"online_before_expiry_s": 120.0},
        {"priority": "emergency", "share": 0.9, "within_s": 5.0},
    ]


def test_a_registry_fleet_is_found_beside_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "registry.yaml").write_text("receivers: []\n", encoding="utf-8")
    path = write(tmp_path, "scenario: r\nduration_s: 10\nfleet: {registry: fleet/registry.yaml}\n")
    assert read_scenario(path).fleet.source == RegistryFleet(tmp_path / "fleet" / "registry.yaml")
    missing = write(tmp_path, "scenario: r\nduration_s: 10\nfleet:\n  registry: nowhere.yaml\n")
    assert problems(missing) == [
        f"{missing}:4: registry: '{tmp_path / 'nowhere.yaml'}' not found (relative to this file)"
    ]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_scenario_reads_and_names_only_receivers_of_its_fleet(path: Path) -> None:
    scenario = read_scenario(path)
    source = scenario.fleet.source
    if isinstance(source, RegistryFleet):
        ids = [r.id for r in read_registry(source.path).receivers]
        check_receivers(scenario, ids)
    else:
        ids = [f"rx-{n}" for n in range(source.receivers)]
        assert not any(isinstance(f.receivers, Listed) for f in scenario.faults)
    if scenario.name.startswith("ci-"):  # CI: under a minute, 20 to 50 receivers
        assert scenario.duration_s < 60
        assert 20 <= len(ids) <= 50
        assert scenario.faults


def test_the_kinds_of_fault_each_have_a_ci_example() -> None:
    kinds = {f.kind for p in EXAMPLES.glob("*.yaml") for f in read_scenario(p).faults}
    assert kinds == set(FAULT_KINDS)


def test_the_examples_of_the_docs_read_as_the_docs_say() -> None:
    doc = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    full = re.search(r"```yaml\n(# docs-full-example.*?)```", doc, re.DOTALL)
    assert full is not None, "docs/scenarios.md lost its full example"
    scenario = parse_scenario(full.group(1), "docs/scenarios.md", base=ROOT / "docs")
    assert {f.kind for f in scenario.faults} == set(FAULT_KINDS)
    assert len(scenario.expect) == 3
    assert isinstance(scenario.fleet.source, RegistryFleet)
    check_receivers(scenario, [r.id for r in read_registry(scenario.fleet.source.path).receivers])
    bad = re.search(
        r"```yaml\n(scenario: bad\n.*?)```\n\nis refused with:\n\n```\n(.*?)```", doc, re.DOTALL
    )
    assert bad is not None, "docs/scenarios.md lost its bad example"
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenario(bad.group(1), "bad.yaml")
    assert str(caught.value) == bad.group(2).strip()


#: name -> (what follows a good head of five lines, then each problem as `LINE: problem`)
BAD_CASES: dict[str, tuple[str, ...]] = {
    "unknown top key": (
        "seeed: 3\n",
        "6: unknown key 'seeed' in a scenario file; did you mean 'seed'?",
    ),
    "unknown fault kind": (
        "faults:\n  - {at_s: 1, kind: powerloss, receivers: all}\n",
        "7: unknown fault kind 'powerloss'; did you mean 'power_loss'?",
    ),
    "unknown fault key": (
        "faults:\n  - {at_s: 1, kind: latency, receivers: all, ms: 3, jiter_ms: 2}\n",
        "7: unknown key 'jiter_ms' in latency; did you mean 'jitter_ms'?",
    ),
    "percentage over 100": (
        "faults:\n  - {at_s: 1, kind: reboot, receivers: 150%}\n",
        "7: reboot: receivers: 150% is over 100%; write a share up to 1 (or 100%) "
        "or a whole number for a count (2)",
    ),
    "fraction over 1": (
        "faults:\n  - {at_s: 1, kind: chunk_loss, receivers: all, rate: 1.5}\n",
        "7: chunk_loss: rate: 1.5 is a fraction over 1; write a share up to 1 (or 100%)",
    ),
    "negative time": (
        "faults:\n  - {at_s: -5, kind: reboot, receivers: 1}\n",
        "7: reboot: at_s: -5 is negative; times are seconds from the start of the run",
    ),
    "time not a number": (
        "faults:\n  - {at_s: 10s, kind: reboot, receivers: 1}\n",
        "7: reboot: at_s: '10s' is not a number of seconds",
    ),
    "time after duration": (
        "bulletins:\n  - {at_s: 61, text: hi}\n",
        "7: bulletin: at_s: 61 s is after the end of the run (duration_s: 60)",
    ),
    "lasting past the end": (
        "faults:\n  - {at_s: 50, kind: half_open, receivers: 1,\n     for_s: 20}\n",
        "8: half_open: for_s: 20 s from at_s 50 ends at 70 s, after the end of the run "
        "(duration_s: 60); leave for_s out for a fault that lasts the run",
    ),
    "missing parameter": (
        "faults:\n  - {at_s: 1, kind: bandwidth, receivers: all}\n",
        "7: bandwidth has no kbit_s; add `kbit_s:`",
    ),
    "missing receivers": (
        "faults:\n  - {at_s: 1, kind: reboot}\n",
        "7: reboot has no receivers; add `receivers:` (all, a percentage (30%), a fraction "
        "(0.3), a count (2) or a list of receiver ids)",
    ),
    "range upside down": (
        "faults:\n  - {at_s: 0, kind: flapping, receivers: 1, up_s: [120, 30], down_s: [1, 2]}\n",
        "7: flapping: up_s: [120, 30] is not [low, high] seconds with 0 < low <= high, "
        "like [30, 120]",
    ),
    "range from zero": (
        "faults:\n  - {at_s: 0, kind: flapping, receivers: 1, up_s: [0, 3], down_s: [1, 2]}\n",
        "7: flapping: up_s: [0, 3] is not [low, high] seconds with 0 < low <= high, like [30, 120]",
    ),
    "receivers on the broker": (
        "faults:\n  - {at_s: 0, kind: broker_restart, receivers: all, down_s: 3}\n",
        "7: broker_restart takes no receivers: it acts on the broker they all use",
    ),
    "for_s on a reboot": (
        "faults:\n  - {at_s: 0, kind: reboot, receivers: 1, for_s: 3}\n",
        "7: reboot takes no for_s: it happens once",
    ),
    "a bad receiver id": (
        "faults:\n  - at_s: 0\n    kind: reboot\n    receivers: [rx-1, Loa 2]\n",
        "9: reboot: receivers: 'Loa 2' is not a receiver id; expected 1 to 40 lower-case "
        "letters, digits, '_' or '-', starting with a letter or digit",
    ),
    "a word for receivers": (
        "faults:\n  - {at_s: 0, kind: reboot, receivers: alll}\n",
        "7: reboot: receivers: 'alll' is not all, a percentage (30%), a fraction (0.3), a "
        "count (2) or a list of receiver ids ([rx-1, rx-2])",
    ),
    "zero receivers": (
        "faults:\n  - {at_s: 0, kind: reboot, receivers: 0}\n",
        "7: reboot: receivers: 0 is not 1 or more",
    ),
    "unknown cache": (
        "faults:\n  - {at_s: 0, kind: power_loss, receivers: 1, cache: lose}\n",
        "7: power_loss: cache: 'lose' is not valid; did you mean 'lost'?",
    ),
    "an external controller, not run yet": (
        "controller: external\n",
        "6: controller: external is not run yet: a scenario brings its own broker and "
        "controller (in-process); to put faults on a fleet of your own `loa serve`, run "
        "`loa sim --registry FILE` and type them",
    ),
    "bulletins with an external controller": (
        "controller: external\nbulletins:\n  - {at_s: 1, text: hi}\n",
        "6: controller: external is not run yet: a scenario brings its own broker and "
        "controller (in-process); to put faults on a fleet of your own `loa serve`, run "
        "`loa sim --registry FILE` and type them",
        "8: bulletins need `controller: in-process`: with an external controller, send them "
        "with `loa bulletin send` yourself",
    ),
    "unknown controller": (
        "controller: inprocess\n",
        "6: controller: 'inprocess' is not valid; did you mean 'in-process'?",
    ),
    "unknown expectation": (
        "expect:\n  - {kind: no_double_plays}\n",
        "7: unknown expectation kind 'no_double_plays'; did you mean 'no_double_play'?",
    ),
    "expectation key": (
        "expect:\n  - {kind: reach, share: 0.9, within: 3}\n",
        "7: unknown key 'within' in reach; did you mean 'within_s'?",
        "7: reach has no within_s; add `within_s:`",
    ),
    "key twice": (
        "faults:\n  - at_s: 0\n    at_s: 1\n    kind: reboot\n    receivers: 1\n",
        "8: key 'at_s' appears twice in a fault (lines 7 and 8); keep one",
    ),
    "faults not a list": (
        "faults: {at_s: 0}\n",
        "6: `faults` must be a list (items start with `- `)",
    ),
}


@pytest.mark.parametrize(
    ("tail", "expected"), [(case[0], case[1:]) for case in BAD_CASES.values()], ids=list(BAD_CASES)
)
def test_bad_input_is_named_with_file_and_line(
    tail: str, expected: tuple[str, ...], tmp_path: Path
) -> None:
    head = "scenario: s\nduration_s: 60\nfleet:\n  generate: {}\n\n"  # lines 1-5
    path = write(tmp_path, head + tail)
    assert problems(path) == [f"{path}:{line}" for line in expected]


def test_every_problem_of_a_file_is_listed_at_once_and_nothing_is_returned(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """\
        scenario: Bad Name
        duration_s: 0
        fleet:
          generate: {communes: 2, villages: 1, receivers: 10}
          heartbeat_s: 0
        faults:
          - {at_s: 1, kind: flaping, receivers: all}
          - {at_s: 1, kind: latency, receivers: 2%, ms: -3}
        expect:
          - {kind: reach, share: 0, within_s: 1}
        """,
    )
    assert problems(path) == [
        f"{path}:1: scenario: 'Bad Name' is not a name; expected 1 to 40 lower-case letters, "
        "digits, '_' or '-', starting with a letter or digit",
        f"{path}:2: duration_s: must be above 0",
        f"{path}:4: generate: every commune needs a village and every village a receiver, so "
        "communes <= villages <= receivers (not 2, 1, 10)",
        f"{path}:5: heartbeat_s: 0 is not from 1 to 86400",
        f"{path}:7: unknown fault kind 'flaping'; did you mean 'flapping'?",
        f"{path}:8: latency: ms: -3 is negative",
        f"{path}:10: reach: share: 0 is not above 0",
    ]


def test_a_file_that_is_no_scenario_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path / "none.yaml") == [
        f"{tmp_path / 'none.yaml'}: not found; check the path"
    ]
    empty = write(tmp_path, "", "empty.yaml")
    assert problems(empty) == [f"{empty}: the file is empty; start it with `scenario: NAME`"]
    broken = write(tmp_path, "scenario: s\nfaults: [\n", "broken.yaml")
    assert problems(broken)[0].startswith(f"{broken}:3: not valid YAML")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("scenario: bão\n".encode("latin-1"))
    assert problems(latin) == [f"{latin}: not UTF-8 text; save it as UTF-8"]
    bare = write(tmp_path, "fleet: {generate: {}}\n", "bare.yaml")
    assert problems(bare) == [
        f"{bare}:1: the scenario has no scenario; add `scenario:`",
        f"{bare}:1: the scenario has no duration_s; add `duration_s:`",
    ]


def test_listed_receivers_are_checked_against_the_fleet_at_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        scenario: s
        duration_s: 60
        fleet: {generate: {}}
        faults:
          - at_s: 0
            kind: reboot
            receivers:
              - tl-na-vuong-1
              - tl-na-vuong-9
              - tl-po-tau-1
          - {at_s: 0, kind: half_open, receivers: 4}
        """,
    )
    scenario = read_scenario(path)
    fleet = ["tl-na-vuong-1", "tl-po-tau-2", "tl-khau-lay-3"]
    with pytest.raises(ScenarioFileError) as caught:
        check_receivers(scenario, fleet)
    assert str(caught.value).splitlines() == [
        f"{path}:9: reboot: receiver 'tl-na-vuong-9' is not in the fleet; "
        "did you mean 'tl-na-vuong-1'?",
        f"{path}:10: reboot: receiver 'tl-po-tau-1' is not in the fleet; "
        "did you mean 'tl-po-tau-2'?",
        f"{path}:11: half_open: receivers: 4 is more than the fleet's 3 receivers",
    ]
    check_receivers(scenario, [*fleet, "tl-na-vuong-9", "tl-po-tau-1", "rx-4"])  # no error
