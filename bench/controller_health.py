"""Benchmark: the controller tracking 2,000 receivers that send a heartbeat every 10 s.

`loa serve` runs with its embedded Mosquitto; `loa sim --generate` (another process)
imports a generated registry of N receivers and runs them. Once every receiver is
online, the CPU time of the controller's process is measured over a steady window,
beside a baseline measured over the same window: `mosquitto_sub` (a minimal C client)
subscribed to the same status and heartbeat topics, reading and discarding them.

The issue's target: under 10% of one core for 2,000 receivers at 10 s heartbeats.
Usage: `.venv/bin/python bench/controller_health.py [RECEIVERS] [WINDOW_SECONDS]`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from process_rig import cpu_seconds, raise_open_files, rss_kb

from devices.protocol import Topics
from tests.support.controller import LOA, write_config
from tests.support.mosquitto import free_port


def online_count(config: Path) -> int:
    result = subprocess.run(
        [LOA, "devices", "list", "--status", "online", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return 0
    return len(json.loads(result.stdout))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    receivers = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    window = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    raise_open_files(20_000)
    topics = Topics("bench")
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = write_config(
            Path(folder),
            topic_prefix="bench",
            broker={"port": port},
            logging={"level": "WARNING"},
            health={"default_heartbeat_s": 10},
        )
        log = (Path(folder) / "serve.log").open("wb")
        serve = subprocess.Popen([LOA, "serve", "--config", str(config)], stdout=log, stderr=log)
        sim = baseline = None
        try:
            deadline = time.monotonic() + 30
            while subprocess.run(
                [LOA, "status", "--config", str(config), "--wait", "0.3"],
                capture_output=True, check=False,
            ).returncode != 0:  # fmt: skip
                if time.monotonic() > deadline or serve.poll() is not None:
                    raise SystemExit("loa serve did not come up")
                time.sleep(0.3)
            villages = max(6, receivers // 50)
            sim = subprocess.Popen(
                [LOA, "sim", "--generate", "--receivers", str(receivers), "--villages",
                 str(villages), "--heartbeat", "10", "--ramp", "500", "--config", str(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            started = time.monotonic()
            while online_count(config) < receivers:
                if time.monotonic() - started > 180 or sim.poll() is not None:
                    raise SystemExit(f"only {online_count(config)} of {receivers} came online")
                time.sleep(2)
            ramp = time.monotonic() - started
            baseline = subprocess.Popen(
                ["mosquitto_sub", "-p", str(port), "-q", "1",
                 "-t", topics.every_receiver("heartbeat"), "-t", topics.every_receiver("status")],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(2)
            c0, b0, t0 = cpu_seconds(serve.pid), cpu_seconds(baseline.pid), time.monotonic()
            time.sleep(window)
            c1, b1, t1 = cpu_seconds(serve.pid), cpu_seconds(baseline.pid), time.monotonic()
            still = online_count(config)
            memory = rss_kb(serve.pid) / 1024
        finally:
            for process in (baseline, sim, serve):
                if process is not None:
                    stop(process)
            log.close()
    elapsed = t1 - t0
    ours, floor = 100 * (c1 - c0) / elapsed, 100 * (b1 - b0) / elapsed
    rate = receivers / 10
    print(f"{receivers} receivers, heartbeat every 10 s (~{rate:.0f} messages/s), "
          f"{elapsed:.0f} s window; all online after {ramp:.0f} s")  # fmt: skip
    print(f"{'baseline: mosquitto_sub on the same topics':46} {floor:5.1f} % of one core")
    print(f"{'Loa controller (ingest, health, store)':46} {ours:5.1f} % of one core "
          f"({ours / max(floor, 0.1):.1f}x; target < 10 %)")  # fmt: skip
    print(f"controller RSS {memory:.0f} MB; still online at the end: {still}/{receivers}")


if __name__ == "__main__":
    main()
