"""The commune's rules for a schedule being applied or added: quiet hours, clashes, approval.

Run inside the apply's transaction (`controller.store.schedules.apply_schedules` calls
`Policy.check` before it writes), so what is judged is what gets written:

- **Quiet hours** (`schedules.quiet_hours`, per commune `quiet_hours_by_commune`): a
  schedule that is not an emergency and would start in the quiet hours of a commune it
  reaches is refused, with its first such air time. Not forcible: the commune decided.
- **Clashes**: the new and changed schedules' air times over the next `HORIZON` (28 days)
  are compared with every other stored schedule (paused ones included: they may be
  resumed) and with one-off bulletins already planned; an overlap on a shared receiver is
  a clash (`schedules.clashes`: who interrupts, who waits, who will expire). Clashes are
  refused unless the operator accepts them (`--force`).
- **Approval** (`schedules.approval`: commune ids, or `all`): a new or changed schedule
  that reaches such a commune waits (`pending`) for a second person's approval before it
  fires (`loa schedule approve`); emergencies never wait.

How long an airing lasts, for clashes: the schedule's `duration_s` if given, else its
longest content (stored audio) times `repeat`; text not yet read aloud is estimated at the
configured speaking speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audio.errors import AudioError
from controller.config.model import Config
from controller.delivery.plan import TargetError, parse_targets, resolve
from controller.scheduler.quiet_rules import CommuneQuiet
from controller.store.registry_rows import load_groups, load_receivers
from controller.store.schema import (
    audio_contents,
    bulletin_contents,
    bulletin_targets,
    bulletins,
    occurrences,
)
from controller.store.schema import schedules as schedules_table
from devices.registry import GroupTree, Receiver
from loa.errors import LoaError
from schedules.clashes import Clash, Slot, find_clashes, slots_for, summarise
from schedules.model import Schedule
from schedules.quiet import QuietHours
from schedules.when import between

__all__ = [
    "HORIZON",
    "Judged",
    "Policy",
    "PolicyError",
    "Registry",
    "content_durations",
    "one_off_slots",
    "speakable",
]

#: How far ahead clashes are looked for when a schedule is applied or added.
HORIZON: Final = timedelta(days=28)
#: How far ahead quiet hours are checked (a weekly or monthly rule shows within it).
QUIET_HORIZON: Final = timedelta(days=62)
#: A content with no stored duration (text to be read aloud), per word at the speed set.
_SECONDS_MIN: Final = 1.0


def speakable(config: Config) -> Callable[[str], str | None]:
    """Whether the configured text-to-speech engine has a voice for a language.

    espeak-ng is asked (its voice list, once); a bought HTTP voice is trusted.
    """
    from audio.tts.espeak import EspeakEngine  # noqa: PLC0415 - only when text is checked
    from controller.audio.settings import tts_engine  # noqa: PLC0415

    engine: list[object] = []

    def check(language: str) -> str | None:
        try:
            if not engine:
                engine.append(tts_engine(config))
            if isinstance(engine[0], EspeakEngine):
                engine[0].voice_for(language)
        except (AudioError, LoaError) as exc:
            return str(exc)
        return None

    return check


class PolicyError(LoaError):
    """Schedules the commune's rules refuse; `problems` lists each, nothing was applied."""

    def __init__(self, problems: Sequence[str], *, forcible: bool) -> None:
        self.problems = tuple(problems)
        self.forcible = forcible
        tail = (
            "nothing was applied; move one of them, or accept the clashes with --force"
            if forcible
            else "nothing was applied"
        )
        super().__init__("\n".join([*self.problems, tail]))


@dataclass(frozen=True)
class Judged:
    """What the rules say about schedules being written."""

    #: schedule id -> "none" or "pending"
    approvals: dict[str, str]
    clashes: tuple[Clash, ...]
    #: the clashes for people, repeated ones summarised
    clash_lines: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    tree: GroupTree
    receivers: dict[str, Receiver]
    _reached: dict[str, list[Receiver]] = field(default_factory=dict, compare=False)

    def reach(self, targets: str) -> list[Receiver]:
        """The receivers `targets` name (none if it names something unknown); cached, as a
        province's schedules name the same few communes again and again."""
        known = self._reached.get(targets)
        if known is None:
            known = self._reached[targets] = self._resolve(targets)
        return known

    def _resolve(self, targets: str) -> list[Receiver]:
        try:
            parsed = parse_targets(targets, self.tree, self.receivers)
        except TargetError:
            return []  # the apply's own check reports unknown targets
        return resolve(parsed, list(self.receivers.values()), self.tree)

    def communes(self, receivers: Iterable[Receiver]) -> dict[str, str]:
        """commune id -> label, of every commune these receivers stand in."""
        found: dict[str, str] = {}
        for receiver in receivers:
            commune = self.tree.commune_of(receiver)
            if commune is not None:
                found[commune.id] = f"{commune.name} ({commune.id})"
        return found


class Policy:
    """The rules of one controller's config (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        *,
        force: bool = False,
        can_speak: Callable[[str], str | None] | None = None,
    ) -> None:
        """`can_speak(language)` says why text in `language` cannot be read aloud (None:
        it can); without it, text is not checked (`speakable(config)` makes one)."""
        rules = config.schedules
        self._can_speak = can_speak
        self.zone = ZoneInfo(config.time_zone)
        self.force = force
        self._quiet = CommuneQuiet(rules)
        self._approval = frozenset(rules.approval)
        self._wpm = config.audio.tts.speed_wpm

    def quiet_hours(self, commune_id: str) -> QuietHours | None:
        return self._quiet.hours(commune_id)

    def needs_approval(self, schedule: Schedule, commune_ids: Iterable[str]) -> bool:
        if schedule.priority == "emergency" or not self._approval:
            return False
        return "all" in self._approval or any(c in self._approval for c in commune_ids)

    async def check(
        self, session: AsyncSession, changed: Sequence[Schedule], now: datetime
    ) -> Judged:
        """Judge the schedules about to be added or changed; `PolicyError` if refused."""
        registry = Registry(GroupTree(await load_groups(session)), await load_receivers(session))
        reach = {s.id: registry.reach(s.targets) for s in changed}
        refusals: list[str] = []
        approvals: dict[str, str] = {}
        for schedule in changed:
            communes = registry.communes(reach[schedule.id])
            problem = self._quiet_problem(schedule, communes, now)
            if problem is not None:
                refusals.append(problem)
            refusals.extend(self._unspeakable(schedule))
            approvals[schedule.id] = (
                "pending" if self.needs_approval(schedule, communes) else "none"
            )
        if refusals:
            raise PolicyError(refusals, forcible=False)
        durations = await content_durations(session)
        end = now + HORIZON
        new_slots: list[Slot] = []
        for schedule in changed:
            receivers = frozenset(r.id for r in reach[schedule.id])
            if schedule.enabled and receivers:
                length = self.length(schedule, durations)
                new_slots.extend(slots_for(schedule, receivers, length, now, end))
        existing = await self._existing(
            session,
            registry,
            leave_out={s.id for s in changed},
            durations=durations,
            start=now,
            end=end,
        )
        clashes = tuple(find_clashes(new_slots, existing))
        lines = tuple(summarise(clashes, self.zone))
        if clashes and not self.force:
            raise PolicyError(lines, forcible=True)
        return Judged(approvals, clashes, lines)

    def _unspeakable(self, schedule: Schedule) -> list[str]:
        """A problem for each language of `schedule.text` that cannot be read aloud."""
        can_speak = self._can_speak
        if can_speak is None:
            return []
        problems = []
        for language, _ in schedule.text:
            why = can_speak(language)
            if why is not None:
                problems.append(
                    f"schedule {schedule.id!r}: text.{language}: cannot be read aloud: {why}; "
                    f"record it and give it as contents.{language}"
                )
        return problems

    def _quiet_problem(
        self, schedule: Schedule, communes: dict[str, str], now: datetime
    ) -> str | None:
        if schedule.priority == "emergency" or not schedule.enabled:
            return None
        instants = between(schedule.when, now, now + QUIET_HORIZON)[:400]
        for commune_id, label in sorted(communes.items()):
            hours = self.quiet_hours(commune_id)
            if hours is None:
                continue
            for instant in instants:
                local = instant.astimezone(self.zone)
                if hours.contains(local.time()):
                    return (
                        f"schedule {schedule.id!r}: its air time {local:%Y-%m-%d %H:%M} falls "
                        f"in the quiet hours of {label} ({hours}); only emergencies may sound "
                        "then: move it, or make it an emergency"
                    )
        return None

    def length(self, schedule: Schedule, durations: dict[str, float]) -> timedelta:
        """How long one airing of `schedule` keeps its receivers (`durations`: content id ->
        seconds, from `content_durations`); see the module docstring."""
        if schedule.duration_s is not None:
            return timedelta(seconds=schedule.duration_s * schedule.repeat)
        seconds = [durations.get(content_id, 0.0) for _, content_id in schedule.contents]
        seconds += [self.speaking_s(text) for _, text in schedule.text]
        longest = max([_SECONDS_MIN, *seconds])
        return timedelta(seconds=longest * schedule.repeat)

    def speaking_s(self, text: str) -> float:
        """About how long `text` takes to read aloud at the configured speed."""
        return max(_SECONDS_MIN, math.ceil(len(text.split()) * 60 / self._wpm))

    async def _existing(
        self,
        session: AsyncSession,
        registry: Registry,
        *,
        leave_out: set[str],
        durations: dict[str, float],
        start: datetime,
        end: datetime,
    ) -> list[Slot]:
        """Slots of every other stored schedule, and of one-off bulletins planned."""
        from controller.store.schedules import stored_from_row  # noqa: PLC0415 - a cycle

        slots: list[Slot] = []
        rows = (await session.execute(select(schedules_table))).all()
        for row in rows:
            if row.id in leave_out:
                continue
            schedule = stored_from_row(row).schedule
            receivers = frozenset(r.id for r in registry.reach(schedule.targets))
            if receivers:
                length = self.length(schedule, durations)
                slots.extend(slots_for(schedule, receivers, length, start, end))
        slots.extend(await one_off_slots(session, registry, durations, start, end))
        return slots


async def content_durations(session: AsyncSession) -> dict[str, float]:
    """Seconds of every stored audio content, by content id (for `Policy.length`)."""
    rows = await session.execute(select(audio_contents.c.id, audio_contents.c.duration_s))
    return {row.id: float(row.duration_s) for row in rows.all()}


async def one_off_slots(
    session: AsyncSession,
    registry: Registry,
    durations: dict[str, float],
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """Slots of occurrences not fired by a schedule that are planned in [start, end)."""
    query = (
        select(
            occurrences.c.id,
            occurrences.c.play_at,
            occurrences.c.expires_at,
            bulletins.c.id.label("bulletin_id"),
            bulletins.c.title,
            bulletins.c.priority,
            bulletins.c.repeat,
        )
        .join(bulletins, bulletins.c.id == occurrences.c.bulletin_id)
        .where(
            occurrences.c.schedule_id.is_(None),
            occurrences.c.state.in_(("scheduled", "dispatched")),
            occurrences.c.play_at >= start,
            occurrences.c.play_at < end,
        )
    )
    found = (await session.execute(query)).all()
    if not found:
        return []
    ids = [row.bulletin_id for row in found]
    contents: dict[str, list[str]] = {}
    for item in (
        await session.execute(
            select(bulletin_contents.c.bulletin_id, bulletin_contents.c.content_id).where(
                bulletin_contents.c.bulletin_id.in_(ids)
            )
        )
    ).all():
        contents.setdefault(item.bulletin_id, []).append(item.content_id)
    targets: dict[str, list[str]] = {}
    for item in (
        await session.execute(
            select(
                bulletin_targets.c.bulletin_id,
                bulletin_targets.c.kind,
                bulletin_targets.c.target_id,
            ).where(bulletin_targets.c.bulletin_id.in_(ids))
        )
    ).all():
        targets.setdefault(item.bulletin_id, []).append(item.target_id or "all")
    slots: list[Slot] = []
    for row in found:
        reach = registry.reach(",".join(targets.get(row.bulletin_id, [])))
        longest = max([_SECONDS_MIN, *(durations.get(c, 0.0) for c in contents[row.bulletin_id])])
        if reach:
            slots.append(
                Slot(
                    schedule_id=f"bulletin {row.id[:8]}",
                    title=row.title,
                    priority=row.priority,
                    start=row.play_at,
                    duration=timedelta(seconds=longest * row.repeat),
                    expires_at=row.expires_at,
                    receivers=frozenset(r.id for r in reach),
                )
            )
    return slots
