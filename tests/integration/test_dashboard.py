"""The dashboard end to end, in Debian's Chromium: an operator sends a bulletin read aloud
to one village from the Broadcast page and watches its receivers reach `played` on the
delivery page; a technician sees a receiver that loses power turn offline on the map.
Nothing is reloaded by hand: the pages follow the live stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dashboard import (
    PHONE,
    browser,
    dashboard_world,
    no_horizontal_overflow,
    screenshot,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_a_bulletin_read_aloud_to_a_village_is_played_and_a_dead_receiver_shows(
    tmp_path: Path,
) -> None:
    async with dashboard_world(tmp_path, receivers=9, villages=3) as world:
        village = world.commune.villages[0]
        in_village = [r.id for r in world.receivers if r.village_id == village.id]
        async with browser() as page:
            await page.goto(world.url + "/broadcast")
            form = page.locator("form#broadcast")
            await form.locator("input[name=title]").fill("Thông báo tiêm chủng")
            await form.locator("textarea[name=text]").fill(
                "Sáng mai trạm y tế xã tiêm vắc-xin cho trẻ dưới năm tuổi."
            )
            await form.locator(f"input[name=targets][value='{village.id}']").check()
            await form.locator("button#send").click()
            await page.wait_for_url("**/bulletins/*", timeout=30_000)
            # Every receiver of the village reaches `played`, shown live.
            for receiver_id in in_village:
                badge = page.locator(f"tr[data-receiver='{receiver_id}'] .badge[data-state]")
                await badge.and_(page.locator("[data-state=played]")).wait_for(timeout=60_000)
            others = [r.id for r in world.receivers if r.id not in in_village]
            for receiver_id in others:
                assert await page.locator(f"tr[data-receiver='{receiver_id}']").count() == 0
            await screenshot(page, "e2e-delivery-played")

            # The map: a receiver loses power and turns offline without a reload.
            await page.goto(world.url + "/receivers")
            victim = in_village[0]
            dot = page.locator(f"svg [data-id='{victim}']")
            assert "st-online" in (await dot.get_attribute("class") or "")
            world.fleet[victim].kill()
            await page.locator(f"svg [data-id='{victim}'].st-offline").wait_for(timeout=30_000)
            row_badge = page.locator(f"tr[data-id='{victim}'] .badge[data-state]")
            assert await row_badge.get_attribute("data-state") == "offline"
            await screenshot(page, "e2e-receiver-offline")

        async with browser(PHONE) as phone:
            await phone.goto(world.url + "/receivers")
            await phone.locator(f"svg [data-id='{victim}'].st-offline").wait_for()
            await no_horizontal_overflow(phone)
            await screenshot(phone, "e2e-receiver-offline")
