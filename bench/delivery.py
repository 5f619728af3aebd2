"""Benchmark: a bulletin to 1,000 simulated receivers in 20 villages, and an emergency.

The real controller runs in this process (its own store, key and config, on a private
Mosquitto); the receivers (`simulators.SimReceiver`, clocks off by up to 2 s) run in a
child process, `bench/delivery_rig.py`. One run measures, each figure beside a raw-MQTT
baseline on the same broker:

1. a 60 s recording sent to `all`, playing 40 s later: the bytes the controller
   published for it against audio size x group publishes (bound 1.05x), the time from
   the send until all 1,000 receivers are `armed` (bound 10 s) against a bare paho
   publisher pushing the same bytes to 1,000 bare subscribers, and the spread of true
   start times within each village (bound 50 ms);
2. an emergency typed as text (TTS included), to `all`: from the call to each
   receiver's first sound (bound: 95% within 3 s), against espeak-ng alone plus the raw
   push of the chunks a receiver needs before it starts.

Prints PASS/FAIL per bound and exits 1 if any fails. About 2 minutes. Run with
`.venv/bin/python bench/delivery.py` (`PROFILE=1`: cProfile of the emergency in both
processes, on stderr; `KEEP=1`: keep the temporary folder).
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from delivery_rig import (
    controller_running,
    make_recording,
    raise_open_files,
    raw_push,
    start_broker,
)

from controller.audio.settings import build_library
from controller.config import Config, load_config
from controller.delivery.requests import Audio, SendRequest, Sent, send_bulletin
from controller.delivery.service import DeliveryService
from controller.delivery.status import occurrence_report
from controller.mqtt.link import Outgoing
from controller.store import Store
from controller.store.registry import import_registry
from loa.clock import SystemClock
from simulators.commune import generate_commune

RECEIVERS = 1_000
VILLAGES = 20
SEED = "bench-delivery"
PREFIX = "bench"
RAW_TOPIC = "rawbench/chunk"
AUDIO_S = 60
PLAY_AHEAD_S = 40
EMERGENCY_TEXT = (
    "Thông báo khẩn cấp: nước lũ đang lên nhanh, bà con vùng trũng di chuyển ngay lên chỗ cao."
)
EMERGENCY_CHUNKS = 2  # a simulated receiver starts an emergency once it holds these
BOUND_BYTES = 1.05
BOUND_ARMED_S = 10.0
BOUND_SPREAD_S = 0.050
BOUND_EMERGENCY_S = 3.0
SYNC_SHARE = 0.99
PROFILE = bool(os.environ.get("PROFILE"))  # profile the emergency, both processes (stderr)


def write_config(folder: Path, port: int) -> Config:
    data = {
        "data_dir": str(folder / "data"),
        "topic_prefix": PREFIX,
        "logging": {"level": "WARNING"},
        "broker": {"mode": "external", "port": port},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, environ={})


class Child:
    """The receivers' process (`bench/delivery_rig.py`), one JSON request a line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the receivers' process ended during {op!r}")
        answer: dict[str, Any] = json.loads(line)
        return answer


@asynccontextmanager
async def child_running(port: int, data_dir: Path) -> AsyncIterator[Child]:
    rig = str(Path(__file__).with_name("delivery_rig.py"))
    args = ["127.0.0.1", str(port), PREFIX, str(data_dir), SEED, str(RECEIVERS), str(VILLAGES)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, rig, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**24
    )
    child = Child(process)
    try:
        yield child
    finally:
        if process.returncode is None:
            try:
                await asyncio.wait_for(child.ask("stop"), 30)
                await asyncio.wait_for(process.wait(), 10)
            except (TimeoutError, RuntimeError):
                process.kill()
                await process.wait()


class Tally:
    """What the controller's delivery outbox is given, by kind (wraps `Outbox.put`)."""

    def __init__(self, delivery: DeliveryService) -> None:
        self.bytes: dict[str, int] = {}
        self.messages: dict[str, int] = {}
        self.first: dict[str, float] = {}
        outbox = delivery.outbox
        put = outbox.put

        def counted(message: Outgoing, deadline: datetime) -> None:
            kind = self.kind(message)
            self.bytes[kind] = self.bytes.get(kind, 0) + len(message.payload)
            self.messages[kind] = self.messages.get(kind, 0) + 1
            self.first.setdefault(kind, time.time())
            put(message, deadline)

        outbox.put = counted  # type: ignore[method-assign]

    @staticmethod
    def kind(message: Outgoing) -> str:
        parts = message.topic.split("/")
        if "chunk" in parts:
            return "group chunk" if "grp" in parts else "receiver chunk (repair)"
        payload = bytes(message.payload)
        if b'"type":"play"' in payload:
            return "play command"
        if b'"type":"time"' in payload:
            return "clock answer"
        return "other command"

    def reset(self) -> None:
        self.bytes.clear()
        self.messages.clear()
        self.first.clear()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> bool:
    """Poll `check()` until true (True) or `timeout` seconds (False, said on stdout)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            print(f"  ! {what}: not within {timeout} s", flush=True)
            return False
        await asyncio.sleep(every)  # a poll interval, not a synchronisation
    return True


class Results:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def bound(self, name: str, ok: bool, text: str) -> None:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {text}", flush=True)
        if not ok:
            self.failed.append(name)


async def run(folder: Path) -> int:
    results = Results()
    broker, port = start_broker(folder / "mosquitto")
    try:
        return await run_with_broker(folder, port, results)
    finally:
        broker.terminate()
        broker.wait(10)


async def run_with_broker(folder: Path, port: int, results: Results) -> int:  # noqa: PLR0915
    config = write_config(folder, port)
    commune = generate_commune(SEED, receivers=RECEIVERS, villages=VILLAGES)
    clock = SystemClock()
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        now = datetime.now(UTC)
        await import_registry(store, commune.groups, commune.receivers, dry_run=False, at=now)
        library = build_library(config, store)
        recording = folder / "bulletin.wav"
        make_recording(recording, EMERGENCY_TEXT, AUDIO_S)
        added = await library.add_file(
            recording, title="bench 60 s", language="vi", added_by="bench"
        )
        content = added.content.id
        files = library.files
        manifest = files.manifest(content)
        chunks = [files.read_chunk(content, i) for i in range(manifest.chunk_count)]
        audio_bytes = sum(len(c) for c in chunks)
        print(f"bulletin: {audio_bytes:,} bytes in {len(chunks)} chunks ({AUDIO_S} s)")

        async with (
            controller_running(config) as controller,
            child_running(port, config.data_dir) as child,
        ):
            delivery = controller.delivery
            assert delivery is not None
            tally = Tally(delivery)

            # -- baseline: the same bytes, a bare publisher, 1,000 bare subscribers --------
            began = time.monotonic()
            await child.ask("raw_subscribe", count=RECEIVERS, topic=f"{RAW_TOPIC}/#")
            print(f"raw subscribers connected in {time.monotonic() - began:.1f} s")
            raw: dict[str, float] = {}
            for name, part in (("all", chunks), ("emergency", chunks[:EMERGENCY_CHUNKS])):
                await child.ask("raw_reset", bytes=sum(len(c) for c in part))
                push = asyncio.to_thread(raw_push, port, part, RAW_TOPIC)
                started, waited = await asyncio.gather(push, child.ask("raw_wait", timeout=60))
                if waited["complete"] != RECEIVERS:
                    raise RuntimeError(f"raw baseline: {waited['complete']} of {RECEIVERS} got it")
                raw[name] = waited["last_at"] - started
            await child.ask("raw_stop")
            espeak_began = time.monotonic()
            espeak = await asyncio.create_subprocess_exec(
                "espeak-ng", "-v", "vi", "-w", str(folder / "raw-tts.wav"), EMERGENCY_TEXT
            )
            if await espeak.wait() != 0:
                raise RuntimeError("espeak-ng failed")
            raw["tts"] = time.monotonic() - espeak_began

            # -- the fleet: online, assigned, clocks synchronised ---------------------------
            began = time.monotonic()
            await child.ask("fleet_start")
            status: dict[str, Any] = {}

            async def settled() -> bool:
                status.update(await child.ask("fleet_status"))
                return bool(
                    status["online"] == RECEIVERS
                    and status["assigned"] == RECEIVERS
                    and status["synced"] >= SYNC_SHARE * RECEIVERS
                    and delivery.counters.births >= 2 * RECEIVERS
                )

            if not await until("the fleet settling", settled, timeout=90):
                raise RuntimeError(f"the fleet did not settle: {status}")
            print(
                f"fleet settled in {time.monotonic() - began:.1f} s: {status}, "
                f"controller saw {delivery.counters.births} births"
            )

            # -- 1. the scheduled bulletin ---------------------------------------------------
            tally.reset()
            published_before = delivery.outbox.counters.bytes
            chunks_before = delivery.send.chunks
            request = SendRequest(
                audio=Audio(content=content), language="vi", targets="all",
                play_at=datetime.now(UTC) + timedelta(seconds=PLAY_AHEAD_S),
                created_by="bench", title="bench scheduled",
            )  # fmt: skip
            sent_at = time.time()
            sent: Sent = await send_bulletin(store, library, config, request, clock)
            armed = (await child.ask("wait_armed", occurrence=sent.occurrence.id, timeout=30))[
                "armed"
            ]
            armed_s = sorted(t - sent_at for t in armed.values())
            await delivery.outbox.drained()
            published = delivery.outbox.counters.bytes - published_before
            chunk_publishes = delivery.send.chunks - chunks_before
            bytes_now = dict(tally.bytes)
            dispatched_s = tally.first.get("group chunk", float("nan")) - sent_at
            messages_now = dict(tally.messages)
            await until(
                "the bulletin played",
                lambda: child_heard_all(child, sent.occurrence.id),
                timeout=PLAY_AHEAD_S + AUDIO_S + 30,
            )
            heard = (await child.ask("heard", occurrence=sent.occurrence.id))["heard"]
            heard_all_at = time.time()

            async def stored() -> bool:
                counts = (await occurrence_report(store, sent.occurrence.id)).counts
                return counts["played"] >= RECEIVERS

            await until("every play proven in the store", stored, timeout=120, every=0.1)
            stored_s = time.time() - heard_all_at
            report = await occurrence_report(store, sent.occurrence.id)

            # -- 2. the emergency --------------------------------------------------------------
            emergency_request = SendRequest(
                audio=Audio(text=EMERGENCY_TEXT), language="vi", targets="all",
                priority="emergency", created_by="bench", title="bench emergency",
            )  # fmt: skip
            tally.reset()
            profiler = cProfile.Profile() if PROFILE else None
            if profiler is not None:
                await child.ask("profile", on=True)
                profiler.enable()
            called = time.time()
            emergency = await send_bulletin(store, library, config, emergency_request, clock)
            prepared_s = time.time() - called
            await until(
                "the emergency played",
                lambda: child_heard_all(child, emergency.occurrence.id),
                timeout=60,
            )
            sounded = (await child.ask("heard", occurrence=emergency.occurrence.id))["heard"]
            first_chunk_s = tally.first.get("group chunk", float("nan")) - called
            if profiler is not None:
                profiler.disable()
                await child.ask("profile", on=False)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)

    # -- figures ----------------------------------------------------------------------------
    groups = messages_now.get("group chunk", 0) / len(chunks)
    for_it = sum(
        bytes_now.get(k, 0) for k in ("group chunk", "receiver chunk (repair)", "play command")
    )
    print("\n1. 60 s bulletin to all, 1,000 receivers, 20 villages")
    print(
        f"  audio {audio_bytes:,} B x {groups:g} group publish(es) = {audio_bytes * groups:,.0f} B"
    )
    for kind in sorted(bytes_now):
        print(
            f"    queued by delivery: {kind}: {messages_now[kind]} messages, {bytes_now[kind]:,} B"
        )
    print(
        f"  outbox counters from send to all armed: {published:,} B published, "
        f"{chunk_publishes} chunk publishes"
    )
    bound = BOUND_BYTES * audio_bytes * max(groups, 1)
    results.bound(
        "bytes published",
        for_it <= bound,
        f"{for_it:,} B for this bulletin = {for_it / (audio_bytes * max(groups, 1)):.3f}x "
        f"(audio x {groups:g} group publishes; bound {BOUND_BYTES}x)",
    )
    all_armed = armed_s[-1] if len(armed_s) == RECEIVERS else float("inf")
    print(
        f"  armed: {len(armed_s)} of {RECEIVERS}; p50 {quantile(armed_s, 0.5):.2f} s, "
        f"p95 {quantile(armed_s, 0.95):.2f} s"
    )
    print(f"  first chunk given to the controller's outbox: {dispatched_s:.2f} s after the send")
    print(f"  baseline: bare paho to 1,000 bare subscribers, same bytes: {raw['all']:.2f} s")
    results.bound(
        "all armed",
        all_armed <= BOUND_ARMED_S,
        f"{all_armed:.2f} s from send ({all_armed / raw['all']:.1f}x the raw push; "
        f"bound {BOUND_ARMED_S:g} s)",
    )
    spreads = village_spreads(heard)
    print(
        f"  heard: {len(heard)} of {RECEIVERS}; store: {report.counts['played']} played, "
        f"{len(report.proofs)} proofs, the last {stored_s:.1f} s after the last was heard"
    )
    results.bound(
        "village start spread",
        len(heard) == RECEIVERS and max(spreads, default=1.0) <= BOUND_SPREAD_S,
        f"p50 {quantile(spreads, 0.5) * 1000:.1f} ms, p95 {quantile(spreads, 0.95) * 1000:.1f}"
        f" ms, max {max(spreads, default=float('nan')) * 1000:.1f} ms over {len(spreads)} "
        f"villages (bound {BOUND_SPREAD_S * 1000:g} ms)",
    )
    firsts = sorted(v[0] - called for v in sounded.values())
    firsts += [float("inf")] * (RECEIVERS - len(firsts))
    print("\n2. emergency by text (TTS included) to all")
    print(f"  send_bulletin (TTS, prepare, store): {prepared_s:.2f} s")
    print(f"  first chunk given to the controller's outbox: {first_chunk_s:.2f} s after the call")
    print(
        f"  baseline: espeak-ng alone {raw['tts']:.2f} s + raw push of the first "
        f"{EMERGENCY_CHUNKS} chunks to 1,000 {raw['emergency']:.2f} s = "
        f"{raw['tts'] + raw['emergency']:.2f} s"
    )
    results.bound(
        "emergency text to first sound",
        quantile(firsts, 0.95) <= BOUND_EMERGENCY_S,
        f"p50 {quantile(firsts, 0.5):.2f} s, p95 {quantile(firsts, 0.95):.2f} s, "
        f"{len(sounded)} of {RECEIVERS} heard (bound p95 {BOUND_EMERGENCY_S:g} s)",
    )
    print("\n" + ("all bounds passed" if not results.failed else f"FAILED: {results.failed}"))
    return 1 if results.failed else 0


async def child_heard_all(child: Child, occurrence: str) -> bool:
    return len((await child.ask("heard", occurrence=occurrence))["heard"]) >= RECEIVERS


def village_spreads(heard: dict[str, list[Any]]) -> list[float]:
    """Per village, the latest true start minus the earliest, in seconds."""
    starts: dict[str, list[float]] = {}
    for true_start, _state, village in heard.values():
        starts.setdefault(village, []).append(true_start)
    return [max(s) - min(s) for s in starts.values() if len(s) > 1]


def main() -> int:
    raise_open_files()
    folder = Path(tempfile.mkdtemp(prefix="loa-bench-delivery-"))
    try:
        return asyncio.run(run(folder))
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
