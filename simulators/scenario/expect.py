"""A scenario's expectations judged on what the run saw (`simulators.scenario.observe`).

- `played_each`: for every bulletin sent, every targeted receiver that was online for at
  least `online_before_expiry_s` at a stretch between the send and the occurrence's expiry
  played it to the end, once. (A receiver online less than that may have missed it: 4G.)
- `no_double_play`: no receiver started any occurrence twice (a play cut by a power loss
  and started again counts twice: listeners heard it twice).
- `reach`: for bulletins of `priority`, at least `share` of the targeted receivers that
  were online when it was sent started playing it within `within_s` of the send, by true
  time (what a listener in the village heard).

Each gives an `Outcome`: whether it held, a one-line summary with the figure, and the
receivers that broke it (the first few named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulators.delivery.heard import Heard
from simulators.scenario.model import Expectation
from simulators.scenario.observe import OnlineLog, by_occurrence

__all__ = ["Outcome", "SentBulletin", "judge"]

#: How many offending receivers an outcome names.
NAMED = 5


@dataclass(frozen=True)
class SentBulletin:
    """A bulletin the run sent: its occurrence, when (true time), to whom, until when."""

    occurrence: str
    title: str
    priority: str
    sent_at: datetime
    expires_at: datetime
    targeted: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    kind: str
    ok: bool
    summary: str
    line: int = 0
    #: receiver ids that broke it, and why
    offenders: tuple[str, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)


def judge(
    expectations: Sequence[Expectation],
    sent: Sequence[SentBulletin],
    online: OnlineLog,
    heard: Mapping[str, Sequence[Heard]],
) -> list[Outcome]:
    table = by_occurrence(heard)
    outcomes: list[Outcome] = []
    for expectation in expectations:
        if expectation.kind == "played_each":
            outcome = _played_each(expectation, sent, online, table)
        elif expectation.kind == "no_double_play":
            outcome = _no_double_play(expectation, table)
        else:
            outcome = _reach(expectation, sent, online, table)
        outcomes.append(outcome)
    return outcomes


def _named(offenders: Sequence[str]) -> str:
    shown = ", ".join(offenders[:NAMED])
    return shown + (f" and {len(offenders) - NAMED} more" if len(offenders) > NAMED else "")


def _number(expectation: Expectation, name: str) -> float:
    value = expectation.params[name]
    if isinstance(value, str | tuple):
        raise TypeError(f"{expectation.kind}: {name} is not a number: {value!r}")
    return float(value)


def _played_each(
    expectation: Expectation,
    sent: Sequence[SentBulletin],
    online: OnlineLog,
    table: Mapping[str, Mapping[str, Sequence[Heard]]],
) -> Outcome:
    needed = timedelta(seconds=_number(expectation, "online_before_expiry_s"))
    owed = 0
    offenders: list[str] = []
    for bulletin in sent:
        plays = table.get(bulletin.occurrence, {})
        for receiver in sorted(bulletin.targeted):
            stretch = online.longest_within(receiver, bulletin.sent_at, bulletin.expires_at)
            if stretch < needed:
                continue
            owed += 1
            ended = [h.state for h in plays.get(receiver, ())]
            if ended.count("played") != 1:
                why = "/".join(ended) if ended else "nothing"
                seen = online.explain(receiver, bulletin.occurrence, bulletin.sent_at)
                offenders.append(f"{receiver} ({bulletin.title!r}: {why}; {seen})")
    played = owed - len(offenders)
    return Outcome(
        "played_each",
        not offenders,
        f"{played} of {owed} plays owed were heard (receivers online >= "
        f"{needed.total_seconds():g} s before expiry)"
        + (f"; missing: {_named(offenders)}" if offenders else ""),
        expectation.line,
        tuple(offenders),
        {"owed": owed, "played": played},
    )


def _no_double_play(
    expectation: Expectation, table: Mapping[str, Mapping[str, Sequence[Heard]]]
) -> Outcome:
    offenders = sorted(
        f"{receiver} ({occurrence[:8]} x{len(items)})"
        for occurrence, receivers in table.items()
        for receiver, items in receivers.items()
        if len(items) > 1
    )
    plays = sum(len(items) for receivers in table.values() for items in receivers.values())
    return Outcome(
        "no_double_play",
        not offenders,
        f"{plays} plays, {len(offenders)} of them repeated"
        + (f": {_named(offenders)}" if offenders else ""),
        expectation.line,
        tuple(offenders),
        {"plays": plays, "repeated": len(offenders)},
    )


def _reach(
    expectation: Expectation,
    sent: Sequence[SentBulletin],
    online: OnlineLog,
    table: Mapping[str, Mapping[str, Sequence[Heard]]],
) -> Outcome:
    priority = str(expectation.params["priority"])
    share = _number(expectation, "share")
    within = timedelta(seconds=_number(expectation, "within_s"))
    chosen = [b for b in sent if b.priority == priority]
    worst = 1.0
    offenders: list[str] = []
    for bulletin in chosen:
        there = [r for r in sorted(bulletin.targeted) if online.online_at(r, bulletin.sent_at)]
        plays = table.get(bulletin.occurrence, {})
        late = [
            r
            for r in there
            if not plays.get(r) or min(h.true_start for h in plays[r]) - bulletin.sent_at > within
        ]
        reached = (len(there) - len(late)) / len(there) if there else 1.0
        worst = min(worst, reached)
        if reached < share:
            offenders.extend(f"{r} ({bulletin.title!r})" for r in late)
    if not chosen:
        return Outcome(
            "reach",
            False,
            f"no {priority} bulletin was sent: nothing to measure",
            expectation.line,
        )
    return Outcome(
        "reach",
        worst >= share,
        f"{priority}: {worst:.1%} of online receivers heard it within "
        f"{within.total_seconds():g} s (wanted {share:.0%})"
        + (f"; late or silent: {_named(offenders)}" if offenders else ""),
        expectation.line,
        tuple(offenders),
        {"reached": worst},
    )
