"""Benchmark: an emergency typed as text, to all 10,000 receivers of a 100-village commune.

Issue 5 bounds the emergency for 1,000 online receivers (`bench/delivery.py`: 95% hear
it within 3 s of the text, TTS included) and asks only to report the time for 10,000.
This is that report: the real controller in this process (its own store, key and
config, on a private Mosquitto), the 10,000 simulated receivers (`simulators.SimReceiver`,
clocks off by up to 2 s) split over two child processes (`bench/delivery_rig.py`, 5,000
each, one per core, their flash on /dev/shm), all online, assigned and clock-synced
before the text is sent.

Reported, beside a baseline measured in the same run on the same broker: from the call
to each receiver's first sound, p50/p95/max and how many heard it, against espeak-ng
alone plus a bare paho publisher pushing the chunks a receiver needs before it starts
to 10,000 bare subscribers (the same two children); when the controller gave its outbox
the play command and the chunks (its own part of the time); then how long the store
took to hold every play. No bound on the times (the issue asks for a report): exits 1
only if a receiver did not hear the emergency within `HEARD_TIMEOUT_S`, or the fleet
did not settle.

Reading the figure: on a 2-core machine the simulated receivers' own work for the
emergency (for each of 5,000 receivers on one core, which it shares with the controller
and Mosquitto: a signature check, flash writes, receipts) takes most of the time to
first sound; the bare subscribers of the baseline do none of it. The outbox lines say
how much of it is the controller's.

About 2 minutes. Run with `.venv/bin/python bench/emergency_scale.py` (`PROFILE=1`:
cProfile of the emergency in every process, on stderr; `KEEP=1`: keep the temporary
folder).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delivery_rig import (
    Child,
    child_running,
    controller_running,
    make_recording,
    quantile,
    raw_push,
    run_in_temp,
    start_broker,
    until,
    write_config,
)

from controller.audio.settings import build_library
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.delivery.service import DeliveryService
from controller.delivery.status import occurrence_report
from controller.mqtt.link import Outgoing
from controller.store import Store
from controller.store.registry import import_registry
from devices.protocol import Topics
from loa.clock import SystemClock
from simulators.commune import generate_commune

RECEIVERS = 10_000
VILLAGES = 100
CHILDREN = 2  # one per core; the controller and Mosquitto share them
SEED = "bench-emergency-scale"
PREFIX = "bench"
RAW_TOPIC = "rawbench/chunk"
EMERGENCY_TEXT = (
    "Thông báo khẩn cấp: nước lũ đang lên nhanh, bà con vùng trũng di chuyển ngay lên chỗ cao."
)
EMERGENCY_CHUNKS = 2  # a simulated receiver starts an emergency once it holds these
RECORDING_S = 20  # enough for EMERGENCY_CHUNKS full chunks for the raw baseline
SYNC_SHARE = 0.99
#: Receivers powered on a second, in each child. A receiver that connects asks the
#: controller for the time 4 times; a request unanswered within 5 s is dropped, then
#: retried alone, backing off up to 60 s (`simulators/delivery/timesync.py`). At 500 a
#: second in each child (delivery.py's ramp) the controller answered the last births
#: ~35 s late, so the commune powers on at a pace the controller keeps up with and the
#: emergency finds every receiver settled.
RAMP_PER_S = 75.0
SETTLE_TIMEOUT_S = 240.0
HEARD_TIMEOUT_S = 120.0  # generous: the emergency text plays for a few seconds
BOUND_1000_S = 3.0  # issue 5's bound for 1,000 receivers (95% within it), for reference
STORED_TIMEOUT_S = 120.0
PROGRESS_S = 5.0
PROFILE = bool(os.environ.get("PROFILE"))  # profile the emergency, every process (stderr)


class Fleet:
    """The receivers' children, asked together; `sizes`: how many receivers each has."""

    def __init__(self, children: list[Child], sizes: list[int]) -> None:
        self.children = children
        self.sizes = sizes

    async def ask(self, op: str, **fields: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(c.ask(op, **fields) for c in self.children)))

    async def total(self, op: str, key: str, **fields: Any) -> int:
        return sum(int(answer[key]) for answer in await self.ask(op, **fields))


class Stamps:
    """When the controller's delivery outbox was first and last given play commands, group
    chunks and receiver chunks, and how many (wraps `Outbox.put`): the controller's part
    of the time to first sound."""

    def __init__(self, delivery: DeliveryService) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.count: dict[str, int] = {}
        topics = Topics(PREFIX)
        put = delivery.outbox.put

        def stamped(message: Outgoing, deadline: datetime) -> None:
            chunk = topics.parse_chunk(message.topic)
            if chunk is not None:
                kind = f"{'group' if chunk.scope == 'grp' else 'receiver'} chunk"
            elif b'"type":"play"' in bytes(message.payload):
                kind = "play command"
            else:
                kind = ""
            if kind:
                now = time.time()
                self.first.setdefault(kind, now)
                self.last[kind] = now
                self.count[kind] = self.count.get(kind, 0) + 1
            put(message, deadline)

        delivery.outbox.put = stamped  # type: ignore[method-assign]


class Progress:
    """A line on stdout at most every `PROGRESS_S`, so a long wait says where it is."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.last = self.began

    def say(self, text: str, *, always: bool = False) -> None:
        now = time.monotonic()
        if always or now - self.last >= PROGRESS_S:
            self.last = now
            print(f"  [{now - self.began:5.1f} s] {text}", flush=True)


async def raw_baseline(fleet: Fleet, port: int, chunks: list[bytes]) -> float:
    """Seconds from a bare paho publisher's first publish of `chunks` until the last of
    10,000 bare subscribers holds them all."""
    began = time.monotonic()
    await asyncio.gather(
        *(
            child.ask("raw_subscribe", count=size, topic=f"{RAW_TOPIC}/#")
            for child, size in zip(fleet.children, fleet.sizes, strict=True)
        )
    )
    print(f"raw subscribers: {RECEIVERS:,} connected in {time.monotonic() - began:.1f} s")
    await fleet.ask("raw_reset", bytes=sum(len(c) for c in chunks))
    push = asyncio.to_thread(raw_push, port, chunks, RAW_TOPIC)
    started, answers = await asyncio.gather(push, fleet.ask("raw_wait", timeout=120))
    complete = sum(a["complete"] for a in answers)
    if complete != RECEIVERS:
        raise RuntimeError(f"raw baseline: {complete} of {RECEIVERS} got it")
    await fleet.ask("raw_stop")
    last: float = max(a["last_at"] for a in answers)
    return last - float(started)


async def espeak_alone(folder: Path) -> float:
    began = time.monotonic()
    espeak = await asyncio.create_subprocess_exec(
        "espeak-ng", "-v", "vi", "-w", str(folder / "raw-tts.wav"), EMERGENCY_TEXT
    )
    if await espeak.wait() != 0:
        raise RuntimeError("espeak-ng failed")
    return time.monotonic() - began


async def settle(fleet: Fleet, delivery: DeliveryService) -> None:
    """Every receiver online, told its groups, clocks synchronised (as `delivery.py`)."""
    began = time.monotonic()
    progress = Progress()
    print(f"fleet: powering on, {CHILDREN * RAMP_PER_S:g} a second", flush=True)
    await fleet.ask("fleet_start", ramp_per_s=RAMP_PER_S)
    status: dict[str, int] = {}

    async def settled() -> bool:
        answers = await fleet.ask("fleet_status")
        status.update({k: sum(int(a[k]) for a in answers) for k in answers[0]})
        births = delivery.counters.births
        progress.say(f"{status}, controller saw {births:,} births")
        return (
            status["online"] == RECEIVERS
            and status["assigned"] == RECEIVERS
            and status["synced"] >= SYNC_SHARE * RECEIVERS
            and births >= 2 * RECEIVERS
        )

    if not await until("the fleet settling", settled, timeout=SETTLE_TIMEOUT_S):
        raise RuntimeError(f"the fleet did not settle: {status}")
    print(
        f"fleet settled in {time.monotonic() - began:.1f} s: {status}, "
        f"controller saw {delivery.counters.births:,} births",
        flush=True,
    )


async def run(folder: Path) -> int:
    broker, port = start_broker(folder / "mosquitto")
    try:
        return await run_with_broker(folder, port)
    finally:
        broker.terminate()
        broker.wait(10)


async def run_with_broker(folder: Path, port: int) -> int:  # noqa: PLR0915 - one story
    config = write_config(folder, port, PREFIX)
    commune = generate_commune(SEED, receivers=RECEIVERS, villages=VILLAGES)
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        began = time.monotonic()
        now = datetime.now(UTC)
        await import_registry(store, commune.groups, commune.receivers, dry_run=False, at=now)
        print(
            f"registry: {RECEIVERS:,} receivers in {VILLAGES} villages imported in "
            f"{time.monotonic() - began:.1f} s",
            flush=True,
        )
        library = build_library(config, store)
        recording = folder / "baseline.wav"
        make_recording(recording, EMERGENCY_TEXT, RECORDING_S)
        added = await library.add_file(
            recording, title="bench baseline", language="vi", added_by="bench"
        )
        content = added.content.id
        head = [library.files.read_chunk(content, i) for i in range(EMERGENCY_CHUNKS)]
        share = RECEIVERS // CHILDREN
        parts = [(i * share, RECEIVERS if i == CHILDREN - 1 else (i + 1) * share) for i in
                 range(CHILDREN)]  # fmt: skip

        async with AsyncExitStack() as stack:
            controller = await stack.enter_async_context(controller_running(config))
            delivery = controller.delivery
            assert delivery is not None
            children = [
                await stack.enter_async_context(
                    child_running(port, PREFIX, config.data_dir, (SEED, RECEIVERS, VILLAGES), part)
                )
                for part in parts
            ]
            fleet = Fleet(children, [stop - start for start, stop in parts])

            # -- baseline -------------------------------------------------------------------
            raw_push_s = await raw_baseline(fleet, port, head)
            tts_s = await espeak_alone(folder)
            print(
                f"baseline: espeak-ng {tts_s:.2f} s, raw push of {EMERGENCY_CHUNKS} chunks "
                f"({sum(len(c) for c in head):,} B) to {RECEIVERS:,}: {raw_push_s:.2f} s",
                flush=True,
            )

            # -- the fleet ------------------------------------------------------------------
            await settle(fleet, delivery)

            # -- the emergency --------------------------------------------------------------
            request = SendRequest(
                audio=Audio(text=EMERGENCY_TEXT), language="vi", targets="all",
                priority="emergency", created_by="bench", title="bench emergency 10,000",
            )  # fmt: skip
            print("emergency: sending", flush=True)
            stamps = Stamps(delivery)
            profiler = cProfile.Profile() if PROFILE else None
            if profiler is not None:
                await fleet.ask("profile", on=True)
                profiler.enable()
            progress = Progress()
            called = time.time()
            emergency = await send_bulletin(store, library, config, request, SystemClock())
            prepared_s = time.time() - called
            occurrence = emergency.occurrence.id
            progress.say(f"send_bulletin returned after {prepared_s:.2f} s", always=True)

            async def heard_all() -> bool:
                count = await fleet.total("heard_count", "count", occurrence=occurrence)
                progress.say(f"{count:,} of {RECEIVERS:,} have played it to the end")
                return count >= RECEIVERS

            await until("the emergency heard", heard_all, timeout=HEARD_TIMEOUT_S)
            sounded: dict[str, list[Any]] = {}
            for answer in await fleet.ask("heard", occurrence=occurrence):
                sounded.update(answer["heard"])
            heard_at = time.time()
            progress.say(f"{len(sounded):,} of {RECEIVERS:,} heard it", always=True)
            if profiler is not None:
                profiler.disable()
                for child in fleet.children:  # one after the other: their stderr is shared
                    await child.ask("profile", on=False)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)

            async def all_stored() -> bool:
                counts = (await occurrence_report(store, occurrence)).counts
                progress.say(f"store: {counts}")
                return counts["played"] >= RECEIVERS

            stored = await until("every play in the store", all_stored, STORED_TIMEOUT_S)
            stored_s = time.time() - heard_at
            counts = (await occurrence_report(store, occurrence)).counts
            print("stopping the fleet", flush=True)

    firsts = sorted(v[0] - called for v in sounded.values())
    firsts += [float("inf")] * (RECEIVERS - len(firsts))  # not heard: never
    print(f"\nemergency by text (TTS included) to all {RECEIVERS:,} receivers, {VILLAGES} villages")
    print(f"  send_bulletin (TTS, prepare, store): {prepared_s:.2f} s")
    for kind in sorted(stamps.first):
        print(
            f"  {kind}s given to the controller's outbox: {stamps.count[kind]:,}, the first "
            f"{stamps.first[kind] - called:.2f} s and the last {stamps.last[kind] - called:.2f} s "
            "after the call"
        )
    print(
        f"  baseline: espeak-ng alone {tts_s:.2f} s + raw push of the first {EMERGENCY_CHUNKS} "
        f"chunks to {RECEIVERS:,} bare subscribers {raw_push_s:.2f} s = {tts_s + raw_push_s:.2f} s"
    )
    print(
        f"  text to first sound: p50 {quantile(firsts, 0.5):.2f} s, "
        f"p95 {quantile(firsts, 0.95):.2f} s, max {firsts[-1]:.2f} s; "
        f"{len(sounded):,} of {RECEIVERS:,} heard it"
    )
    ended: dict[str, int] = {}
    for _start, state, _village, _content in sounded.values():
        ended[state] = ended.get(state, 0) + 1
    print(f"  how the plays ended: {ended}")
    within = sum(1 for t in firsts if t <= BOUND_1000_S)
    print(
        f"  within {BOUND_1000_S:g} s (the bound for 1,000, for reference): {within:,} "
        f"({within / RECEIVERS:.1%})"
    )
    print(
        f"  store: {counts.get('played', 0):,} played "
        + (
            f"{stored_s:.1f} s after the last was heard"
            if stored
            else f"(not all within {STORED_TIMEOUT_S:g} s)"
        )
    )
    if len(sounded) < RECEIVERS:
        print(f"\nFAILED: {RECEIVERS - len(sounded):,} receivers did not hear the emergency")
        return 1
    print("\nevery receiver heard the emergency")
    return 0


def main() -> int:
    return run_in_temp("loa-bench-emergency-scale-", run)


if __name__ == "__main__":
    sys.exit(main())
