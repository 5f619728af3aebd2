"""Benchmark: how fast the controller is back after its embedded Mosquitto dies.

`loa serve` runs with its embedded broker; the broker is SIGKILLed ROUNDS times, each
time after it has lived QUICK_EXIT seconds (a broker that dies sooner is treated as
crash-looping and restarted with a doubling delay, which is not what this measures).
Measured per round: from the kill to the controller's `online` presence with the next
epoch, as a subscriber sees it. Baseline in the same run: a bare Mosquitto on the same
generated config, from spawn to accepting TCP connections (what no supervisor can beat).

Run with `make bench` or `.venv/bin/python bench/reconnect.py`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.broker import settings_from_config
from controller.broker.embedded import QUICK_EXIT
from controller.config.model import BrokerConfig
from devices.protocol import Topics
from tests.support.controller import PresenceWatcher, ServeProcess, write_config
from tests.support.mosquitto import PrivateMosquitto, free_port

ROUNDS = 5


def wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.005)


def broker_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "mosquitto" / "mosquitto.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def bare_start(tmp: Path) -> float:
    settings = settings_from_config(BrokerConfig(port=free_port()), tmp / "bare")
    broker = PrivateMosquitto(settings)
    started = time.perf_counter()
    broker.start(port_wait=0.0)
    elapsed = time.perf_counter() - started
    broker.stop()
    return elapsed


def controller_rounds(tmp: Path) -> list[float]:
    port = free_port()
    config = write_config(
        tmp / "serve", topic_prefix="bench", broker={"port": port}, logging={"level": "INFO"}
    )
    data_dir = config.parent / "data"
    topic = Topics("bench").controller_status
    serve = ServeProcess(config)
    times: list[float] = []
    try:
        with PresenceWatcher("127.0.0.1", port, topic).start(timeout=20) as watcher:
            epoch = watcher.wait_presence(state="online")["epoch"]
        for _ in range(ROUNDS):
            time.sleep(QUICK_EXIT + 0.5)
            pid = broker_pid(data_dir)
            assert pid is not None
            killed = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            wait(lambda: broker_pid(data_dir) not in (None, pid), 30)  # noqa: B023
            epoch += 1
            with PresenceWatcher("127.0.0.1", port, topic).start(timeout=20) as watcher:
                watcher.wait_presence(state="online", epoch=epoch, timeout=30)
            times.append(time.perf_counter() - killed)
    finally:
        serve.stop()
        leftover = broker_pid(data_dir)
        if leftover is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover, signal.SIGKILL)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        bare = statistics.median(bare_start(tmp) for _ in range(ROUNDS))
        rounds = controller_rounds(tmp)
    median = statistics.median(rounds)
    print(f"embedded broker SIGKILLed {ROUNDS} times; seconds until the controller is online")
    print(f"{'baseline: bare Mosquitto start':40} {bare:>7.3f} s")
    print(
        f"{'Loa: kill -> restarted -> online (median)':40} {median:>7.3f} s  ({median / bare:.1f}x)"
    )
    print(f"{'Loa: worst round':40} {max(rounds):>7.3f} s  (limit 10 s)")
    print("rounds: " + ", ".join(f"{r:.3f}" for r in rounds))


if __name__ == "__main__":
    main()
