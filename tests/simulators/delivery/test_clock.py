"""Simulated clocks (offset, drift) and the NTP-style time sync that corrects them."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from simulators.delivery.clock import CorrectedClock, SimClock
from simulators.delivery.timesync import TimeSync
from tests.simulators.delivery.support import FakeClock


def test_a_sim_clock_is_off_by_its_offset_and_drifts() -> None:
    true = FakeClock()
    clock = SimClock(true, offset_s=1.5, drift_ppm=100)
    assert clock.now() - true.now() == timedelta(seconds=1.5)
    true.advance(10_000)  # 100 ppm of 10,000 s is 1 s
    assert clock.error_s() == pytest.approx(2.5)
    assert (clock.now() - true.now()).total_seconds() == pytest.approx(2.5)
    assert clock.monotonic() - 1000.0 == pytest.approx(10_001.0)


class Link:
    """A controller `controller_ahead_s` ahead of the receiver, over a link with given delays."""

    def __init__(self, receiver: FakeClock, controller_ahead_s: float) -> None:
        self.receiver = receiver
        self.ahead = timedelta(seconds=controller_ahead_s)

    def exchange(self, sync: TimeSync, up_s: float, down_s: float) -> None:
        (number, _), *_ = sync.due(self.receiver.monotonic(), self.receiver.now())
        self.receiver.advance(up_s)
        received = self.receiver.now() + self.ahead
        self.receiver.advance(0.001)
        sent = self.receiver.now() + self.ahead
        self.receiver.advance(down_s)
        assert sync.answer(number, received, sent, self.receiver.now(), self.receiver.monotonic())


def test_the_offset_follows_ntp_and_the_shortest_round_trip_wins() -> None:
    receiver = FakeClock()
    sync = TimeSync(spacing_s=0.0)
    link = Link(receiver, controller_ahead_s=2.0)
    assert not sync.synced
    assert sync.correction_s == 0.0
    sync.begin(receiver.monotonic())
    link.exchange(sync, up_s=0.200, down_s=0.020)  # asymmetric: off by 90 ms
    assert sync.correction_s == pytest.approx(2.09)
    link.exchange(sync, up_s=0.010, down_s=0.012)  # short and nearly symmetric
    link.exchange(sync, up_s=0.050, down_s=0.300)
    assert sync.correction_s == pytest.approx(1.999)
    assert sync.clock_offset_ms == -1999  # the receiver's clock minus the controller's
    corrected = CorrectedClock(receiver, sync)
    assert (corrected.now() - receiver.now()).total_seconds() == pytest.approx(1.999)


def send_rounds(
    sync: TimeSync, clock: FakeClock, count: int, answer_s: float | None
) -> list[float]:
    """Step to each request until `count` were sent; answer each after `answer_s`, if given."""
    sent: list[float] = []
    numbers: list[int] = []
    while len(sent) < count:
        due = sync.next_due()
        assert due is not None
        clock.mono = max(clock.mono, due)
        for number, t0 in sync.due(clock.monotonic(), clock.now()):
            sent.append(clock.monotonic())
            assert t0 == clock.now()
            assert not numbers or number == numbers[-1] + 1
            numbers.append(number)
            if answer_s is not None:
                t3 = t0 + timedelta(seconds=answer_s)
                assert sync.answer(number, t0, t0, t3, clock.monotonic() + answer_s)
    return sent


def test_requests_go_in_rounds_at_each_connection_and_then_every_interval() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=4, spacing_s=0.25)
    assert sync.next_due() is None  # not connected: nothing
    sync.begin(clock.monotonic())
    sent = send_rounds(sync, clock, 8, answer_s=0.010)
    first_round = [1000.0, 1000.25, 1000.5, 1000.75]
    assert sent == pytest.approx([*first_round, *(t + 300.75 for t in first_round)])
    sync.stop()
    assert sync.next_due() is None


def test_a_round_with_no_good_answer_is_followed_sooner_then_less_and_less_soon() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=1, retry_s=10, good_rtt_s=0.05, phase=1.0)
    sync.begin(clock.monotonic())
    slow = send_rounds(sync, clock, 6, answer_s=0.4)  # a busy link: every round trip is long
    gaps = [b - a for a, b in itertools.pairwise(slow)]
    assert gaps == pytest.approx([10.4, 20.4, 40.4, 80.4, 160.4])  # timed from the answer
    quick = send_rounds(sync, clock, 2, answer_s=0.01)
    assert quick[1] - quick[0] == 300  # a good sample: back to the interval
    other = TimeSync(requests=1, retry_s=10, phase=0.0)  # another receiver's phase
    other.begin(0.0)
    assert send_rounds(other, FakeClock(mono=0.0), 2, answer_s=0.4) == pytest.approx([0, 5.4])


def test_a_round_nobody_answers_waits_the_whole_interval() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=2, spacing_s=0.25, timeout_s=5)
    sync.begin(clock.monotonic())
    assert send_rounds(sync, clock, 4, answer_s=None) == pytest.approx(
        [1000.0, 1000.25, 1300.25, 1300.5]
    )


def test_unknown_late_or_impossible_answers_are_ignored() -> None:
    clock = FakeClock()
    sync = TimeSync(timeout_s=5.0)
    sync.begin(clock.monotonic())
    (number, t0), *_ = sync.due(clock.monotonic(), clock.now())
    assert sync.answer(number + 7, t0, t0, clock.now(), clock.monotonic()) is None
    clock.advance(6.0)  # past the timeout: forgotten
    assert sync.answer(number, t0, t0, clock.now(), clock.monotonic()) is None
    (number, t0), *_ = sync.due(clock.monotonic() + 1.0, clock.now())
    before = t0 - timedelta(seconds=1)  # an answer that arrived before the question
    assert sync.answer(number, t0, t0, before, clock.monotonic()) is None
    assert not sync.synced


def test_old_samples_give_way_to_recent_ones() -> None:
    receiver = FakeClock()
    sync = TimeSync(interval_s=300, spacing_s=0.0, max_age_s=600)
    link = Link(receiver, controller_ahead_s=1.0)
    sync.begin(receiver.monotonic())
    link.exchange(sync, up_s=0.001, down_s=0.001)  # the best ever, but it will age
    receiver.advance(700)
    link.ahead = timedelta(seconds=1.5)  # the receiver's clock has drifted since
    sync.begin(receiver.monotonic())
    link.exchange(sync, up_s=0.040, down_s=0.040)
    assert sync.correction_s == pytest.approx(1.5)
