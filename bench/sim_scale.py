"""Benchmark: 10,000 simulated receivers in one process, and one fleet shared by two (issue 7).

Issue 7 bounds a `loa sim` process: 10,000 receivers, each with its own MQTT
connection, online within 15 s, under 30 KB of simulator memory each, and their
heartbeats (every 60 s) under 20% of one core. One private Mosquitto with Loa's
generated config (`tests.support.mosquitto`, no `$SYS`), started after the
open-file limit is raised to 20,000 so it inherits it; three scenarios in turn,
each in its own processes (so one's memory does not hide in the next one's):

- baseline: N bare `loa.mqtt.MqttClient` connections at the same ramp, each
  publishing a heartbeat-sized payload every 60 s (the transport's own cost);
- fleet: a `Fleet` of N `SimReceiver`s (heartbeat 60 s, no controller: each
  keeps probing for a clock answer with a back-off up to 60 s, the worst case);
- shard: the same N receivers as a registry file, run by two `loa sim --shard K/2`
  processes at half the ramp each; a subscriber checks that every receiver came
  online exactly once and sent its first heartbeat.

Reported per process: time until all are online, RSS growth per receiver (once
online, and again after the steady state), CPU per second of steady state, the
broker's CPU over the same window, and heartbeats sent and seen by a subscriber
in this process. Exits 1 if the fleet or the shard scenario misses a bound or
loses a receiver. About 4 minutes with the defaults. Run with
`.venv/bin/python bench/sim_scale.py [--receivers N] [--ramp R] [--steady S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from process_rig import cpu_seconds, raise_open_files, rss_kb

from devices.protocol import Topics
from devices.registry.file import format_registry
from loa.mqtt import MqttClient
from simulators.commune import generate_commune
from simulators.config import BrokerAddress, SimSettings
from simulators.fleet import Fleet
from tests.support.mosquitto import launch_mosquitto
from tests.support.paho_client import PahoClient

N = 10_000
HEARTBEAT_S = 60
RAMP_PER_S = 1_000.0
STEADY_S = 120.0  # the fleet's steady state; the issue asks for heartbeats over time
BASELINE_STEADY_S = 20.0
SHARD_STEADY_S = 20.0
ONLINE_BOUND_S = 15.0
KB_BOUND = 30.0
CPU_BOUND = 0.20
MAX_OPEN_FILES = 20_000  # this machine's hard limit
ONLINE_TIMEOUT_S = 60.0
FLEET_PREFIX = "scale"
SHARD_PREFIX = "scale-shard"
LOA = str(Path(sys.executable).parent / "loa")
#: A heartbeat's size on the wire (a real one is 300 to 330 bytes of JSON).
BASELINE_PAYLOAD = b"x" * 320


# -- the children of the baseline and fleet scenarios -------------------------------------


async def ramp(count: int, per_s: float, start: Callable[[int], Any]) -> list[Any]:
    """Call `start(i)` (a coroutine function) at `per_s` a second; gather the results."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    tasks = []
    for i in range(count):
        delay = began + i / per_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start(i)))
    return await asyncio.gather(*tasks)


async def beat(clients: list[MqttClient], prefix: str) -> None:
    """Each bare client publishes one heartbeat-sized payload every HEARTBEAT_S, spread out."""
    topics = Topics(prefix)
    names = [topics.receiver(f"bare-{i:05d}", "heartbeat") for i in range(len(clients))]
    tick = 0.1
    per_tick = len(clients) * tick / HEARTBEAT_S
    done = 0.0
    while True:
        first = int(done)
        done += per_tick
        for i in range(first, int(done)):
            client = clients[i % len(clients)]
            if client.is_connected:
                client.publish_nowait(names[i % len(clients)], BASELINE_PAYLOAD)
        await asyncio.sleep(tick)


async def run_scenario(  # noqa: PLR0917 - the child's command line, in order
    kind: str, host: str, port: int, count: int, ramp_per_s: float, steady_s: float
) -> dict[str, Any]:
    gc.collect()
    rss_before = rss_kb()
    began = time.perf_counter()
    fleet: Fleet | None = None
    clients: list[MqttClient] = []
    beats: asyncio.Task[None] | None = None
    with tempfile.TemporaryDirectory(dir="/dev/shm") as flash:
        if kind == "baseline":

            async def bare(i: int) -> MqttClient:
                client = MqttClient(host, port, f"bare-{i:05d}", keepalive=60)
                await client.connect()
                return client

            clients = await ramp(count, ramp_per_s, bare)
            beats = asyncio.create_task(beat(clients, FLEET_PREFIX))
        else:
            settings = SimSettings(
                broker=BrokerAddress(host, port), topic_prefix=FLEET_PREFIX, data_root=Path(flash)
            )
            ids = [(f"rx-{i:05d}", HEARTBEAT_S) for i in range(count)]
            fleet = Fleet(ids, settings, ramp_per_s=ramp_per_s)
            await fleet.start()
            if not await fleet.wait_online(timeout=ONLINE_TIMEOUT_S):
                raise RuntimeError(f"only {fleet.status().online} of {count} came online")
        connect_s = time.perf_counter() - began
        gc.collect()
        rss_connected = rss_kb()
        print("STEADY", flush=True)
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        await asyncio.sleep(steady_s)  # the steady state is what is measured
        cpu_per_s = (time.process_time() - cpu_began) / (time.perf_counter() - wall_began)
        print("DONE", flush=True)
        gc.collect()
        result: dict[str, Any] = {
            "kind": kind,
            "count": count,
            "connect_s": connect_s,
            "kb_connected": (rss_connected - rss_before) / count,
            "kb_after": (rss_kb() - rss_before) / count,
            "cpu_per_s": cpu_per_s,
            "rss_mb": rss_kb() / 1024,
        }
        stop_began = time.perf_counter()
        if fleet is not None:
            status = fleet.status()
            result["reconnects"] = status.reconnects
            await fleet.stop(timeout=30)
            result["heartbeats_sent"] = fleet.status().heartbeats
        else:
            assert beats is not None
            beats.cancel()
            await asyncio.gather(*(client.disconnect() for client in clients))
        result["stop_s"] = time.perf_counter() - stop_began
    return result


def child(argv: list[str]) -> None:
    kind, host, port, count, ramp_per_s, steady_s = argv
    result = asyncio.run(
        run_scenario(kind, host, int(port), int(count), float(ramp_per_s), float(steady_s))
    )
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: broker, children, checks, table ------------------------------------------


class Lines:
    """The lines of several children's stdout, each stamped with when it arrived."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[int, float, str]] = queue.Queue()

    def follow(self, index: int, stream: IO[str]) -> None:
        def read() -> None:
            for line in stream:
                self.queue.put((index, time.monotonic(), line.rstrip("\n")))

        threading.Thread(target=read, daemon=True).start()

    def next(self, deadline: float) -> tuple[int, float, str]:
        try:
            return self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("a child said nothing before its deadline") from None


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    pid: int


def run_child(
    kind: str, options: argparse.Namespace, broker: Broker, steady: float
) -> dict[str, Any]:
    host, port, broker_pid = broker.host, broker.port, broker.pid
    arguments = [kind, host, str(port), str(options.receivers), str(options.ramp), str(steady)]
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", *arguments], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = Lines()
    lines.follow(0, process.stdout)
    deadline = time.monotonic() + ONLINE_TIMEOUT_S + steady + 60
    result: dict[str, Any] = {}
    broker_began = wall_began = broker_cpu = 0.0
    try:
        while not result:
            _, at, line = lines.next(deadline)
            if line == "STEADY":
                broker_began, wall_began = cpu_seconds(broker_pid), at
            elif line == "DONE":
                broker_cpu = (cpu_seconds(broker_pid) - broker_began) / (at - wall_began)
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the {kind} scenario failed (exit code {process.returncode})")
    result["broker_cpu_per_s"] = broker_cpu
    return result


def write_shard_rig(folder: Path, count: int, port: int) -> tuple[Path, Path]:
    """A config for the private broker and a registry file (CSV: read 20x faster than YAML)."""
    commune = generate_commune("scale", receivers=count, villages=max(1, count // 100))
    registry = folder / "registry.csv"
    registry.write_text(format_registry(commune.registry, "csv"), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "data_dir": str(folder / "data"),
                "topic_prefix": SHARD_PREFIX,
                "broker": {"host": "127.0.0.1", "port": port},
                "logging": {"level": "WARNING"},
            }
        ),
        encoding="utf-8",
    )
    return config, registry


def run_shards(  # noqa: PLR0912, PLR0915 - one scenario, read top to bottom
    options: argparse.Namespace, folder: Path, broker: Broker
) -> list[dict[str, Any]]:
    """Two `loa sim --shard K/2` processes; all receivers must come online once, between them."""
    host, port, broker_pid = broker.host, broker.port, broker.pid
    config, registry = write_shard_rig(folder, options.receivers, port)
    command = [LOA, "sim", "--config", str(config), "--registry", str(registry)]
    command += ["--ramp", str(options.ramp / 2), "--heartbeat", str(HEARTBEAT_S)]
    topics = Topics(SHARD_PREFIX)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    shards = ("1/2", "2/2")
    with PahoClient(host, port) as watcher:
        watcher.connect()
        watcher.subscribe(topics.every_receiver("status"), qos=1)
        watcher.subscribe(topics.every_receiver("heartbeat"), qos=0)
        processes = [
            subprocess.Popen(
                [*command, "--shard", shard],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            for shard in shards
        ]
        lines = Lines()
        for index, process in enumerate(processes):
            assert process.stdout is not None
            lines.follow(index, process.stdout)
        rows: list[dict[str, Any]] = [{"kind": f"shard {shard}", "output": []} for shard in shards]
        try:
            deadline = time.monotonic() + 60
            started: list[float] = []
            while len(started) < len(processes):
                index, at, line = lines.next(deadline)
                rows[index]["output"].append(line)
                if line.startswith("shard "):
                    rows[index]["rss_before"] = rss_kb(processes[index].pid)
                elif line.startswith("simulating "):
                    started.append(at)
            began = min(started)
            online_by = began + ONLINE_TIMEOUT_S

            wait_for_births(watcher, options.receivers, online_by)
            connect_s = time.monotonic() - began
            for row, process in zip(rows, processes, strict=True):
                row["connect_s"] = connect_s
                row["rss_connected"] = rss_kb(process.pid)
                row["cpu_began"] = cpu_seconds(process.pid)
            broker_began, wall_began = cpu_seconds(broker_pid), time.monotonic()
            time.sleep(options.shard_steady)
            wall = time.monotonic() - wall_began
            broker_cpu = (cpu_seconds(broker_pid) - broker_began) / wall
            for row, process in zip(rows, processes, strict=True):
                row["cpu_per_s"] = (cpu_seconds(process.pid) - row["cpu_began"]) / wall
                row["rss_mb"] = rss_kb(process.pid) / 1024
                row["rss_after"] = rss_kb(process.pid)
                row["broker_cpu_per_s"] = broker_cpu
                process.send_signal(signal.SIGINT)
            stop_began = time.monotonic()
            for row, process in zip(rows, processes, strict=True):
                process.wait(timeout=40)
                row["stop_s"] = time.monotonic() - stop_began
            while True:  # the rest of their output
                try:
                    index, _, line = lines.next(time.monotonic() + 1)
                except TimeoutError:
                    break
                rows[index]["output"].append(line)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        time.sleep(0.5)  # the last goodbyes in flight
        messages = list(watcher.messages)
    for row, process in zip(rows, processes, strict=True):
        per_receiver(row, process.returncode)
    statuses = [json.loads(m.payload) for m in messages if m.topic.endswith("/status")]
    online = [s["id"] for s in statuses if s["state"] == "online"]
    beating = {json.loads(m.payload)["id"] for m in messages if m.topic.endswith("/heartbeat")}
    rows[0]["shared"] = {
        "births": len(online),
        "distinct": len(set(online)),
        "heartbeating": len(beating),
        "sum_of_shares": sum(row["count"] for row in rows),
    }
    return rows


def wait_for_births(watcher: PahoClient, count: int, until: float) -> None:
    """Until `count` distinct receivers have announced themselves, or `until` (monotonic)."""
    born: set[str] = set()
    seen = 0
    while len(born) < count and time.monotonic() < until:
        time.sleep(0.05)  # the subscriber's thread fills the list
        fresh = watcher.messages[seen:]
        seen += len(fresh)
        born.update(m.topic.split("/")[-2] for m in fresh if m.topic.endswith("/status"))


def per_receiver(row: dict[str, Any], returncode: int | None) -> None:
    """A shard's receiver count (from its own words) and its memory per receiver."""
    if returncode != 0:
        output = "\n".join(row["output"])
        raise RuntimeError(f"loa sim --{row['kind']} failed ({returncode}):\n{output}")
    said = next(line for line in row["output"] if line.startswith("shard "))
    count = int(said.split(": ")[1].split()[0])
    row["count"] = count
    row["kb_connected"] = (row["rss_connected"] - row["rss_before"]) / count
    row["kb_after"] = (row["rss_after"] - row["rss_before"]) / count


def main(options: argparse.Namespace) -> int:
    limit = raise_open_files(MAX_OPEN_FILES)
    if limit < options.receivers + 200:
        raise SystemExit(f"open-file limit {limit} is too low for {options.receivers} receivers")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        mosquitto = launch_mosquitto(Path(folder) / "mosquitto", sys_interval=None)
        assert mosquitto.pid is not None
        broker = Broker(mosquitto.host, mosquitto.port, mosquitto.pid)
        try:
            baseline = run_child("baseline", options, broker, BASELINE_STEADY_S)
            with PahoClient(broker.host, broker.port) as watcher:
                watcher.connect()
                watcher.subscribe(Topics(FLEET_PREFIX).every_receiver("heartbeat"), qos=0)
                fleet = run_child("fleet", options, broker, options.steady)
                time.sleep(0.5)  # the last heartbeats in flight
                fleet["heartbeats_seen"] = len(watcher.messages)
            shards = run_shards(options, Path(folder), broker)
        finally:
            mosquitto.stop()
    print_table(options, baseline, fleet, shards)
    failures = check(options, fleet, shards)
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


def check(
    options: argparse.Namespace, fleet: dict[str, Any], shards: list[dict[str, Any]]
) -> list[str]:
    failures = []
    for row in (fleet, *shards):
        name = row["kind"]
        if row["connect_s"] > ONLINE_BOUND_S:
            failures.append(f"{name}: online in {row['connect_s']:.1f} s > {ONLINE_BOUND_S:g} s")
        if max(row["kb_connected"], row["kb_after"]) > KB_BOUND:
            failures.append(f"{name}: over {KB_BOUND:g} KB per receiver")
        if row["cpu_per_s"] > CPU_BOUND:
            failures.append(f"{name}: {100 * row['cpu_per_s']:.1f}% CPU > {100 * CPU_BOUND:g}%")
    shared = shards[0]["shared"]
    wanted = options.receivers
    if shared["sum_of_shares"] != wanted or shared["distinct"] != wanted:
        failures.append(f"shards: {shared} (wanted each of {wanted} receivers once)")
    if shared["births"] != wanted:
        failures.append(f"shards: {shared['births']} births for {wanted} receivers")
    if shared["heartbeating"] != wanted:
        failures.append(f"shards: heartbeats from {shared['heartbeating']} of {wanted}")
    if fleet["heartbeats_seen"] != fleet["heartbeats_sent"]:
        failures.append(
            f"fleet: {fleet['heartbeats_sent']} heartbeats sent, {fleet['heartbeats_seen']} seen"
        )
    return failures


def print_table(
    options: argparse.Namespace,
    baseline: dict[str, Any],
    fleet: dict[str, Any],
    shards: list[dict[str, Any]],
) -> None:
    n = options.receivers
    names = {
        "baseline": f"baseline: {n} bare MqttClients",
        "fleet": f"{n} SimReceivers, 1 process",
    }
    print(
        f"\n{n} receivers, heartbeat {HEARTBEAT_S} s, ramp {options.ramp:g}/s in all "
        f"(bounds: online <= {ONLINE_BOUND_S:g} s, <= {KB_BOUND:g} KB each, "
        f"<= {100 * CPU_BOUND:g}% CPU); steady {options.steady:g} s for the fleet, "
        f"{BASELINE_STEADY_S:g} s baseline, {options.shard_steady:g} s shards\n"
    )
    print(
        f"{'scenario':<34} {'online s':>8} {'KB/rx':>6} {'KB/rx end':>9} {'CPU %':>6} "
        f"{'broker CPU %':>12} {'RSS MB':>7} {'stop s':>7}"
    )
    for row in (baseline, fleet, *shards):
        name = names.get(row["kind"], f"loa sim --{row['kind']}: {row.get('count', '?')}")
        print(
            f"{name:<34} {row['connect_s']:>8.2f} {row['kb_connected']:>6.1f} "
            f"{row['kb_after']:>9.1f} {100 * row['cpu_per_s']:>6.1f} "
            f"{100 * row['broker_cpu_per_s']:>12.1f} {row['rss_mb']:>7.1f} {row['stop_s']:>7.2f}"
        )
    shared = shards[0]["shared"]
    print(
        f"\nfleet: {fleet['heartbeats_sent']} heartbeats sent, {fleet['heartbeats_seen']} seen "
        f"by a subscriber, {fleet['reconnects']} reconnects"
    )
    print(
        f"shards: {shared['sum_of_shares']} receivers between them; {shared['births']} births "
        f"from {shared['distinct']} distinct ids; first heartbeat from {shared['heartbeating']}"
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receivers", type=int, default=N)
    parser.add_argument("--ramp", type=float, default=RAMP_PER_S, help="receivers a second")
    parser.add_argument("--steady", type=float, default=STEADY_S, help="fleet's steady state, s")
    parser.add_argument("--shard-steady", type=float, default=SHARD_STEADY_S)
    options = parser.parse_args(argv)
    if options.receivers < 2 or options.ramp <= 0 or options.steady <= 0:
        parser.error("expected --receivers >= 2, --ramp > 0 and --steady > 0")
    return options


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.exit(main(parse(sys.argv[1:])))
