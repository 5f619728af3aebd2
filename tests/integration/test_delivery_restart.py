"""`loa serve` killed with SIGKILL mid-delivery: the next one carries on from the store.

Nothing done is undone (deliveries keep their states, no second occurrence or delivery
appears), nothing pending is forgotten (receivers that had not yet played are sent
their command again when they re-announce), and receipts sent while the controller was
dead are applied after the restart (the broker keeps them in its persistent session).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from controller.audio.settings import build_library
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.delivery.status import occurrence_report
from controller.keys import read_public_key
from controller.store import Store
from controller.store.registry import import_registry
from devices.protocol import Topics
from devices.registry import parse_registry
from loa.clock import SystemClock
from tests.integration.delivery_support import (
    MEMBERSHIPS,
    REGISTRY,
    ScriptedReceiver,
    delivery_config,
    now,
    until,
)
from tests.integration.test_delivery import recording  # noqa: F401 - the fixture
from tests.support.controller import ServeProcess
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def states(store: Store, occurrence: str) -> dict[str, str]:
    report = await occurrence_report(store, occurrence)
    return {d.receiver: d.state for d in report.deliveries}


async def until_states(
    store: Store, occurrence: str, wanted: dict[str, str], timeout: float = 20
) -> None:
    last: dict[str, str] = {}
    for _ in range(int(timeout / 0.1)):
        last = await states(store, occurrence)
        if all(last.get(k) == v for k, v in wanted.items()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"states {last}, wanted {wanted}")


async def test_a_controller_killed_mid_delivery_resumes_without_repeating_anything(
    tmp_path: Path,
    topic_prefix: str,
    mosquitto: PrivateMosquitto,
    recording: Path,  # noqa: F811
) -> None:
    config = delivery_config(tmp_path, topic_prefix, mosquitto.port)
    config_path = tmp_path / "config.yaml"
    registry = parse_registry(REGISTRY, "test registry", "yaml")
    topics = Topics(topic_prefix)
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
        serve = ServeProcess(config_path)
        receivers: list[ScriptedReceiver] = []
        try:
            # Receivers that announce themselves after the controller is up are heard live.
            first_serve = serve
            await until("the controller online", lambda: "presence online" in first_serve.log())
            key = read_public_key(config.data_dir)
            for receiver_id in ("rx-a1", "rx-a2", "rx-a3"):
                client = PahoClient(mosquitto.host, mosquitto.port, client_id=receiver_id)
                scripted = ScriptedReceiver(receiver_id, topics, key, client)
                await asyncio.to_thread(scripted.start, MEMBERSHIPS[receiver_id])
                receivers.append(scripted)
            library = build_library(config, store)
            request = SendRequest(
                audio=Audio(file=recording), language="vi", targets="ban-a",
                play_at=now() + timedelta(seconds=60), created_by="test",
            )  # fmt: skip
            sent = await send_bulletin(store, library, config, request, SystemClock())
            occurrence = sent.occurrence.id
            await until("every receiver has the play command",
                        lambda: all(r.plays() for r in receivers), timeout=20)  # fmt: skip
            await until_states(
                store, occurrence, dict.fromkeys(MEMBERSHIPS.keys() - {"rx-b1"}, "offered")
            )
            first, second, _ = receivers
            await asyncio.to_thread(first.receipt, occurrence, "accepted")
            await asyncio.to_thread(first.receipt, occurrence, "armed")
            await until_states(store, occurrence, {"rx-a1": "armed"})

            serve.signal(signal.SIGKILL)
            serve.wait(10)
            serve.stop()  # closes its log
            # While it is dead: rx-a2 arms (the broker keeps the receipt for the controller).
            await asyncio.to_thread(second.receipt, occurrence, "accepted")
            await asyncio.to_thread(second.receipt, occurrence, "armed")
            plays_before = [len(r.plays()) for r in receivers]

            serve = ServeProcess(config_path)
            await until_states(
                store, occurrence, {"rx-a1": "armed", "rx-a2": "armed", "rx-a3": "offered"}
            )
            # Receivers re-announce when the controller is back; the ones not playing yet
            # are sent the same occurrence again (a receiver that has it answers with its state).
            second_serve = serve
            await until("back online", lambda: "presence online" in second_serve.log(), 20)
            for scripted in receivers:
                await asyncio.to_thread(scripted.announce, MEMBERSHIPS[scripted.id])
            pairs = list(zip(receivers, plays_before, strict=True))
            await until("the command again", lambda: all(len(r.plays()) > n for r, n in pairs), 20)
            assert {p.occurrence for r in receivers for p in r.plays()} == {occurrence}
            for scripted in receivers:
                await asyncio.to_thread(
                    scripted.play_through, scripted.plays()[-1], sent.content_id
                )
            await until_states(
                store, occurrence, dict.fromkeys(("rx-a1", "rx-a2", "rx-a3"), "played")
            )
            report = await occurrence_report(store, occurrence)
            assert len(report.deliveries) == 3
            assert set(report.proofs) == {"rx-a1", "rx-a2", "rx-a3"}
        finally:
            serve.stop()
            for scripted in receivers:
                scripted.client.close()
