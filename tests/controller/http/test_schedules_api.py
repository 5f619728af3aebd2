"""`/api/v1/schedules` and `/api/v1/calendar` against the real server: create, refuse a
clash (then accept it with force), refuse quiet hours, approve, pause, replace, delete,
preview, and the week's calendar with its clash marked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.dashboard import DashboardWorld, dashboard_world

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def today() -> str:
    return datetime.now(UTC).astimezone(ZONE).date().isoformat()


def daily(schedule_id: str, at: str, **more: Any) -> dict[str, Any]:
    return {
        "id": schedule_id,
        "title": f"Bản tin {schedule_id} — thông báo của xã",
        "when": {"daily": [at], "from": today()},
        "targets": "all",
        "text": {"vi": "Kính thưa bà con, sáng mai họp chợ phiên tại trung tâm xã."},
        **more,
    }


async def post(world: DashboardWorld, body: dict[str, Any]) -> Any:
    return await world.api("POST", "/api/v1/schedules", json=body)


def fields(answer: Any) -> set[str]:
    assert answer.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in answer.json()["errors"]}


async def test_schedules_crud_rules_and_calendar(tmp_path: Path) -> None:
    async with dashboard_world(
        tmp_path,
        receivers=4,
        villages=2,
        start_fleet=False,
        schedules={"quiet_hours": "22:00-05:00", "approval": ["all"]},
    ) as world:
        # A new schedule waits for a second person's approval (approval: all).
        made = await post(world, daily("sang", "08:00", by="can-bo-a"))
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["action"] == "added"
        assert body["pending_approval"] is True
        assert body["schedule"]["state"] == "awaiting"
        assert body["schedule"]["file"]["when"]["daily"] == ["08:00"]
        assert len(body["schedule"]["occurrences"]) == 5
        assert body["schedule"]["communes"] == [world.commune.commune.id]

        # The same air time on the same receivers is a clash: refused, nothing stored...
        clash = await post(world, daily("chieu", "08:00", by="can-bo-a"))
        assert clash.status_code == 409, clash.text
        assert fields(clash) == {"when"}
        assert "sang" in clash.json()["detail"]
        assert (await world.api("GET", "/api/v1/schedules/chieu")).status_code == 404
        # ...unless accepted with force.
        forced = await post(world, daily("chieu", "08:00", by="can-bo-a", force=True))
        assert forced.status_code == 201, forced.text
        assert forced.json()["clashes"]

        # Quiet hours are not forcible.
        quiet = await post(world, daily("dem", "22:30", force=True))
        assert quiet.status_code == 422
        assert fields(quiet) == {"when"}
        assert "quiet hours" in quiet.json()["detail"]

        # Bad fields are named one by one, with the schedule reader's own words.
        bad = await post(
            world, {"id": "x", "when": {"daily": ["25:00"], "from": today()}, "targets": "all",
                    "text": {"vi": "a"}, "lead_s": "soon", "titel": "y"},
        )  # fmt: skip
        assert bad.status_code == 422
        assert {"title", "lead_s", "titel", "when"} <= fields(bad), bad.json()
        unknown_target = await post(world, daily("lac", "09:00", targets="no-such-village"))
        assert unknown_target.status_code == 422
        assert fields(unknown_target) == {"targets"}

        # The YAML text of a schedule file works as well.
        text = (
            "schedules:\n  - id: cho-phien\n    title: Thông báo chợ phiên\n"
            f"    when: {{weekly: {{days: [t2, t5], at: ['10:00']}}, from: {today()}}}\n"
            "    targets: all\n    priority: priority\n"
            "    text: {vi: 'Sáng mai họp chợ phiên.'}\n"
        )
        from_yaml = await post(world, {"yaml": text, "by": "can-bo-b"})
        assert from_yaml.status_code == 201, from_yaml.text
        assert from_yaml.json()["schedule"]["file"]["when"]["weekly"]["days"] == ["mon", "thu"]
        bad_yaml = await post(world, {"yaml": "schedules:\n  - id: [\n"})
        assert bad_yaml.status_code == 422
        assert fields(bad_yaml) == {"yaml"}
        again = await post(world, daily("sang", "07:00"))
        assert again.status_code == 409
        assert fields(again) == {"id"}

        listed = (await world.api("GET", "/api/v1/schedules?q=CHỢ")).json()
        assert [s["id"] for s in listed["items"]] == ["cho-phien"]
        everything = (await world.api("GET", "/api/v1/schedules?limit=2")).json()
        assert everything["total"] == 3
        assert len(everything["items"]) == 2

        # Approval by a second person only.
        own = await world.api("POST", "/api/v1/schedules/sang/approve", json={"by": "can-bo-a"})
        assert own.status_code == 409
        assert "second person" in own.json()["detail"]
        approved = await world.api(
            "POST", "/api/v1/schedules/sang/approve", json={"by": "chu-tich"}
        )
        assert approved.status_code == 200
        assert approved.json()["approval"] == "approved"
        assert approved.json()["state"] == "on"
        nobody = await world.api("POST", "/api/v1/schedules/sang/approve", json={})
        assert nobody.status_code == 422
        assert fields(nobody) == {"by"}

        paused = await world.api("POST", "/api/v1/schedules/chieu/pause")
        assert paused.json()["state"] == "paused"
        assert (await world.api("GET", "/api/v1/schedules?enabled=false")).json()["total"] == 1
        resumed = await world.api("POST", "/api/v1/schedules/chieu/resume")
        assert resumed.json()["state"] != "paused"

        # Replace: the changed air time is a new plan (approval again).
        current = (await world.api("GET", "/api/v1/schedules/sang")).json()["file"]
        current["when"]["daily"] = ["06:30"]
        replaced = await world.api("PUT", "/api/v1/schedules/sang", json={**current, "by": "x"})
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["action"] == "updated"
        assert replaced.json()["fields"] == ["when"]
        assert replaced.json()["schedule"]["approval"] == "pending"
        wrong_id = await world.api("PUT", "/api/v1/schedules/sang", json=daily("khac", "06:30"))
        assert wrong_id.status_code == 422
        assert fields(wrong_id) == {"id"}
        assert (await world.api("PUT", "/api/v1/schedules/nope", json=current)).status_code == 404

        preview = (await world.api("GET", "/api/v1/schedules/sang/preview?count=3")).json()
        assert len(preview["occurrences"]) == 3
        assert preview["occurrences"][0]["air_local"].endswith("+07:00")
        assert "T06:30:00" in preview["occurrences"][0]["air_local"]
        assert (await world.api("GET", "/api/v1/schedules/sang/preview?count=0")).status_code == 422

        # Next week's calendar: both 08:00... (sang moved to 06:30) chieu alone at 08:00,
        # cho-phien Monday and Thursday at 10:00; no clash left.
        next_week = (datetime.now(UTC).astimezone(ZONE).date() + timedelta(days=7)).isoformat()
        week = (await world.api("GET", f"/api/v1/calendar?week={next_week}")).json()
        (commune,) = week["communes"]
        assert commune["id"] == world.commune.commune.id
        titles = {(e["schedule"], e["local"][11:16]) for e in commune["entries"]}
        assert ("sang", "06:30") in titles
        assert ("chieu", "08:00") in titles
        assert sum(1 for e in commune["entries"] if e["schedule"] == "cho-phien") == 2
        assert week["clashes"] == []
        # Moving sang back onto chieu (forced) shows the clash in the calendar and the window.
        current["when"]["daily"] = ["08:00"]
        await world.api("PUT", "/api/v1/schedules/sang", json={**current, "force": True})
        week = (await world.api("GET", f"/api/v1/calendar?week={next_week}")).json()
        marked = [e for e in week["communes"][0]["entries"] if e["clash"]]
        assert {e["schedule"] for e in marked} == {"sang", "chieu"}
        assert week["clashes"]
        window = (
            await world.api("GET", f"/api/v1/schedules/clashes?start={next_week}&days=2")
        ).json()
        assert len(window["clashes"]) == 2
        assert {
            window["clashes"][0]["first"]["schedule"],
            window["clashes"][0]["second"]["schedule"],
        } == {"sang", "chieu"}

        bad_commune = await world.api("GET", "/api/v1/calendar?commune=nowhere")
        assert bad_commune.status_code == 422
        assert fields(bad_commune) == {"commune"}
        bad_week = await world.api("GET", "/api/v1/calendar?week=tuesday")
        assert bad_week.status_code == 422
        assert fields(bad_week) == {"week"}

        assert (await world.api("DELETE", "/api/v1/schedules/cho-phien")).status_code == 204
        assert (await world.api("GET", "/api/v1/schedules/cho-phien")).status_code == 404
        gone = await world.api("DELETE", "/api/v1/schedules/cho-phien")
        assert gone.status_code == 404
        assert gone.json()["title"] == "No such schedule"

        # Two operators adding the same new id at once: one gets it, the other is told so.
        both = await asyncio.gather(
            post(world, daily("toi", "19:00", title="Bản tin tối một")),
            post(world, daily("toi", "19:00", title="Bản tin tối hai")),
        )
        assert sorted(a.status_code for a in both) == [201, 409], [a.text for a in both]
        (lost,) = [a for a in both if a.status_code == 409]
        assert fields(lost) == {"id"}
        assert "'toi' exists" in lost.json()["detail"]
