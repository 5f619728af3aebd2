"""Benchmark: 2,000 simulated receivers in one process, on a private Mosquitto.

Three scenarios, each in its own child process (so one's memory does not hide
in the next one's numbers), against the same broker, with the same ramp:

- tcp: N plain asyncio TCP connections to the broker, nothing sent (the floor);
- mqtt: N bare `loa.mqtt.MqttClient` connections doing nothing (baseline);
- fleet: a `Fleet` of N `SimReceiver`s with a heartbeat every 10 s.

Reported per scenario: the time to connect all N, the process's RSS growth per
connection, its CPU use per second of steady state (and the broker's), and for
the fleet how many of its heartbeats a subscriber in this (parent) process saw.
Bounded: about 1.5 minutes. Run with `make bench` or
`.venv/bin/python bench/sim_fleet.py [N [RAMP_PER_S]]`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from process_rig import cpu_seconds, raise_open_files, rss_kb

from devices.protocol import Topics
from loa.mqtt import MqttClient
from simulators.config import BrokerAddress, SimSettings
from simulators.fleet import Fleet
from tests.support.mosquitto import launch_mosquitto
from tests.support.paho_client import PahoClient

N = 2_000
HEARTBEAT_S = 10
RAMP_PER_S = 1_000.0
STEADY_S = {"tcp": 10.0, "mqtt": 15.0, "fleet": 30.0}
PREFIX = "bench"
CHILD_TIMEOUT = 90.0
MAX_OPEN_FILES = 20_000  # this machine's hard limit (RECIPES.md)


# -- the child: one scenario --------------------------------------------------------------


async def ramp(count: int, start: Any) -> list[Any]:
    """Call `start(i)` (a coroutine function) at RAMP_PER_S per second; gather the results."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    tasks = []
    for i in range(count):
        delay = began + i / RAMP_PER_S - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start(i)))
    return await asyncio.gather(*tasks)


async def run_scenario(kind: str, host: str, port: int, count: int) -> dict[str, Any]:
    gc.collect()
    rss_before = rss_kb()
    began = time.perf_counter()
    fleet: Fleet | None = None
    held: list[Any] = []
    if kind == "tcp":
        held = await ramp(count, lambda _: asyncio.open_connection(host, port))
    elif kind == "mqtt":

        async def bare(i: int) -> MqttClient:
            client = MqttClient(host, port, f"bare-{i:05d}", keepalive=60)
            await client.connect()
            return client

        held = await ramp(count, bare)
    else:
        settings = SimSettings(broker=BrokerAddress(host, port), topic_prefix=PREFIX)
        fleet = Fleet(
            [(f"rx-{i:05d}", HEARTBEAT_S) for i in range(count)], settings, ramp_per_s=RAMP_PER_S
        )
        await fleet.start()
        if not await fleet.wait_online(timeout=60):
            raise RuntimeError(f"only {fleet.status().online} of {count} came online")
    connect_s = time.perf_counter() - began
    gc.collect()
    rss_connected = rss_kb()
    print("STEADY", flush=True)
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    await asyncio.sleep(STEADY_S[kind])  # the steady state is what is measured
    cpu_per_s = (time.process_time() - cpu_began) / (time.perf_counter() - wall_began)
    print("DONE", flush=True)
    result: dict[str, Any] = {
        "kind": kind,
        "connect_s": connect_s,
        "kb_per_connection": (rss_connected - rss_before) / count,
        "cpu_per_s": cpu_per_s,
        "rss_mb": rss_kb() / 1024,
    }
    stop_began = time.perf_counter()
    if fleet is not None:
        await fleet.stop(timeout=30)
        result["heartbeats_sent"] = fleet.status().heartbeats
    elif kind == "mqtt":
        await asyncio.gather(*(client.disconnect() for client in held))
    else:
        for _, writer in held:
            writer.close()
    result["stop_s"] = time.perf_counter() - stop_began
    return result


def child(kind: str, host: str, port: int, count: int) -> None:
    result = asyncio.run(run_scenario(kind, host, port, count))
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: broker, children, table --------------------------------------------------


def run_child(kind: str, host: str, port: int, count: int, broker_pid: int) -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, host, str(port), str(count), str(RAMP_PER_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + CHILD_TIMEOUT
    result: dict[str, Any] = {}
    broker_cpu = 0.0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("STEADY"):
                broker_began, wall_began = cpu_seconds(broker_pid), time.monotonic()
            elif line.startswith("DONE"):
                elapsed = time.monotonic() - wall_began
                broker_cpu = (cpu_seconds(broker_pid) - broker_began) / elapsed
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {kind} scenario ran past {CHILD_TIMEOUT} s")
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or not result:
        raise RuntimeError(f"the {kind} scenario failed (exit code {process.returncode})")
    result["broker_cpu_per_s"] = broker_cpu
    return result


def main(count: int) -> None:
    limit = raise_open_files(MAX_OPEN_FILES)
    if limit < count + 100:
        raise SystemExit(f"open-file limit {limit} is too low for {count} connections")
    with tempfile.TemporaryDirectory() as folder:
        broker = launch_mosquitto(Path(folder) / "mosquitto", sys_interval=None)
        assert broker.pid is not None
        try:
            rows = []
            for kind in ("tcp", "mqtt"):
                rows.append(run_child(kind, broker.host, broker.port, count, broker.pid))
            with PahoClient(broker.host, broker.port) as watcher:
                watcher.connect()
                watcher.subscribe(Topics(PREFIX).every_receiver("heartbeat"), qos=0)
                fleet = run_child("fleet", broker.host, broker.port, count, broker.pid)
                time.sleep(0.5)  # the last heartbeats in flight
                fleet["heartbeats_seen"] = len(watcher.messages)
            rows.append(fleet)
        finally:
            broker.stop()
    print_table(count, rows)


def print_table(count: int, rows: list[dict[str, Any]]) -> None:
    names = {
        "tcp": "raw TCP (floor)",
        "mqtt": "bare MqttClient",
        "fleet": f"SimReceiver, {HEARTBEAT_S} s hb",
    }
    print(f"\n{count} connections per scenario, ramp {RAMP_PER_S:g}/s, one process each\n")
    print(
        f"{'scenario':<22} {'connect s':>9} {'KB/conn':>8} {'CPU %':>6} "
        f"{'broker CPU %':>12} {'RSS MB':>7} {'stop s':>7}"
    )
    for row in rows:
        print(
            f"{names[row['kind']]:<22} {row['connect_s']:>9.2f} "
            f"{row['kb_per_connection']:>8.1f} {100 * row['cpu_per_s']:>6.1f} "
            f"{100 * row['broker_cpu_per_s']:>12.1f} {row['rss_mb']:>7.1f} {row['stop_s']:>7.2f}"
        )
    fleet = rows[-1]
    print(
        f"\nfleet heartbeats: {fleet['heartbeats_sent']} sent, "
        f"{fleet['heartbeats_seen']} seen by a subscriber"
    )


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        RAMP_PER_S = float(sys.argv[6])
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        RAMP_PER_S = float(sys.argv[2]) if len(sys.argv) > 2 else RAMP_PER_S
        main(int(sys.argv[1]) if len(sys.argv) > 1 else N)
