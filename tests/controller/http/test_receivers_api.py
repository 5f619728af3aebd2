"""`/api/v1/receivers`, `/api/v1/groups`, `/api/v1/alerts`, `/api/v1/uptime` against a
running `loa serve` with a simulated commune behind it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.store.samples import Sample, write_samples
from tests.support.dashboard import DashboardWorld, dashboard_world, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def get(world: DashboardWorld, path: str, status: int = 200) -> Any:
    answer = await world.api("GET", path)
    assert answer.status_code == status, answer.text
    if status >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
    return answer.json()


async def all_online(world: DashboardWorld) -> bool:
    listed = await get(world, "/api/v1/receivers?limit=1000")
    return all(item["state"] == "online" for item in listed["items"])


async def test_receivers_are_listed_filtered_paged_and_grouped(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=12, villages=3) as world:
        commune = world.commune
        await wait_for(lambda: all_online(world), what="all 12 receivers online")
        listed = await get(world, "/api/v1/receivers")
        assert listed["total"] == 12
        ids = [item["id"] for item in listed["items"]]
        assert ids == sorted(r.id for r in world.receivers)
        first = listed["items"][0]
        registry = next(r for r in world.receivers if r.id == first["id"])
        assert (first["name"], first["lat"], first["lon"]) == (
            registry.name,
            registry.lat,
            registry.lon,
        )
        assert first["commune_id"] == commune.commune.id
        assert first["village_name"] in {v.name for v in commune.villages}
        assert first["last_heard"] is not None
        assert first["alerts"] == [] or all("kind" in a for a in first["alerts"])

        # Paging
        page = await get(world, "/api/v1/receivers?limit=5&offset=10")
        assert (page["total"], [i["id"] for i in page["items"]]) == (12, ids[10:])

        # Filters: village, commune, any group, text (without diacritics), state
        village = commune.villages[0]
        in_village = sorted(r.id for r in world.receivers if r.village_id == village.id)
        by_village = await get(world, f"/api/v1/receivers?village={village.id}&limit=100")
        assert [i["id"] for i in by_village["items"]] == in_village
        by_group = await get(world, f"/api/v1/receivers?group={village.id}")
        assert by_group["total"] == len(in_village)
        by_commune = await get(world, f"/api/v1/receivers?commune={commune.commune.id}")
        assert by_commune["total"] == 12
        named = world.receivers[3]
        plain = named.id.upper()
        assert named.id in [
            i["id"] for i in (await get(world, f"/api/v1/receivers?q={plain}"))["items"]
        ]
        assert (await get(world, "/api/v1/receivers?q=cum%20loa"))["total"] == 12  # "Cụm loa"

        victim = world.receivers[0].id
        world.fleet[victim].kill()
        await wait_for(
            lambda: _state_is(world, victim, "offline"), what=f"{victim} offline in the API"
        )
        offline = await get(world, "/api/v1/receivers?state=offline,silent")
        assert [i["id"] for i in offline["items"]] == [victim]
        repeated = await get(world, "/api/v1/receivers?state=online&state=offline")
        assert repeated["total"] == 12

        # Unknown filter values are problems naming the field.
        for query, field in (
            ("state=asleep", "state"),
            ("commune=no-such-commune", "commune"),
            (f"commune={village.id}", "commune"),  # a village is not a commune
            ("village=nowhere", "village"),
            ("group=nothing", "group"),
            ("alert=sunburn", "alert"),
            ("limit=0", "limit"),
        ):
            problem = await get(world, f"/api/v1/receivers?{query}", 422)
            assert problem["errors"][0]["field"] == field, query

        # One receiver in full; an unknown one is a 404 problem.
        # The state is live; transitions reach the store within a second of happening.
        async def stored_transition() -> bool:
            found = await get(world, f"/api/v1/receivers/{ids[1]}")
            return bool(found["transitions"])

        await wait_for(stored_transition, what=f"{ids[1]}'s first transition stored")
        detail = await get(world, f"/api/v1/receivers/{ids[1]}")
        assert detail["id"] == ids[1]
        assert detail["province_id"] == commune.province.id
        assert detail["state"] == "online"
        assert detail["transitions"][0]["to_state"] == "online"
        missing = await get(world, "/api/v1/receivers/no-such-receiver", 404)
        assert "no-such-receiver" in missing["detail"]

        # Groups: a tree with counts, parents first; one group with its receivers.
        tree = (await get(world, "/api/v1/groups"))["items"]
        assert [g["kind"] for g in tree[:2]] == ["province", "commune"]
        assert tree[0]["receivers"] == tree[1]["receivers"] == 12
        villages = [g for g in tree if g["kind"] == "village"]
        assert sum(g["receivers"] for g in villages) == 12
        assert all(g["parent"] == commune.commune.id for g in villages)
        one = await get(world, f"/api/v1/groups/{village.id}")
        assert one["receiver_ids"] == in_village
        assert (await get(world, f"/api/v1/groups/{commune.commune.id}"))["children"] == sorted(
            (v.id for v in commune.villages),
            key=lambda i: next(v.name for v in commune.villages if v.id == i),
        )
        await get(world, "/api/v1/groups/nowhere", 404)


async def _state_is(world: DashboardWorld, receiver_id: str, state: str) -> bool:
    return bool((await get(world, f"/api/v1/receivers/{receiver_id}"))["state"] == state)


async def test_history_uptime_and_alerts(tmp_path: Path) -> None:
    async with dashboard_world(
        tmp_path, receivers=4, villages=2, health={"offline_alert_after": 0}
    ) as world:
        await wait_for(lambda: all_online(world), what="all 4 receivers online")
        victim = world.receivers[1].id
        now = world.server.controller.clock.now()
        await write_samples(
            world.store,
            [
                Sample(victim, now - timedelta(days=8), "online", -80),  # outside 7 days
                Sample(victim, now - timedelta(hours=3), "online", -91, -65, 12.6),
                Sample(victim, now - timedelta(hours=2), "online", -93, -66, 12.5),
            ],
        )
        world.fleet[victim].kill()
        await wait_for(lambda: _state_is(world, victim, "offline"), what=f"{victim} offline")
        await wait_for(lambda: _has_alert(world, victim), what="an offline alert for the victim")

        path = f"/api/v1/receivers/{victim}/history?days=7"

        async def stored() -> bool:  # transitions reach the store within a second
            return any(t["to_state"] == "offline" for t in (await get(world, path))["transitions"])

        await wait_for(stored, what="the offline transition in the store")
        history = await get(world, path)
        assert history["receiver"] == victim
        assert {"from", "to"} <= history.keys()
        states = [t["to_state"] for t in history["transitions"]]
        assert "online" in states
        assert states[-1] == "offline"
        signal = [(s["rsrp_dbm"], s["battery_v"]) for s in history["samples"]]
        assert signal[:2] == [(-91, 12.6), (-93, 12.5)]  # the 8-day-old one is not in 7 days
        await get(world, f"/api/v1/receivers/{victim}/history?days=0", 422)
        await get(world, "/api/v1/receivers/nobody/history", 404)

        up = await get(
            world, f"/api/v1/receivers/{victim}/uptime?days=0.001"
        )  # 86 s: mostly before it started
        assert 0 < up["uptime"] < 1
        assert up["changes"] >= 2
        everyone = await get(world, "/api/v1/uptime")
        by_id = {u["id"]: u for u in everyone["receivers"]}
        assert set(by_id) == {r.id for r in world.receivers}
        assert by_id[victim]["uptime"] < 1
        problem = await get(
            world, "/api/v1/uptime?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", 422
        )
        assert problem["errors"][0]["field"] == "from"

        alerts = await get(world, "/api/v1/alerts")
        offline = [a for a in alerts["items"] if a["kind"] == "offline"]
        assert [a["receiver"] for a in offline] == [victim]
        assert offline[0]["severity"] == "critical"
        assert offline[0]["name"]
        filtered = await get(world, "/api/v1/receivers?alert=offline")
        assert [i["id"] for i in filtered["items"]] == [victim]


async def _has_alert(world: DashboardWorld, receiver_id: str) -> bool:
    alerts = (await get(world, "/api/v1/alerts"))["items"]
    return any(a["receiver"] == receiver_id for a in alerts)
