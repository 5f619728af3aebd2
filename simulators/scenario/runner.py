"""`loa sim --scenario FILE`: run a scenario, judge its expectations, report.

The run, in this process (`controller: in-process`; see `world.py`):

1. the world starts (private broker, store with the fleet's registry, controller, fleet);
2. time zero is when the fleet starts its ramp; the plan's actions (`plan.py`: faults
   expanded with the seed) and the bulletins are done at their `at_s`, in order; an action
   that comes late (the loop was busy) is done at once and counted as late;
3. meanwhile `OnlineLog` samples who is online;
4. at `duration_s` the run ends: what each receiver played is read, the expectations are
   judged (`expect.py`), a table is printed and, with `--report`, a JSON report written.

`run_scenario` returns the report; the exit code is 0 when every expectation held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.delivery.plan import parse_targets, resolve
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.delivery.status import occurrence_report
from devices.registry import GroupTree
from loa.clock import SystemClock
from simulators.scenario.actions import Actuator
from simulators.scenario.expect import Outcome, SentBulletin, judge
from simulators.scenario.model import Bulletin, Scenario
from simulators.scenario.observe import OnlineLog
from simulators.scenario.plan import Action, plan
from simulators.scenario.world import World, fleet_registry, world_running

__all__ = ["RunReport", "report_text", "run_scenario"]

log = logging.getLogger(__name__)

#: An action this much later than planned counts as late in the report.
LATE_S = 1.0


@dataclass
class RunReport:
    scenario: str
    source: str
    seed: int
    receivers: int
    duration_s: float
    started_at: str
    actions: int = 0
    late_actions: int = 0
    #: seconds by which the latest action was late
    worst_lateness_s: float = 0.0
    bulletins: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


async def run_scenario(scenario: Scenario, *, seed: int, folder: Path) -> RunReport:
    """Run `scenario` with `seed` under `folder` (see the module docstring)."""
    if scenario.controller != "in-process":
        raise ValueError(
            f"{scenario.source}: controller: external is not run by `loa sim --scenario` yet; "
            "use controller: in-process"
        )
    groups, receivers = fleet_registry(scenario, seed)
    ids = sorted(r.id for r in receivers)
    actions = plan(
        scenario, ids, seed
    )  # FILE:LINE errors (unknown receivers) before anything starts
    report = RunReport(
        scenario.name,
        scenario.source,
        seed,
        len(ids),
        scenario.duration_s,
        datetime.now(UTC).isoformat(),
    )
    async with world_running(scenario, folder, seed, receivers=receivers, groups=groups) as world:
        online = OnlineLog(world.fleet)
        sampler = asyncio.create_task(online.run(), name="scenario-online-log")
        ramp = asyncio.create_task(world.fleet.start(), name="scenario-ramp")
        try:
            sent = await _timeline(world, scenario, actions, report, online)
        finally:
            sampler.cancel()
            ramp.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            with contextlib.suppress(asyncio.CancelledError):
                await ramp
        online.close()
        report.outcomes = judge(scenario.expect, sent, online, online.plays())
    return report


async def _timeline(
    world: World,
    scenario: Scenario,
    actions: Sequence[Action],
    report: RunReport,
    online: OnlineLog,
) -> list[SentBulletin]:
    """Do the actions and send the bulletins at their times; wait to the end of the run."""
    actuator = Actuator(world, before_power_loss=online.harvest)
    began = time.monotonic()
    items: list[tuple[float, int, Action | Bulletin]] = [
        (action.at_s, 1, action) for action in actions
    ]
    items += [(bulletin.at_s, 0, bulletin) for bulletin in scenario.bulletins]
    items.sort(key=lambda item: (item[0], item[1]))
    pending: list[tuple[Bulletin, asyncio.Task[SentBulletin]]] = []
    for at_s, _, item in items:
        delay = began + at_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        late = -delay
        if late > LATE_S:
            report.late_actions += 1
        report.worst_lateness_s = max(report.worst_lateness_s, late)
        if isinstance(item, Bulletin):
            pending.append((item, asyncio.create_task(_send(world, item))))
        else:
            report.actions += 1
            await actuator.do(item)
    rest = began + scenario.duration_s - time.monotonic()
    if rest > 0:
        await asyncio.sleep(rest)
    await actuator.undo_all()
    sent = [await task for _, task in pending]
    report.bulletins = [await _delivery_summary(world, bulletin) for bulletin in sent]
    return sent


async def _send(world: World, bulletin: Bulletin) -> SentBulletin:
    now = datetime.now(UTC)
    request = SendRequest(
        audio=Audio(text=bulletin.text),
        language=bulletin.lang or world.config.audio.default_language,
        targets=bulletin.to,
        priority=bulletin.priority,
        play_at=None if bulletin.play_in_s is None else now + timedelta(seconds=bulletin.play_in_s),
        expires_after=None
        if bulletin.expires_in_s is None
        else timedelta(seconds=bulletin.expires_in_s),
        title=bulletin.text[:60],
        created_by="loa sim --scenario",
    )
    sent = await send_bulletin(world.store, world.library, world.config, request, SystemClock())
    if world.controller.delivery is not None:
        world.controller.delivery.wake()
    registry = list(world.receivers.values())
    tree = GroupTree(world.groups)
    named = resolve(parse_targets(bulletin.to, tree, world.receivers), registry, tree)
    targeted = frozenset(r.id for r in named)
    return SentBulletin(
        sent.occurrence.id,
        sent.bulletin.title,
        sent.bulletin.priority,
        now,
        sent.occurrence.expires_at,
        targeted,
    )


async def _delivery_summary(world: World, sent: SentBulletin) -> dict[str, Any]:
    """What the controller's store says of a bulletin: receivers per delivery state."""
    report = await occurrence_report(world.store, sent.occurrence)
    return {
        "occurrence": sent.occurrence,
        "title": sent.title,
        "priority": sent.priority,
        "sent_at": sent.sent_at.isoformat(),
        "expires_at": sent.expires_at.isoformat(),
        "targeted": len(sent.targeted),
        "states": {state: n for state, n in report.counts.items() if n},
    }


def report_text(report: RunReport) -> str:
    """The summary table people read at the end of a run."""
    lines = [
        f"scenario {report.scenario} (seed {report.seed}): {report.receivers} receivers, "
        f"{report.duration_s:g} s, {report.actions} fault actions"
        + (f" ({report.late_actions} late by over {LATE_S:g} s)" if report.late_actions else ""),
    ]
    for bulletin in report.bulletins:
        states = ", ".join(f"{n} {state}" for state, n in bulletin["states"].items())
        lines.append(
            f"  bulletin {bulletin['occurrence'][:8]} ({bulletin['priority']}) "
            f"{bulletin['title']!r}: {states or 'no deliveries'}"
        )
    width = max((len(o.kind) for o in report.outcomes), default=10)
    lines.append(f"  {'EXPECTATION':<{width}}  RESULT  WHAT")
    for outcome in report.outcomes:
        where = f" (line {outcome.line})" if outcome.line else ""
        lines.append(
            f"  {outcome.kind:<{width}}  {'ok' if outcome.ok else 'FAILED':<6}  "
            f"{outcome.summary}{where}"
        )
    lines.append("PASS" if report.ok else "FAIL")
    return "\n".join(lines)


def write_report(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.as_json(), ensure_ascii=False, indent=2, default=str)
    path.write_text(text + "\n", encoding="utf-8")
