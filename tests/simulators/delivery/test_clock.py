"""Simulated clocks (offset, drift) and the NTP-style time sync that corrects them."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest

from loa.backoff import Backoff
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
    for _ in range(10 * count + 10):  # a wake-up that finds nothing to do must not recur
        if len(sent) >= count:
            break
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
    assert len(sent) >= count, "next_due kept waking for nothing"
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


def probe_waits(sent: list[float], timeout_s: float) -> list[float]:
    """The back-off waits between requests sent one by one: each from the last one's timeout."""
    return [b - (a + timeout_s) for a, b in itertools.pairwise(sent)]


def test_an_unanswered_round_is_followed_by_probes_at_the_back_off_times() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=2, spacing_s=0.25, timeout_s=5, rng=random.Random(7))
    sync.begin(clock.monotonic())
    sent = send_rounds(sync, clock, 2 + 6, answer_s=None)
    assert sent[:2] == [1000.0, 1000.25]
    expected = Backoff(2.0, 60.0, random.Random(7))  # the same draws, one per probe
    waits = probe_waits(sent[1:], 5.0)  # one request each: a probe, not a round
    assert waits == pytest.approx([expected.next_delay() for _ in waits])
    ceilings = [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))  # never faster
    assert not sync.synced


def test_probes_are_jittered_by_the_receivers_phase_the_same_at_every_boot() -> None:
    def waits(phase: float) -> list[float]:
        sync = TimeSync(requests=1, phase=phase)
        sync.begin(0.0)
        return probe_waits(send_rounds(sync, FakeClock(mono=0.0), 6, answer_s=None), 5.0)

    assert waits(0.25) == waits(0.25)
    assert waits(0.25) != waits(0.75)  # not in step with the rest of the village


def test_the_back_off_is_capped_well_below_the_interval_and_never_above_it() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=1, timeout_s=5, rng=random.Random(3))
    sync.begin(clock.monotonic())
    waits = probe_waits(send_rounds(sync, clock, 20, answer_s=None), 5.0)
    assert max(waits) <= 60.0
    assert all(30.0 <= w <= 60.0 for w in waits[5:])  # capped: jittered in [cap/2, cap]
    assert sum(waits) < 300 * 4  # 19 probes in less time than 4 intervals
    short = TimeSync(interval_s=20, requests=1, timeout_s=5, rng=random.Random(3))
    short.begin(0.0)
    quick = probe_waits(send_rounds(short, FakeClock(mono=0.0), 12, answer_s=None), 5.0)
    assert max(quick) <= 20.0  # a probe never waits longer than the next round would


def test_an_answered_probe_syncs_and_brings_back_the_interval() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=4, spacing_s=0.25, timeout_s=5, rng=random.Random(1))
    sync.begin(clock.monotonic())
    lost = send_rounds(sync, clock, 4 + 3, answer_s=None)  # a round and 3 probes, unanswered
    assert not sync.in_sync(clock.monotonic())
    (probe,) = send_rounds(sync, clock, 1, answer_s=0.010)  # the controller caught up
    assert probe - lost[-1] < 5 + 16  # the 4th probe: within the 4th back-off wait
    assert sync.synced
    assert sync.in_sync(clock.monotonic())
    rounds = send_rounds(sync, clock, 8, answer_s=0.010)
    assert rounds == pytest.approx(
        [probe + 300 + 0.25 * n for n in range(4)] + [probe + 600.75 + 0.25 * n for n in range(4)]
    )  # whole rounds every interval again

    # In sync, a round nobody answers waits the whole interval: its clock is good.
    silent = send_rounds(sync, clock, 8, answer_s=None)
    assert silent[4] - silent[0] == pytest.approx(300.75)
    # Two intervals without an answer: the last good sample is too old (max_age_s);
    # probes again, the back-off started afresh (it was reset by the answered probe).
    assert not sync.in_sync(silent[-1] + 5)
    (first_probe,) = send_rounds(sync, clock, 1, answer_s=None)
    assert 1.0 <= first_probe - (silent[-1] + 5) <= 2.0


def test_a_poor_sample_is_not_in_sync_so_an_unanswered_round_is_probed() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=1, timeout_s=5, retry_s=10, phase=1.0)
    sync.begin(clock.monotonic())
    send_rounds(sync, clock, 1, answer_s=0.4)  # a busy link: a poor estimate
    assert sync.synced
    assert not sync.in_sync(clock.monotonic())
    retry, probe = send_rounds(sync, clock, 2, answer_s=None)
    assert retry == pytest.approx(1010.4)  # the poor answer's sooner round, as before
    assert 1.0 <= probe - (retry + 5) <= 2.0  # unanswered: probed, not left for 300 s


def test_a_late_answer_to_a_lost_request_is_ignored_and_the_probe_stays_due() -> None:
    clock = FakeClock()
    sync = TimeSync(interval_s=300, requests=1, timeout_s=5, rng=random.Random(2))
    sync.begin(clock.monotonic())
    ((number, t0),) = sync.due(clock.monotonic(), clock.now())
    clock.advance(5.0)  # the request times out exactly now
    assert sync.due(clock.monotonic(), clock.now()) == []
    probe_at = sync.next_due()
    assert probe_at is not None
    assert 1006.0 <= probe_at <= 1007.0
    clock.advance(0.5)  # a quick answer, but to a request already given up
    late = t0 + timedelta(seconds=5.5)
    assert sync.answer(number, late, late, late, clock.monotonic()) is None
    assert not sync.synced
    assert sync.next_due() == probe_at  # the late answer neither syncs nor stops the probe
    clock.mono = probe_at
    ((probe, _),) = sync.due(clock.monotonic(), clock.now())
    assert probe == number + 1


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
