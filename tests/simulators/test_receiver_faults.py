"""Faults a scenario sets on a running receiver: bad 4G, slow firmware, full flash, codec, clock.

The receivers are real `SimReceiver`s on a private Mosquitto; the controller is the test's
`BrokerController` (paho, signing, answering clock requests and repairs); heartbeats are
read by the `watcher`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.client import MQTTMessage

from devices.protocol import Topics, decode_heartbeat
from devices.protocol.commands import Play
from simulators.config import ReceiverSpec, SimSettings
from simulators.delivery.clock import SimClock
from simulators.link import LinkShape
from simulators.receiver import SimReceiver
from tests.simulators.delivery.on_broker import BrokerController, broker_settings
from tests.simulators.delivery.support import Content, FakeClock
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient
from tests.support.watching import eventually

VILLAGE = "ban-na-vuong"
RX = "cb-tl-01"
Make = Callable[..., Awaitable[SimReceiver]]


# -- without a broker ----------------------------------------------------------------------


def test_a_clock_jump_steps_the_wall_clock_not_the_monotonic_one() -> None:
    true = FakeClock()
    clock = SimClock(true, offset_s=1.0, drift_ppm=100)
    true.advance(1000)
    mono = clock.monotonic()
    clock.jump(-30)
    assert clock.error_s() == pytest.approx(1.0 + 0.1 - 30)
    assert clock.monotonic() == pytest.approx(mono)


def test_a_clock_set_anew_keeps_its_monotonic_time_going() -> None:
    true = FakeClock()
    clock = SimClock(true, offset_s=0.0, drift_ppm=1000)
    true.advance(100)
    before = clock.monotonic()
    clock.set(5.0, drift_ppm=0)
    assert clock.error_s() == pytest.approx(5.0)
    assert clock.monotonic() == pytest.approx(before)
    true.advance(10)
    assert clock.monotonic() == pytest.approx(before + 10)
    assert clock.error_s() == pytest.approx(5.0)


def test_a_link_fault_changes_one_field_and_clears_back_to_perfect() -> None:
    receiver = SimReceiver(ReceiverSpec(RX), SimSettings())
    assert receiver.link == LinkShape()
    receiver.set_link(LinkShape(latency_ms=300, jitter_ms=200))
    receiver.set_link(dataclasses.replace(receiver.link, kbit_s=64))
    assert receiver.link == LinkShape(latency_ms=300, jitter_ms=200, kbit_s=64)
    receiver.set_link(dataclasses.replace(receiver.link, latency_ms=0, jitter_ms=0, kbit_s=None))
    assert receiver.link.idle
    receiver.set_link(None)
    assert receiver.link == LinkShape()


def test_a_slow_firmware_needs_a_delay_of_zero_or_more() -> None:
    receiver = SimReceiver(ReceiverSpec(RX), SimSettings())
    with pytest.raises(ValueError, match=f"{RX}: slow firmware delay_ms"):
        receiver.set_slow_firmware(-5)
    receiver.set_slow_firmware(250)
    assert receiver.slow_firmware_ms == 250
    receiver.set_slow_firmware(None)
    assert receiver.slow_firmware_ms is None


def test_codec_reject_plays_no_codec_and_its_clearing_plays_any() -> None:
    receiver = SimReceiver(ReceiverSpec(RX), SimSettings())
    seen = [receiver.codecs]
    receiver.set_codec_reject(True)
    seen.append(receiver.codecs)
    receiver.set_codec_reject(False)
    seen.append(receiver.codecs)
    assert seen == [None, (), None]


# -- on a broker ---------------------------------------------------------------------------


@pytest.fixture
def settings(
    mosquitto: PrivateMosquitto, topic_prefix: str, controller: BrokerController, tmp_path: Path
) -> SimSettings:
    return broker_settings(mosquitto, topic_prefix, controller, tmp_path / "flash", ack_timeout=5)


@pytest.fixture
async def make(settings: SimSettings, controller: BrokerController) -> AsyncIterator[Make]:
    """Start a receiver (after `setup(receiver)`), assign it to the village, wait for it."""
    made: list[SimReceiver] = []

    async def start(
        setup: Callable[[SimReceiver], None] = lambda _: None,
        heartbeat_s: int = 60,
        **changes: Any,
    ) -> SimReceiver:
        spec = ReceiverSpec(RX, heartbeat_s=heartbeat_s, clock_offset_s=0.0)
        receiver = SimReceiver(spec, dataclasses.replace(settings, **changes), seed=3)
        made.append(receiver)
        setup(receiver)
        receiver.start()
        await eventually(lambda: receiver.is_online, 5, f"{RX} online")
        await asyncio.to_thread(controller.send, RX, controller.signer.assign(VILLAGE))
        await asyncio.to_thread(controller.wait_birth, RX, (VILLAGE,))
        return receiver

    yield start
    for receiver in made:
        await receiver.stop(timeout=3)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def play(controller: BrokerController, content: Content, at_s: float = 1.0) -> Play:
    body = controller.signer.play(content, play_at=soon(at_s))
    await asyncio.to_thread(controller.send, VILLAGE, body, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content)
    return body


async def until(controller: BrokerController, occurrence: str, state: str) -> float:
    """Seconds until a receipt of `state` for `occurrence` came."""
    started = time.monotonic()
    await asyncio.to_thread(controller.wait_state, occurrence, state, 15.0)
    return time.monotonic() - started


async def answer_time(controller: BrokerController, content: Content) -> float:
    """Seconds from sending a play command to its `accepted` receipt."""
    body = controller.signer.play(content, play_at=soon(30))
    started = time.monotonic()
    await asyncio.to_thread(controller.send, VILLAGE, body, scope="grp")
    await until(controller, body.occurrence, "accepted")
    return time.monotonic() - started


def heartbeat_delays(watcher: PahoClient, topics: Topics) -> list[float]:
    """Seconds from each heartbeat's `at` to its arrival at the watcher (wall clock)."""
    wall_minus_mono = time.time() - time.monotonic()
    topic = topics.receiver(RX, "heartbeat")
    messages: list[MQTTMessage] = [m for m in list(watcher.messages) if m.topic == topic]
    return [
        m.timestamp + wall_minus_mono - decode_heartbeat(bytes(m.payload), RX).at.timestamp()
        for m in messages
    ]


@pytest.mark.broker
async def test_latency_delays_commands_receipts_and_heartbeats(
    make: Make, controller: BrokerController, watcher: PahoClient, topic_prefix: str
) -> None:
    receiver = await make(heartbeat_s=1)
    content = Content.make(size=2048)
    perfect = await answer_time(controller, content)
    assert perfect < 0.3
    receiver.set_link(LinkShape(latency_ms=400))
    watcher.messages.clear()
    shaped = await answer_time(controller, content)
    assert shaped >= 0.8  # 400 ms down with the command, 400 ms up with the receipt
    await eventually(lambda: len(heartbeat_delays(watcher, Topics(topic_prefix))) >= 2, 5, "beats")
    assert min(heartbeat_delays(watcher, Topics(topic_prefix))) >= 0.35
    receiver.set_link(None)
    assert await answer_time(controller, content) < 0.3


@pytest.mark.broker
async def test_a_bandwidth_cap_makes_a_download_take_its_time(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    receiver.set_link(LinkShape(kbit_s=32))
    content = Content.make(size=8 * 1024, chunk_size=1024)
    body = await play(controller, content, at_s=6)
    took = await until(controller, body.occurrence, "armed")
    assert took >= 8 * 1024 * 8 / 32_000  # 2 s of chunks down a 32 kbit/s link
    await until(controller, body.occurrence, "played")


@pytest.mark.broker
async def test_lost_chunks_are_asked_for_again_and_the_bulletin_plays(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make(setup=lambda r: r.set_link(LinkShape(chunk_loss=0.3)))
    content = Content.make(size=20 * 1024, chunk_size=1024)
    body = await play(controller, content, at_s=4)
    await until(controller, body.occurrence, "played")
    assert receiver.counters.lost_chunks > 0
    assert receiver.counters.delivery.repairs > 0
    assert controller.states(body.occurrence).count("played") == 1


@pytest.mark.broker
async def test_a_slow_firmware_answers_each_command_late_one_at_a_time(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    receiver.set_slow_firmware(700)
    content = Content.make(size=2048)
    first = controller.signer.play(content, play_at=soon(30))
    second = controller.signer.play(content, play_at=soon(30))
    started = time.monotonic()
    for body in (first, second):
        await asyncio.to_thread(controller.send, VILLAGE, body, scope="grp")
    await until(controller, second.occurrence, "accepted")
    assert time.monotonic() - started >= 1.4  # the second waited for the first
    assert controller.states(first.occurrence)[0] == "accepted"
    receiver.set_slow_firmware(None)
    # what came meanwhile (the answers to its clock requests) waits its turn, then no more
    await eventually(lambda: receiver.in_flight == 0, 10, "the queue drained")
    assert await answer_time(controller, content) < 0.3


@pytest.mark.broker
async def test_a_full_flash_fails_new_content_until_freed_even_across_a_reboot(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    receiver.set_storage_full(True)
    content = Content.make(size=4096)
    body = await play(controller, content)
    failed = await asyncio.to_thread(controller.wait_state, body.occurrence, "failed")
    assert failed.reason == "storage_full"
    assert controller.states(body.occurrence) == ["accepted", "failed"]
    epoch = receiver.epoch
    receiver.reboot()
    await eventually(lambda: receiver.is_online and receiver.epoch != epoch, 5, "back")
    again = await play(controller, content)
    assert (await asyncio.to_thread(controller.wait_state, again.occurrence, "failed")).reason == (
        "storage_full"
    )
    receiver.set_storage_full(False)
    freed = await play(controller, content)
    await until(controller, freed.occurrence, "played")


@pytest.mark.broker
async def test_a_receiver_that_cannot_play_the_codec_rejects_the_play(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    receiver.set_codecs(("opus",))
    content = Content.make(size=2048)  # mp3
    body = await play(controller, content)
    rejected = await asyncio.to_thread(controller.wait_state, body.occurrence, "rejected")
    assert rejected.reason == "unsupported_codec"
    assert controller.states(body.occurrence) == ["rejected"]
    assert receiver.counters.delivery.rejected == {"unsupported_codec": 1}
    receiver.set_codecs(None)
    accepted = await play(controller, content)
    await until(controller, accepted.occurrence, "played")


@pytest.mark.broker
@pytest.mark.parametrize("by_s", [20.0, -20.0, 90.0, -400.0])
async def test_a_clock_step_the_firmware_sees_keeps_the_corrected_clock_right(
    make: Make, controller: BrokerController, by_s: float
) -> None:
    """`jump_clock`: the firmware sees its wall clock move against its monotonic clock, so
    the correction moves with it at once, and a round of requests confirms it."""
    receiver = await make(time_sync_interval_s=1.0)

    def error_s() -> float:
        agent = receiver.delivery
        assert agent is not None
        return (agent.clock.now() - datetime.now(UTC)).total_seconds()

    await eventually(lambda: abs(error_s()) < 0.1, 5, "in sync")
    agent = receiver.delivery
    assert agent is not None
    samples = agent.counters.time_samples
    receiver.jump_clock(by_s)
    assert abs(error_s()) < 0.1  # right at once: the step is known
    await eventually(lambda: agent.counters.time_samples > samples, 5, "a round after it")
    assert abs(error_s()) < 0.1
    assert agent.clock_offset_ms == pytest.approx(by_s * 1000, abs=100)


@pytest.mark.broker
@pytest.mark.parametrize("by_s", [20.0, 45.0, 90.0, -400.0])
async def test_a_clock_that_jumps_unnoticed_is_corrected_by_time_sync(
    make: Make, controller: BrokerController, by_s: float
) -> None:
    """An RTC that jumps behind the firmware's back. Beyond a time answer's lifetime (60 s
    from the controller, 30 s here) the answers would look expired by the very clock they
    come to correct; an answer to a request still awaited is taken whatever that clock
    says, so the receiver corrects within a couple of intervals."""
    receiver = await make(time_sync_interval_s=1.0)

    def error_s() -> float:
        agent = receiver.delivery
        assert agent is not None
        return (agent.clock.now() - datetime.now(UTC)).total_seconds()

    await eventually(lambda: abs(error_s()) < 0.1, 5, "in sync")
    receiver.sim_clock.jump(by_s)  # no notification: the firmware does not know
    assert error_s() == pytest.approx(by_s, abs=0.1)
    took = await eventually(lambda: abs(error_s()) < 0.1, 8, "in sync after the jump")
    assert took < 6  # the samples from before the jump age out after 2 intervals
