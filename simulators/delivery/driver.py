"""Running a receiver's delivery firmware on the event loop, beside its MQTT session.

`DeliveryAgent` is synchronous; `DeliveryDriver` is what a `SimReceiver` uses to
run it, cheaply enough for thousands of receivers in one process:

- `boot()` makes an agent that reads the receiver's flash (its folder under
  `SimSettings.data_root`, or a temporary folder of its own), `power_off()`
  forgets it (a power cut or a reboot loses what was in memory);
- `route(message)` hands commands and chunks of its topics to the agent:
  its own `cmd` and `chunk/#`, and those of the groups it is assigned; a group
  it has left (a subscription kept until the next connection) is ignored;
- the agent is woken when it asks (`next_delay`) by one `loop.call_at` handle,
  not a task, and whatever the link does: an occurrence plays while it is down;
- `flush(client, epoch)` publishes the waiting receipts (QoS 1, `seq` counting
  the receipts of the epoch) and repair requests; clock requests go out at once
  through `publish_nowait` (QoS 0) so their `t0` is when they left;
- WAVs of what was played are written in the default executor when asked
  (`SimSettings.wav_dir`), never in the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from loa.errors import LoaError
from loa.mqtt import Message
from simulators.config import SimSettings
from simulators.delivery.agent import DeliveryAgent
from simulators.delivery.clock import SimClock
from simulators.delivery.outbox import DeliveryCounters

log = logging.getLogger(__name__)

Routed = Literal["command", "chunk"]


class Link(Protocol):
    """What the driver needs of a connection (a `loa.mqtt.MqttClient`)."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def is_frozen(self) -> bool: ...

    def publish_nowait(self, topic: str, payload: bytes) -> None: ...

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        timeout: float | None = None,
    ) -> None: ...


#: WAV writes in flight, across receivers (a reference keeps each future alive).
_WAV_JOBS: set[asyncio.Future[None]] = set()


class DeliveryDriver:
    """The delivery firmware of receiver `receiver_id`; `wake()` rings its session loop."""

    __slots__ = (
        "_client",
        "_folder",
        "_owned",
        "_timer",
        "_timer_at",
        "_wake",
        "agent",
        "clock",
        "counters",
        "receiver_id",
        "settings",
    )

    def __init__(
        self,
        receiver_id: str,
        settings: SimSettings,
        clock: SimClock,
        counters: DeliveryCounters,
        wake: Callable[[], None],
    ) -> None:
        self.receiver_id = receiver_id
        self.settings = settings
        self.clock = clock
        self.counters = counters
        self.agent: DeliveryAgent | None = None
        self._wake = wake
        self._client: Link | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._owned: Path | None = None
        self._folder: Path | None = None

    # -- power -----------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The receiver's flash: `<data_root>/<id>`, or a temporary folder of its own."""
        if self._folder is None:
            root = self.settings.data_root
            if root is None:  # named now, made by the first write
                name = f"loa-sim-{self.receiver_id}-{uuid.uuid4().hex}"
                root = self._owned = Path(tempfile.gettempdir()) / name
            self._folder = root / self.receiver_id
        return self._folder

    def boot(self) -> None:
        """Start the firmware: a new agent reads the flash back."""
        self.power_off()
        self.agent = DeliveryAgent(
            self.receiver_id,
            self.settings,
            self.folder,
            self.clock,
            send_now=self._send_now,
            counters=self.counters,
        )
        self.after()

    def power_off(self) -> None:
        """What was in memory is gone (the flash stays)."""
        self._cancel_timer()
        self.agent = None

    def close(self) -> None:
        """The end of the simulation: power off and delete a temporary folder of its own."""
        self.power_off()
        if self._owned is not None:
            shutil.rmtree(self._owned, ignore_errors=True)
            self._owned = self._folder = None

    # -- the link --------------------------------------------------------------------------

    def subscriptions(self) -> list[tuple[str, int]]:
        """What to subscribe to besides the receiver's own `cmd`: chunks, groups' topics."""
        topics = self.settings.topics
        wanted = [(topics.receiver_chunks(self.receiver_id), 1)]
        for group in self.groups:
            wanted += [(topics.group_commands(group), 1), (topics.group_chunks(group), 1)]
        return wanted

    @property
    def groups(self) -> tuple[str, ...]:
        return () if self.agent is None or self.agent.groups is None else self.agent.groups

    def connected(self, client: Link) -> None:
        self._client = client
        if self.agent is not None:
            self.agent.connected()
            self.after()

    def disconnected(self) -> None:
        self._client = None
        if self.agent is not None:
            self.agent.disconnected()

    def route(self, message: Message) -> Routed | None:
        """Give `message` to the agent if it is a command or chunk of ours; what it was."""
        agent = self.agent
        if agent is None:
            return None
        arrived = self.clock.now()  # t3 of a clock answer: before any work on it
        topics = self.settings.topics
        routed: Routed | None = None
        try:
            where = topics.parse_commands(message.topic)
            if where is not None:
                if where == ("rx", self.receiver_id) or (
                    where[0] == "grp" and where[1] in self.groups
                ):
                    routed = "command"
                    agent.on_command(message.payload, message.topic, arrived)
            else:
                chunk = topics.parse_chunk(message.topic)
                if chunk is not None and (
                    (chunk.scope == "rx" and chunk.owner == self.receiver_id)
                    or (chunk.scope == "grp" and chunk.owner in self.groups)
                ):
                    routed = "chunk"
                    agent.on_chunk(chunk.content, chunk.chunk, message.payload)
        except (OSError, LoaError) as exc:  # its flash failed: say so, keep the link
            log.warning("%s: could not handle %s: %s", self.receiver_id, message.topic, exc)
        if routed is not None:
            self.after()
        return routed

    async def flush(self, client: Link, epoch: int, first_seq: int) -> int:
        """Publish what waits (QoS 1), stamping receipts from `first_seq`; the next seq."""
        seq = first_seq
        agent = self.agent
        while agent is not None and agent.outbox and not client.is_frozen:
            message = agent.outbox[0]
            payload = message.encode(epoch, seq)
            if message.receipt is not None:
                seq += 1  # a seq is never used twice, even if this publish fails
            await client.publish(message.topic, payload, qos=1)
            if message in agent.outbox:
                agent.outbox.remove(message)
            self.counters.receipts += message.receipt is not None
            agent = self.agent
        return seq

    # -- the timer -------------------------------------------------------------------------

    def after(self, at_least: float = 0.0) -> None:
        """After the agent did something: wake the session loop, write WAVs, set the timer.

        The timer fires no sooner than `at_least` seconds from now.
        """
        agent = self.agent
        if agent is None:
            return
        if agent.outbox or agent.assignment_changed:
            self._wake()
        if agent.wav_jobs:
            self._write_wavs(agent)
        delay = agent.next_delay()
        if delay is not None:
            delay = max(delay, at_least)
        if delay is None:
            self._cancel_timer()
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if self._timer is not None and self._timer_at <= when:
            return  # an earlier wake-up is set; it sets the next one
        self._cancel_timer()
        self._timer = loop.call_at(when, self._on_timer)
        self._timer_at = when

    def _on_timer(self) -> None:
        self._timer = None
        if self.agent is None:
            return
        try:
            self.agent.tick()
        except (OSError, LoaError) as exc:  # its flash failed: say so, try again later
            log.warning("%s: delivery tick failed: %s", self.receiver_id, exc)
            self.after(at_least=1.0)
            return
        self.after()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- out -------------------------------------------------------------------------------

    def _send_now(self, topic: str, payload: bytes) -> bool:
        client = self._client
        if client is None or not client.is_connected or client.is_frozen:
            return False
        client.publish_nowait(topic, payload)
        return True

    def _write_wavs(self, agent: DeliveryAgent) -> None:
        folder = self.settings.wav_dir
        jobs = list(agent.wav_jobs)
        agent.wav_jobs.clear()
        if folder is None:
            return
        loop = asyncio.get_running_loop()
        for job in jobs:
            out = folder / f"{self.receiver_id}-{job.occurrence}.wav"
            future = loop.run_in_executor(None, _write_wav, job.source, out, job.gain)
            _WAV_JOBS.add(future)
            future.add_done_callback(_wav_done)


def _write_wav(source: Path, out: Path, gain: float) -> None:
    # ffmpeg-python is loaded only by receivers that write WAVs.
    from audio.decode import decode_to_wav  # noqa: PLC0415

    out.parent.mkdir(parents=True, exist_ok=True)
    decode_to_wav(source, out, gain=gain)


def _wav_done(future: asyncio.Future[None]) -> None:
    _WAV_JOBS.discard(future)
    if future.cancelled():
        return
    error = future.exception()
    if isinstance(error, LoaError | OSError):
        log.warning("could not write a WAV of what was played: %s", error)
    elif error is not None:
        log.error("writing a WAV failed", exc_info=error)
