"""A burst of 10,000 QoS 1 messages reaches a persistent session that was offline."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from controller.broker import EmbeddedBroker, settings_from_config
from controller.config.model import BrokerConfig
from tests.support.mosquitto import PrivateMosquitto, free_port
from tests.support.paho_client import PahoClient

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BURST = 10_000
END = b"end"


def offline_burst(host: str, port: int, topic: str) -> set[bytes]:
    """Distinct payloads a returning QoS 1 session gets of a burst sent while it was away."""
    session = f"burst-{uuid.uuid4().hex[:8]}"
    with PahoClient(host, port, client_id=session, clean_session=False) as receiver:
        receiver.connect()
        receiver.subscribe(topic, qos=1)
    with PahoClient(host, port) as sender:
        sender.connect()
        sender.publish(topic, (b"receipt-%05d" % i for i in range(BURST)), timeout=30)
    with PahoClient(host, port, client_id=session, clean_session=False) as receiver:
        receiver.connect()
        assert receiver.session_present
        with PahoClient(host, port) as sender:
            sender.connect()
            sender.publish(topic, [END])  # queued after the burst, so it arrives last
        receiver.wait_for(lambda: bool(receiver.messages) and receiver.messages[-1].payload == END,
                          30, "the end marker did not arrive")  # fmt: skip
        return set(receiver.payloads()) - {END}


async def test_embedded_broker_delivers_a_10k_burst_to_a_returning_session(
    tmp_path: Path, topic_prefix: str
) -> None:
    broker = EmbeddedBroker(BrokerConfig(port=free_port()), tmp_path)
    await broker.start()
    try:
        started = time.monotonic()
        received = await asyncio.to_thread(
            offline_burst, broker.host, broker.port, f"{topic_prefix}/receipts"
        )
        print(f"10,000 burst round trip: {time.monotonic() - started:.2f} s")
    finally:
        await broker.stop()
    assert len(received) == BURST


def test_mosquitto_defaults_would_lose_most_of_the_burst(tmp_path: Path, topic_prefix: str) -> None:
    """The control: the burst test fails on Mosquitto's default limits."""
    ours = settings_from_config(BrokerConfig(port=free_port()), tmp_path)
    broker = PrivateMosquitto(replace(ours, max_queued_messages=1000, max_inflight_messages=20))
    broker.start()
    try:
        received = offline_burst(broker.host, broker.port, f"{topic_prefix}/receipts")
    finally:
        broker.stop()
    assert len(received) < BURST // 5  # 1,000 here: max_queued_messages, nothing logged
