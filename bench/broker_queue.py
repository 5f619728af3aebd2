"""Benchmark: a burst of 10,000 QoS 1 messages to a persistent session that is away.

This is the receipts burst of a whole commune answering at once while the controller
restarts. Three runs, each on a private Mosquitto:

- baseline: the same 10,000 QoS 1 messages to a subscriber that is online (raw broker
  throughput with a minimal paho client, no queueing);
- Loa: the session is offline while the burst is published, then comes back and drains
  its queue, on the config the embedded broker generates;
- Mosquitto defaults: the same with max_queued_messages 1000 / max_inflight_messages 20.

Prints messages delivered and messages per second for each, and the ratio to the baseline.
Run with `make bench` or `.venv/bin/python bench/broker_queue.py`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.broker import settings_from_config
from controller.config.model import BrokerConfig
from tests.support.mosquitto import PrivateMosquitto, free_port
from tests.support.paho_client import PahoClient

BURST = 10_000
ROUNDS = 3
END = b"end"
QUIET = 2.0


def online(host: str, port: int) -> tuple[int, float]:
    topic = f"bench/{uuid.uuid4().hex[:8]}"
    with PahoClient(host, port) as receiver, PahoClient(host, port) as sender:
        receiver.connect()
        receiver.subscribe(topic)
        sender.connect()
        started = time.perf_counter()
        sender.publish(topic, (b"r-%05d" % i for i in range(BURST)), timeout=60)
        receiver.wait_for(lambda: len(receiver.messages) >= BURST, 60, "burst not delivered")
        return len(set(receiver.payloads())), time.perf_counter() - started


def offline(host: str, port: int) -> tuple[int, float]:
    topic = f"bench/{uuid.uuid4().hex[:8]}"
    session = f"bench-{uuid.uuid4().hex[:8]}"
    with PahoClient(host, port, client_id=session, clean_session=False) as receiver:
        receiver.connect()
        receiver.subscribe(topic)
    started = time.perf_counter()
    with PahoClient(host, port) as sender:
        sender.connect()
        sender.publish(topic, (b"r-%05d" % i for i in range(BURST)), timeout=60)
        sender.publish(topic, [END])
    with PahoClient(host, port, client_id=session, clean_session=False) as receiver:
        receiver.connect()
        # The end marker arrives last, unless the broker dropped it with the rest: then
        # the delivery ends when nothing more comes for QUIET seconds.
        count, last_change = 0, time.perf_counter()
        while not (receiver.messages and receiver.messages[-1].payload == END):
            if len(receiver.messages) != count:
                count, last_change = len(receiver.messages), time.perf_counter()
            elif time.perf_counter() - last_change > QUIET:
                break
            time.sleep(0.01)
        ended = bool(receiver.messages) and receiver.messages[-1].payload == END
        finished = time.perf_counter() if ended else last_change
        return len(set(receiver.payloads()) - {END}), finished - started


def measure(broker: PrivateMosquitto, run: object) -> tuple[int, float]:
    results = [run(broker.host, broker.port) for _ in range(ROUNDS)]  # type: ignore[operator]
    delivered = min(r[0] for r in results)
    seconds = statistics.median(r[1] for r in results)
    return delivered, seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours = settings_from_config(BrokerConfig(port=free_port()), Path(tmp) / "loa")
        defaults = replace(
            ours,
            port=free_port(),
            max_queued_messages=1000,
            max_inflight_messages=20,
            data_dir=Path(tmp) / "defaults",
        )
        defaults.data_dir.mkdir()
        rows = []
        for name, settings, run in (
            ("baseline: online subscriber", ours, online),
            ("Loa config: offline session", ours, offline),
            ("Mosquitto defaults: offline", defaults, offline),
        ):
            broker = PrivateMosquitto(settings)
            broker.start()
            try:
                rows.append((name, *measure(broker, run)))
            finally:
                broker.stop()
    base_rate = BURST / rows[0][2]
    print(f"{BURST:,} QoS 1 messages, median of {ROUNDS} rounds")
    print(f"{'run':32} {'delivered':>10} {'seconds':>8} {'msg/s':>8} {'vs baseline':>12}")
    for name, delivered, seconds in rows:
        rate = delivered / seconds
        print(
            f"{name:32} {delivered:>10,} {seconds:>8.2f} {rate:>8,.0f} {rate / base_rate:>11.2f}x"
        )


if __name__ == "__main__":
    main()
