"""Benchmark: the dashboard's receivers page with 3,000 receivers, and its live stream at
1,000 receiver state changes per second.

`loa serve` runs (its own process, embedded Mosquitto) with a registry of 3,000 receivers
in 10 communes of 25 villages. A paho client stands in for the receivers: births put them
all online, then it makes 1,000 state changes a second (a receiver's link lost, then back
with a new epoch), alternating over all of them. Headless Chromium (Debian's, via Playwright) shows
`/receivers`.

Figures, each beside a baseline measured in the same run:

1. Page render: navigation to the `load` event of `/receivers` with 3,000 receivers (map
   and table), median of 3; baseline: the same layout with no data (the 404 page).
   Bound (issue 8): under 1 s.
2. Live lag: a probe receiver's state is flipped once a second; a MutationObserver in the
   page notes when its badge changes. Lag = page change - publish. Baseline: the same
   probe with no other changes; then under 1,000 changes/s for 20 s. The page keeps up
   when the lag under load stays bounded (p95 under 1 s, and the last quarter no worse
   than the first plus 0.5 s) and, once the changes stop, every receiver on the map and
   the counts at the top show the final state within 2 s.

Usage: `.venv/bin/python bench/dashboard.py [RECEIVERS] [CHANGES_PER_S] [SECONDS]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from playwright.async_api import async_playwright

from controller.config import load_config
from controller.http.pages.receivers import TABLE_PAGE
from controller.store import Store
from controller.store.registry import import_registry
from devices.protocol import Topics
from devices.protocol.receiver import ReceiverBirth, ReceiverOffline
from devices.registry import Group, Receiver
from simulators.commune import generate_commune
from tests.support.controller import LOA, write_config
from tests.support.dashboard import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.support.mosquitto import free_port

PREFIX = "bench"
RENDER_BOUND_S = 1.0
LAG_BOUND_S = 1.0
CATCH_UP_BOUND_S = 2.0

OBSERVE_PROBE = """probe => {
  window.__probe = [];
  const dot = document.querySelector(`#receiver-map [data-id="${probe}"]`);
  new MutationObserver(() => window.__probe.push([Date.now(), dot.getAttribute("class")]))
    .observe(dot, {attributes: true, attributeFilter: ["class"]});
}"""

#: Every receiver's state as the map shows it, and the counts at the top.
MAP_STATES = """() => [
  Object.fromEntries([...document.querySelectorAll("#receiver-map [data-id]")]
    .map(dot => [dot.dataset.id, dot.getAttribute("class").replace("st-", "")])),
  Number(document.querySelector("[data-kpi=online]").textContent)]"""


def registry(receivers: int) -> tuple[list[Group], list[Receiver]]:
    """`receivers` receivers in up to 10 generated communes (all the names there are), 25
    villages each."""
    groups: dict[str, Group] = {}
    made: list[Receiver] = []
    per_commune = -(-receivers // 10)
    for seed in range(1, 1000):
        if len(made) >= receivers:
            break
        count = min(per_commune, receivers - len(made))
        commune = generate_commune(seed, count, min(25, count))
        if commune.commune.id in groups:
            continue
        for group in (commune.province, commune.commune, *commune.villages):
            groups.setdefault(group.id, group)
        made.extend(commune.receivers)
    if len(made) < receivers:
        raise SystemExit(f"could only generate {len(made)} receivers")
    return list(groups.values()), made


class Receivers:
    """The stand-in for the fleet: one paho connection publishing status messages."""

    def __init__(self, port: int, ids: list[str]) -> None:
        self.topics = Topics(PREFIX)
        self.epochs = dict.fromkeys(ids, 1)
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id="bench-fleet",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self.client.max_queued_messages_set(0)
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not connected.wait(10):
            raise SystemExit("the stand-in fleet could not connect to the broker")

    def online(self, rid: str) -> None:
        self.epochs[rid] += 1
        birth = ReceiverBirth(
            rid, self.epochs[rid], datetime.now(UTC), "bench 1.0", heartbeat_s=600
        )
        self.client.publish(self.topics.receiver(rid, "status"), birth.encode(), qos=0)

    def offline(self, rid: str) -> None:
        gone = ReceiverOffline(rid, self.epochs[rid], "lost", datetime.now(UTC))
        self.client.publish(self.topics.receiver(rid, "status"), gone.encode(), qos=0)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def lags(page: Any, fleet: Receivers, probe: str, seconds: int, load: int) -> list[float]:
    """Flip the probe once a second for `seconds`, with `load` other changes a second."""
    await page.evaluate(
        "() => { window.__probe = window.__probe || []; window.__probe.length = 0; }"
    )
    others = [rid for rid in fleet.epochs if rid != probe]
    down: set[str] = set()
    stop = threading.Event()

    def churn() -> None:
        index = 0
        tick = 0.01
        per_tick = max(1, int(load * tick))
        next_at = time.monotonic()
        while not stop.is_set():
            for _ in range(per_tick):
                rid = others[index % len(others)]
                index += 1
                if rid in down:
                    fleet.online(rid)
                    down.discard(rid)
                else:
                    fleet.offline(rid)
                    down.add(rid)
            next_at += tick
            time.sleep(max(0.0, next_at - time.monotonic()))

    worker = threading.Thread(target=churn, daemon=True) if load else None
    if worker is not None:
        worker.start()
    flips: list[tuple[float, str]] = []
    try:
        for second in range(seconds):
            if second % 2 == 0:
                fleet.offline(probe)
                flips.append((time.time(), "offline"))
            else:
                fleet.online(probe)
                flips.append((time.time(), "online"))
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        if worker is not None:
            worker.join()
    await asyncio.sleep(1.5)
    seen = await page.evaluate("() => window.__probe")
    found: list[float] = []
    for at, state in flips:
        later = [
            when / 1000
            for when, shown in seen
            if shown == f"st-{state}" and when / 1000 >= at - 0.05
        ]
        found.append(min(later) - at if later else float("inf"))
    for rid in list(down):  # leave every receiver online
        fleet.online(rid)
    if len(flips) % 2 == 1:
        fleet.online(probe)
    return found


def start_serve(config_path: Path) -> subprocess.Popen[bytes]:
    log = (config_path.parent / "serve.log").open("wb")
    return subprocess.Popen([LOA, "serve", "--config", str(config_path)], stdout=log, stderr=log)


async def wait_online(base: str, serve: subprocess.Popen[bytes], fleet_of: Any) -> Receivers:
    """Wait for `loa serve`, then bring every receiver online; the stand-in fleet."""
    async with httpx.AsyncClient(base_url=base) as http:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/api/v1/health")).status_code == 200:
                    break
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("loa serve did not come up; see its log")
            await asyncio.sleep(0.3)
        say("loa serve is up; bringing the receivers online")
        fleet: Receivers = fleet_of()
        for rid in fleet.epochs:
            fleet.online(rid)
        wanted = len(fleet.epochs)
        deadline = time.monotonic() + 120
        while True:
            health = (await http.get("/api/v1/health")).json()
            if health["receivers"]["online"] >= wanted:
                return fleet
            if time.monotonic() > deadline:
                raise SystemExit(f"only {health['receivers']} of {wanted} came online")
            await asyncio.sleep(0.3)


async def run(receivers: int, load: int, seconds: int) -> bool:  # noqa: PLR0915 - one story
    groups, made = registry(receivers)
    ids = [r.id for r in made]
    probe = ids[len(ids) // 2]
    with tempfile.TemporaryDirectory() as folder:
        broker_port, http_port = free_port(), free_port()
        config_path = write_config(
            Path(folder),
            topic_prefix=PREFIX,
            broker={"port": broker_port},
            http={"port": http_port},
            logging={"level": "WARNING"},
            # Every flip is a state change here (no `flapping` verdict), no silence verdicts.
            health={"default_heartbeat_s": 600, "flapping_transitions": 1_000_000},
        )
        config = load_config(config_path, environ={})
        async with await Store.open(config.store.url) as store:
            await store.upgrade()
            await import_registry(store, groups, made, dry_run=False, at=datetime.now(UTC))
        serve = start_serve(config_path)
        fleet: Receivers | None = None
        base = f"http://127.0.0.1:{http_port}"
        try:
            fleet = await wait_online(base, serve, lambda: Receivers(broker_port, ids))
            async with async_playwright() as playwright:
                chromium = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                page = await (await chromium.new_context(viewport=DESKTOP)).new_page()
                render: list[float] = []
                parts: list[dict[str, float]] = []
                empty: list[float] = []
                for _ in range(3):
                    for path, into in (("/receivers", render), ("/nothing-here", empty)):
                        await page.goto(base + path, wait_until="load")
                        timing = await page.evaluate(
                            "() => performance.getEntriesByType('navigation')[0].toJSON()"
                        )
                        into.append(timing["loadEventEnd"] / 1000)
                        if path == "/receivers":
                            parts.append(timing)
                await page.goto(base + "/receivers", wait_until="load")
                rows = await page.locator("tr[data-id]").count()
                dots = await page.locator("svg [data-id]").count()
                await page.evaluate(OBSERVE_PROBE, probe)
                say(f"page loaded: {rows} rows, {dots} points; probe lag, quiet")
                quiet = await lags(page, fleet, probe, 10, 0)
                say(f"probe lag with {load} changes/s for {seconds} s")
                busy = await lags(page, fleet, probe, seconds, load)
                say("waiting for every row to show its receiver's state")
                # After the churn: every row must come to its receiver's state.
                stopped = time.monotonic()
                caught_up = float("inf")
                while time.monotonic() - stopped < 10:
                    states, online = await page.evaluate(MAP_STATES)
                    if online == receivers and all(states.get(rid) == "online" for rid in ids):
                        caught_up = time.monotonic() - stopped
                        break
                    await asyncio.sleep(0.05)
                applied = await page.evaluate("() => Loa.applied")
                await chromium.close()
        finally:
            if fleet is not None:
                fleet.close()
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(15)
            except subprocess.TimeoutExpired:
                serve.kill()
    first, last = busy[: len(busy) // 4], busy[-len(busy) // 4 :]
    figures = {
        "receivers": receivers,
        "rows": rows,
        "map_points": dots,
        "render_s_median": statistics.median(render),
        "server_s_median": statistics.median(t["responseStart"] / 1000 for t in parts),
        "html_received_s_median": statistics.median(t["responseEnd"] / 1000 for t in parts),
        "dom_content_loaded_s_median": statistics.median(
            t["domContentLoadedEventEnd"] / 1000 for t in parts
        ),
        "baseline_empty_page_s_median": statistics.median(empty),
        "lag_quiet_p50_s": percentile(quiet, 0.5),
        "lag_quiet_p95_s": percentile(quiet, 0.95),
        "changes_per_s": load,
        "lag_busy_p50_s": percentile(busy, 0.5),
        "lag_busy_p95_s": percentile(busy, 0.95),
        "lag_busy_max_s": max(busy),
        "lag_first_quarter_p95_s": percentile(first, 0.95),
        "lag_last_quarter_p95_s": percentile(last, 0.95),
        "catch_up_s": caught_up,
        "events_applied_by_page": applied,
    }
    print(json.dumps(figures, indent=2))
    print(
        f"receivers page, {receivers} receivers: {figures['render_s_median']:.3f} s to load "
        f"(baseline, the empty layout: {figures['baseline_empty_page_s_median']:.3f} s; "
        f"bound {RENDER_BOUND_S} s)"
    )
    print(
        f"live lag of a probe: quiet p50 {figures['lag_quiet_p50_s'] * 1000:.0f} ms; "
        f"with {load} changes/s p50 {figures['lag_busy_p50_s'] * 1000:.0f} ms, "
        f"p95 {figures['lag_busy_p95_s'] * 1000:.0f} ms; map and counts right "
        f"{caught_up:.2f} s after the changes stopped"
    )
    good = (
        dots == receivers
        and rows == min(receivers, TABLE_PAGE)
        and figures["render_s_median"] < RENDER_BOUND_S
        and figures["lag_busy_p95_s"] < LAG_BOUND_S
        and figures["lag_last_quarter_p95_s"] <= figures["lag_first_quarter_p95_s"] + 0.5
        and caught_up < CATCH_UP_BOUND_S
    )
    print("within bounds" if good else "MISSED a bound")
    return good


def main() -> None:
    receivers = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    load = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    ok = asyncio.run(run(receivers, load, seconds))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
