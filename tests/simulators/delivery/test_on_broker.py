"""Simulated receivers against a private Mosquitto and a test-side controller: every state.

The controller here is `BrokerController` (paho, signing with its own key); the
receivers are real `SimReceiver`s with their own MQTT connections. Blocking waits
on the controller run in a thread, so the receivers keep running on the loop.
"""

from __future__ import annotations

import array
import asyncio
import dataclasses
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.protocol.signing import SigningKey
from simulators.config import ReceiverSpec, SimSettings
from simulators.receiver import SimReceiver
from tests.simulators.delivery.on_broker import BrokerController, broker_settings
from tests.simulators.delivery.support import Content
from tests.support.mosquitto import PrivateMosquitto
from tests.support.watching import eventually

pytestmark = pytest.mark.broker

VILLAGE = "ban-na-vuong"
Make = Callable[..., Awaitable[SimReceiver]]


@pytest.fixture
def settings(
    mosquitto: PrivateMosquitto, topic_prefix: str, controller: BrokerController, tmp_path: Path
) -> SimSettings:
    return broker_settings(mosquitto, topic_prefix, controller, tmp_path / "flash")


@pytest.fixture
async def make(settings: SimSettings, controller: BrokerController) -> AsyncIterator[Make]:
    """Start a receiver, assign it to the village, wait until it listens there."""
    made: list[SimReceiver] = []

    async def start(
        receiver_id: str = "cb-tl-01", offset_s: float = 0.0, wav_dir: Path | None = None
    ) -> SimReceiver:
        spec = ReceiverSpec(receiver_id, heartbeat_s=60, clock_offset_s=offset_s)
        receiver = SimReceiver(spec, dataclasses.replace(settings, wav_dir=wav_dir))
        made.append(receiver)
        receiver.start()
        await eventually(lambda: receiver.is_online, 5, f"{receiver_id} online")
        await asyncio.to_thread(controller.send, receiver_id, controller.signer.assign(VILLAGE))
        await asyncio.to_thread(controller.wait_birth, receiver_id, (VILLAGE,))
        return receiver

    yield start
    for receiver in made:
        await receiver.stop(timeout=3)


async def wait(controller: BrokerController, occurrence: str | None, state: str) -> None:
    await asyncio.to_thread(controller.wait_state, occurrence, state)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_a_bulletin_is_delivered_played_with_proof_then_played_from_cache(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    content = Content.make(size=20 * 1024, chunk_size=1024, duration_ms=400)
    play = controller.signer.play(content, play_at=soon(1.5))
    await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content)
    await wait(controller, play.occurrence, "played")
    states = controller.states(play.occurrence)
    assert states[:2] == ["accepted", "downloading"]
    assert states[-3:] == ["armed", "playing", "played"]
    played = controller.receipts_of(play.occurrence)[-1]
    proof = played.proof
    assert proof is not None
    assert play.play_at is not None
    assert abs((proof.started_at - play.play_at).total_seconds()) < 0.1
    assert (proof.content, proof.played_ms, proof.level_db) == (content.id, 400, None)
    seqs = [r.seq for r in controller.receipts if r.id == receiver.id]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    # the same audio again: no download
    again = controller.signer.play(content, play_at=soon(0.5))
    await asyncio.to_thread(controller.send, VILLAGE, again, scope="grp")
    await wait(controller, again.occurrence, "played")
    assert controller.states(again.occurrence) == ["accepted", "armed", "playing", "played"]


async def test_a_dropped_chunk_is_asked_for_and_repaired(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    content = Content.make(size=8 * 1024, chunk_size=1024, duration_ms=200)
    play = controller.signer.play(content, play_at=soon(3))
    await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content, [0, 1, 2, 4, 5, 6, 7])
    await wait(controller, play.occurrence, "armed")
    assert [r.chunks for r in controller.repairs] == [(3,)]
    assert receiver.counters.delivery.repairs == 1
    await wait(controller, play.occurrence, "played")


async def test_forged_expired_replayed_and_malformed_commands_are_rejected(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    content = Content.make()
    forged = controller.signer.play(content, play_at=soon(5))
    forged_id = await asyncio.to_thread(
        controller.send, receiver.id, forged, key=SigningKey.generate()
    )
    stale = controller.signer.play(content, play_at=soon(5))
    stale_id = await asyncio.to_thread(
        controller.send, receiver.id, stale, issued=soon(-3600), lifetime=60
    )
    genuine = controller.signer.play(content, play_at=soon(30))
    topic, payload = controller.signer.command(receiver.id, genuine)
    await asyncio.to_thread(controller.publish_raw, topic, payload)
    await wait(controller, genuine.occurrence, "downloading")
    await asyncio.to_thread(controller.publish_raw, topic, payload)  # the replay
    await asyncio.to_thread(controller.publish_raw, topic, b'{"v":1,"type":"play"')
    await eventually(lambda: len(controller.receipts_of(None)) == 1, 5, "the malformed one refused")
    reasons = {
        (r.command, r.reason)
        for r in controller.receipts
        if r.state == "rejected" and r.occurrence is not None
    }
    assert (forged_id, "bad_signature") in reasons
    assert (stale_id, "expired") in reasons
    assert (controller.receipts_of(genuine.occurrence)[0].command, "replayed") in reasons
    assert receiver.counters.delivery.rejected == {
        "bad_signature": 1,
        "expired": 1,
        "replayed": 1,
        "malformed": 1,
    }
    assert controller.states(forged.occurrence) == ["rejected"]
    # the replay is refused (naming the occurrence); the occurrence itself goes on
    assert controller.states(genuine.occurrence) == ["accepted", "downloading", "rejected"]
    assert receiver.delivery is not None
    assert receiver.delivery.state_of(genuine.occurrence) == "downloading"


async def test_cancel_before_and_during_play(make: Make, controller: BrokerController) -> None:
    await make()
    content = Content.make(duration_ms=30_000)
    later = controller.signer.play(content, play_at=soon(60))
    now = controller.signer.play(content, play_at=soon(0.5))
    for play in (later, now):
        await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content)
    await wait(controller, later.occurrence, "armed")
    await asyncio.to_thread(
        controller.send, VILLAGE, controller.signer.cancel(later.occurrence), scope="grp"
    )
    await wait(controller, later.occurrence, "cancelled")
    await wait(controller, now.occurrence, "playing")
    await asyncio.to_thread(
        controller.send, VILLAGE, controller.signer.cancel(now.occurrence), scope="grp"
    )
    await wait(controller, now.occurrence, "cancelled")
    assert controller.states(later.occurrence)[-2:] == ["armed", "cancelled"]
    assert controller.states(now.occurrence)[-2:] == ["playing", "cancelled"]


async def test_an_emergency_pre_empts_a_normal_bulletin(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    normal = Content.make(duration_ms=30_000)
    first = controller.signer.play(normal, play_at=soon(0.3))
    await asyncio.to_thread(controller.send, VILLAGE, first, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, normal)
    await wait(controller, first.occurrence, "playing")
    alarm = Content.make(size=12 * 1024, chunk_size=1024, duration_ms=300)
    emergency = controller.signer.play(alarm, play_at=None, priority="emergency")
    await asyncio.to_thread(controller.send, VILLAGE, emergency, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, alarm)
    await wait(controller, emergency.occurrence, "played")
    preempted = controller.receipts_of(first.occurrence)[-1]
    assert (preempted.state, preempted.by) == ("preempted", emergency.occurrence)
    assert "armed" not in controller.states(emergency.occurrence)  # it streamed in
    assert receiver.delivery is not None
    assert [h.state for h in receiver.delivery.heard] == ["preempted", "played"]


async def test_a_reboot_mid_download_resumes_and_plays_once(
    make: Make, controller: BrokerController
) -> None:
    receiver = await make()
    content = Content.make(size=16 * 1024, chunk_size=1024, duration_ms=300)
    play = controller.signer.play(content, play_at=soon(4))
    controller.withheld = {(content.id, i) for i in range(8, 16)}  # the link fails halfway
    await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content, range(8))
    await eventually(
        lambda: (
            receiver.delivery is not None
            and (a := receiver.delivery.downloads.get(content.id)) is not None
            and a.have == 8
        ),
        5,
        "half the chunks in",
    )
    epoch = receiver.epoch
    controller.withheld = set()
    receiver.reboot()
    await eventually(lambda: receiver.epoch != epoch and receiver.is_online, 5, "back online")
    await wait(controller, play.occurrence, "played")
    assert controller.repairs[-1].chunks == tuple(range(8, 16))  # all it lacked, at once
    assert controller.states(play.occurrence).count("played") == 1
    assert receiver.delivery is not None
    assert [h.occurrence for h in receiver.delivery.heard] == [play.occurrence]


async def test_receivers_two_seconds_apart_start_together_after_time_sync(
    make: Make, controller: BrokerController
) -> None:
    ahead = await make("cb-tl-01", offset_s=+1.0)
    behind = await make("cb-tl-02", offset_s=-1.0)
    await eventually(
        lambda: all(r.delivery is not None and r.delivery.sync.synced for r in (ahead, behind)),
        5,
        "both clocks corrected",
    )
    content = Content.make(duration_ms=300)
    play = controller.signer.play(content, play_at=soon(1.5))
    await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
    await asyncio.to_thread(controller.send_chunks, VILLAGE, content)
    for receiver in (ahead, behind):
        await asyncio.to_thread(controller.wait_state, play.occurrence, "played", 10.0, receiver.id)
    starts = []
    for receiver in (ahead, behind):
        assert receiver.delivery is not None
        (heard,) = receiver.delivery.heard
        starts.append(heard.true_start)
    assert play.play_at is not None
    spread = abs((starts[0] - starts[1]).total_seconds())
    assert spread < 0.05, f"started {spread * 1000:.1f} ms apart"
    assert all(abs((s - play.play_at).total_seconds()) < 0.05 for s in starts)
    offsets = {
        r.id: r.proof.clock_offset_ms
        for r in controller.receipts
        if r.state == "played" and r.proof is not None
    }
    assert abs(offsets["cb-tl-01"] - 1000) < 20
    assert abs(offsets["cb-tl-02"] + 1000) < 20


async def test_what_was_played_is_written_as_a_wav(
    make: Make, controller: BrokerController, tmp_path: Path
) -> None:
    receiver = await make(wav_dir=tmp_path / "wavs")
    content = Content.mp3(tmp_path, seconds=0.5)
    peaks: list[int] = []
    for volume in (None, 50):  # the receiver's own level, then the command's 50 %
        play = controller.signer.play(content, play_at=soon(0.3), volume=volume)
        await asyncio.to_thread(controller.send, VILLAGE, play, scope="grp")
        if volume is None:
            await asyncio.to_thread(controller.send_chunks, VILLAGE, content)
        await wait(controller, play.occurrence, "played")
        out = tmp_path / "wavs" / f"{receiver.id}-{play.occurrence}.wav"
        await eventually(out.exists, 10, "the WAV written")
        with wave.open(str(out)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
            samples = array.array("h", wav.readframes(wav.getnframes()))
        assert 0.4 < seconds < 0.7
        peaks.append(max(abs(s) for s in samples))
    assert peaks[1] / peaks[0] == pytest.approx(0.5, abs=0.02)
