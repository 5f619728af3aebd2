"""Bad 4G between a simulated receiver and the broker: latency, jitter, a bandwidth cap, loss.

A scenario puts some receivers on a poor mobile link (`docs/scenarios.md`: the `latency`,
`bandwidth` and `chunk_loss` faults). `LinkShape` says how poor; `Shaper` is the plain
arithmetic of one receiver's link, on whatever clock the caller reads (seconds, e.g. the
event loop's `time()`), so it is tested with made-up times:

- each message pays a delay `latency_ms` plus a uniform draw in `[-jitter_ms, +jitter_ms]`
  (never below zero);
- a cap of `kbit_s` makes the link a queue: a message's bytes leave once the bytes before
  it have left, each taking `8 / (kbit_s * 1000)` seconds, and its delay runs from then;
- TCP keeps order, so a message is never delivered before the one before it: delivery is
  `max(previous delivery, sent + delay)`;
- incoming chunks (audio on chunk topics) are lost with probability `chunk_loss` (the
  receiver repairs them as it would after any loss). Commands are never lost: over TCP a
  message is lost only with its connection, and the protocol's QoS 1 covers that.

The incoming direction gets all of it; what the receiver publishes gets latency and
jitter only (the cap models the downlink a bulletin comes down).

`Pipe` delivers items at their times in the order they were pushed, with one timer handle
on the running loop. `Inbound` is what a receiver reads off its socket: through its
`Shaper` and then its firmware, which may be slow (`slow_s` per command, one at a time, and
what came after a command waits for it: firmware reads its messages in order), to its
handler, in order. `ShapedClient` is an `MqttClient` whose writes pay the outgoing delay
(in order, through a `Pipe`).

Memory matters (thousands of receivers in one process): the draws come from a
`loa.backoff.SeededJitter` (8 bytes of state, where a `random.Random` holds 2.5 KB),
seeded from the run's seed and the receiver's id, and a `Pipe` makes its deque only when
something waits in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from devices.protocol.topics import Topics
from loa.backoff import SeededJitter
from loa.mqtt import Message, MqttClient, MqttError
from loa.mqtt.packets import DISCONNECT_PACKET

__all__ = ["Inbound", "LinkShape", "Pipe", "ShapedClient", "Shaper", "link_seed", "wire_size"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LinkShape:
    """How poor a receiver's link is; the default is a perfect link (`idle`)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    #: None: no cap.
    kbit_s: float | None = None
    #: the probability that an incoming chunk is lost (0 to 1).
    chunk_loss: float = 0.0

    def __post_init__(self) -> None:
        for name in ("latency_ms", "jitter_ms"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"LinkShape.{name} must be a finite number >= 0, not {value!r}")
        if self.kbit_s is not None and not (math.isfinite(self.kbit_s) and self.kbit_s > 0):
            raise ValueError(f"LinkShape.kbit_s must be a number > 0 or None, not {self.kbit_s!r}")
        if not 0.0 <= self.chunk_loss <= 1.0:
            raise ValueError(f"LinkShape.chunk_loss must be from 0 to 1, not {self.chunk_loss!r}")

    def describe(self) -> str:
        """For people: `300 ms +- 200 ms latency, 64 kbit/s, 2% of chunks lost`."""
        parts = []
        if self.latency_ms or self.jitter_ms:
            jitter = f" +- {self.jitter_ms:g} ms" if self.jitter_ms else ""
            parts.append(f"{self.latency_ms:g} ms{jitter} latency")
        if self.kbit_s is not None:
            parts.append(f"{self.kbit_s:g} kbit/s")
        if self.chunk_loss:
            parts.append(f"{self.chunk_loss:.0%} of chunks lost")
        return ", ".join(parts) or "perfect"

    @property
    def idle(self) -> bool:
        """Whether it changes nothing (a perfect link)."""
        return (
            self.latency_ms == 0
            and self.jitter_ms == 0
            and self.kbit_s is None
            and self.chunk_loss == 0
        )


def link_seed(seed: int | str, receiver_id: str) -> int:
    """The seed of one receiver's link draws: the same run seed and id, the same draws."""
    digest = hashlib.blake2b(f"{seed}:{receiver_id}:link".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def wire_size(topic: str, payload: bytes) -> int:
    """Bytes of a QoS 1 PUBLISH on the wire (fixed header, topic, packet id, payload)."""
    body = 2 + len(topic.encode()) + 2 + len(payload)
    length_bytes = 1 if body < 128 else 2 if body < 16_384 else 3 if body < 2_097_152 else 4
    return 1 + length_bytes + body


class Shaper:
    """One receiver's link: its `shape` (may change at any time) and what is in flight.

    Times are seconds on the caller's clock; calls must come with times that do not go
    backwards.
    """

    __slots__ = ("_draws", "_in_free", "_in_last", "_out_last", "shape")

    def __init__(self, shape: LinkShape, seed: int) -> None:
        self.shape = shape
        self._draws = SeededJitter(seed)
        self._in_free = 0.0  # when the downlink has sent every byte queued on it
        self._in_last = 0.0  # the latest incoming delivery given out
        self._out_last = 0.0

    def incoming(self, now: float, size: int, *, chunk: bool = False) -> float | None:
        """When a message of `size` bytes that reached the link at `now` is delivered.

        None: it is lost (only a chunk can be).
        """
        shape = self.shape
        if chunk and shape.chunk_loss > 0 and self._draws.uniform(0.0, 1.0) < shape.chunk_loss:
            return None
        sent = now
        if shape.kbit_s is not None:
            sent = max(now, self._in_free) + size * 8 / (shape.kbit_s * 1000)
            self._in_free = sent
        self._in_last = max(self._in_last, sent + self._delay())
        return self._in_last

    def outgoing(self, now: float) -> float:
        """When a message the receiver sends at `now` reaches the broker (latency, jitter)."""
        self._out_last = max(self._out_last, now + self._delay())
        return self._out_last

    def reset(self) -> None:
        """A new connection: nothing is in flight any more."""
        self._in_free = self._in_last = self._out_last = 0.0

    def _delay(self) -> float:
        shape = self.shape
        delay = shape.latency_ms
        if shape.jitter_ms:
            delay += self._draws.uniform(-shape.jitter_ms, shape.jitter_ms)
        return max(0.0, delay) / 1000


class Pipe(Generic[T]):
    """Items delivered to `deliver` at their times, in the order they were pushed.

    Times must not go backwards (a `Shaper` gives them so); one `loop.call_at` handle at a
    time, on the running loop.
    """

    __slots__ = ("_deliver", "_items", "_timer")

    def __init__(self, deliver: Callable[[T], None]) -> None:
        self._deliver = deliver
        self._items: deque[tuple[float, T]] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return 0 if self._items is None else len(self._items)

    def deliver(self, item: T) -> None:
        """Deliver `item` now (when nothing waits, or it would overtake)."""
        self._deliver(item)

    def push(self, at: float, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append((at, item))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(at, self._fire)

    def clear(self) -> None:
        """Forget what waits (its connection died with it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._items = None

    def flush(self) -> None:
        """Deliver everything that waits, now."""
        self._cancel_timer()
        while self._items:
            self._deliver(self._items.popleft()[1])
        self._items = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        items = self._items
        if not items:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        while items and items[0][0] <= now:
            self._deliver(items.popleft()[1])
            if self._items is not items:  # cleared by what was delivered
                return
        if items:
            self._timer = loop.call_at(items[0][0], self._fire)
        else:
            self._items = None


class Inbound:
    """Messages off one receiver's socket, through its link and firmware, to `handle`.

    `shaper` None is a perfect link and `slow_s` 0 a quick firmware: then a message is
    handled at once, with no timer and no allocation.
    """

    __slots__ = ("_busy_until", "_pipe", "_seed", "_topics", "shaper", "slow_s")

    def __init__(self, handle: Callable[[Message], None], topics: Topics, seed: int) -> None:
        """`seed` seeds the link's draws (`link_seed`) when it is first shaped."""
        self._pipe: Pipe[Message] = Pipe(handle)
        self._topics = topics
        self._seed = seed
        self._busy_until = 0.0
        self.shaper: Shaper | None = None
        self.slow_s = 0.0

    def __len__(self) -> int:
        """Messages received and not handled yet."""
        return len(self._pipe)

    @property
    def shape(self) -> LinkShape:
        return LinkShape() if self.shaper is None else self.shaper.shape

    def set_shape(self, shape: LinkShape | None) -> Shaper | None:
        """The link from now on (None or idle: perfect); the shaper its writes should use."""
        if shape is None or shape.idle:
            if self.shaper is not None and not self._pipe:
                self.shaper = None  # nothing in flight: a perfect link costs nothing
            elif self.shaper is not None:
                self.shaper.shape = LinkShape()  # what is in flight still arrives in order
        elif self.shaper is None:
            self.shaper = Shaper(shape, self._seed)
        else:
            self.shaper.shape = shape
        return self.shaper

    def receive(self, message: Message) -> bool:
        """Take a message off the socket; False when the link lost it (a chunk)."""
        shaper = self.shaper
        if shaper is None and not self.slow_s and not self._pipe:
            self._pipe.deliver(message)
            return True
        at = asyncio.get_running_loop().time()
        if shaper is not None:
            chunk = self._topics.parse_chunk(message.topic) is not None
            due = shaper.incoming(at, wire_size(message.topic, message.payload), chunk=chunk)
            if due is None:
                return False
            at = due
        at = max(at, self._busy_until)
        if self.slow_s and self._topics.parse_commands(message.topic) is not None:
            at += self.slow_s
            self._busy_until = at
        self._pipe.push(at, message)
        return True

    def reset(self) -> None:
        """A connection ended or began: what was in flight is lost with the old one."""
        self._pipe.clear()
        self._busy_until = 0.0
        if self.shaper is not None and self.shaper.shape.idle:
            self.shaper = None
        elif self.shaper is not None:
            self.shaper.reset()


class ShapedClient(MqttClient):
    """An `MqttClient` whose writes reach the broker after the `shaper`'s outgoing delay.

    Writes keep their order. CONNECT leaves at once (it is written before the link is
    shaped); DISCONNECT goes right after whatever still waits, so a clean goodbye is never
    lost to the delay. A write due after the connection died or while it is frozen is
    dropped, as the socket would drop it.
    """

    __slots__ = ("_out", "shaper")

    def __init__(
        self, host: str, port: int, client_id: str, *, shaper: Shaper | None, **options: Any
    ) -> None:
        """`options` are `MqttClient`'s; `shaper` None (or with no latency) delays nothing."""
        super().__init__(host, port, client_id, **options)
        self.shaper = shaper
        self._out: Pipe[bytes] = Pipe(self._write_late)

    def _write(self, data: bytes) -> None:
        shaper = self.shaper
        idle = shaper is None or (shaper.shape.latency_ms == 0 and shaper.shape.jitter_ms == 0)
        if (idle and not self._out) or not self.is_connected:
            super()._write(data)  # raises ConnectionLost when not connected
            return
        if data == DISCONNECT_PACKET or shaper is None:
            self._out.flush()
            super()._write(data)
            return
        loop = asyncio.get_running_loop()
        self._out.push(shaper.outgoing(loop.time()), data)

    def _write_late(self, data: bytes) -> None:
        if not self.is_connected:
            self._out.clear()
            return
        try:
            super()._write(data)
        except MqttError:
            self._out.clear()
