"""A whole commune behind the dashboard, in this event loop: a private Mosquitto, a store
with a generated commune's registry, `loa serve`'s server (controller + HTTP on a free
port, `controller.http.server.LoaServer`) and the commune's simulated receivers.

    async with dashboard_world(tmp_path, receivers=12) as world:
        world.url            # http://127.0.0.1:PORT
        world.fleet["..."]   # a SimReceiver, to power off, fail a speaker, ...
        await world.api("GET", "/api/v1/receivers")

`browser_page()` opens Debian's Chromium through Playwright (no browser download), and
`screenshot()` saves a page as a test artifact under `build/screenshots/` (or
`$LOA_ARTIFACTS/screenshots/`), named by page and viewport.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.async_api import Page, ViewportSize, async_playwright

from controller.app import Controller
from controller.config import Config, load_config
from controller.http.server import LoaServer
from controller.keys import read_public_key
from controller.store import Store
from controller.store.registry import import_registry
from devices.registry import Receiver
from simulators.commune import GeneratedCommune, generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet
from tests.support.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LOA_ARTIFACTS", ROOT / "build"))
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Chromium's flags on this machine (../shared/RECIPES.md): no sandbox as root, and no
#: background connections to the Internet (refused here, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
TOPIC_PREFIX = "loa"


@dataclass
class DashboardWorld:
    config: Config
    server: LoaServer
    store: Store
    fleet: Fleet
    commune: GeneratedCommune
    client: httpx.AsyncClient

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def receivers(self) -> tuple[Receiver, ...]:
        return self.commune.receivers

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to the running server (`path` from `/`)."""
        return await self.client.request(method, path, **kwargs)


def dashboard_config(folder: Path, broker_port: int, **sections: Any) -> Config:
    """The config of a dashboard test: embedded broker on `broker_port`, HTTP on any port."""
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "data_dir": str(folder / "data"),
        "topic_prefix": TOPIC_PREFIX,
        "logging": {"level": "INFO"},
        "broker": {"mode": "embedded", "port": broker_port},
        "http": {"port": 0},
        "delivery": {"poll_s": 0.1, "lead_s": 5},
        "schedules": {"quiet_hours": "none"},
        "health": {"default_heartbeat_s": 30},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, environ={})


@contextlib.asynccontextmanager
async def dashboard_world(
    folder: Path,
    *,
    receivers: int = 12,
    villages: int = 3,
    seed: int | str = 8,
    heartbeat_s: int = 30,
    start_fleet: bool = True,
    **sections: Any,
) -> AsyncIterator[DashboardWorld]:
    """Start it all (see the module docstring); stop it all on the way out."""
    commune = generate_commune(seed, receivers, villages, heartbeat_s=heartbeat_s)
    config = dashboard_config(folder, free_port(), **sections)
    # The registry goes in before `loa serve` starts, as a commune would have it.
    store = await Store.open(config.store.url)
    try:
        await store.upgrade()
        groups = [commune.province, commune.commune, *commune.villages]
        await import_registry(
            store, groups, list(commune.receivers), dry_run=False, at=datetime.now(UTC)
        )
        server = LoaServer(config)
        running = asyncio.create_task(server.run(), name="loa-serve")
        try:
            await _started(server, running)
            fleet = Fleet(
                [ReceiverSpec(r.id, r.heartbeat_s) for r in commune.receivers],
                SimSettings(
                    broker=BrokerAddress(port=config.broker.port),
                    topic_prefix=TOPIC_PREFIX,
                    keepalive=30,
                    public_key=read_public_key(config.data_dir),
                    data_root=folder / "receivers",
                ),
                seed=seed,
                ramp_per_s=1000,
            )
            if start_fleet:
                await fleet.start()
                await fleet.wait_online(20)
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                try:
                    yield DashboardWorld(config, server, store, fleet, commune, client)
                finally:
                    await fleet.stop()
        finally:
            server.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running, 10)
    finally:
        await store.close()


async def _started(server: LoaServer, running: asyncio.Task[None], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not server.started:
        if running.done():
            running.result()  # raises why it stopped
            raise RuntimeError("loa serve stopped before it started")
        if loop.time() > deadline:
            raise RuntimeError(f"loa serve did not start within {timeout} s")
        await asyncio.sleep(0.05)


def reported_volume(controller: Controller, receiver_id: str) -> object:
    """The volume `receiver_id` last reported in its heartbeats to `controller`."""
    ingest = controller.ingest
    health = None if ingest is None else ingest.health(receiver_id)
    return None if health is None or health.telemetry is None else health.telemetry.get("volume")


async def wait_for(
    check: Any, timeout: float = 15.0, what: str = "the condition", every: float = 0.1
) -> None:
    """Wait until `check()` (sync or async) is true, or fail saying `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def browser(viewport: ViewportSize | None = None) -> AsyncIterator[Page]:
    """A Playwright page in Debian's headless Chromium; `viewport` defaults to DESKTOP.

    Yields a `playwright.async_api.Page`. Console errors of the page fail the test at
    the end (a page whose script breaks is broken even if it looks right).
    """
    errors: list[str] = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await chromium.new_context(
                viewport=viewport or DESKTOP, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
            )
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            yield page
            await context.close()
        finally:
            await chromium.close()
    unexpected = [e for e in errors if "status of 4" not in e]  # 4xx answers are tested
    assert not unexpected, "the page logged errors:\n" + "\n".join(unexpected)


async def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as `build/screenshots/NAME-WxH.png` and return the path."""
    size = page.viewport_size or DESKTOP
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def no_horizontal_overflow(page: Page) -> None:
    """Fail if the page is wider than its viewport (a table pushing the page sideways)."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
