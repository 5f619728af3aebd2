"""A technician's remote actions through the HTTP API, on a live commune: volume, restart,
test tone, and the problems for an unknown receiver or a volume out of range."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.http.server import LoaServer
from controller.maintenance import Maintenance
from controller.store.deliveries import load_deliveries
from controller.store.events import list_events
from controller.store.waiting_commands import load_waiting
from tests.support.dashboard import (
    DESKTOP,
    browser,
    dashboard_world,
    reported_volume,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_volume_restart_and_test_tone_reach_the_receiver(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=3, villages=1, heartbeat_s=10) as world:
        controller = world.server.controller
        ingest = controller.ingest
        assert ingest is not None
        rx, away, bystander = (r.id for r in world.receivers)
        base = f"/api/v1/receivers/{rx}"

        # Mistakes first: nothing is sent for them.
        missing = await world.api("POST", "/api/v1/receivers/no-such-rx/volume", json={"volume": 5})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "no-such-rx" in missing.json()["detail"]
        for action in ("restart", "test-tone"):
            answer = await world.api("POST", f"/api/v1/receivers/no-such-rx/{action}")
            assert answer.status_code == 404, action
        for bad in ({"volume": 101}, {"volume": -1}, {"volume": "35"}, {}):
            answer = await world.api("POST", f"{base}/volume", json=bad)
            assert answer.status_code == 422, bad
            assert [e["field"] for e in answer.json()["errors"]] == ["volume"], bad

        # Volume: the receiver's next heartbeats report it.
        answer = await world.api("POST", f"{base}/volume", json={"volume": 35})
        assert answer.status_code == 202
        assert answer.json() == {
            "receiver": rx,
            "command": "volume",
            "online": True,
            "occurrence": None,
        }
        await wait_for(
            lambda: reported_volume(world.server.controller, rx) == 35,
            15,
            f"{rx} reporting volume 35",
        )
        assert reported_volume(world.server.controller, bystander) != 35

        # Restart: offline (reboot), then back with a new epoch, its volume kept.
        health = ingest.health(rx)
        assert health is not None
        epoch = health.epoch
        assert epoch is not None
        answer = await world.api("POST", f"{base}/restart")
        assert answer.status_code == 202
        assert answer.json()["command"] == "restart"
        states: set[str] = set()

        def back_with_a_new_epoch() -> bool:
            now = ingest.health(rx)
            assert now is not None
            states.add(now.state)
            return now.state == "online" and now.epoch is not None and now.epoch > epoch

        await wait_for(back_with_a_new_epoch, 20, f"{rx} back after a restart", every=0.05)
        assert "offline" in states
        await wait_for(
            lambda: reported_volume(world.server.controller, rx) == 35,
            10,
            "the volume kept across the reboot",
        )

        # Test tone: one occurrence, for this receiver only, played.
        answer = await world.api("POST", f"{base}/test-tone")
        assert answer.status_code == 202
        tone = answer.json()
        assert (tone["command"], tone["online"]) == ("test-tone", True)
        occurrence = tone["occurrence"]
        assert occurrence

        async def played() -> bool:
            async with world.store.read() as session:
                deliveries = await load_deliveries(session, occurrence)
            assert [d.receiver for d in deliveries] in ([], [rx])  # queued once dispatched
            return bool(deliveries) and deliveries[0].state == "played"

        await wait_for(played, 30, "the test tone played")
        for other in (away, bystander):
            agent = world.fleet[other].delivery
            assert agent is not None
            assert agent.state_of(occurrence) is None, f"{other} heard of the test tone"

        # A receiver that is away gets its volume when it comes back.
        world.fleet[away].kill()
        await wait_for(lambda: not ingest.is_online(away), 10, f"{away} offline")
        answer = await world.api("POST", f"/api/v1/receivers/{away}/volume", json={"volume": 20})
        assert answer.status_code == 202
        assert answer.json()["online"] is False
        assert Maintenance.of(controller).waiting == {away: ("volume",)}
        world.fleet[away].power_on()
        await wait_for(
            lambda: reported_volume(world.server.controller, away) == 20,
            20,
            f"{away} reporting volume 20",
        )
        assert Maintenance.of(controller).waiting == {}

        events = [e for e in await list_events(world.store) if e.kind == "maintenance"]
        actions = [(e.detail or {}).get("action") for e in reversed(events)]
        assert actions == ["volume", "restart", "test-tone", "volume"]


async def test_a_volume_waiting_for_a_receiver_survives_a_controller_restart(
    tmp_path: Path,
) -> None:
    async with dashboard_world(tmp_path, receivers=2, villages=1, heartbeat_s=10) as world:
        ingest = world.server.controller.ingest
        assert ingest is not None
        away = world.receivers[0].id
        world.fleet[away].kill()
        await wait_for(lambda: not ingest.is_online(away), 10, f"{away} offline")
        answer = await world.api("POST", f"/api/v1/receivers/{away}/volume", json={"volume": 15})
        assert (answer.status_code, answer.json()["online"]) == (202, False)

        # The commune office loses power: the controller stops, and starts again.
        world.server.stop()
        await asyncio.wait_for(world.server.controller.finished.wait(), 10)
        again = LoaServer(world.config)
        running = asyncio.create_task(again.run(), name="loa-serve-again")
        try:
            await wait_for(lambda: again.started, 20, "the controller started again")
            assert Maintenance.of(again.controller).waiting == {away: ("volume",)}
            world.fleet[away].power_on()

            await wait_for(
                lambda: reported_volume(again.controller, away) == 15,
                30,
                f"{away} reporting volume 15",
            )
            assert Maintenance.of(again.controller).waiting == {}

            async def forgotten() -> bool:
                return await load_waiting(world.store, datetime.now(UTC)) == []

            await wait_for(forgotten, 5, "the sent command gone from the store")
        finally:
            again.stop()
            await asyncio.wait_for(running, 10)


async def test_a_test_tone_in_quiet_hours_is_refused_and_the_page_says_why(
    tmp_path: Path,
) -> None:
    local = datetime.now(UTC).astimezone(ZONE)
    window = f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=1):%H:%M}"
    async with dashboard_world(
        tmp_path,
        receivers=1,
        villages=1,
        start_fleet=False,
        schedules={"quiet_hours": window},
    ) as world:
        rx = world.receivers[0].id
        answer = await world.api("POST", f"/api/v1/receivers/{rx}/test-tone")
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["errors"]
        assert (error["field"], error["code"]) == ("action", "quiet_hours")
        assert "only emergencies may sound then" in error["message"]

        async with browser(DESKTOP) as page:
            await page.goto(f"{world.url}/receivers/{rx}")
            await page.click("button[data-action=test-tone]")
            result = page.locator("#action-result.error")
            await result.wait_for(state="visible")
            said = await result.inner_text()
            assert "nằm trong giờ yên lặng" in said, said
            assert f"({window})" in said, said
