"""Many simulated receivers on one event loop, started at a ramp and stopped together.

A `Fleet` takes plain data (the CLI reads the registry, not the simulator):
anything with an `id` and a `heartbeat_s` (a `ReceiverSpec`, the registry's
`Receiver`) or `(receiver_id, heartbeat_s)` pairs.

Each receiver draws its telemetry profile from `random.Random(f"{seed}:{id}")`,
so the same seed gives the same fleet whatever the order. The noise of their
samples and their back-off jitter come from one generator shared by the fleet:
2.5 KB of generator state each would be the largest part of a receiver's memory.

`start()` powers them on at `ramp_per_s` receivers per second (a commune whose
power comes back does not reconnect in one wave); `stop()` says goodbye from
all of them, at most `stop_concurrency` at a time, within a bound.

Each receiver keeps its flash (content cache, command ids, occurrences) in
`<data_root>/<id>/`; with no `data_root` in the settings the fleet names one
temporary folder for all of them (made by the first receiver that writes) and
deletes it when it stops. A receiver's
clock offset and drift are drawn from its own generator too (after its
telemetry profile), unless its spec fixes them.

Several processes can share one fleet (a process holds at most ~20,000 open
files, and one core handles about 10,000 receivers): `Shard(k, n)` picks the
k-th of n shares by position in the sorted ids, so every process of the same
fleet agrees on who runs where without talking to the others, and the shares
differ in size by at most one receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from loa.clock import Clock, SystemClock
from simulators.config import ReceiverSpec, SimSettings
from simulators.epochs import EpochStore
from simulators.receiver import SimReceiver, State

log = logging.getLogger(__name__)


class ReceiverLike(Protocol):
    """What the fleet reads of a receiver: a `ReceiverSpec` or a registry `Receiver`."""

    @property
    def id(self) -> str: ...

    @property
    def heartbeat_s(self) -> int: ...


_Item = TypeVar("_Item", bound="ReceiverLike | tuple[str, int]")


@dataclass(frozen=True)
class Shard:
    """The `index`-th (from 1) of `count` shares of a fleet that several processes run."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"a shard is K/N with 1 <= K <= N, not {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"2/4"` -> Shard(2, 4); ValueError saying what is wrong otherwise."""
        index, slash, count = text.strip().partition("/")
        if not (slash and index.strip().isdecimal() and count.strip().isdecimal()):
            raise ValueError(f"expected K/N such as 2/4, not {text!r}")
        return cls(int(index), int(count))

    def select(self, receivers: Iterable[_Item]) -> list[_Item]:
        """This share of `receivers`: position in the sorted ids % count == index - 1.

        The result keeps the sorted order, so a ramp powers receivers on by id.
        """
        ordered = sorted(receivers, key=_id_of)
        return ordered[self.index - 1 :: self.count]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def _id_of(item: ReceiverLike | tuple[str, int]) -> str:
    return item[0] if isinstance(item, tuple) else item.id


@dataclass(frozen=True)
class FleetStatus:
    """How many receivers are in which state, and what they have sent."""

    total: int
    online: int
    births: int
    heartbeats: int
    reconnects: int


class Fleet:
    """Simulated receivers sharing `settings`, looked up by id for faults."""

    def __init__(
        self,
        receivers: Iterable[ReceiverLike | tuple[str, int]],
        settings: SimSettings,
        *,
        seed: int | str = 0,
        ramp_per_s: float = 100.0,
        epochs: EpochStore | None = None,
        clock: Clock | None = None,
        stop_concurrency: int = 500,
    ) -> None:
        if ramp_per_s <= 0:
            raise ValueError("ramp_per_s must be > 0")
        self._temporary: Path | None = None
        if settings.data_root is None:
            self._temporary = Path(tempfile.gettempdir()) / f"loa-sim-fleet-{uuid.uuid4().hex}"
            settings = dataclasses.replace(settings, data_root=self._temporary)
        self.settings = settings
        self.ramp_per_s = ramp_per_s
        self.epochs = epochs or EpochStore()
        self._stop_slots = stop_concurrency
        clock = clock or SystemClock()
        self._receivers: dict[str, SimReceiver] = {}
        noise = random.Random(f"{seed}:noise")  # noqa: S311 - simulation
        self._online = 0
        self._changed = asyncio.Event()
        for item in receivers:
            if isinstance(item, tuple):
                spec = ReceiverSpec(*item)
            elif isinstance(item, ReceiverSpec):
                spec = item
            else:
                spec = ReceiverSpec(item.id, item.heartbeat_s)
            if spec.id in self._receivers:
                raise ValueError(f"receiver {spec.id} appears twice in the fleet")
            rng = random.Random(f"{seed}:{spec.id}")  # noqa: S311 - simulation
            self._receivers[spec.id] = SimReceiver(
                spec,
                settings,
                rng=rng,
                noise=noise,
                epochs=self.epochs,
                clock=clock,
                on_state=self._state_changed,
                seed=seed,
            )

    def __len__(self) -> int:
        return len(self._receivers)

    def __iter__(self) -> Iterator[SimReceiver]:
        return iter(self._receivers.values())

    def __getitem__(self, receiver_id: str) -> SimReceiver:
        try:
            return self._receivers[receiver_id]
        except KeyError:
            raise KeyError(f"no simulated receiver {receiver_id!r} in this fleet") from None

    def get(self, receiver_id: str) -> SimReceiver | None:
        return self._receivers.get(receiver_id)

    async def start(self) -> None:
        """Power every receiver on, `ramp_per_s` per second; returns once all are started.

        Started is not connected: `wait_online()` waits for that.
        """
        self.epochs.reserve(self._receivers)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for index, receiver in enumerate(self._receivers.values()):
            due = began + index / self.ramp_per_s
            if due > loop.time():
                await asyncio.sleep(due - loop.time())  # the ramp is a schedule, not an event
            receiver.start()
        log.info("started %d simulated receivers", len(self))

    async def wait_online(self, timeout: float, share: float = 1.0) -> bool:
        """Wait until `share` of the receivers are online; False after `timeout` seconds."""
        wanted = share * len(self)
        try:
            async with asyncio.timeout(timeout):
                while self._online < wanted:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def _state_changed(self, receiver: SimReceiver, previous: State) -> None:
        self._online += (receiver.state == "online") - (previous == "online")
        self._changed.set()

    async def stop(self, timeout: float = 15.0) -> None:
        """Stop every receiver cleanly; any still running after `timeout` loses power."""
        slots = asyncio.Semaphore(self._stop_slots)
        per_receiver = min(timeout, self.settings.ack_timeout + 2.0)

        async def stop_one(receiver: SimReceiver) -> None:
            async with slots:
                await receiver.stop(per_receiver)

        tasks = [asyncio.create_task(stop_one(r), name=f"stop-{r.id}") for r in self]
        if not tasks:
            if self._temporary is not None:
                shutil.rmtree(self._temporary, ignore_errors=True)
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for receiver in self:
            if receiver.state != "stopped":
                receiver.kill()
        if pending:
            log.warning("%d receivers did not stop within %g s", len(pending), timeout)
            await asyncio.wait(pending, timeout=1.0)
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
        for task in done:
            task.result()  # a bug in stop() should not pass unseen

    def status(self) -> FleetStatus:
        births = heartbeats = reconnects = 0
        for receiver in self:
            births += receiver.counters.births
            heartbeats += receiver.counters.heartbeats
            reconnects += receiver.counters.reconnects
        return FleetStatus(len(self), self._online, births, heartbeats, reconnects)
