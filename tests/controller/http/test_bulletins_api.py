"""`/api/v1/bulletins`: a bulletin sent to a village is heard there, receiver by receiver;
the same refusals as `loa bulletin send` (quiet hours, unknown targets, past times); an
emergency must be confirmed; cancel; problems for unknown ids and bad fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.dashboard import dashboard_world, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TEXT = "Khẩn cấp. Nước sông đang lên nhanh, bà con di chuyển lên chỗ cao."


def quiet_window() -> tuple[str, datetime]:
    """Quiet hours that start three hours from now (so "now" is never in them) and an
    instant inside them."""
    start = datetime.now(UTC) + timedelta(hours=3)
    local = start.astimezone(ZONE)
    end = local + timedelta(hours=2)
    return f"{local:%H:%M}-{end:%H:%M}", start + timedelta(hours=1)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_send_follow_refuse_and_cancel(tmp_path: Path) -> None:
    window, quiet_instant = quiet_window()
    async with dashboard_world(
        tmp_path, receivers=4, villages=2, schedules={"quiet_hours": window}
    ) as world:
        village = world.commune.villages[0]
        there = sorted(r.id for r in world.receivers if r.village_id == village.id)
        assert len(there) >= 2
        # One receiver of the village is off: it misses the bulletin, and is listed first.
        off = there[-1]
        world.fleet[off].kill()
        controller = world.server.controller
        await wait_for(
            lambda: controller.ingest is not None and not controller.ingest.is_online(off),
            what=f"{off} offline",
        )

        async def post(body: dict[str, Any]) -> Any:
            return await world.api("POST", "/api/v1/bulletins", json=body)

        base = {"text": TEXT, "targets": [village.id], "title": "Nước lên"}

        # An emergency is sent only when confirmed.
        unconfirmed = await post({**base, "priority": "emergency"})
        assert unconfirmed.status_code == 422
        assert unconfirmed.json()["errors"][0]["field"] == "confirm"

        sent = await post({**base, "priority": "emergency", "confirm": True})
        assert sent.status_code == 201, sent.text
        answer = sent.json()
        occurrence = answer["occurrence"]
        assert answer["receivers"] == len(there)
        assert answer["url"] == f"/bulletins/{occurrence}"
        assert answer["play_at"] is None  # an emergency plays as soon as it has arrived

        async def status() -> Any:
            return (await world.api("GET", f"/api/v1/bulletins/{occurrence}")).json()

        heard = len(there) - 1

        async def all_played() -> bool:
            return bool((await status())["counts"]["played"] == heard)

        await wait_for(all_played, timeout=30, what=f"{heard} receivers played it")
        report = await status()
        assert report["title"] == "Nước lên"
        assert report["priority"] == "emergency"
        assert report["total"] == len(there)
        assert sorted(r["receiver"] for r in report["receivers"]) == there
        assert {r["village_name"] for r in report["receivers"]} == {village.name}
        first, *rest = report["receivers"]
        assert first["receiver"] == off
        assert first["missed"] is True
        assert first["online"] is False
        assert first["state"] in ("queued", "offered")
        assert all(r["state"] == "played" and not r["missed"] for r in rest)
        by_prefix = await world.api("GET", f"/api/v1/bulletins/{occurrence[:8]}")
        assert by_prefix.json()["occurrence"] == occurrence

        listed = (await world.api("GET", "/api/v1/bulletins?priority=emergency")).json()
        assert [o["occurrence"] for o in listed["items"]] == [occurrence]
        assert listed["items"][0]["counts"]["played"] == heard
        assert (await world.api("GET", "/api/v1/bulletins?priority=normal")).json()["total"] == 0
        later = iso(datetime.now(UTC) + timedelta(days=1))
        assert (await world.api("GET", f"/api/v1/bulletins?from={later}")).json()["total"] == 0

        # Quiet hours: refused as the CLI refuses it; an emergency is not.
        quiet = await post({**base, "play_at": iso(quiet_instant)})
        assert quiet.status_code == 422
        problem = quiet.json()
        assert "quiet hours" in problem["detail"]
        assert "only emergencies may sound then" in problem["detail"]
        assert problem["errors"][0]["field"] == "play_at"
        # Named, with its figures, for the pages to say in their own language.
        assert problem["errors"][0]["code"] == "quiet_hours"
        assert set(problem["errors"][0]["params"]) == {"time", "where", "hours"}

        # A bulletin for later, then cancelled (once).
        at = datetime.now(UTC) + timedelta(minutes=30)
        planned = await post({**base, "play_at": iso(at), "expires": "30m", "repeat": 2})
        assert planned.status_code == 201, planned.text
        planned_id = planned.json()["occurrence"]
        waiting = (await world.api("GET", f"/api/v1/bulletins/{planned_id}")).json()
        assert waiting["state"] == "scheduled"
        assert waiting["waiting"] == len(there)
        assert {r["state"] for r in waiting["receivers"]} == {"waiting"}
        cancelled = await world.api("POST", f"/api/v1/bulletins/{planned_id}/cancel")
        assert cancelled.json() == {"occurrence": planned_id, "cancelled": True, "was": "scheduled"}
        twice = await world.api("POST", f"/api/v1/bulletins/{planned_id}/cancel")
        assert twice.status_code == 409
        assert "nothing to cancel" in twice.json()["detail"]
        states = (await world.api("GET", "/api/v1/bulletins?state=cancelled")).json()
        assert [o["occurrence"] for o in states["items"]] == [planned_id]


async def test_unknown_ids_and_bad_fields(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=2, villages=1, start_fleet=False) as world:
        village = world.commune.villages[0].id

        async def problem(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            answer = await world.api(method, path, **kwargs)
            assert answer.headers["content-type"] == "application/problem+json"
            return answer.status_code, answer.json()

        status, body = await problem("GET", "/api/v1/bulletins/" + "0" * 32)
        assert status == 404
        assert "no occurrence has an id starting" in body["detail"]
        status, body = await problem("POST", "/api/v1/bulletins/" + "0" * 32 + "/cancel")
        assert status == 404

        post = "/api/v1/bulletins"
        status, body = await problem("POST", post, json={"text": "Xin chào", "targets": []})
        assert status == 422
        assert [e["field"] for e in body["errors"]] == ["targets"]
        status, body = await problem(
            "POST", post, json={"text": "Xin chào", "targets": ["no-such-village"]}
        )
        assert status == 422
        assert body["errors"][0]["field"] == "targets"
        assert "'no-such-village' is neither a registered receiver nor a group" in body["detail"]
        # One error per bad field.
        status, body = await problem(
            "POST",
            post,
            json={
                "text": "Xin chào",
                "targets": [village],
                "priority": "loud",
                "repeat": 0,
                "volume": 300,
                "play_at": "2026-12-01T06:00:00",
            },
        )
        assert status == 422
        assert sorted(e["field"] for e in body["errors"]) == [
            "play_at",
            "priority",
            "repeat",
            "volume",
        ]
        status, body = await problem("POST", post, json={"targets": [village]})
        assert status == 422
        assert body["errors"][0]["field"] == "text"
        past = iso(datetime.now(UTC) - timedelta(hours=1))
        status, body = await problem(
            "POST", post, json={"text": "Xin chào", "targets": [village], "play_at": past}
        )
        assert status == 422
        assert "is in the past" in body["detail"]
        assert body["errors"][0]["field"] == "play_at"
        assert body["errors"][0]["code"] == "in_the_past"
        status, body = await problem(
            "POST", post, json={"text": "Xin chào", "targets": [village], "expires": "soon"}
        )
        assert status == 422
        assert body["errors"][0]["field"] == "expires"
        status, body = await problem(
            "POST", post, json={"contents": ["abcdef123456"], "targets": [village]}
        )
        assert status == 422
        assert body["errors"][0]["field"] == "contents"
        status, body = await problem("GET", "/api/v1/bulletins?state=gone")
        assert status == 422
        assert body["errors"][0]["field"] == "state"
        # Nothing was half-made by any of these.
        assert (await world.api("GET", "/api/v1/bulletins")).json()["total"] == 0
        assert (await world.api("GET", "/api/v1/contents")).json()["total"] == 0

        # The pages in both languages, and an unknown bulletin's page.
        empty = await world.api("GET", "/bulletins")
        assert "Chưa có bản tin nào được gửi." in empty.text
        english = await world.api("GET", "/bulletins?lang=en")
        assert "No bulletin has been sent yet." in english.text
        form = await world.api("GET", "/broadcast?lang=en")
        assert form.status_code == 200
        assert "EMERGENCY BROADCAST" in form.text
        assert f'value="{village}"' in form.text
        gone = await world.api("GET", "/bulletins/" + "0" * 32)
        assert gone.status_code == 404
        assert "text/html" in gone.headers["content-type"]
        assert "Not found" in gone.text  # the language chosen above is remembered
