"""The receivers pages in Chromium: the map and table of every receiver, live changes
without a reload, one receiver's page with its chart and actions, phones and desktops."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from controller.store.health import save_health
from controller.store.samples import Sample, write_samples
from controller.store.schema import receivers
from devices.health import Transition
from tests.support.dashboard import (
    DESKTOP,
    PHONE,
    browser,
    dashboard_world,
    no_horizontal_overflow,
    screenshot,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_the_receivers_page_maps_every_receiver_and_follows_them_live(
    tmp_path: Path,
) -> None:
    async with dashboard_world(tmp_path, receivers=12, villages=3) as world:
        ingest = world.server.controller.ingest
        assert ingest is not None
        await wait_for(
            lambda: all(ingest.is_online(r.id) for r in world.receivers), what="all online"
        )
        ids = sorted(r.id for r in world.receivers)
        async with browser(DESKTOP) as page:
            await page.goto(world.url + "/receivers")
            assert await page.locator("h1").inner_text() == "Thiết bị thu phát"
            rows = page.locator("#receivers-table tbody tr[data-id]")
            assert await rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ids
            circles = page.locator("#receiver-map circle[data-id]")
            assert sorted(await circles.evaluate_all("cs => cs.map(c => c.dataset.id)")) == ids
            assert await page.locator("#receiver-map circle.st-online").count() == 12
            labels = await page.locator("#receiver-map .labels text").evaluate_all(
                "ts => ts.map(t => t.textContent)"
            )
            assert sorted(labels) == sorted(v.name for v in world.commune.villages)
            assert await page.locator('[data-kpi="online"]').inner_text() == "12"
            await screenshot(page, "receivers")
            await no_horizontal_overflow(page)

            # A receiver loses power: its circle, badge and the counts change in place.
            victim = ids[2]
            await page.evaluate("window.notReloaded = true")
            world.fleet[victim].kill()
            circle = page.locator(f'#receiver-map circle[data-id="{victim}"]')
            await circle.and_(page.locator("circle.st-offline")).wait_for(timeout=15_000)
            badge = page.locator(f'tr[data-id="{victim}"] .badge[data-state]')
            assert await badge.get_attribute("data-state") == "offline"
            assert await badge.inner_text() == "Mất kết nối"
            assert await page.locator('[data-kpi="offline"]').inner_text() == "1"
            assert await page.locator('[data-kpi="online"]').inner_text() == "11"
            assert await page.evaluate("window.notReloaded") is True

            # Filters are a form: offline only.
            await page.select_option("#f-state", "offline")
            await page.click(".filters button[type=submit]")
            await page.wait_for_url("**/receivers?state=offline*")
            assert await rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == [victim]

            # The map takes you to a receiver's page.
            await page.goto(world.url + "/receivers")
            await page.locator(f'#receiver-map circle[data-id="{ids[0]}"]').click()
            await page.wait_for_url(f"**/receivers/{ids[0]}")
        async with browser(PHONE) as page:
            await page.goto(world.url + "/receivers")
            assert await page.locator("#receivers-table tbody tr").count() == 12
            await screenshot(page, "receivers")
            await no_horizontal_overflow(page)
        problem = await world.api("GET", "/receivers?state=asleep")
        assert problem.status_code == 422


async def test_a_receivers_page_shows_its_chart_health_and_actions(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=3, villages=1) as world:
        ingest = world.server.controller.ingest
        assert ingest is not None
        await wait_for(
            lambda: all(ingest.is_online(r.id) for r in world.receivers), what="all online"
        )
        receiver = world.receivers[0]
        now = world.server.controller.clock.now()
        await write_samples(
            world.store,
            [
                Sample(receiver.id, now - timedelta(hours=h), "online", -100 + h % 7, None, 12.4)
                for h in range(30, 0, -1)
            ],
        )
        # Put up five days ago: the band begins there, not at the start of the 7 days.
        async with world.store.write() as session:
            await session.execute(
                update(receivers)
                .where(receivers.c.id == receiver.id)
                .values(created_at=now - timedelta(days=5))
            )
        past = [
            Transition(receiver.id, now - timedelta(days=3), "offline", "online", "test", 1),
            Transition(receiver.id, now - timedelta(days=2), "online", "offline", "test", 1),
        ]
        await save_health(world.store, [], past, now)
        async with browser(DESKTOP) as page:
            await page.goto(world.url + f"/receivers/{receiver.id}")
            assert receiver.name in await page.locator("h1").inner_text()
            assert await page.locator("#live-badge .badge").get_attribute("data-state") == "online"
            chart = page.locator("#history-chart")
            band = await chart.locator(".band rect").evaluate_all(
                "rs => rs.map(r => [r.getAttribute('class'), Number(r.getAttribute('width'))])"
            )
            assert [state for state, _ in band[:3]] == ["st-offline", "st-online", "st-offline"]
            assert 220 < band[0][1] < 260  # two days of seven (from day 5 to day 3 back)
            assert 100 < band[1][1] < 130  # one day of seven, in an 836 px wide plot
            points = await chart.locator(".signal polyline").first.get_attribute("points")
            assert points is not None
            assert len(points.split()) == 30
            ticks = await chart.locator(".x-label").evaluate_all("ts => ts.map(t => t.textContent)")
            assert len(ticks) in (6, 7)
            assert all("/" in tick for tick in ticks)
            assert "%" in await page.locator("#live-health").inner_text()
            await screenshot(page, "receiver")
            await no_horizontal_overflow(page)

            # An action answers in #action-result (the command, or why it failed).
            await page.click("button[data-action=test-tone]")
            result = page.locator("#action-result")
            await result.wait_for(state="visible")

            async def answered() -> bool:
                return await result.inner_text() not in ("", "Đang gửi lệnh…")

            await wait_for(answered, what="an answer to the test tone")
            answer = await result.inner_text()
            assert answer.startswith(("Đã gửi lệnh", "Đã xếp lệnh", "Không gửi được lệnh: "))
            # Restart asks first; dismissing sends nothing.
            page.once("dialog", lambda dialog: dialog.dismiss())
            before = await result.inner_text()
            await page.click("button[data-action=restart]")
            assert await result.inner_text() == before
            # A volume out of range never leaves the page (the browser's own check aside).
            await page.fill("#volume-form input[name=volume]", "250")
            await page.evaluate(
                "document.getElementById('volume-form')"
                ".dispatchEvent(new Event('submit', {cancelable: true}))"
            )
            assert "0 đến 100" in await result.inner_text()
            await page.fill("#volume-form input[name=volume]", "40")
            await page.click("#volume-form button[type=submit]")
            await wait_for(answered, what="an answer to the volume")
            assert "0 đến 100" not in await result.inner_text()

            # It goes offline while we look.
            world.fleet[receiver.id].kill()
            await page.locator('#live-badge .badge[data-state="offline"]').wait_for(timeout=15_000)
        async with browser(PHONE) as page:
            await page.goto(world.url + f"/receivers/{receiver.id}?lang=en")
            assert await page.locator("h2").first.inner_text() == "Health now"
            await screenshot(page, "receiver")
            await no_horizontal_overflow(page)
            await page.goto(world.url + "/receivers/no-such-receiver")
            assert await page.locator("h1").inner_text() == "Not found"
