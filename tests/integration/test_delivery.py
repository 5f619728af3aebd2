"""The controller's delivery end to end: a real broker, the controller, scripted receivers.

Each test drives receivers by hand (`delivery_support.ScriptedReceiver`) so that every
state, every resend and every anomaly can be produced on purpose.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from audio.ffmpeg import find_tools
from controller.delivery.status import Report, cancel_occurrence, occurrence_report
from controller.store.deliveries import list_delivery_events
from controller.store.registry import import_registry
from devices.delivery import is_terminal
from devices.registry import parse_registry
from tests.integration.delivery_support import (
    MEMBERSHIPS,
    REGISTRY,
    World,
    now,
    until,
    world_running,
)
from tests.support.mosquitto import PrivateMosquitto

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-second phone-like recording, 48 KB or so once prepared: two chunks."""
    path = tmp_path_factory.mktemp("audio") / "thông báo.wav"
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=6:sample_rate=22050",
         "-af", "volume=-18dB", str(path)],
        check=True, timeout=30,
    )  # fmt: skip
    return path


async def report(world: World, occurrence: str) -> Report:
    return await occurrence_report(world.store, occurrence)


async def states(world: World, occurrence: str) -> dict[str, str]:
    found = await report(world, occurrence)
    return {d.receiver: d.state for d in found.deliveries}


async def test_a_village_gets_one_command_and_the_audio_once_then_proof_of_play(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        village = [world.receiver(rx) for rx in ("rx-a1", "rx-a2", "rx-a3")]
        other = world.receiver("rx-b1")
        await world.until_online(*(r.id for r in village))
        delivery = world.controller.delivery
        assert delivery is not None
        chunks_before = delivery.send.chunks

        sent = await world.send(recording, "ban-a", play_at=now() + timedelta(seconds=30))
        occurrence = sent.occurrence.id
        await until("every receiver of the village has the play command",
                    lambda: all(r.plays() for r in village))  # fmt: skip
        play = village[0].plays()[0]
        ref = play.content_for("tay")
        assert ref is not None
        assert ref.content == sent.content_id
        await until("every chunk arrived and verifies",
                    lambda: all(r.verified_chunks(play, "tay") == ref.chunk_count
                                for r in village))  # fmt: skip
        # One group publish: the command and each chunk went out once, not three times.
        assert delivery.send.chunks - chunks_before == ref.chunk_count
        assert all("/grp/ban-a/chunk/" in topic for topic in village[0].chunk_topics)
        assert other.plays() == [], "a receiver of another village is not sent it"
        await until_states(world, occurrence, dict.fromkeys(("rx-a1", "rx-a2", "rx-a3"), "offered"))
        for receiver in village:
            receiver.play_through(play, ref.content)
        await until_states(world, occurrence, {"rx-a1": "played", "rx-a2": "played",
                                               "rx-a3": "played"})  # fmt: skip
        found = await report(world, occurrence)
        assert set(found.proofs) == {"rx-a1", "rx-a2", "rx-a3"}
        assert found.proofs["rx-a1"].content == ref.content
        assert found.proofs["rx-a1"].played_ms == 3000
        await until_occurrence(world, occurrence, "done")


async def until_states(world: World, occurrence: str, wanted: dict[str, str]) -> None:
    last: dict[str, str] = {}
    for _ in range(300):
        last = await states(world, occurrence)
        if all(last.get(k) == v for k, v in wanted.items()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"states {last}, wanted {wanted}")


async def until_occurrence(world: World, occurrence: str, state: str) -> None:
    for _ in range(200):
        if (await report(world, occurrence)).occurrence.state == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"occurrence {occurrence} never became {state}")


async def test_receipts_never_move_a_delivery_backwards_and_anomalies_are_kept(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        rx = world.receiver("rx-b1")
        await world.until_online("rx-b1")
        sent = await world.send(recording, "rx-b1", play_at=now() + timedelta(seconds=30))
        occurrence = sent.occurrence.id
        await until("play command", lambda: bool(rx.plays()))
        rx.receipt(occurrence, "accepted")
        armed = rx.receipt(occurrence, "armed")
        rx.send(armed.encode())  # a QoS 1 duplicate
        rx.receipt(occurrence, "downloading", have=1)  # late: armed is further on
        rx.receipt("f" * 32, "accepted")  # an occurrence that does not exist
        rx.receipt(None, "rejected", command="e" * 32, reason="bad_signature")
        rx.send(b"{not json", "receipt")
        await until_states(world, occurrence, {"rx-b1": "armed"})
        # A receiver that is not targeted reports on this occurrence.
        stranger = world.receiver("rx-a1")
        stranger.receipt(occurrence, "accepted")
        delivery = world.controller.delivery
        assert delivery is not None
        await until("all receipts judged", lambda: delivery.judge.applied >= 2
                    and delivery.counters.rejected_input >= 1)  # fmt: skip
        wanted = {
            ("rx-b1", "accepted", "applied"),
            ("rx-b1", "armed", "applied"),
            ("rx-b1", "armed", "duplicate"),
            ("rx-b1", "downloading", "stale"),
            ("rx-a1", "accepted", "not_targeted"),
        }
        outcomes: set[tuple[str, str, str]] = set()
        for _ in range(100):  # written at the next flush (every 0.2 s)
            async with world.store.read() as session:
                events = await list_delivery_events(session, occurrence)
            outcomes = {
                (e.receiver_id, e.state, e.outcome) for e in events if e.source == "receiver"
            }
            if wanted <= outcomes:
                break
            await asyncio.sleep(0.05)
        assert wanted <= outcomes, outcomes
        assert (await states(world, occurrence))["rx-b1"] == "armed"
        assert delivery.judge.anomalies >= 3


async def test_a_receiver_offline_at_dispatch_gets_it_when_it_comes_back(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        sent = await world.send(recording, "rx-b1", play_at=now() + timedelta(seconds=30))
        occurrence = sent.occurrence.id
        await until_states(world, occurrence, {"rx-b1": "queued"})
        rx = world.receiver("rx-b1")  # powers on: its birth brings the command
        await until("play command after the birth", lambda: bool(rx.plays()))
        assert "assign" not in rx.types(), "its groups were already right"
        await until_states(world, occurrence, {"rx-b1": "offered"})
        play = rx.plays()[0]
        ref = play.content_for("vi")
        assert ref is not None
        assert rx.verified_chunks(play, "vi") == 0, "no chunks pushed to one receiver"
        rx.receipt(occurrence, "accepted")
        rx.send(
            b'{"v":1,"id":"rx-b1","content":"%s","chunks":[%s]}'
            % (ref.content.encode(), ",".join(str(i) for i in range(ref.chunk_count)).encode()),
            "repair",
        )
        await until("repaired chunks", lambda: rx.verified_chunks(play, "vi") == ref.chunk_count)
        assert all(f"/rx/rx-b1/chunk/{ref.content}/" in t for t in rx.chunk_topics)


async def test_a_receiver_without_groups_is_assigned_and_addressed_alone(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        fresh = world.receiver("rx-a1", groups=False)
        others = [world.receiver(rx) for rx in ("rx-a2", "rx-a3")]
        await until("assign", lambda: "assign" in fresh.types())
        assign = next(c.body for c in fresh.commands if c.type == "assign")
        assert sorted(assign.groups) == ["ban-a", "tinh", "xa"]  # type: ignore[union-attr]
        assert assign.language == "tay"  # type: ignore[union-attr]
        await world.until_online("rx-a1", "rx-a2", "rx-a3")
        await world.send(recording, "ban-a", play_at=now() + timedelta(seconds=30))
        await until(
            "everyone has the play", lambda: bool(fresh.plays()) and all(o.plays() for o in others)
        )
        # The village is not used as a group while rx-a1 does not listen on it.
        assert fresh.commands[-1].to == "rx:rx-a1"
        assert others[0].commands[-1].to == "rx:rx-a2"


async def test_cancel_before_play_reaches_who_has_it_and_ends_who_does_not(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        online = world.receiver("rx-a1", groups=False)
        await world.until_online("rx-a1")
        sent = await world.send(recording, "rx-a1,rx-b1", play_at=now() + timedelta(seconds=60))
        occurrence = sent.occurrence.id
        await until("play", lambda: bool(online.plays()))
        online.receipt(occurrence, "accepted")
        await until_states(world, occurrence, {"rx-a1": "accepted", "rx-b1": "queued"})
        await cancel_occurrence(world.store, occurrence[:8], now())
        await until("cancel command", lambda: "cancel" in online.types())
        await until_states(world, occurrence, {"rx-b1": "cancelled"})
        online.receipt(occurrence, "cancelled")
        await until_states(world, occurrence, {"rx-a1": "cancelled"})
        found = await report(world, occurrence)
        assert all(is_terminal(d.state) for d in found.deliveries)


async def test_clock_requests_are_answered_with_a_signed_time(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        rx = world.receiver("rx-b1")
        sent_at = now()
        rx.send(
            b'{"v":1,"id":"rx-b1","request":7,"sent":"%s"}'
            % sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z").encode(),
            "time",
        )
        await until("time answer", lambda: "time" in rx.types())
        answer = next(c.body for c in rx.commands if c.type == "time")
        assert answer.request == 7  # type: ignore[union-attr]
        assert abs((answer.received - sent_at).total_seconds()) < 2  # type: ignore[union-attr]


async def test_only_the_refusal_of_the_last_command_sent_ends_a_delivery(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        rx = world.receiver("rx-b1")
        await world.until_online("rx-b1")
        sent = await world.send(recording, "rx-b1", play_at=now() + timedelta(seconds=30))
        occurrence = sent.occurrence.id
        await until("play command", lambda: bool(rx.plays()))
        command = rx.commands[-1].id
        # A refused QoS 1 copy, and a refused command we never sent: recorded, not applied.
        rx.receipt(occurrence, "rejected", command=command, reason="replayed")
        rx.receipt(occurrence, "rejected", command="d" * 32, reason="bad_signature")
        rx.receipt(occurrence, "accepted")
        await until_states(world, occurrence, {"rx-b1": "accepted"})
        # The refusal of the command we did send ends it (say, a wrong key provisioned).
        rx.receipt(occurrence, "rejected", command=command, reason="bad_signature")
        await until_states(world, occurrence, {"rx-b1": "rejected"})
        found = await report(world, occurrence)
        assert found.deliveries[0].reason == "bad_signature"


async def test_a_receiver_registered_while_the_controller_runs_is_served_at_once(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with world_running(tmp_path, topic_prefix, mosquitto) as world:
        newcomer = parse_registry(
            REGISTRY.replace("  - {id: rx-b1, name: Loa B1, village: ban-b}",
                             "  - {id: rx-b1, name: Loa B1, village: ban-b}\n"
                             "  - {id: rx-b2, name: Loa B2, village: ban-b}"),
            "test registry", "yaml",
        )  # fmt: skip
        MEMBERSHIPS["rx-b2"] = ("ban-b", "tinh", "xa")
        try:
            await import_registry(
                world.store, newcomer.groups, newcomer.receivers, dry_run=False, at=now()
            )
            rx = world.receiver("rx-b2", groups=False)  # announces itself at once
            ingest = world.controller.ingest
            assert ingest is not None
            # Well before the 10 s registry refresh: the birth itself made it look.
            await until("tracked and online", lambda: ingest.is_online("rx-b2"), timeout=5)
            await until("assigned its groups", lambda: "assign" in rx.types(), timeout=5)
        finally:
            del MEMBERSHIPS["rx-b2"]
