"""`loa serve`'s HTTP server with a commune behind it: health, metrics, live events, a
page in Chromium (the shared fixtures of the dashboard's tests, proven once)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.http.context import Ctx
from controller.store.schema import receivers
from tests.support.dashboard import browser, dashboard_world, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_health_metrics_and_live_receiver_events(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=4, villages=2) as world:
        health = (await world.api("GET", "/api/v1/health")).json()
        assert health["status"] == "ok"
        assert health["link"]["connected"] is True
        await wait_for(
            lambda: (
                world.server.controller.ingest is not None
                and all(world.server.controller.ingest.is_online(r.id) for r in world.receivers)
            ),
            what="all 4 receivers online",
        )
        metrics = (await world.api("GET", "/metrics")).text
        assert 'loa_receivers{state="online"} 4.0' in metrics
        assert "loa_mqtt_connected 1.0" in metrics

        # A receiver powered off shows up on the live stream as offline.
        victim = world.receivers[0].id
        seen: list[dict[str, object]] = []
        async with world.client.stream("GET", "/api/v1/events?kinds=receiver") as stream:
            world.fleet[victim].kill()
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    seen.extend(json.loads(line[6:]))
                if any(e.get("id") == victim and e.get("state") != "online" for e in seen):
                    break
        gone = [e for e in seen if e.get("id") == victim]
        assert gone[-1]["state"] in ("offline", "silent")


async def test_unknown_paths_are_problems_in_the_api_and_pages(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=2, villages=1, start_fleet=False) as world:
        answer = await world.api("GET", "/api/v1/no-such-thing")
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "there is nothing at /api/v1/no-such-thing"
        bad = await world.api("GET", "/api/v1/events?kinds=nonsense")
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "kinds"
        async with browser() as page:
            await page.goto(world.url + "/no-such-page")
            assert await page.locator("h1").inner_text() == "Không tìm thấy"
            await page.goto(world.url + "/no-such-page?lang=en")
            assert await page.locator("h1").inner_text() == "Not found"


async def test_a_request_running_when_told_to_stop_is_answered_before_the_controller_stops(
    tmp_path: Path,
) -> None:
    entered = asyncio.Event()

    async def slow(context: Ctx) -> dict[str, int]:
        entered.set()
        await asyncio.sleep(0.3)
        async with context.store.read() as session:
            counted = await session.execute(select(func.count()).select_from(receivers))
        return {"receivers": counted.scalar_one()}

    async with dashboard_world(tmp_path, receivers=2, villages=1, start_fleet=False) as world:
        world.server.app.add_api_route("/api/v1/slow-for-the-test", slow)
        request = asyncio.create_task(world.api("GET", "/api/v1/slow-for-the-test"))
        await entered.wait()
        world.server.stop()
        answer = await request
        assert (answer.status_code, answer.json()) == (200, {"receivers": 2})
        assert not world.server.controller.finished.is_set()
        await asyncio.wait_for(world.server.controller.finished.wait(), timeout=5)
