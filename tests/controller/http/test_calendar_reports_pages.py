"""The calendar and reports pages in Chromium: schedules applied through the API show in
the week grid (a clash outlined and listed, awaiting approval approved from the page, a
paused one marked); the reports page shows the as-run table and the reach chart of a
bulletin the simulated receivers played. Screenshots at desktop and phone sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.test_reports_api import send
from tests.controller.http.test_schedules_api import ZONE, daily
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


async def test_calendar_and_reports_pages(tmp_path: Path) -> None:
    async with dashboard_world(
        tmp_path, receivers=6, villages=3, schedules={"approval": ["all"]}
    ) as world:
        writes: list[dict[str, Any]] = [
            daily("sang", "06:00", title="Chương trình phát thanh buổi sáng", by="can-bo"),
            daily("tiem-chung", "06:00", title="Chiến dịch tiêm chủng mở rộng", by="can-bo",
                  priority="priority", force=True),
            {**daily("chieu", "17:00", title="Thời sự buổi chiều", by="can-bo"),
             "when": {"weekly": {"days": ["t2", "t4", "t6"], "at": ["17:00"]},
                      "from": datetime.now(UTC).astimezone(ZONE).date().isoformat()}},
            daily("tam-dung", "19:30", title="Ca nhạc cuối ngày", by="can-bo", enabled=False),
        ]  # fmt: skip
        for body in writes:
            made = await world.api("POST", "/api/v1/schedules", json=body)
            assert made.status_code == 201, made.text
        for approved in ("sang", "chieu"):
            answer = await world.api(
                "POST", f"/api/v1/schedules/{approved}/approve", json={"by": "chu-tich"}
            )
            assert answer.status_code == 200

        occurrence = await send(world, "Thông báo họp dân thôn")

        async def played() -> bool:
            report = (await world.api("GET", "/api/v1/reports/as-run")).json()
            return any(i["occurrence"] == occurrence and i["played"] == 6 for i in report["items"])

        await wait_for(played, timeout=20, what="the bulletin played by 6 receivers")

        next_week = (datetime.now(UTC).astimezone(ZONE).date() + timedelta(days=7)).isoformat()
        async with browser(DESKTOP) as page:
            await page.goto(f"{world.url}/calendar?week={next_week}")
            grid = page.locator(".cal-grid")
            await grid.wait_for()
            assert await page.locator("h1").inner_text() == "Lịch phát thanh"
            headers = await grid.locator("thead th").all_inner_texts()
            assert [h.split()[0] for h in headers[1:]] == ["T2", "T3", "T4", "T5", "T6", "T7", "CN"]
            clashing = grid.locator(".cal-item.clash")
            assert await clashing.count() == 14  # two schedules at 06:00, every day
            assert "Trùng giờ" in await clashing.first.inner_text()
            assert await page.locator(".clash-list li").count() >= 1
            assert await grid.locator(".cal-item[data-schedule=chieu]").count() == 3
            assert await grid.locator(".cal-item.cs-paused").count() == 7
            assert "Tạm dừng" in await grid.locator(".cal-item.cs-paused").first.inner_text()
            waiting = grid.locator(".cal-item.cs-awaiting_approval")
            assert await waiting.count() == 7
            assert await page.locator(".cal-item[data-schedule=sang] .cal-approve").count() == 0
            await screenshot(page, "calendar")
            await no_horizontal_overflow(page)

            # Approve from the page: a name is asked, the API approves, the page reloads.
            page.once("dialog", lambda dialog: dialog.accept("pho-chu-tich"))
            await grid.locator(".cal-approve").first.click()
            await page.wait_for_selector(".cal-item.cs-awaiting_approval", state="detached")
            stored = (await world.api("GET", "/api/v1/schedules/tiem-chung")).json()
            assert stored["approved_by"] == "pho-chu-tich"

            await page.goto(f"{world.url}/calendar?week={next_week}&lang=en")
            headers = await page.locator(".cal-grid thead th").all_inner_texts()
            assert headers[1].startswith("Mon")

            await page.goto(f"{world.url}/reports?lang=vi")
            table = page.locator("table.as-run")
            await table.wait_for()
            row = table.locator(f"tr[data-occurrence='{occurrence}']")
            assert "Thông báo họp dân thôn" in await row.inner_text()
            assert "100%" in await row.locator(".reach-cell").inner_text()
            bars = page.locator(".reach-chart svg g.bar")
            assert await bars.count() == 7
            assert await page.locator(".reach-chart svg g.bar.good").count() == 1
            assert await page.locator("table.uptime tbody tr").count() == 6
            href = await page.locator("#as-run-csv").get_attribute("href")
            assert href is not None
            assert href.startswith("/api/v1/reports/as-run.csv?from=")
            await screenshot(page, "reports")
            await no_horizontal_overflow(page)

            # A period that ends before it starts is said next to the form, in the page's
            # language and tied to its field; the form keeps the dates that were asked.
            await page.goto(f"{world.url}/reports?from=2026-03-01&to=2026-02-01")
            said = await page.locator(".form-error").inner_text()
            assert said.startswith("Từ ngày: ngày bắt đầu (2026-03-01 00:00) sau ngày kết thúc")
            start = page.locator("#r-from")
            assert await start.input_value() == "2026-03-01"
            assert await page.locator("#r-to").input_value() == "2026-02-01"
            assert await start.get_attribute("aria-invalid") == "true"
            assert await start.get_attribute("aria-describedby") == "err-from"
            assert await page.locator("#err-from").count() == 1
            await page.goto(f"{world.url}/reports?from=2025-01-01&to=2026-03-01&lang=en")
            said = await page.locator(".form-error").inner_text()
            assert said == "To: the period spans 425 days; at most 366 days"
            assert await page.locator("#r-to").get_attribute("aria-invalid") == "true"

        async with browser(PHONE) as page:
            await page.goto(f"{world.url}/calendar?week={next_week}")
            days = page.locator(".cal-days")
            await days.wait_for()
            assert await page.locator(".cal-grid-wrap").is_hidden()
            assert await days.locator(".cal-day").count() == 7
            assert await days.locator(".cal-item.clash").count() == 14
            await screenshot(page, "calendar")
            await no_horizontal_overflow(page)
            await page.goto(f"{world.url}/reports")
            await page.locator("table.as-run").wait_for()
            await screenshot(page, "reports")
            await no_horizontal_overflow(page)
