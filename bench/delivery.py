"""Benchmark: bulletins to 1,000 simulated receivers in 20 villages, and an emergency.

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
   push of the chunks a receiver needs before it starts;
3. a 60 s bulletin in two languages, Vietnamese and Hmong (`hmn`), to `all`, scheduled
   like 1 and sent as an operator sends it (`send_bulletin` with two stored contents,
   `loa bulletin send --content VI --content HMN`). The registry imported here has
   every other village speak Hmong (the generator's other villages speak Tày, Nùng or
   Vietnamese, and hear Vietnamese), so the commune is mixed and the controller
   publishes each village's content on its village group: 20 group publishes
   (checked). The same bounds as 1 (bytes against each group publish's content size,
   all armed within 10 s against 1's raw push), and every receiver armed and played the
   content of its own language.

A scenario waits until the store holds every receiver's play before the next one
starts, so one's receipts do not slow the next one down; 3 comes last so that 1 and 2
are measured as they were before it was added. Prints PASS/FAIL per bound and exits 1
if any fails. About 4 minutes. Run with `.venv/bin/python bench/delivery.py`
(`PROFILE=1`: cProfile of the emergency in both processes, on stderr; `KEEP=1`: keep
the temporary folder).
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delivery_rig import (
    Child,
    Results,
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

from controller.audio.library import AudioLibrary
from controller.audio.settings import build_library
from controller.config import Config
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.delivery.service import DeliveryService
from controller.delivery.status import occurrence_report
from controller.mqtt.link import Outgoing
from controller.store import Store
from controller.store.registry import import_registry
from devices.protocol import Topics
from devices.registry.model import Receiver
from loa.clock import SystemClock
from simulators.commune import GeneratedCommune, generate_commune

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
#: Scenario 3's second language and the text of its recording (read by espeak-ng's
#: Vietnamese voice, which has no Hmong one: only a content of its own matters here).
SECOND_LANGUAGE = "hmn"
SECOND_TEXT = "Lus ceeb toom: dej nyab tab tom nce, cov neeg nyob hauv qhov chaw qis tsiv mus siab."
GROUPS_TWO_LANGUAGES = VILLAGES  # one publish per village group: the commune is mixed
EMERGENCY_CHUNKS = 2  # a simulated receiver starts an emergency once it holds these
BOUND_BYTES = 1.05
BOUND_ARMED_S = 10.0
BOUND_SPREAD_S = 0.050
BOUND_EMERGENCY_S = 3.0
SYNC_SHARE = 0.99
PROFILE = bool(os.environ.get("PROFILE"))  # profile the emergency, both processes (stderr)


class Tally:
    """What the controller's delivery outbox is given, by kind (wraps `Outbox.put`), and
    the group chunk bytes by (group, content): the group publishes."""

    def __init__(self, delivery: DeliveryService) -> None:
        self.bytes: dict[str, int] = {}
        self.messages: dict[str, int] = {}
        self.first: dict[str, float] = {}
        self.group_bytes: dict[tuple[str, str], int] = {}
        topics = Topics(PREFIX)
        outbox = delivery.outbox
        put = outbox.put

        def counted(message: Outgoing, deadline: datetime) -> None:
            kind = self.kind(message)
            self.bytes[kind] = self.bytes.get(kind, 0) + len(message.payload)
            self.messages[kind] = self.messages.get(kind, 0) + 1
            self.first.setdefault(kind, time.time())
            chunk = topics.parse_chunk(message.topic)
            if chunk is not None and chunk.scope == "grp":
                key = (chunk.owner, chunk.content)
                self.group_bytes[key] = self.group_bytes.get(key, 0) + len(message.payload)
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
        self.group_bytes.clear()


def with_second_language(commune: GeneratedCommune) -> tuple[tuple[Receiver, ...], set[str]]:
    """The commune's receivers with every other village speaking `SECOND_LANGUAGE` first
    (then Vietnamese), and those villages' ids.

    The generator draws Tày, Nùng or Vietnamese per village and has no option for
    another language, so the bench changes the registry it imports, not the generator.
    """
    second = {village.id for village in commune.villages[::2]}
    receivers = tuple(
        dataclasses.replace(r, languages=(SECOND_LANGUAGE, "vi")) if r.village_id in second else r
        for r in commune.receivers
    )
    return receivers, second


async def run(folder: Path) -> int:
    results = Results()
    broker, port = start_broker(folder / "mosquitto")
    try:
        return await run_with_broker(folder, port, results)
    finally:
        broker.terminate()
        broker.wait(10)


@dataclasses.dataclass
class Scheduled:
    """What one scheduled bulletin did, from its send until every play was in the store."""

    #: seconds from the send until each receiver was armed, sorted
    armed_s: list[float]
    #: receiver id -> the content it took for the occurrence when it armed
    armed_content: dict[str, str | None]
    bytes: dict[str, int]
    messages: dict[str, int]
    #: (group, content) -> chunk bytes published to that group
    group_bytes: dict[tuple[str, str], int]
    #: outbox counters from the send until all armed and the outbox drained
    published: int
    chunk_publishes: int
    #: from the send until the controller gave its outbox the first group chunk
    dispatched_s: float
    #: receiver id -> [true start, how it ended, village, content]
    heard: dict[str, list[Any]]
    #: from the last play heard until the store held every proof
    stored_s: float
    played: int
    proofs: int

    @property
    def for_it(self) -> int:
        """Bytes the controller published for the bulletin: audio, repairs, commands."""
        kinds = ("group chunk", "receiver chunk (repair)", "play command")
        return sum(self.bytes.get(kind, 0) for kind in kinds)


class Scenarios:
    """The measurements of one run, sharing the store, the controller and the fleet."""

    def __init__(
        self,
        store: Store,
        library: AudioLibrary,
        config: Config,
        delivery: DeliveryService,
        child: Child,
        *,
        results: Results,
    ) -> None:
        self.store = store
        self.library = library
        self.config = config
        self.delivery = delivery
        self.child = child
        self.results = results
        self.tally = Tally(delivery)
        self.clock = SystemClock()
        self.raw: dict[str, float] = {}

    async def baselines(self, folder: Path, port: int, chunks: list[bytes]) -> None:
        """Bare paho to 1,000 bare subscribers (all the chunks; an emergency's first ones)
        and espeak-ng alone: what the controller's figures are read against."""
        began = time.monotonic()
        await self.child.ask("raw_subscribe", count=RECEIVERS, topic=f"{RAW_TOPIC}/#")
        print(f"raw subscribers connected in {time.monotonic() - began:.1f} s", flush=True)
        for name, part in (("all", chunks), ("emergency", chunks[:EMERGENCY_CHUNKS])):
            await self.child.ask("raw_reset", bytes=sum(len(c) for c in part))
            push = asyncio.to_thread(raw_push, port, part, RAW_TOPIC)
            started, waited = await asyncio.gather(push, self.child.ask("raw_wait", timeout=60))
            if waited["complete"] != RECEIVERS:
                raise RuntimeError(f"raw baseline: {waited['complete']} of {RECEIVERS} got it")
            self.raw[name] = waited["last_at"] - started
        await self.child.ask("raw_stop")
        espeak_began = time.monotonic()
        espeak = await asyncio.create_subprocess_exec(
            "espeak-ng", "-v", "vi", "-w", str(folder / "raw-tts.wav"), EMERGENCY_TEXT
        )
        if await espeak.wait() != 0:
            raise RuntimeError("espeak-ng failed")
        self.raw["tts"] = time.monotonic() - espeak_began

    async def settle(self) -> None:
        """The fleet online, told its groups (and language), clocks synchronised."""
        began = time.monotonic()
        await self.child.ask("fleet_start")
        status: dict[str, Any] = {}

        async def settled() -> bool:
            status.update(await self.child.ask("fleet_status"))
            return bool(
                status["online"] == RECEIVERS
                and status["assigned"] == RECEIVERS
                and status["synced"] >= SYNC_SHARE * RECEIVERS
                and self.delivery.counters.births >= 2 * RECEIVERS
            )

        if not await until("the fleet settling", settled, timeout=90):
            raise RuntimeError(f"the fleet did not settle: {status}")
        print(
            f"fleet settled in {time.monotonic() - began:.1f} s: {status}, "
            f"controller saw {self.delivery.counters.births} births",
            flush=True,
        )

    async def follow(self, send: Callable[[], Awaitable[str]]) -> Scheduled:
        """Send a scheduled occurrence (`send()` gives its id) and measure it: armed,
        published, heard, stored."""
        delivery = self.delivery
        self.tally.reset()
        published_before = delivery.outbox.counters.bytes
        chunks_before = delivery.send.chunks
        sent_at = time.time()
        occurrence = await send()
        armed = await self.child.ask("wait_armed", occurrence=occurrence, timeout=30)
        await delivery.outbox.drained()
        published = delivery.outbox.counters.bytes - published_before
        chunk_publishes = delivery.send.chunks - chunks_before
        bytes_now = dict(self.tally.bytes)
        messages_now = dict(self.tally.messages)
        group_bytes = dict(self.tally.group_bytes)
        dispatched_s = self.tally.first.get("group chunk", float("nan")) - sent_at
        await until(
            "the bulletin played",
            lambda: child_heard_all(self.child, occurrence),
            timeout=PLAY_AHEAD_S + AUDIO_S + 30,
        )
        heard = (await self.child.ask("heard", occurrence=occurrence))["heard"]
        heard_all_at = time.time()
        await self.stored(occurrence)
        stored_s = time.time() - heard_all_at
        report = await occurrence_report(self.store, occurrence)
        return Scheduled(
            armed_s=sorted(t - sent_at for t in armed["armed"].values()),
            armed_content=armed["content"],
            bytes=bytes_now,
            messages=messages_now,
            group_bytes=group_bytes,
            published=published,
            chunk_publishes=chunk_publishes,
            dispatched_s=dispatched_s,
            heard=heard,
            stored_s=stored_s,
            played=report.counts["played"],
            proofs=len(report.proofs),
        )

    async def stored(self, occurrence: str) -> bool:
        """Wait until the store holds every receiver's play of `occurrence`."""

        async def all_played() -> bool:
            counts = (await occurrence_report(self.store, occurrence)).counts
            return counts["played"] >= RECEIVERS

        return await until("every play proven in the store", all_played, timeout=120, every=0.1)

    # -- 1 ----------------------------------------------------------------------------------
    async def scheduled(self, content: str, audio_bytes: int) -> None:
        request = SendRequest(
            audio=Audio(content=content), language="vi", targets="all",
            play_at=datetime.now(UTC) + timedelta(seconds=PLAY_AHEAD_S),
            created_by="bench", title="bench scheduled",
        )  # fmt: skip

        async def send() -> str:
            sent = await send_bulletin(self.store, self.library, self.config, request, self.clock)
            return sent.occurrence.id

        got = await self.follow(send)

        groups = len(got.group_bytes)
        print("\n1. 60 s bulletin to all, 1,000 receivers, 20 villages")
        print(
            f"  audio {audio_bytes:,} B x {groups} group publish(es) = {audio_bytes * groups:,} B"
        )
        self.print_traffic(got)
        self.bytes_bound(got, audio_bytes * max(groups, 1), f"audio x {groups} group publishes")
        self.armed_bound(got)
        self.spread(got, bound=True)

    # -- 2 ----------------------------------------------------------------------------------
    async def emergency(self) -> str:
        """The emergency by text; its occurrence id (scenario 3 waits for its proofs)."""
        request = SendRequest(
            audio=Audio(text=EMERGENCY_TEXT), language="vi", targets="all",
            priority="emergency", created_by="bench", title="bench emergency",
        )  # fmt: skip
        self.tally.reset()
        profiler = cProfile.Profile() if PROFILE else None
        if profiler is not None:
            await self.child.ask("profile", on=True)
            profiler.enable()
        called = time.time()
        emergency = await send_bulletin(self.store, self.library, self.config, request, self.clock)
        prepared_s = time.time() - called
        await until(
            "the emergency played",
            lambda: child_heard_all(self.child, emergency.occurrence.id),
            timeout=60,
        )
        sounded = (await self.child.ask("heard", occurrence=emergency.occurrence.id))["heard"]
        first_chunk_s = self.tally.first.get("group chunk", float("nan")) - called
        if profiler is not None:
            profiler.disable()
            await self.child.ask("profile", on=False)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)

        firsts = sorted(v[0] - called for v in sounded.values())
        firsts += [float("inf")] * (RECEIVERS - len(firsts))
        raw = self.raw
        print("\n2. emergency by text (TTS included) to all")
        print(f"  send_bulletin (TTS, prepare, store): {prepared_s:.2f} s")
        print(
            f"  first chunk given to the controller's outbox: {first_chunk_s:.2f} s after the call"
        )
        print(
            f"  baseline: espeak-ng alone {raw['tts']:.2f} s + raw push of the first "
            f"{EMERGENCY_CHUNKS} chunks to 1,000 {raw['emergency']:.2f} s = "
            f"{raw['tts'] + raw['emergency']:.2f} s"
        )
        self.results.bound(
            "emergency text to first sound",
            quantile(firsts, 0.95) <= BOUND_EMERGENCY_S,
            f"p50 {quantile(firsts, 0.5):.2f} s, p95 {quantile(firsts, 0.95):.2f} s, "
            f"{len(sounded)} of {RECEIVERS} heard (bound p95 {BOUND_EMERGENCY_S:g} s)",
        )
        return emergency.occurrence.id

    # -- 3 ----------------------------------------------------------------------------------
    async def two_languages(
        self,
        contents: dict[str, str],
        sizes: dict[str, int],
        expected: dict[str, str],
        villages: set[str],
    ) -> None:
        """`contents`: language -> content id, `sizes`: content id -> bytes, `expected`:
        receiver id -> the content of its language, `villages`: the village group ids."""

        hearing: dict[str, int] = {}

        async def send() -> str:
            request = SendRequest(
                audio=Audio(contents=tuple(contents.values())), language="vi", targets="all",
                play_at=datetime.now(UTC) + timedelta(seconds=PLAY_AHEAD_S),
                created_by="bench", title="bench two languages",
            )  # fmt: skip
            sent = await send_bulletin(self.store, self.library, self.config, request, self.clock)
            if sent.contents != contents:
                raise RuntimeError(f"send_bulletin wrote {sent.contents}, not {contents}")
            hearing.update(sent.hearing)
            return sent.occurrence.id

        got = await self.follow(send)

        publishes = sorted(got.group_bytes)
        audio = sum(sizes[content] for _group, content in publishes)
        language_of = {content: language for language, content in contents.items()}
        per_language = {
            language: sum(1 for _g, c in publishes if language_of.get(c) == language)
            for language in contents
        }
        print(f"\n3. 60 s bulletin in {' and '.join(contents)} to all, villages split")
        print(
            "  send_bulletin: "
            + ", ".join(f"{language} heard by {n}" for language, n in hearing.items())
        )
        print(
            f"  group publishes: {len(publishes)} ("
            + ", ".join(f"{n} {language}" for language, n in per_language.items())
            + "); sum of their contents' sizes "
            + " + ".join(f"{n} x {sizes[contents[lang]]:,} B" for lang, n in per_language.items())
            + f" = {audio:,} B"
        )
        self.results.bound(
            "group publishes",
            len(publishes) == GROUPS_TWO_LANGUAGES and {g for g, _ in publishes} == villages,
            f"{len(publishes)} on {len({g for g, _ in publishes} & villages)} of "
            f"{len(villages)} village groups (expected {GROUPS_TWO_LANGUAGES}, one per village)",
        )
        self.print_traffic(got)
        self.bytes_bound(got, audio, f"sum over {len(publishes)} group publishes of its content")
        self.armed_bound(got)
        armed_right = sum(1 for r, c in expected.items() if got.armed_content.get(r) == c)
        played_right = sum(
            1 for r, c in expected.items() if r in got.heard and got.heard[r][3] == c
        )
        hmn = sum(1 for c in expected.values() if language_of[c] != "vi")
        self.results.bound(
            "own language",
            armed_right == played_right == RECEIVERS,
            f"{armed_right} of {RECEIVERS} armed and {played_right} played the content of "
            f"their language ({hmn} {SECOND_LANGUAGE}, {RECEIVERS - hmn} vi)",
        )
        self.spread(got, bound=False)

    # -- printing ---------------------------------------------------------------------------
    def print_traffic(self, got: Scheduled) -> None:
        for kind in sorted(got.bytes):
            print(
                f"    queued by delivery: {kind}: {got.messages[kind]} messages, "
                f"{got.bytes[kind]:,} B"
            )
        print(
            f"  outbox counters from send to all armed: {got.published:,} B published, "
            f"{got.chunk_publishes} chunk publishes"
        )

    def bytes_bound(self, got: Scheduled, audio: int, what: str) -> None:
        self.results.bound(
            "bytes published",
            got.for_it <= BOUND_BYTES * audio,
            f"{got.for_it:,} B for this bulletin = {got.for_it / audio:.3f}x "
            f"({what}; bound {BOUND_BYTES}x)",
        )

    def armed_bound(self, got: Scheduled) -> None:
        armed_s = got.armed_s
        all_armed = armed_s[-1] if len(armed_s) == RECEIVERS else float("inf")
        print(
            f"  armed: {len(armed_s)} of {RECEIVERS}; p50 {quantile(armed_s, 0.5):.2f} s, "
            f"p95 {quantile(armed_s, 0.95):.2f} s"
        )
        print(
            f"  first chunk given to the controller's outbox: {got.dispatched_s:.2f} s "
            "after the send"
        )
        print(
            f"  baseline: bare paho to 1,000 bare subscribers, one content: {self.raw['all']:.2f} s"
        )
        self.results.bound(
            "all armed",
            all_armed <= BOUND_ARMED_S,
            f"{all_armed:.2f} s from send ({all_armed / self.raw['all']:.1f}x the raw push; "
            f"bound {BOUND_ARMED_S:g} s)",
        )

    def spread(self, got: Scheduled, *, bound: bool) -> None:
        spreads = village_spreads(got.heard)
        print(
            f"  heard: {len(got.heard)} of {RECEIVERS}; store: {got.played} played, "
            f"{got.proofs} proofs, the last {got.stored_s:.1f} s after the last was heard"
        )
        text = (
            f"p50 {quantile(spreads, 0.5) * 1000:.1f} ms, p95 {quantile(spreads, 0.95) * 1000:.1f}"
            f" ms, max {max(spreads, default=float('nan')) * 1000:.1f} ms over {len(spreads)} "
            f"villages (bound {BOUND_SPREAD_S * 1000:g} ms)"
        )
        ok = len(got.heard) == RECEIVERS and max(spreads, default=1.0) <= BOUND_SPREAD_S
        if bound:
            self.results.bound("village start spread", ok, text)
        else:
            print(f"  village start spread: {text}")


async def run_with_broker(folder: Path, port: int, results: Results) -> int:
    config = write_config(folder, port, PREFIX)
    commune = generate_commune(SEED, receivers=RECEIVERS, villages=VILLAGES)
    receivers, second_villages = with_second_language(commune)
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        now = datetime.now(UTC)
        await import_registry(store, commune.groups, receivers, dry_run=False, at=now)
        library = build_library(config, store)
        contents: dict[str, str] = {}
        sizes: dict[str, int] = {}
        chunks: list[bytes] = []
        for language, text in (("vi", EMERGENCY_TEXT), (SECOND_LANGUAGE, SECOND_TEXT)):
            recording = folder / f"bulletin-{language}.wav"
            make_recording(recording, text, AUDIO_S)
            added = await library.add_file(
                recording, title=f"bench 60 s {language}", language=language, added_by="bench"
            )
            content = contents[language] = added.content.id
            manifest = library.files.manifest(content)
            read = [library.files.read_chunk(content, i) for i in range(manifest.chunk_count)]
            sizes[content] = sum(len(c) for c in read)
            chunks = chunks or read
            print(
                f"bulletin {language}: {sizes[content]:,} bytes in {len(read)} chunks ({AUDIO_S} s)"
            )
        expected = {
            r.id: contents[SECOND_LANGUAGE if r.village_id in second_villages else "vi"]
            for r in receivers
        }

        async with (
            controller_running(config) as controller,
            child_running(port, PREFIX, config.data_dir, (SEED, RECEIVERS, VILLAGES)) as child,
        ):
            assert controller.delivery is not None
            scenarios = Scenarios(
                store, library, config, controller.delivery, child, results=results
            )
            await scenarios.baselines(folder, port, chunks)
            await scenarios.settle()
            await scenarios.scheduled(contents["vi"], sizes[contents["vi"]])
            emergency = await scenarios.emergency()
            await scenarios.stored(emergency)  # its receipts in before 3 is measured
            villages = {village.id for village in commune.villages}
            await scenarios.two_languages(contents, sizes, expected, villages)

    print("\n" + ("all bounds passed" if not results.failed else f"FAILED: {results.failed}"))
    return 1 if results.failed else 0


async def child_heard_all(child: Child, occurrence: str) -> bool:
    count: int = (await child.ask("heard_count", occurrence=occurrence))["count"]
    return count >= RECEIVERS


def village_spreads(heard: dict[str, list[Any]]) -> list[float]:
    """Per village, the latest true start minus the earliest, in seconds."""
    starts: dict[str, list[float]] = {}
    for true_start, _state, village, _content in heard.values():
        starts.setdefault(village, []).append(true_start)
    return [max(s) - min(s) for s in starts.values() if len(s) > 1]


def main() -> int:
    return run_in_temp("loa-bench-delivery-", run)


if __name__ == "__main__":
    sys.exit(main())
