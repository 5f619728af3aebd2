"""A scenario's faults expanded into timed actions, the same for the same seed and fleet.

`plan(scenario, receiver_ids, seed)` turns each fault into `Action`s, one thing for the
runner to do to one receiver (or to the broker: `receiver` None) at `at_s` seconds from the
start of the run:

- `power_loss` -> `power_off` {cache: kept|lost}, then `power_on` at at_s + for_s;
- `reboot` -> `reboot`; `clock_jump` -> `clock_jump` {by_s};
- `half_open` -> `half_open`, then `restore_link`;
- `flapping` -> alternating `link_down` / `link_up` until the fault ends (see `_flaps`);
- `broker_restart` -> `broker_stop` {down_s}, then `broker_start` at at_s + down_s;
- shaping and device states (`latency`, `bandwidth`, `chunk_loss`, `clock_offset`,
  `speaker_fail`, `amplifier_fail`, `storage_full`, `codec_reject`, `slow_firmware`) ->
  `set_<kind>` with the fault's parameters, then `clear_<kind>`.

The undoing action comes only with `for_s`: without it a fault lasts the run.

Each fault draws from its own `random.Random(f"{seed}:{index}")` (index: its place in
`faults:`) over the receiver ids SORTED, so the same seed and fleet give the same receivers
and times whatever order the ids come in, and editing one fault leaves the draws of the
others alone. A share selects round(share x fleet) receivers, at least one. Times are
rounded to the millisecond so that a plan prints, compares and replays exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from simulators.scenario.file import check_receivers
from simulators.scenario.model import FAULT_KINDS, Count, Fault, Listed, ParamValue, Scenario

__all__ = ["Action", "plan", "select"]


@dataclass(frozen=True)
class Action:
    """Do `kind` to `receiver` (None: the broker) at `at_s`; `fault` is the fault's index."""

    at_s: float
    kind: str
    receiver: str | None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    fault: int = 0


def plan(scenario: Scenario, receiver_ids: Sequence[str], seed: int) -> list[Action]:
    """Every action of the scenario's faults on this fleet, by time then fault then receiver.

    Raises `ScenarioFileError` (with lines) when a listed receiver is not in the fleet or a
    count is larger than it, and ValueError when an id is given twice.
    """
    ids = sorted(receiver_ids)
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"receiver ids given twice: {', '.join(twice[:5])}")
    check_receivers(scenario, ids)
    actions: list[Action] = []
    for index, fault in enumerate(scenario.faults):
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 - a simulation, not cryptography
        targets = select(fault, ids, rng) if fault.receivers is not None else [None]
        for receiver in targets:
            actions.extend(_expand(index, fault, receiver, rng, scenario.duration_s))
    # A stable sort: actions of one receiver in one fault at the same time keep their order.
    actions.sort(key=lambda a: (a.at_s, a.fault, a.receiver or ""))
    return actions


def select(fault: Fault, ids: Sequence[str], rng: random.Random) -> list[str]:
    """The receivers `fault` applies to, sorted: `ids` must be sorted for a stable draw."""
    chosen = fault.receivers
    if isinstance(chosen, Listed):
        return sorted(chosen.ids)
    if chosen is None:
        return []
    if isinstance(chosen, Count):
        size = chosen.n
    elif chosen.fraction == 1:
        return list(ids)
    else:
        size = max(1, math.floor(chosen.fraction * len(ids) + 0.5))
    return sorted(rng.sample(list(ids), min(size, len(ids))))


def _expand(
    index: int, fault: Fault, receiver: str | None, rng: random.Random, duration_s: float
) -> Iterator[Action]:
    spec = FAULT_KINDS[fault.kind]
    start = _ms(fault.at_s)
    if fault.kind == "flapping":
        end = duration_s if fault.for_s is None else fault.at_s + fault.for_s
        for at_s, kind in _flaps(fault, start, _ms(end), rng):
            yield Action(at_s, kind, receiver, {}, index)
        return
    if fault.kind == "broker_restart":
        down_s = fault.number("down_s")
        yield Action(start, spec.actions[0], None, {"down_s": down_s}, index)
        yield Action(_ms(fault.at_s + down_s), spec.actions[1], None, {}, index)
        return
    yield Action(start, spec.actions[0], receiver, dict(fault.params), index)
    if fault.for_s is not None and len(spec.actions) > 1:
        yield Action(_ms(fault.at_s + fault.for_s), spec.actions[1], receiver, {}, index)


def _flaps(
    fault: Fault, start: float, end: float, rng: random.Random
) -> Iterator[tuple[float, str]]:
    """`link_down` / `link_up` times of one receiver from `start` until `end`.

    The first drop comes after a random part of an up time (a phase, so that the flapping
    receivers do not fall in step); every later up and down time is drawn from `up_s` and
    `down_s`. A link down when the fault ends with `for_s` comes back at `end`; a fault
    that lasts the run may end with the link down.
    """
    up_low, up_high = _bounds(fault.params["up_s"])
    down_low, down_high = _bounds(fault.params["down_s"])
    down_at = _ms(start + rng.uniform(0, up_high))
    while down_at < end:
        yield down_at, "link_down"
        up_at = _ms(down_at + _ms(rng.uniform(down_low, down_high)))
        if up_at >= end:
            if fault.for_s is not None:
                yield end, "link_up"
            return
        yield up_at, "link_up"
        down_at = _ms(up_at + _ms(rng.uniform(up_low, up_high)))


def _bounds(value: ParamValue) -> tuple[float, float]:
    if not isinstance(value, tuple):
        raise TypeError(f"expected [low, high], not {value!r}")
    return value


def _ms(seconds: float) -> float:
    return round(seconds, 3)
