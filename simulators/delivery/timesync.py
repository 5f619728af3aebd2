"""NTP-style time sync of a receiver against the controller (`docs/protocol.md`, `time`).

A receiver sends clock requests (`rx/<id>/time`, request number `N` and `sent`
= its clock `t0`); the controller answers with a signed `time` command carrying
`request`, `received` and `sent` by its own clock; the receiver notes `t3`,
its clock when the answer arrived. Then, as in NTP:

    offset     = ((received - t0) + (sent - t3)) / 2     the controller's clock minus ours
    round trip = t3 - t0

The smallest round trip gives the best estimate (the least queueing in it), so
the receiver keeps the sample with the smallest round trip among its recent
ones (at most `keep`, none older than `max_age_s`) and corrects its clock by its
offset. `correction_s` is that offset; `clock_offset_ms` (what receipts and
heartbeats report: our clock minus the controller's) is its negative.

Requests go in rounds: `requests` of them `spacing_s` apart, one round at each
connection (`begin`) and then every `interval_s`. A round whose answers leave no
sample with a round trip within `good_rtt_s` (a link or a broker busy at
connection time: a whole village reconnecting at once) is followed by another
after `retry_s`, doubling up to `interval_s`, each wait stretched by the
receiver's `phase` (0 to 1: half to all of it) so a village does not retry in
step. A request unanswered after `timeout_s` is forgotten (a late answer is
ignored: its round trip, over `timeout_s`, would make a poor estimate anyway).

A round nobody answers, while the receiver is not in sync (`in_sync`: no sample
within `good_rtt_s` among those of the last `max_age_s`), is followed by a
single request (a probe) once its last request has timed out, after a jittered
exponential back-off: a random wait in [d/2, d], d = `probe_s` doubling with
each unanswered probe up to `probe_max_s` (`loa.backoff.Backoff`, on the
receiver's own generator seeded by its `phase`). A commune powering on at once
finds its controller seconds behind; each receiver then asks again within a
minute of it catching up instead of waiting the whole interval with its clock
off, and the probes (one request, spaced wider and wider, not in step) keep
the load on a struggling controller bounded. An answered probe counts as a
round: a poor answer brings a full round after `retry_s` as above, a good one
puts the receiver back on `interval_s`, and the back-off starts again from
`probe_s` once the receiver is in sync. A receiver in sync whose round goes
unanswered waits the interval (its clock is good: no hurry).

Plain synchronous code on monotonic seconds and the receiver's own
(uncorrected) clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from loa.backoff import Backoff, SeededJitter

DEFAULT_INTERVAL_S = 300.0
DEFAULT_REQUESTS = 4
DEFAULT_PROBE_S = 2.0
DEFAULT_PROBE_MAX_S = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One exchange: the controller's clock minus ours, the round trip, and when (monotonic)."""

    offset_s: float
    round_trip_s: float
    at: float


class TimeSync:
    """The receiver's estimate of the controller's clock and the requests that feed it."""

    __slots__ = (
        "_best",
        "_left",
        "_next_at",
        "_number",
        "_pending",
        "_probes",
        "_pulled",
        "_retry",
        "_round_at",
        "_samples",
        "good_rtt_s",
        "interval_s",
        "keep",
        "max_age_s",
        "phase",
        "requests",
        "retry_s",
        "spacing_s",
        "timeout_s",
    )

    def __init__(
        self,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        requests: int = DEFAULT_REQUESTS,
        spacing_s: float = 0.25,
        timeout_s: float = 5.0,
        keep: int = 8,
        max_age_s: float | None = None,
        good_rtt_s: float = 0.05,
        retry_s: float = 10.0,
        phase: float = 1.0,
        probe_s: float = DEFAULT_PROBE_S,
        probe_max_s: float = DEFAULT_PROBE_MAX_S,
        rng: random.Random | None = None,
    ) -> None:
        """`rng` draws the probes' jitter: by default one seeded by `phase`, so a receiver
        waits the same way at every boot (a reproducible fleet) but not in step with others.
        """
        if interval_s <= 0 or spacing_s < 0 or timeout_s <= 0:
            raise ValueError("expected interval_s > 0, spacing_s >= 0 and timeout_s > 0")
        if not 0 < probe_s <= probe_max_s:
            raise ValueError("expected 0 < probe_s <= probe_max_s")
        if requests < 1 or keep < 1:
            raise ValueError("a round has at least 1 request and at least 1 sample is kept")
        self.interval_s = interval_s
        self.requests = requests
        self.spacing_s = spacing_s
        self.timeout_s = timeout_s
        self.keep = keep
        self.max_age_s = 2 * interval_s if max_age_s is None else max_age_s
        self.good_rtt_s = good_rtt_s
        self.retry_s = retry_s
        self.phase = min(1.0, max(0.0, phase))
        self._retry = retry_s
        self._pulled = False
        self._samples: list[Sample] = []
        self._best: Sample | None = None
        #: request number -> (t0 by our clock as a POSIX time, monotonic time sent): floats,
        #: and forgotten after `timeout_s`, so an unanswered receiver holds little.
        self._pending: dict[int, tuple[float, float]] = {}
        self._number = 0
        self._left = 0
        self._next_at: float | None = None
        #: when the current round (or probe) began: a sample taken since answers it.
        self._round_at = 0.0
        # Never above the interval: a probe is never later than the next round would be.
        cap = min(probe_max_s, interval_s)
        jitter = rng or SeededJitter(round(self.phase * 2**32))
        self._probes = Backoff(min(probe_s, cap), cap, jitter)

    @property
    def synced(self) -> bool:
        return self._best is not None

    @property
    def correction_s(self) -> float:
        """Seconds to add to our clock to read the controller's (0 before any answer)."""
        return 0.0 if self._best is None else self._best.offset_s

    @property
    def clock_offset_ms(self) -> int | None:
        """Our clock minus the controller's, in ms, as the wire reports it; None before any."""
        return None if self._best is None else round(-self._best.offset_s * 1000)

    @property
    def best(self) -> Sample | None:
        return self._best

    def in_sync(self, now: float) -> bool:
        """Whether a good sample (round trip within `good_rtt_s`) is recent (`max_age_s`).

        Stricter than `synced` (any answer ever): while this is false, a round nobody
        answers is followed by probes rather than by the whole interval.
        """
        return any(
            now - s.at <= self.max_age_s and s.round_trip_s <= self.good_rtt_s
            for s in self._samples
        )

    def begin(self, now: float) -> None:
        """Start a round now (a new connection)."""
        self._left = self.requests
        self._next_at = now
        self._round_at = now

    def awaiting(self, request: int, now: float) -> bool:
        """Whether `request` was sent and is still within its timeout (monotonic `now`)."""
        pending = self._pending.get(request)
        return pending is not None and pending[1] + self.timeout_s > now

    def stepped(self, now: float, by_s: float) -> None:
        """Our clock was stepped by `by_s` seconds (set, or it jumped: the firmware sees its
        wall clock move against its monotonic clock by that much). The estimates taken by
        the old clock are shifted by the step, so the corrected clock stays right at once;
        pending requests (their `t0` by the old clock) are forgotten and, if the link is
        up, a round starts now to confirm."""
        self._samples = [Sample(s.offset_s - by_s, s.round_trip_s, s.at) for s in self._samples]
        if self._best is not None:
            best = self._best
            self._best = Sample(best.offset_s - by_s, best.round_trip_s, best.at)
        self._pending.clear()
        self._probes.reset()
        self._retry = self.retry_s
        if self._next_at is not None:
            self.begin(now)

    def stop(self) -> None:
        """No link: no requests until `begin`; unanswered ones are forgotten."""
        self._next_at = None
        self._left = 0
        self._pending.clear()

    def due(self, now: float, local: datetime) -> list[tuple[int, datetime]]:
        """Requests to send now, as `(request number, t0)`; `local` is our clock now.

        Also forgets the requests that timed out.
        """
        self._expire(now)
        if self._next_at is None or now < self._next_at:
            return []
        if self._left == 0:
            self._left = self.requests  # the next round
            self._round_at = now
        self._number += 1
        self._pending[self._number] = (local.timestamp(), now)
        self._left -= 1
        if self._left:
            self._next_at = now + self.spacing_s
        else:  # the round is out; a poor answer may still bring the next one closer
            self._next_at = now + self.interval_s
            self._pulled = False
        return [(self._number, local)]

    def _sooner(self, now: float) -> None:
        """After an answer: while no sample is good, the next round comes sooner (once a round)."""
        if self._best is not None and self._best.round_trip_s <= self.good_rtt_s:
            self._retry = self.retry_s
            return
        if self._left or self._pulled or self._next_at is None:
            return
        self._pulled = True
        wait = min(self._retry, self.interval_s) * (0.5 + 0.5 * self.phase)
        self._retry = min(self._retry * 2, self.interval_s)
        self._next_at = min(self._next_at, now + wait)

    def next_due(self) -> float | None:
        """The monotonic time of the next request or timeout, or None while stopped."""
        if not self._pending:
            return self._next_at
        timeout = min(sent for _, sent in self._pending.values()) + self.timeout_s
        return timeout if self._next_at is None else min(self._next_at, timeout)

    def answer(
        self, request: int, received: datetime, sent: datetime, t3: datetime, now: float
    ) -> Sample | None:
        """Take the controller's answer to `request`, which arrived at `t3` by our clock.

        None when the request is unknown or timed out, or the times do not make sense.
        """
        self._expire(now)
        pending = self._pending.pop(request, None)
        if pending is None:
            return None
        t0, _ = pending
        round_trip = t3.timestamp() - t0
        if round_trip < 0 or (sent - received).total_seconds() < 0:
            self._probe(now, now)  # as good as no answer
            return None
        offset = ((received.timestamp() - t0) + (sent - t3).total_seconds()) / 2
        sample = Sample(offset, round_trip, now)
        self._samples.append(sample)
        if len(self._samples) > self.keep:
            del self._samples[0]
        self._choose(now)
        self._sooner(now)
        if self.in_sync(now):
            self._probes.reset()
        return sample

    def _choose(self, now: float) -> None:
        recent = [s for s in self._samples if now - s.at <= self.max_age_s]
        self._samples = recent
        self._best = min(recent, key=lambda s: s.round_trip_s, default=self._best)

    def _expire(self, now: float) -> None:
        """Forget the requests past their timeout; probe if that leaves a round unanswered.

        The test is `sent + timeout_s <= now`, the very sum `next_due` returns, so a
        caller woken at that time does find the request expired.
        """
        expired = [
            deadline
            for _, sent in self._pending.values()
            if (deadline := sent + self.timeout_s) <= now
        ]
        if not expired:
            return
        self._pending = {
            n: (t0, sent) for n, (t0, sent) in self._pending.items() if sent + self.timeout_s > now
        }
        self._probe(max(expired), now)

    def _probe(self, lost_at: float, now: float) -> None:
        """A request of this round was lost at `lost_at`: if it was the round's last hope
        and the receiver is not in sync, send one request after the next back-off wait.
        """
        if self._left or self._pending or self._next_at is None:
            return  # the round is still going, or we are stopped
        answered = bool(self._samples) and self._samples[-1].at >= self._round_at
        if answered or self.in_sync(now):
            return
        at = lost_at + self._probes.next_delay()
        if at < self._next_at:
            self._next_at = at
            self._round_at = at
            self._left = 1
