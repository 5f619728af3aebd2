"""Benchmark: receipts per second the controller absorbs and persists, against bare gmqtt.

Issue 5's bound: the controller ingests receipts at at least 50% of the rate a minimal
gmqtt subscriber absorbs on the same broker in the same run, and every receipt is
persisted (one `delivery_events` row each).

One run, on a private Mosquitto with Loa's generated config:

1. the real controller (`controller.app.Controller`) runs in this process with its own
   store; the registry holds `RECEIVERS` receivers and `OCCURRENCES` bulletins are sent
   to `all` and dispatched, so every receipt is judged against a real delivery;
2. a child process (this file, `--publish`) opens one `loa.mqtt.MqttClient`
   connection per receiver and, all at once, each sends its receivers' receipts at
   QoS 1 as fast as PUBACKs come back: for each occurrence `accepted`, `downloading`,
   `armed`, `playing`, `played` (with proof), seq counting up, so every one moves a
   delivery forward and is applied;
3. baseline: the same receipts under another topic prefix, counted by a minimal gmqtt
   subscriber (paho with its loop thread if gmqtt is not installed; said in the output);
4. Loa: the same receipts under the controller's prefix; absorbed = applied by the
   delivery judge (`delivery.judge.applied`) AND its event row in `delivery_events`.

Both rates are receipts / (time the last one was absorbed - time the publishers began);
the CPU time of this process per receipt in each phase is printed too (the capacity).
Prints both, the ratio and PASS/FAIL; exits 1 on FAIL. `PROFILE=1`: cProfile of the
controller's process during the Loa phase, on stderr. About a minute.
Run with `.venv/bin/python bench/receipt_ingest.py`.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from delivery_rig import (
    controller_running,
    make_recording,
    raise_open_files,
    run_in_temp,
    start_broker,
    write_config,
)

from controller.audio.settings import build_library
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.store import Store
from controller.store.registry import import_registry
from controller.store.schema import delivery_events
from devices.protocol import Topics
from devices.protocol.receipts import DeliveryState, Proof, Receipt
from loa.clock import SystemClock
from loa.mqtt import MqttClient
from simulators.commune import generate_commune

RECEIVERS = 2_000
VILLAGES = 20
OCCURRENCES = 4
STATES: tuple[DeliveryState, ...] = ("accepted", "downloading", "armed", "playing", "played")
TOTAL = RECEIVERS * OCCURRENCES * len(STATES)  # 40,000
SEED = "bench-receipts"
PREFIX = "bench"
RAW_PREFIX = "rawbench"
EPOCH = 7
CONNECT_SLOTS = 100
BOUND = 0.5
TIMEOUT_S = 120.0
POLL_S = 0.02
PROFILE = bool(os.environ.get("PROFILE"))
CONTROLLER_CLIENT = "loa.mqtt.MqttClient (controller/mqtt/link.py)"


# -- the publishers' child process -------------------------------------------------------------


def receipts_of(receiver: str, occurrences: list[str], content: str) -> list[bytes]:
    """One receiver's receipts: every state of every occurrence, seq counting up."""
    out: list[bytes] = []
    seq = 0
    base = datetime.now(UTC)
    for occurrence in occurrences:
        for state in STATES:
            at = base + timedelta(milliseconds=seq)
            proof = None
            if state == "played":
                proof = Proof(
                    started_at=at - timedelta(seconds=5), ended_at=at, clock_offset_ms=3,
                    content=content, played_ms=5000,
                )  # fmt: skip
            receipt = Receipt(
                id=receiver, epoch=EPOCH, seq=seq, occurrence=occurrence, state=state, at=at,
                have=3 if state == "downloading" else None, proof=proof,
            )  # fmt: skip
            out.append(receipt.encode())
            seq += 1
    return out


async def publish_child(port: int, occurrences: list[str], content: str) -> None:
    """Connect one client per receiver; on each `go PREFIX` line publish every receipt."""
    receivers = [
        r.id for r in generate_commune(SEED, receivers=RECEIVERS, villages=VILLAGES).receivers
    ]
    payloads = {rx: receipts_of(rx, occurrences, content) for rx in receivers}
    slots = asyncio.Semaphore(CONNECT_SLOTS)

    async def connect(rx: str) -> MqttClient:
        client = MqttClient("127.0.0.1", port, f"pub-{rx}", keepalive=120, ack_timeout=60)
        async with slots:
            await client.connect()
        return client

    clients = list(await asyncio.gather(*(connect(rx) for rx in receivers)))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": len(clients)}), flush=True)
    while line := (await reader.readline()).decode().strip():
        if line == "stop":
            break
        topics = Topics(line.split()[1])

        async def one(client: MqttClient, rx: str, topic: str) -> None:
            for payload in payloads[rx]:
                await client.publish(topic, payload, qos=1)

        began = time.time()
        await asyncio.gather(
            *(
                one(c, rx, topics.receiver(rx, "receipt"))
                for c, rx in zip(clients, receivers, strict=True)
            )
        )
        print(json.dumps({"began": began, "ended": time.time()}), flush=True)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


class Publishers:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the publishers' process ended unexpectedly")
        result: dict[str, Any] = json.loads(line)
        return result

    async def go(self, prefix: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"go {prefix}\n".encode())
        await self.process.stdin.drain()
        return await self.answer()


@asynccontextmanager
async def publishers(port: int, occurrences: list[str], content: str) -> AsyncIterator[Publishers]:
    args = [__file__, "--publish", str(port), ",".join(occurrences), content]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    child = Publishers(process)
    try:
        ready = await asyncio.wait_for(child.answer(), 120)
        print(f"publishers: {ready['ready']} connections", flush=True)
        yield child
    finally:
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.write(b"stop\n")
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the baseline subscriber ---------------------------------------------------------------------


class Counter:
    """Messages absorbed by a bare subscriber; the wall time the `wanted`-th came."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.count = 0
        self.done_at: float | None = None
        self.done = threading.Event()

    def one(self) -> None:
        self.count += 1
        if self.count == self.wanted:
            self.done_at = time.time()
            self.done.set()


async def gmqtt_baseline(port: int, topic: str, counter: Counter) -> Any:
    import gmqtt  # noqa: PLC0415 - optional, for the baseline only

    client = gmqtt.Client("bench-gmqtt-baseline")
    subscribed = asyncio.Event()

    def on_message(_client: Any, _topic: str, _payload: bytes, _qos: int, _props: Any) -> int:
        counter.one()
        return 0  # PUBACK

    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    await client.connect("127.0.0.1", port, version=gmqtt.constants.MQTTv311)
    client.subscribe(topic, qos=1)
    await asyncio.wait_for(subscribed.wait(), 10)
    return client


def paho_baseline(port: int, topic: str, counter: Counter) -> Any:
    import paho.mqtt.client as paho  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho-baseline")
    client.on_message = lambda *_args: counter.one()
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("the paho baseline did not subscribe within 10 s")
    return client


def cpu_seconds() -> float:
    """CPU time of this process (the controller or the bare subscriber, and their threads;
    not the publishers' child)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def baseline(port: int, child: Publishers) -> tuple[str, float, int, float]:
    """The bare subscriber's library, rate (receipts/s), count, and CPU us per receipt."""
    counter = Counter(TOTAL)
    topic = Topics(RAW_PREFIX).every_receiver("receipt")
    try:
        client = await gmqtt_baseline(port, topic, counter)
        name = f"gmqtt {version('gmqtt')}"
    except ImportError:
        print(
            "gmqtt is not installed (`make venv` installs it with the dev extras); "
            "the baseline falls back to paho with its loop thread",
            flush=True,
        )
        client = paho_baseline(port, topic, counter)
        name = "paho (loop thread), gmqtt missing"
    try:
        cpu = cpu_seconds()
        times = await child.go(RAW_PREFIX)
        await asyncio.to_thread(counter.done.wait, TIMEOUT_S)
        cpu = cpu_seconds() - cpu
    finally:
        if name.startswith("gmqtt"):
            await client.disconnect()
        else:
            client.loop_stop()
            client.disconnect()
    if counter.done_at is None:
        raise RuntimeError(f"the baseline got {counter.count} of {TOTAL} in {TIMEOUT_S} s")
    return name, TOTAL / (counter.done_at - times["began"]), counter.count, cpu / TOTAL * 1e6


# -- the controller ------------------------------------------------------------------------------


async def event_rows(store: Store) -> int:
    async with store.read() as session:
        count = await session.execute(sa.select(sa.func.count()).select_from(delivery_events))
        return int(count.scalar_one())


async def run(folder: Path) -> int:
    broker, port = start_broker(folder / "mosquitto")
    try:
        return await run_with_broker(folder, port)
    finally:
        broker.terminate()
        broker.wait(10)


async def run_with_broker(folder: Path, port: int) -> int:  # noqa: PLR0915
    config = write_config(folder, port, PREFIX)
    commune = generate_commune(SEED, receivers=RECEIVERS, villages=VILLAGES)
    clock = SystemClock()
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(
            store, commune.groups, commune.receivers, dry_run=False, at=datetime.now(UTC)
        )
        library = build_library(config, store)
        recording = folder / "bulletin.wav"
        make_recording(recording, "Thông báo họp thôn.", 5)
        added = await library.add_file(recording, title="bench", language="vi", added_by="bench")
        content = added.content.id

        async with controller_running(config) as controller:
            delivery = controller.delivery
            assert delivery is not None
            occurrences: list[str] = []
            for n in range(OCCURRENCES):
                request = SendRequest(
                    audio=Audio(content=content), language="vi", targets="all",
                    play_at=datetime.now(UTC) + timedelta(minutes=4),  # within the lead
                    created_by="bench", title=f"bench receipts {n}",
                )  # fmt: skip
                sent = await send_bulletin(store, library, config, request, clock)
                occurrences.append(sent.occurrence.id)
            deadline = time.monotonic() + 60
            while not all(
                o in delivery.active and len(delivery.active[o].deliveries) == RECEIVERS
                for o in occurrences
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the occurrences were not dispatched within 60 s")
                await asyncio.sleep(0.1)  # polling the controller's state
            await delivery.outbox.drained()
            print(f"{OCCURRENCES} occurrences dispatched to {RECEIVERS} receivers", flush=True)

            async with publishers(port, occurrences, content) as child:
                base_name, base_rate, _, base_cpu = await baseline(port, child)
                print(f"baseline ({base_name}): {base_rate:,.0f} receipts/s", flush=True)

                rows_before = await event_rows(store)
                applied_before = delivery.judge.applied
                received_before = delivery.counters.receipts
                profiler = cProfile.Profile() if PROFILE else None
                if profiler is not None:
                    profiler.enable()
                cpu = cpu_seconds()
                go = asyncio.create_task(child.go(PREFIX))
                deadline = time.monotonic() + TIMEOUT_S
                while delivery.judge.applied - applied_before < TOTAL:
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(POLL_S)  # polling a counter, not synchronising
                applied_at = time.time()
                rows = await event_rows(store) - rows_before
                while rows < TOTAL and time.monotonic() < deadline:
                    await asyncio.sleep(POLL_S * 5)  # polling the store
                    rows = await event_rows(store) - rows_before
                persisted_at = time.time()
                loa_cpu = (cpu_seconds() - cpu) / TOTAL * 1e6
                times = await go
                if profiler is not None:
                    profiler.disable()
                    stats = pstats.Stats(profiler, stream=sys.stderr)
                    stats.sort_stats("tottime").print_stats(30)
                    stats.sort_stats("cumulative").print_stats(30)
                applied = delivery.judge.applied - applied_before
                received = delivery.counters.receipts - received_before

    began = times["began"]
    print(f"\nreceipts: {TOTAL:,} ({RECEIVERS:,} receivers x {OCCURRENCES} occurrences x "
          f"{len(STATES)} states), QoS 1, one connection per receiver")  # fmt: skip
    print(f"publishers done after {times['ended'] - began:.2f} s (Loa phase)")
    print(f"controller MQTT client: {CONTROLLER_CLIENT}")
    print(f"controller: received {received:,}, applied {applied:,}, persisted {rows:,} rows")
    print(f"  all applied {applied_at - began:.2f} s, all persisted {persisted_at - began:.2f} s")
    complete = applied == TOTAL and rows == TOTAL
    loa_rate = TOTAL / (persisted_at - began) if complete else rows / (persisted_at - began)
    ratio = loa_rate / base_rate
    print(f"baseline ({base_name}): {base_rate:,.0f} receipts/s")
    print(f"Loa (applied and persisted): {loa_rate:,.0f} receipts/s")
    print(
        f"CPU of this process per receipt: baseline {base_cpu:.1f} us, Loa {loa_cpu:.1f} us "
        f"(one core absorbs at most {1e6 / loa_cpu:,.0f} receipts/s; both rates above are "
        "also bounded by the publishers sharing the 2 cores)"
    )
    ok = complete and ratio >= BOUND
    print(
        f"{'PASS' if ok else 'FAIL'}  receipt ingest: {ratio:.0%} of the baseline "
        f"(bound {BOUND:.0%}){'' if complete else ', NOT every receipt applied and persisted'}"
    )
    return 0 if ok else 1


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        raise_open_files()
        port, occurrences, content = sys.argv[2:5]
        asyncio.run(publish_child(int(port), occurrences.split(","), content))
        return 0
    return run_in_temp("loa-bench-receipts-", run)


if __name__ == "__main__":
    sys.exit(main())
