"""The player: one at a time, at play_at by its clock, pre-emption by priority, cancel."""

from __future__ import annotations

from datetime import timedelta

from devices.protocol.priority import Priority
from simulators.delivery.player import Item, Player, PlayEvent
from tests.simulators.delivery.support import START, FakeClock

A, B, C = "a" * 32, "b" * 32, "c" * 32
CONTENT = "f" * 64


def item(
    occurrence: str,
    *,
    at: float | None,
    priority: Priority = "normal",
    seconds: float = 10.0,
    repeat: int = 1,
    expires: float = 600.0,
) -> Item:
    return Item(
        occurrence=occurrence,
        priority=priority,
        content=CONTENT,
        duration_ms=round(seconds * 1000),
        repeat=repeat,
        expires_at=START + timedelta(seconds=expires),
        play_at=None if at is None else START + timedelta(seconds=at),
    )


def states(events: list[PlayEvent]) -> list[tuple[str, str]]:
    return [(e.occurrence, e.state) for e in events]


def run_until(player: Player, clock: FakeClock, seconds: float) -> list[PlayEvent]:
    """Tick whenever the player asks to, up to `seconds` after START."""
    end = START + timedelta(seconds=seconds)
    events: list[PlayEvent] = []
    while (delay := player.next_delay()) is not None and clock.now() + timedelta(
        seconds=delay
    ) <= end:
        clock.advance(delay)
        events += player.tick()
    clock.advance((end - clock.now()).total_seconds())
    return events + player.tick()


def test_it_starts_at_play_at_and_ends_after_every_repeat() -> None:
    clock = FakeClock()
    player = Player(clock)
    assert player.arm(item(A, at=30, seconds=10, repeat=3)) == []
    assert player.next_delay() == 30
    events = run_until(player, clock, 100)
    assert states(events) == [(A, "playing"), (A, "played")]
    started, played = events
    assert started.started_at == START + timedelta(seconds=30)
    assert played.started_at == START + timedelta(seconds=30)
    assert played.ended_at == START + timedelta(seconds=60)
    assert played.played_ms == 30_000
    assert player.playing is None
    assert player.next_delay() is None


def test_an_occurrence_without_play_at_starts_at_once() -> None:
    clock = FakeClock()
    player = Player(clock)
    assert states(player.arm(item(A, at=None))) == [(A, "playing")]
    assert player.playing is not None


def test_a_higher_priority_pre_empts_the_one_playing() -> None:
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=0, seconds=60))
    clock.advance(12.5)
    events = player.arm(item(B, at=None, priority="emergency", seconds=5))
    assert states(events) == [(A, "preempted"), (B, "playing")]
    assert events[0].by == B
    assert events[0].played_ms == 12_500
    assert states(run_until(player, clock, 100)) == [(B, "played")]


def test_an_equal_or_lower_priority_waits_for_the_end_then_plays() -> None:
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=0, seconds=30, priority="priority"))
    player.arm(item(B, at=10, seconds=5, priority="priority"))
    player.arm(item(C, at=5, seconds=5, priority="background"))
    events = run_until(player, clock, 100)
    assert states(events) == [
        (A, "played"),
        (B, "playing"),  # both waited; the higher one goes first
        (B, "played"),
        (C, "playing"),
        (C, "played"),
    ]
    assert events[1].started_at == START + timedelta(seconds=30)


def test_one_that_waits_past_its_expiry_never_starts() -> None:
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=0, seconds=60))
    player.arm(item(B, at=10, seconds=5, expires=40))
    events = run_until(player, clock, 100)
    assert states(events) == [(B, "expired"), (A, "played")]
    assert events[0].at == START + timedelta(seconds=40)


def test_cancel_drops_a_waiting_one_and_stops_a_playing_one() -> None:
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=0, seconds=60))
    player.arm(item(B, at=100))
    waiting = player.cancel(B)
    assert waiting is not None
    assert (waiting.state, waiting.started_at) == ("cancelled", None)
    clock.advance(20)
    playing = player.cancel(A)
    assert playing is not None
    assert (playing.state, playing.played_ms) == ("cancelled", 20_000)
    assert playing.ended_at == START + timedelta(seconds=20)
    assert player.cancel(A) is None
    assert player.playing is None
    assert player.next_delay() is None


def test_arming_the_same_occurrence_twice_plays_it_once() -> None:
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=None, seconds=5))
    assert player.arm(item(A, at=None, seconds=5)) == []
    assert states(run_until(player, clock, 60)) == [(A, "played")]


def test_a_late_tick_does_not_make_a_late_start() -> None:
    """The device's own timer starts at play_at; the simulator's event loop may tick later."""
    clock = FakeClock()
    player = Player(clock)
    player.arm(item(A, at=10, seconds=5))
    player.arm(item(B, at=12, seconds=5))
    clock.advance(10.007)  # the tick comes 7 ms late
    (started,) = player.tick()
    assert started.started_at == START + timedelta(seconds=10)
    clock.advance(5.0)  # A ended at 15 nominally; B, due since 12, follows it at once
    played, following = player.tick()
    assert played.ended_at == START + timedelta(seconds=15)
    assert following.started_at == START + timedelta(seconds=15)


def test_one_armed_after_its_play_at_starts_when_armed() -> None:
    clock = FakeClock()
    player = Player(clock)
    clock.advance(30)
    (started,) = player.arm(item(A, at=10))
    assert started.started_at == START + timedelta(seconds=30)
