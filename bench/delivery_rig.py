"""The receiving side of `bench/delivery.py` and `bench/emergency_scale.py`, in its own
process, and what both benchmarks share: the broker, the recording, the raw publisher.

The controller under test runs in the benchmark's own process; the simulated receivers
run here, in a child process, so the two share the machine's 2 cores the way a
controller and a commune's hardware do not share one event loop. A child simulates the
generated commune's receivers, or only those of an index range `START:STOP` of it (so
10,000 can be split over two children, each on one core). The parent drives a child
with one JSON object a line on stdin and reads one JSON answer a line on stdout (`op`
names the request):

- `raw_subscribe {count, topic}`: `count` bare `loa.mqtt.MqttClient`s subscribe
  to `topic` at QoS 1 (the raw-MQTT baseline's subscribers; their client ids are
  numbered from the range's START, so two children's do not collide);
- `raw_wait {bytes, timeout}`: answers when every bare subscriber has received `bytes`
  payload bytes since the last `raw_reset`, with the wall time the last one got them;
- `raw_reset`, `raw_stop`;
- `fleet_start {ramp_per_s}`: the `Fleet` of the generated commune (clocks off by up to
  2 s) powers on, `ramp_per_s` a second (default `RAMP_PER_S`); answers at once, the
  ramp goes on in the background (poll `fleet_status`);
- `fleet_status`: how many are online, synchronised, and told their groups;
- `wait_armed {occurrence, timeout}`: the wall time each receiver's agent first held the
  occurrence `armed` or later (polled every 5 ms), and the content it took for it (the
  one of its language, to check a multi-language bulletin);
- `heard {occurrence}`: the true start time of each receiver's play of it, how the play
  ended, its village and the content it played; `heard_count {occurrence}`: only how
  many (cheap enough to poll while 5,000 receivers play);
- `stop`.

Run by the parent (`child_running`) as
`python bench/delivery_rig.py HOST PORT PREFIX DATA_DIR SEED N VILLAGES [START:STOP]`.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from loa.ports import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from controller.app import Controller
from controller.broker.mosquitto_conf import MosquittoSettings, render
from controller.config import Config, load_config
from controller.keys import read_public_key
from loa.mqtt import MqttClient
from loa.mqtt.packets import Message
from simulators.commune import generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet

ARMED_OR_LATER = frozenset({"armed", "playing", "played"})
POLL_S = 0.005
CONNECT_SLOTS = 100
CLOCK_SKEW_S = 2.0
RAMP_PER_S = 500.0
MAX_OPEN_FILES = 20_000


# -- used by the parent: the broker, the recording, the raw publisher --------------------
def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private Mosquitto with the config Loa generates for its embedded broker."""
    folder.mkdir(parents=True)
    port = free_port()
    settings = MosquittoSettings(
        host="127.0.0.1", port=port, data_dir=folder.absolute(), persistence=False
    )
    settings.config_file.write_text(render(settings), encoding="utf-8")
    log = (folder / "mosquitto.log").open("wb")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(settings.config_file)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"mosquitto did not listen on {port}") from None
            time.sleep(0.01)  # polling the port while Mosquitto starts
        else:
            return process, port


@asynccontextmanager
async def controller_running(config: Config) -> AsyncIterator[Controller]:
    """The real controller in this process, connected and announced; stopped on the way out."""
    controller = Controller(config)
    task = asyncio.create_task(controller.run())
    ready = asyncio.create_task(controller.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        if not controller.ready.is_set():
            raise RuntimeError("the controller did not connect within 15 s")
        yield controller
    finally:
        ready.cancel()
        controller.stop()
        await asyncio.wait_for(task, 30)


def make_recording(path: Path, text: str, seconds: int) -> None:
    """`seconds` of speech: espeak-ng reading `text` in Vietnamese, looped by ffmpeg."""
    speech = path.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(speech), text * 3], check=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(speech),
         "-t", str(seconds), "-ar", "22050", "-ac", "1", str(path)],
        check=True,
    )  # fmt: skip


def raw_push(port: int, payloads: list[bytes], topic: str) -> float:
    """Publish `payloads` QoS 1 with a bare paho client; the wall time it started."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        began = time.time()
        infos = [client.publish(f"{topic}/{i}", data, qos=1) for i, data in enumerate(payloads)]
        for info in infos:
            info.wait_for_publish(30)
        return began
    finally:
        client.loop_stop()
        client.disconnect()


def run_in_temp(prefix: str, run: Callable[[Path], Coroutine[Any, Any, int]]) -> int:
    """`run` in a new temporary folder (kept when KEEP is set), open files raised first."""
    raise_open_files()
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(run(folder))
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(folder, ignore_errors=True)


def write_config(folder: Path, port: int, prefix: str) -> Config:
    """The controller's config: its own data folder, the private broker, quiet logs, and
    no quiet hours (a benchmark runs at any hour)."""
    data = {
        "data_dir": str(folder / "data"),
        "topic_prefix": prefix,
        "logging": {"level": "WARNING"},
        "broker": {"mode": "external", "port": port},
        "schedules": {"quiet_hours": "none"},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, environ={})


class Child:
    """One receivers' process (this file run as a script), one JSON request a line."""

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
async def child_running(
    port: int,
    prefix: str,
    data_dir: Path,
    commune: tuple[str, int, int],
    part: tuple[int, int] | None = None,
) -> AsyncIterator[Child]:
    """A receivers' process for the commune `(seed, receivers, villages)` generates, or for
    its receivers `part = (start, stop)`; asked to stop (else killed) on the way out."""
    seed, receivers, villages = commune
    args = ["127.0.0.1", str(port), prefix, str(data_dir), seed, str(receivers), str(villages)]
    if part is not None:
        args.append(f"{part[0]}:{part[1]}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        limit=2**26,
    )  # fmt: skip
    child = Child(process)
    try:
        yield child
    finally:
        if process.returncode is None:
            try:
                await asyncio.wait_for(child.ask("stop"), 60)
                await asyncio.wait_for(process.wait(), 10)
            except (TimeoutError, RuntimeError):
                process.kill()
                await process.wait()


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def until(
    what: str, check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.5
) -> bool:
    """Poll `check()` until true (True) or `timeout` seconds (False, said on stdout)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            print(f"  ! {what}: not within {timeout} s", flush=True)
            return False
        await asyncio.sleep(every)  # a poll interval, not a synchronisation
    return True


class Results:
    """The bounds checked so far: each printed PASS or FAIL as it is checked."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def bound(self, name: str, ok: bool, text: str) -> None:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {text}", flush=True)
        if not ok:
            self.failed.append(name)


# -- the child ------------------------------------------------------------------------------


class RawSubscribers:
    """Bare MQTT subscribers counting payload bytes: the baseline's receivers.

    Their client ids are numbered from `first`: two processes' subscribers on one broker
    must not take each other's session over.
    """

    def __init__(self, host: str, port: int, first: int = 0) -> None:
        self.host = host
        self.port = port
        self.first = first
        self.clients: list[MqttClient] = []
        self.got: list[int] = []
        self.done_at: list[float | None] = []
        self.wanted = 0
        self.changed = asyncio.Event()

    async def subscribe(self, count: int, topic: str) -> None:
        slots = asyncio.Semaphore(CONNECT_SLOTS)

        async def one(index: int) -> MqttClient:
            def on_message(message: Message) -> None:
                self.got[index] += len(message.payload)
                if self.done_at[index] is None and self.got[index] >= self.wanted > 0:
                    self.done_at[index] = time.time()
                    self.changed.set()

            client = MqttClient(
                self.host,
                self.port,
                f"raw-{self.first + index:05d}",
                keepalive=60,
                on_message=on_message,
            )
            async with slots:
                await client.connect()
                await client.subscribe((topic, 1))
            return client

        self.got = [0] * count
        self.done_at = [None] * count
        self.clients = list(await asyncio.gather(*(one(i) for i in range(count))))

    def reset(self, wanted: int) -> None:
        self.wanted = wanted
        self.got = [0] * len(self.clients)
        self.done_at = [None] * len(self.clients)

    async def wait(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while any(t is None for t in self.done_at) and time.monotonic() < deadline:
            self.changed.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self.changed.wait()
            except TimeoutError:
                break
        finished = [t for t in self.done_at if t is not None]
        return {"complete": len(finished), "last_at": max(finished) if finished else None}

    async def stop(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)
        self.clients = []


class Rig:
    def __init__(self, argv: list[str]) -> None:
        host, port, prefix, data_dir, seed, count, villages, *part = argv
        # Each receiver's flash: 1,000 of them share one disk and one event loop here, where
        # real ones each have their own; on ext4 their atomic JSON writes (rename, journal)
        # took ~0.5 ms each and made the last receiver of 1,000 act ~2 s after the first.
        shm = Path("/dev/shm")  # noqa: S108 - a private folder made below
        base = shm if shm.is_dir() else Path(data_dir).parent
        self.flash = Path(tempfile.mkdtemp(prefix="loa-bench-flash-", dir=base))
        self.commune = generate_commune(seed, receivers=int(count), villages=int(villages))
        start, stop = (int(i) for i in part[0].split(":")) if part else (0, int(count))
        self.receivers = self.commune.receivers[start:stop]
        self.village_of = {r.id: r.village_id for r in self.receivers}
        self.settings = SimSettings(
            broker=BrokerAddress(host, int(port)),
            topic_prefix=prefix,
            public_key=read_public_key(Path(data_dir)),
            data_root=self.flash,
            clock_skew_s=CLOCK_SKEW_S,
        )
        self.raw = RawSubscribers(host, int(port), first=start)
        self.fleet: Fleet | None = None
        self.starting: asyncio.Task[None] | None = None
        self.profiler: cProfile.Profile | None = None

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911, PLR0912 - one per op
        op = request["op"]
        if op == "raw_subscribe":
            await self.raw.subscribe(request["count"], request["topic"])
            return {"subscribed": len(self.raw.clients)}
        if op == "raw_reset":
            self.raw.reset(request["bytes"])
            return {}
        if op == "raw_wait":
            return await self.raw.wait(request["timeout"])
        if op == "raw_stop":
            await self.raw.stop()
            return {}
        if op == "fleet_start":
            specs = [ReceiverSpec(r.id, r.heartbeat_s) for r in self.receivers]
            ramp = float(request.get("ramp_per_s", RAMP_PER_S))
            self.fleet = Fleet(specs, self.settings, seed="bench", ramp_per_s=ramp)
            self.starting = asyncio.create_task(self.fleet.start())
            return {}
        if op == "fleet_status":
            return self.status()
        if op == "wait_armed":
            return await self.wait_armed(request["occurrence"], request["timeout"])
        if op == "heard":
            return self.heard(request["occurrence"])
        if op == "heard_count":
            return {"count": len(self.heard(request["occurrence"])["heard"])}
        if op == "profile":
            self.profile(on=request["on"])
            return {}
        if op == "stop":
            if self.starting is not None:
                self.starting.cancel()
            if self.fleet is not None:
                await self.fleet.stop(timeout=30)
            shutil.rmtree(self.flash, ignore_errors=True)
            return {}
        raise ValueError(f"unknown op {op!r}")

    def profile(self, *, on: bool) -> None:
        """Profile this process between `on` and off; the top of it goes to stderr."""
        if on:
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        elif self.profiler is not None:
            self.profiler.disable()
            print("--- receivers' process ---", file=sys.stderr)
            pstats.Stats(self.profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
            self.profiler = None

    def status(self) -> dict[str, Any]:
        assert self.fleet is not None
        synced = assigned = 0
        for receiver in self.fleet:
            agent = receiver.delivery
            if agent is not None:
                synced += agent.sync.synced
                assigned += agent.groups is not None
        return {"online": self.fleet.status().online, "synced": synced, "assigned": assigned}

    async def wait_armed(self, occurrence: str, timeout: float) -> dict[str, Any]:
        assert self.fleet is not None
        receivers = list(self.fleet)
        armed: dict[str, float] = {}
        contents: dict[str, str | None] = {}
        deadline = time.monotonic() + timeout
        while len(armed) < len(receivers) and time.monotonic() < deadline:
            now = time.time()
            for receiver in receivers:
                agent = receiver.delivery
                if (
                    receiver.id not in armed
                    and agent is not None
                    and agent.state_of(occurrence) in ARMED_OR_LATER
                ):
                    armed[receiver.id] = now
                    record = agent.occurrences.book.get(occurrence)
                    ref = None if record is None else record.content
                    contents[receiver.id] = None if ref is None else ref.content
            await asyncio.sleep(POLL_S)  # a poll interval, not a synchronisation
        return {"armed": armed, "content": contents}

    def heard(self, occurrence: str) -> dict[str, Any]:
        assert self.fleet is not None
        starts: dict[str, list[Any]] = {}
        for receiver in self.fleet:
            agent = receiver.delivery
            if agent is None:
                continue
            for heard in agent.heard:
                if heard.occurrence == occurrence and receiver.id not in starts:
                    starts[receiver.id] = [
                        heard.true_start.timestamp(),
                        heard.state,
                        self.village_of[receiver.id],
                        heard.content,
                    ]
        return {"heard": starts}


async def serve(argv: list[str]) -> None:
    rig = Rig(argv)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        answer = await rig.handle(request)
        print(json.dumps(answer), flush=True)
        if request["op"] == "stop":
            return


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
