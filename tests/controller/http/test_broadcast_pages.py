"""The broadcast page, the bulletins list and a delivery page in Chromium: type a bulletin,
hear the preview, send it to one village and watch its receivers reach `played` live;
the emergency button refuses without its word; mistakes show next to their field."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

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


def tone(path: Path) -> Path:
    """A two-second 440 Hz tone, made by ffmpeg."""
    subprocess.run(
        [shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "1", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
    )  # fmt: skip
    return path


TEXT = "Kính mời bà con thôn đến nhà văn hoá họp lúc bảy giờ tối nay."


async def test_broadcast_to_a_village_and_watch_it_played(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=6, villages=2) as world:
        village = world.commune.villages[0]
        there = [r.id for r in world.receivers if r.village_id == village.id]
        assert len(there) >= 2
        off = there[-1]  # powered off: the delivery page lists it first, as missed
        world.fleet[off].kill()

        async def bulletins() -> int:
            return int((await world.api("GET", "/api/v1/bulletins")).json()["total"])

        async with browser(DESKTOP) as page:
            await page.goto(world.url + "/broadcast")
            assert await page.locator("h1").first.inner_text() == "Phát thanh"
            await screenshot(page, "broadcast")
            await no_horizontal_overflow(page)
            form = page.locator("form#broadcast")
            # The commune's languages by name (a generated commune speaks Tày, Nùng and Vietnamese).
            spoken = {language for r in world.receivers for language in r.languages}
            names = {
                await option.get_attribute("value"): await option.inner_text()
                for option in await form.locator("select[name=language] option").all()
            }
            known = {"vi": "Tiếng Việt", "tay": "Tiếng Tày", "nung": "Tiếng Nùng"}
            assert {code: names[code] for code in spoken} == {c: known[c] for c in spoken}
            await form.locator("input[name=title]").fill("Họp thôn")
            await form.locator("textarea[name=text]").fill(TEXT)

            # The emergency button asks for its word, and refuses anything else.
            await page.click("button#emergency")
            dialog = page.locator("dialog#emergency-dialog")
            assert await dialog.is_visible()
            assert str(len(world.receivers)) in await page.locator("#emergency-count").inner_text()
            await page.fill("#emergency-word", "CẤP CỨU")  # not the word (KHAN CAP would do)
            await page.click("#emergency-confirm")
            assert await page.locator("#emergency-error").is_visible()
            assert await dialog.is_visible()
            await page.click("#emergency-cancel")
            assert not await dialog.is_visible()
            assert await bulletins() == 0

            # A send the server refuses (a time already past) says so by the field,
            # and keeps what was typed.
            await page.click(f"input[name=targets][value='{village.id}']")
            assert str(len(there)) in await page.locator("#target-count").inner_text()
            await page.check("input[name=when][value=at]")
            await page.fill("input[name=play_at]", "2020-01-01T06:00")
            await page.click("button#send")
            error = page.locator('.field-error[data-for="play_at"]')
            await error.wait_for(state="visible")
            assert "Giờ phát 06:00 01/01/2020 đã qua" in await error.inner_text()
            play_at = page.locator("input[name=play_at]")
            assert await play_at.get_attribute("aria-invalid") == "true"
            assert await play_at.get_attribute("aria-describedby") == await error.get_attribute(
                "id"
            )
            assert await form.locator("textarea[name=text]").input_value() == TEXT
            assert await bulletins() == 0
            await page.check("input[name=when][value=now]")

            # The preview reads the text aloud into the player.
            await page.click("button#preview")
            await page.wait_for_function(
                "() => (document.getElementById('player').getAttribute('src') || '')"
                ".includes('/audio')",
                timeout=20_000,
            )
            assert await page.locator(".player-box").is_visible()
            contents = (await world.api("GET", "/api/v1/contents")).json()
            assert contents["total"] == 1

            # Send: the delivery page, whose rows move to played without a reload.
            await page.click("button#send")
            await page.wait_for_url(re.compile(r"/bulletins/[0-9a-f]{32}$"), timeout=15_000)
            await page.evaluate("() => { window.__stayed = true; }")
            rows = page.locator("table.deliveries tr[data-receiver]")
            assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.receiver)")) == (
                sorted(there)
            )
            played = page.locator("table.deliveries .badge[data-state=played]")

            heard = len(there) - 1

            async def rows_played() -> bool:
                return await played.count() == heard

            await wait_for(rows_played, timeout=40, what="every online receiver's row played")
            assert await page.evaluate("() => window.__stayed === true")  # no reload
            counted = page.locator('[data-count="played"]').first
            assert await counted.inner_text() == str(heard)
            first = rows.first
            assert await first.get_attribute("data-receiver") == off
            assert await first.get_attribute("class") == "missed"
            assert await page.locator(".missed-card").is_visible()

            async def off_queued() -> bool:  # queued at dispatch, and shown so
                state = await first.locator(".badge[data-state]").get_attribute("data-state")
                return state in ("queued", "offered")

            await wait_for(off_queued, timeout=10, what=f"{off} shown queued")
            assert "mất kết nối" in await first.locator("td.reason").inner_text()
            await screenshot(page, "bulletin")
            await no_horizontal_overflow(page)
            occurrence = page.url.rsplit("/", 1)[1]

            # A recording: uploaded with a progress bar, then in the player; a text file
            # named .mp3 is refused next to the field, by its name.
            await page.goto(world.url + "/broadcast")
            await page.check("input[name=source][value=file]")
            await page.set_input_files("input[name=file]", str(tone(tmp_path / "thong-bao.wav")))
            await page.locator("#upload-progress[data-done]").wait_for(state="attached")
            await page.wait_for_function(
                "() => (document.getElementById('player').getAttribute('src') || '')"
                ".includes('/audio')"
            )
            fake = tmp_path / "ban-tin.mp3"
            fake.write_text("không phải âm thanh\n" * 50, encoding="utf-8")
            await page.set_input_files("input[name=file]", str(fake))
            refused = page.locator('.field-error[data-for="file"]')
            await refused.wait_for(state="visible")
            assert (await refused.inner_text()).startswith("ban-tin.mp3: ")

            await page.goto(world.url + "/bulletins")
            row = page.locator(f"tr[data-occurrence='{occurrence}']")
            assert "Họp thôn" in await row.inner_text()
            assert f"{len(there) - 1}/{len(there)}" in await row.inner_text()
            await screenshot(page, "bulletins")
            await no_horizontal_overflow(page)

        async with browser(PHONE) as phone:
            for path, name in (
                ("/broadcast", "broadcast"),
                ("/bulletins", "bulletins"),
                (f"/bulletins/{occurrence}", "bulletin"),
            ):
                await phone.goto(world.url + path)
                await screenshot(phone, name)
                await no_horizontal_overflow(phone)
