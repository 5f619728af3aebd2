"""Benchmark: the MQTT client libraries the controller could use, on one broker, in one run.

Issue 5 asks that the controller's MQTT client be chosen by measurement. Each client is
measured on a fresh private Mosquitto (Loa's generated config), in this process:

1. receive: a paho publisher in a child process sends 40,000 QoS 1 receipts (a real
   receipt's size) to `loa/v1/rx/<id>/receipt` as fast as the broker acks; the client
   under test, subscribed to `loa/v1/rx/+/receipt` at QoS 1, only counts them. Reported:
   this process's CPU time per message received (user + system, from getrusage over
   the window: the figure that decides how many receipts a controller can absorb) and
   the wall rate;
2. publish: the client sends 10,000 QoS 1 commands (400 bytes, one topic per receiver)
   all at once and the time until the broker has acked every one is reported. For
   `loa.mqtt` and aiomqtt each publish awaits its PUBACK; gmqtt's publish returns at
   once and its resend store is watched until empty; paho's are awaited with
   `wait_for_publish` (its loop thread).

The clients: `loa.mqtt.MqttClient` (what Loa uses), gmqtt, paho (loop thread) and
aiomqtt, each if installed (the dev extras install them all). gmqtt is the baseline
each figure is also shown against. Prints a table; no bound (it informs a choice).
About 1 minute. Run with `.venv/bin/python bench/mqtt_clients.py`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delivery_rig import start_broker

from loa.mqtt import MqttClient

RECEIVED = 40_000
PUBLISHED = 10_000
COMMAND = b"x" * 400
FILTER = "loa/v1/rx/+/receipt"
TIMEOUT_S = 120.0
RECEIPT = (
    b'{"v":1,"id":"cb-tl-01","epoch":7,"seq":3,"occurrence":"5f0c3a7be1d24c9a8e6b1f2d3c4b5a69",'
    b'"state":"armed","at":"2026-11-29T05:00:00.123Z"}'
)
#: The publisher child: one paho connection, every receipt at QoS 1, then waits for acks.
PUBLISHER = """
import sys
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
port, count, payload = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
client.max_inflight_messages_set(1000)
client.connect("127.0.0.1", port)
client.loop_start()
infos = [client.publish(f"loa/v1/rx/r{i % 2000}/receipt", payload, qos=1) for i in range(count)]
for info in infos:
    info.wait_for_publish(120)
client.loop_stop()
client.disconnect()
"""

Subscribe = Callable[[int, Callable[[], None]], Awaitable[Callable[[], Awaitable[None]]]]
Publish = Callable[[int], Awaitable[float]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- receiving ---------------------------------------------------------------------------------


async def own_subscriber(port: int, one: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    client = MqttClient("127.0.0.1", port, "bench-own", on_message=lambda _m: one())
    await client.connect()
    await client.subscribe((FILTER, 1))
    return client.disconnect


async def gmqtt_subscriber(port: int, one: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    import gmqtt  # noqa: PLC0415 - optional

    client = gmqtt.Client("bench-gmqtt")
    subscribed = asyncio.Event()

    def on_message(*_args: Any) -> int:
        one()
        return 0

    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    await client.connect("127.0.0.1", port, version=gmqtt.constants.MQTTv311)
    client.subscribe(FILTER, qos=1)
    await asyncio.wait_for(subscribed.wait(), 10)

    async def stop() -> None:
        await client.disconnect()

    return stop


async def paho_subscriber(port: int, one: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    import paho.mqtt.client as paho  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho")
    subscribed = threading.Event()
    client.on_message = lambda *_args: one()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(FILTER, qos=1)
    if not await asyncio.to_thread(subscribed.wait, 10):
        raise RuntimeError("paho did not subscribe within 10 s")

    async def stop() -> None:
        client.loop_stop()
        client.disconnect()

    return stop


async def aiomqtt_subscriber(port: int, one: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    import aiomqtt  # noqa: PLC0415 - optional

    client = aiomqtt.Client("127.0.0.1", port, identifier="bench-aiomqtt")
    await client.__aenter__()
    await client.subscribe(FILTER, qos=1)

    async def read() -> None:
        async for _message in client.messages:
            one()

    reader = asyncio.create_task(read())

    async def stop() -> None:
        reader.cancel()
        await client.__aexit__(None, None, None)

    return stop


async def receive(port: int, subscribe: Subscribe) -> tuple[float, float]:
    """(CPU us per message, messages per second) for one client."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    count = 0

    def one() -> None:
        nonlocal count
        count += 1
        if count == RECEIVED:
            loop.call_soon_threadsafe(done.set)

    stop = await subscribe(port, one)
    cpu, began = cpu_seconds(), time.monotonic()
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, str(port), str(RECEIVED), RECEIPT.decode()
    )
    try:
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        took, used = time.monotonic() - began, cpu_seconds() - cpu
    finally:
        await publisher.wait()
        await stop()
    return used / RECEIVED * 1e6, RECEIVED / took


# -- publishing --------------------------------------------------------------------------------


async def own_publish(port: int) -> float:
    client = MqttClient("127.0.0.1", port, "bench-own-pub", ack_timeout=TIMEOUT_S)
    await client.connect()
    began = time.monotonic()
    await asyncio.gather(
        *(client.publish(f"loa/v1/rx/r{i}/cmd", COMMAND, qos=1) for i in range(PUBLISHED))
    )
    took = time.monotonic() - began
    await client.disconnect()
    return took


async def gmqtt_publish(port: int) -> float:
    import gmqtt  # noqa: PLC0415

    client = gmqtt.Client("bench-gmqtt-pub")
    await client.connect("127.0.0.1", port, version=gmqtt.constants.MQTTv311)
    began = time.monotonic()
    for i in range(PUBLISHED):
        client.publish(f"loa/v1/rx/r{i}/cmd", COMMAND, qos=1)
    await client._persistent_storage.wait_empty()  # gmqtt's only sign that all were acked
    took = time.monotonic() - began
    await client.disconnect()
    return took


async def paho_publish(port: int) -> float:
    import paho.mqtt.client as paho  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho-pub")
    client.max_inflight_messages_set(PUBLISHED)
    client.connect("127.0.0.1", port)
    client.loop_start()

    def publish_all() -> float:
        began = time.monotonic()
        infos = [client.publish(f"loa/v1/rx/r{i}/cmd", COMMAND, qos=1) for i in range(PUBLISHED)]
        for info in infos:
            info.wait_for_publish(TIMEOUT_S)
        return time.monotonic() - began

    try:
        return await asyncio.to_thread(publish_all)
    finally:
        client.loop_stop()
        client.disconnect()


async def aiomqtt_publish(port: int) -> float:
    import aiomqtt  # noqa: PLC0415

    client = aiomqtt.Client("127.0.0.1", port, identifier="bench-aiomqtt-pub")
    client.pending_calls_threshold = PUBLISHED + 1
    async with client:
        began = time.monotonic()
        await asyncio.gather(
            *(
                client.publish(f"loa/v1/rx/r{i}/cmd", COMMAND, qos=1, timeout=TIMEOUT_S)
                for i in range(PUBLISHED)
            )
        )
        return time.monotonic() - began


CLIENTS: list[tuple[str, str | None, Subscribe, Publish]] = [
    ("loa.mqtt (Loa's)", None, own_subscriber, own_publish),
    ("gmqtt", "gmqtt", gmqtt_subscriber, gmqtt_publish),
    ("paho, loop thread", "paho", paho_subscriber, paho_publish),
    ("aiomqtt", "aiomqtt", aiomqtt_subscriber, aiomqtt_publish),
]


async def measure(folder: Path) -> list[tuple[str, float, float, float]]:
    rows = []
    for n, (name, module, subscribe, publish) in enumerate(CLIENTS):
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"{name}: not installed, skipped (`make venv` installs the dev extras)")
            continue
        broker, port = start_broker(folder / f"broker-{n}")
        try:
            cpu_us, rate = await receive(port, subscribe)
            took = await publish(port)
        finally:
            broker.terminate()
            broker.wait(10)
        print(f"{name}: {cpu_us:.1f} us CPU a message, {rate:,.0f}/s; publish {took:.2f} s")
        rows.append((name, cpu_us, rate, took))
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="loa-bench-clients-") as folder:
        rows = asyncio.run(measure(Path(folder)))
    base = next((r for r in rows if r[0] == "gmqtt"), None)
    print(
        f"\nreceive {RECEIVED:,} QoS 1 receipts; publish {PUBLISHED:,} QoS 1 commands "
        "until all acked; gmqtt = 1.00"
    )
    print(f"{'client':20} {'CPU/message':>12} {'x gmqtt':>8} {'rate':>10} {'publish':>9} {'x':>6}")
    for name, cpu_us, rate, took in rows:
        cpu_x = f"{cpu_us / base[1]:.2f}" if base else "-"
        pub_x = f"{took / base[3]:.2f}" if base else "-"
        print(f"{name:20} {cpu_us:9.1f} us {cpu_x:>8} {rate:8,.0f}/s {took:7.2f} s {pub_x:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
