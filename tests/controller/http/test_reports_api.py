"""`/api/v1/reports` with real occurrences: bulletins sent to the commune's simulated
receivers, played by all (reach 100 %) or by all but one powered off (lower reach); the
CSV reads back with `csv` with its Vietnamese intact; uptime lists the dark one first."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.audio.settings import build_library
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from loa.clock import SystemClock
from tests.support.dashboard import DashboardWorld, dashboard_world, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TITLE_OK = "Thông báo tiêm chủng mở rộng"
TITLE_DARK = "Lịch họp thôn Nà Vường"


async def send(world: DashboardWorld, title: str) -> str:
    request = SendRequest(
        audio=Audio(text="Xin chào bà con."),
        language="vi",
        targets="all",
        title=title,
        created_by="test",
        play_at=datetime.now(UTC) + timedelta(seconds=3),
    )
    sent = await send_bulletin(
        world.store, build_library(world.config, world.store), world.config, request, SystemClock()
    )
    delivery = world.server.controller.delivery
    assert delivery is not None
    delivery.wake()
    return sent.occurrence.id


async def as_run(world: DashboardWorld, query: str = "") -> dict[str, Any]:
    answer = await world.api("GET", "/api/v1/reports/as-run" + query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def item(world: DashboardWorld, occurrence: str) -> dict[str, Any]:
    found = [i for i in (await as_run(world))["items"] if i["occurrence"] == occurrence]
    assert len(found) == 1
    chosen: dict[str, Any] = found[0]
    return chosen


async def test_as_run_reach_csv_and_uptime(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=4, villages=2) as world:
        everyone = await send(world, TITLE_OK)

        async def all_played() -> bool:
            return int((await item(world, everyone))["played"]) == 4

        await wait_for(all_played, timeout=20, what="4 receivers played the first bulletin")

        victim = world.receivers[0].id
        world.fleet[victim].kill()
        ingest = world.server.controller.ingest
        assert ingest is not None
        await wait_for(lambda: not ingest.is_online(victim), what=f"{victim} offline")
        partly = await send(world, TITLE_DARK)

        async def three_played() -> bool:
            return int((await item(world, partly))["played"]) == 3

        await wait_for(three_played, timeout=20, what="3 receivers played the second bulletin")

        report = await as_run(world)
        rows = {i["occurrence"]: i for i in report["items"]}
        full, part = rows[everyone], rows[partly]
        assert (full["title"], full["targeted"], full["reach"]) == (TITLE_OK, 4, 1.0)
        assert full["schedule"] is None
        assert full["targets"] == "all"
        assert full["first_played_at"] is not None
        assert (part["title"], part["targeted"], part["played"]) == (TITLE_DARK, 4, 3)
        assert part["reach"] == 0.75
        assert part["pending"] + part["failed"] == 1
        assert report["targeted"] == 8
        assert report["played"] == 7
        today = [d for d in report["days"] if d["occurrences"]]
        assert len(today) == 1
        assert today[0]["reach"] == pytest.approx(7 / 8)
        assert len(report["days"]) >= 7  # every day of the default 7 days is charted

        # One commune: the same here; a period before the bulletins: nothing.
        commune = world.commune.commune.id
        assert len((await as_run(world, f"?commune={commune}"))["items"]) == 2
        assert (await as_run(world, "?from=2026-01-01&to=2026-01-31"))["items"] == []

        answer = await world.api("GET", "/api/v1/reports/as-run.csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.content.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
        table = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        by_title = {row["title"]: row for row in table}
        assert set(by_title) == {TITLE_OK, TITLE_DARK}
        assert by_title[TITLE_DARK]["reach_percent"] == "75.0"
        assert by_title[TITLE_OK]["play_utc"].endswith("Z")
        local = datetime.fromisoformat(by_title[TITLE_OK]["play_local"])
        utc = datetime.fromisoformat(by_title[TITLE_OK]["play_utc"].replace("Z", "+00:00"))
        assert local - utc.replace(tzinfo=None) == timedelta(hours=7)

        uptime = (await world.api("GET", "/api/v1/reports/uptime?from=" + _today())).json()
        assert len(uptime["receivers"]) == 4
        assert uptime["receivers"][0]["id"] == victim, "worst first"
        assert uptime["receivers"][0]["uptime"] < uptime["receivers"][-1]["uptime"]
        text = (await world.api("GET", "/api/v1/reports/uptime.csv")).content.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[0] == ["receiver", "name", "village", "uptime_percent", "changes"]
        assert {line[0] for line in lines[1:]} == {r.id for r in world.receivers}
        assert {line[1] for line in lines[1:]} == {r.name for r in world.receivers}

        # Periods that cannot be reported on name the field.
        for query, field in (
            ("?from=2026-03-01&to=2026-02-01", "from"),
            ("?from=2024-01-01&to=2026-01-31", "to"),
            ("?from=yesterday", "from"),
            ("?commune=nowhere", "commune"),
        ):
            bad = await world.api("GET", "/api/v1/reports/as-run" + query)
            assert bad.status_code == 422, query
            assert [e["field"] for e in bad.json()["errors"]] == [field], query
        bad = await world.api("GET", "/api/v1/reports/uptime.csv?from=2026-03-01&to=2026-02-01")
        assert bad.status_code == 422


def _today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
