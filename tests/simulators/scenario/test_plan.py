"""The plan: faults expanded into timed actions, the same for the same seed and fleet."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict

import pytest

from simulators.scenario import Action, ScenarioFileError, parse_scenario, plan
from simulators.scenario.model import Scenario

FLEET = [f"rx-{n:04d}" for n in range(1000)]

BAD_4G = """\
scenario: bad-4g
duration_s: 600
fleet: {generate: {communes: 1, villages: 10, receivers: 1000}}
faults:
  - {at_s: 0, kind: flapping, receivers: 30%, up_s: [30, 120], down_s: [30, 120]}
  - {at_s: 0, kind: chunk_loss, receivers: all, rate: 5%}
  - {at_s: 0, kind: latency, receivers: all, ms: 300, jitter_ms: 200}
  - {at_s: 0, kind: bandwidth, receivers: 10%, kbit_s: 64}
  - {at_s: 100, kind: broker_restart, down_s: 5}
  - {at_s: 60, kind: power_loss, receivers: [rx-0001, rx-0002], cache: lost, for_s: 30}
  - {at_s: 60, kind: reboot, receivers: 5%}
  - {at_s: 60, kind: half_open, receivers: 2, for_s: 60}
  - {at_s: 0, kind: clock_offset, receivers: 1%, offset_s: 3, drift_ppm: 50}
  - {at_s: 120, kind: clock_jump, receivers: 1%, by_s: -30}
  - {at_s: 10, kind: slow_firmware, receivers: 1%, delay_ms: 2000, for_s: 20}
"""


def scenario(faults: str, duration_s: int = 600) -> Scenario:
    head = f"scenario: t\nduration_s: {duration_s}\nfleet: {{generate: {{}}}}\nfaults:\n"
    return parse_scenario(head + faults)


def by_fault(actions: list[Action]) -> dict[int, list[Action]]:
    found: dict[int, list[Action]] = defaultdict(list)
    for action in actions:
        found[action.fault].append(action)
    return found


def test_the_same_seed_and_fleet_give_the_same_plan_whatever_the_order_of_ids() -> None:
    bad_4g = parse_scenario(BAD_4G)
    first = plan(bad_4g, FLEET, seed=7)
    shuffled = FLEET.copy()
    random.Random(1).shuffle(shuffled)
    assert plan(bad_4g, shuffled, seed=7) == first
    other = plan(bad_4g, FLEET, seed=8)
    assert other != first
    chosen = {a.receiver for a in first if a.fault == 0}
    assert {a.receiver for a in other if a.fault == 0} != chosen  # another 30% flaps


def test_editing_one_fault_leaves_the_draws_of_the_others_alone() -> None:
    before = by_fault(plan(parse_scenario(BAD_4G), FLEET, seed=7))
    edited = BAD_4G.replace("receivers: 10%, kbit_s: 64", "receivers: 20%, kbit_s: 32")
    after = by_fault(plan(parse_scenario(edited), FLEET, seed=7))
    assert len(after[3]) == 200
    assert after[3] != before[3]
    assert all(after[i] == before[i] for i in before if i != 3)


def test_selections_have_the_size_written() -> None:
    groups = by_fault(plan(parse_scenario(BAD_4G), FLEET, seed=7))
    flapping = {a.receiver for a in groups[0]}
    assert len(flapping) == 300
    assert len({a.receiver for a in groups[1]}) == 1000  # all
    assert len(groups[3]) == 100  # 10%
    assert {a.receiver for a in groups[5]} == {"rx-0001", "rx-0002"}
    assert len(groups[6]) == 50  # 5%
    assert len({a.receiver for a in groups[7]}) == 2  # a count
    assert len(groups[8]) == 10  # 1%


def test_a_small_share_of_a_small_fleet_is_still_one_receiver() -> None:
    one_percent = scenario("  - {at_s: 0, kind: codec_reject, receivers: 1%}\n")
    actions = plan(one_percent, FLEET[:20], seed=1)
    assert [(a.kind, a.receiver) for a in actions] == [("set_codec_reject", actions[0].receiver)]
    assert actions[0].receiver in FLEET[:20]


def test_actions_are_ordered_by_time_then_fault_then_receiver() -> None:
    actions = plan(parse_scenario(BAD_4G), FLEET, seed=7)
    keys = [(a.at_s, a.fault, a.receiver or "") for a in actions]
    assert keys == sorted(keys)
    assert actions[0].at_s == 0.0
    assert max(a.at_s for a in actions) < 600


def test_lasting_faults_are_undone_after_for_s_and_others_last_the_run() -> None:
    groups = by_fault(plan(parse_scenario(BAD_4G), FLEET, seed=7))
    power = [(a.at_s, a.kind, a.receiver, dict(a.params)) for a in groups[5]]
    assert power == [
        (60.0, "power_off", "rx-0001", {"cache": "lost"}),
        (60.0, "power_off", "rx-0002", {"cache": "lost"}),
        (90.0, "power_on", "rx-0001", {}),
        (90.0, "power_on", "rx-0002", {}),
    ]
    assert [(a.at_s, a.kind) for a in groups[4]] == [
        (100.0, "broker_stop"),
        (105.0, "broker_start"),
    ]
    assert all(a.receiver is None for a in groups[4])
    assert Counter(a.kind for a in groups[7]) == {"half_open": 2, "restore_link": 2}
    assert {a.at_s for a in groups[7] if a.kind == "restore_link"} == {120.0}
    slow = Counter((a.at_s, a.kind) for a in groups[10])
    assert slow == {(10.0, "set_slow_firmware"): 10, (30.0, "clear_slow_firmware"): 10}
    assert {dict(a.params)["delay_ms"] for a in groups[10] if a.kind.startswith("set")} == {2000.0}
    # Without for_s a shaping fault is set once and never cleared.
    assert {a.kind for a in groups[2]} == {"set_latency"}
    assert dict(groups[2][0].params) == {"ms": 300.0, "jitter_ms": 200.0}
    assert {dict(a.params)["by_s"] for a in groups[9]} == {-30.0}
    assert {a.kind for a in groups[6]} == {"reboot"}


@pytest.mark.parametrize("seed", range(5))
def test_flapping_alternates_within_its_bounds_until_the_run_ends(seed: int) -> None:
    flapping = scenario(
        "  - {at_s: 20, kind: flapping, receivers: all, up_s: [30, 120], down_s: [5, 10]}\n"
    )
    per_receiver: dict[str | None, list[Action]] = defaultdict(list)
    for action in plan(flapping, FLEET[:50], seed=seed):
        per_receiver[action.receiver].append(action)
    assert len(per_receiver) == 50
    first_drops = set()
    for actions in per_receiver.values():
        kinds = [a.kind for a in actions]
        assert kinds[::2] == ["link_down"] * len(kinds[::2])
        assert kinds[1::2] == ["link_up"] * len(kinds[1::2])
        times = [a.at_s for a in actions]
        assert 20 <= times[0] <= 20 + 120  # a random phase first
        first_drops.add(times[0])
        assert times[-1] < 600
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(5 - 1e-6 <= gap <= 10 + 1e-6 for gap in gaps[::2])  # down
        assert all(30 - 1e-6 <= gap <= 120 + 1e-6 for gap in gaps[1::2])  # up
        assert len(actions) >= 6  # about 580 s of 35-130 s cycles
    assert len(first_drops) > 40  # not in step


def test_flapping_with_for_s_ends_with_the_link_up_at_its_end() -> None:
    flapping = scenario(
        "  - {at_s: 10, kind: flapping, receivers: all, up_s: [1, 2], down_s: [3, 4], for_s: 50}\n"
    )
    per_receiver: dict[str | None, list[Action]] = defaultdict(list)
    for action in plan(flapping, FLEET[:30], seed=3):
        per_receiver[action.receiver].append(action)
    for actions in per_receiver.values():
        assert actions[-1].kind == "link_up"
        assert actions[-1].at_s <= 60
        assert all(10 <= a.at_s <= 60 for a in actions)
    assert any(a[-1].at_s == 60 for a in per_receiver.values())  # cut short by the end


def test_a_plan_refuses_receivers_the_fleet_does_not_have() -> None:
    listed = scenario("  - {at_s: 0, kind: reboot, receivers: [rx-0001, rx-002]}\n")
    with pytest.raises(ScenarioFileError) as caught:
        plan(listed, FLEET[:10], seed=1)
    assert str(caught.value) == (
        "<scenario>:5: reboot: receiver 'rx-002' is not in the fleet; did you mean 'rx-0002'?"
    )
    with pytest.raises(ValueError, match="receiver ids given twice: rx-0001"):
        plan(listed, ["rx-0001", "rx-002", "rx-0001"], seed=1)
