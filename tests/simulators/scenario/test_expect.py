"""A scenario's expectations judged on what a run saw: plays owed, repeats, reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulators.config import SimSettings
from simulators.delivery.heard import Heard
from simulators.fleet import Fleet
from simulators.scenario.expect import SentBulletin, judge
from simulators.scenario.model import Expectation
from simulators.scenario.observe import Interval, OnlineLog

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
OCC = "a" * 32
STORM = "b" * 32


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def log(**online: tuple[float, float]) -> OnlineLog:
    """An online log where each receiver was online over one (start, end) stretch."""
    found = OnlineLog(Fleet([], SimSettings()))
    for receiver, (start, end) in online.items():
        found.intervals[receiver.replace("_", "-")] = [Interval(at(start), at(end))]
    return found


def play(occurrence: str, start: float, state: str = "played") -> Heard:
    return Heard(occurrence, "c" * 64, state, at(start), at(start + 10), at(start), at(start + 10))  # type: ignore[arg-type]


def sent(occurrence: str = OCC, priority: str = "normal", expires: float = 300) -> SentBulletin:
    return SentBulletin(
        occurrence, "Họp thôn", priority, at(0), at(expires), frozenset({"rx-1", "rx-2", "rx-3"})
    )


def test_played_each_owes_a_play_only_to_receivers_online_long_enough() -> None:
    online = log(rx_1=(0, 300), rx_2=(0, 300), rx_3=(250, 300))  # rx-3: only 50 s
    heard = {"rx-1": [play(OCC, 30)], "rx-2": [], "rx-3": []}
    [outcome] = judge(
        [Expectation("played_each", {"online_before_expiry_s": 120.0}, line=7)],
        [sent()],
        online,
        heard,
    )
    assert not outcome.ok
    assert outcome.line == 7
    assert outcome.figures == {"owed": 2, "played": 1}
    # Each missing play says when the receiver was online and where its firmware stood.
    assert outcome.offenders == (
        "rx-2 ('Họp thôn': nothing; online +0..+300 s after the send; its state none)",
    )
    assert outcome.summary.startswith("1 of 2 plays owed were heard")


def test_a_play_cut_and_started_again_is_a_double_play() -> None:
    heard = {"rx-1": [play(OCC, 30, "failed"), play(OCC, 60)], "rx-2": [play(OCC, 30)]}
    [outcome] = judge([Expectation("no_double_play")], [sent()], log(), heard)
    assert not outcome.ok
    assert outcome.offenders == (f"rx-1 ({OCC[:8]} x2)",)
    assert outcome.figures == {"plays": 3, "repeated": 1}


def test_reach_counts_only_receivers_online_when_it_was_sent() -> None:
    online = log(rx_1=(-10, 300), rx_2=(-10, 300), rx_3=(100, 300))
    heard = {"rx-1": [play(STORM, 1.5)], "rx-2": [play(STORM, 4.0)], "rx-3": [play(STORM, 101)]}
    wanted = Expectation("reach", {"priority": "emergency", "share": 0.95, "within_s": 3.0})
    [outcome] = judge([wanted], [sent(STORM, "emergency")], online, heard)
    assert not outcome.ok  # rx-2 heard it 4 s after: 1 of 2 online receivers in time
    assert outcome.figures == {"reached": 0.5}
    assert "50.0% of online receivers heard it within 3 s (wanted 95%)" in outcome.summary
    half = Expectation("reach", {"priority": "emergency", "share": 0.5, "within_s": 3.0})
    assert judge([half], [sent(STORM, "emergency")], online, heard)[0].ok
    # no bulletin of that priority: the expectation cannot hold
    assert not judge([wanted], [sent()], online, heard)[0].ok
