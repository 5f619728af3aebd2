"""`/api/v1/receivers`, `/api/v1/alerts`, `/api/v1/uptime`: the receivers and their health.

A receiver as the API shows it joins the registry (from the store: name, village,
commune, GPS point, languages, free groups) with its live health (from the running
ingest, `controller.live.sources.receiver_data`: state, since, cause, last heard,
signal, power, volume) and its current alerts (`devices.alerts`). A receiver the
ingest does not track yet (imported a moment ago) shows its stored health.

History (`/receivers/{id}/history`) is the state transitions and the health samples
(`controller.store.samples`) of the last days; uptime is the share of a period the link
was online, computed from the transitions (`devices.health.uptime`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query

from controller.http.api.paging import Page, PagingQuery, page_of
from controller.http.api.receiver_models import (
    AlertItem,
    HistoryOut,
    ReceiverDetailOut,
    ReceiverOut,
    ReceiverUptimeOut,
    UptimesOut,
)
from controller.http.context import Ctx, HttpContext
from controller.http.problems import invalid, not_found
from controller.live.sources import alert_data, alert_policy, health_data, receiver_data
from controller.reports.uptime import receiver_uptimes
from controller.store.health import HealthRow, transitions_between
from controller.store.registry import (
    ReceiverDetail,
    ReceiverRow,
    get_receiver,
    list_receivers,
    list_unregistered,
)
from controller.store.registry_rows import load_groups
from controller.store.samples import samples_between
from devices.alerts import Alert, AlertKind, HealthSnapshot, alerts
from devices.health import HEALTH_STATES
from devices.registry import GroupTree
from loa.clock import utc_iso

router = APIRouter(prefix="/api/v1", tags=["receivers"])

ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
#: The longest period `history` and `uptime` look back.
MAX_DAYS = 30.0


# Building the views (the pages use these too)


def receiver_out(context: HttpContext, row: ReceiverRow | ReceiverDetail, now: datetime) -> Any:
    """The API's view of a registry row with its live health and alerts."""
    receiver = row.receiver
    live, firmware, snapshot = _health(context, receiver.id, row.health)
    found = alerts(snapshot, alert_policy(context.config.health), now)
    return {
        "id": receiver.id,
        "name": receiver.name,
        "village_id": row.village.id,
        "village_name": row.village.name,
        "commune_id": row.commune.id if row.commune else None,
        "commune_name": row.commune.name if row.commune else None,
        "lat": receiver.lat,
        "lon": receiver.lon,
        "languages": list(receiver.languages),
        "groups": list(receiver.groups),
        **{k: v for k, v in live.items() if k != "id"},
        "firmware": firmware,
        "alerts": [alert_data(a) for a in found],
    }


def _health(
    context: HttpContext, receiver_id: str, stored: HealthRow
) -> tuple[dict[str, Any], str | None, HealthSnapshot]:
    machine = context.ingest.health(receiver_id)
    if machine is not None:
        snapshot = HealthSnapshot(
            receiver_id, machine.state, machine.since, machine.cause, machine.telemetry
        )
        return receiver_data(machine), machine.firmware, snapshot
    live = health_data(
        stored.state, stored.since, stored.cause, stored.last_heard, stored.telemetry
    )
    snapshot = HealthSnapshot(
        receiver_id, stored.state, stored.since, stored.cause, stored.telemetry
    )
    return live, stored.firmware, snapshot


def folded(text: str) -> str:
    """`text` lower-cased without Vietnamese diacritics, for searching ("Đông" ~ "dong")."""
    text = text.lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for v in values or [] for part in v.split(",") if part.strip()]


@dataclass(frozen=True)
class ReceiverFilter:
    """What `GET /receivers` (and the receivers page) keeps; all given must hold."""

    state: tuple[str, ...] = ()
    commune: str | None = None
    village: str | None = None
    group: str | None = None
    q: str | None = None
    alert: str | None = None

    def check(self, tree: GroupTree) -> None:
        """Raise a 422 problem naming the first filter whose value names nothing."""
        for value in self.state:
            if value not in HEALTH_STATES:
                known = ", ".join(HEALTH_STATES)
                raise invalid("state", f"unknown state {value!r}; one of {known}")
        if self.alert is not None and self.alert not in ALERT_KINDS:
            known = ", ".join(ALERT_KINDS)
            raise invalid("alert", f"unknown alert {self.alert!r}; one of {known}")
        for field, wanted in (("commune", self.commune), ("village", self.village)):
            group = tree.get(wanted) if wanted is not None else None
            if wanted is not None and (group is None or group.kind != field):
                raise invalid(field, f"there is no {field} {wanted!r}")
        if self.group is not None and self.group not in tree:
            raise invalid("group", f"there is no group {self.group!r}")

    def keeps_row(self, row: ReceiverRow) -> bool:
        """The registry part of the filter."""
        if self.commune is not None and (row.commune is None or row.commune.id != self.commune):
            return False
        if self.village is not None and row.village.id != self.village:
            return False
        needle = folded(self.q.strip()) if self.q else ""
        return not needle or needle in folded(f"{row.receiver.id} {row.receiver.name}")

    def keeps_item(self, item: dict[str, Any]) -> bool:
        """The health part of the filter."""
        if self.state and item["state"] not in self.state:
            return False
        return self.alert is None or any(a["kind"] == self.alert for a in item["alerts"])


async def receiver_list(
    context: HttpContext, chosen: ReceiverFilter
) -> tuple[list[dict[str, Any]], GroupTree]:
    """The receivers `chosen` keeps, by id; unknown filter values are 422 problems."""
    async with context.store.read() as session:
        tree = GroupTree(await load_groups(session))
    chosen.check(tree)
    rows = await list_receivers(context.store, group=chosen.group)
    now = context.clock.now()
    items = [
        item
        for row in rows
        if chosen.keeps_row(row) and chosen.keeps_item(item := receiver_out(context, row, now))
    ]
    items.sort(key=lambda item: item["id"])
    return items, tree


async def receiver_detail(context: HttpContext, receiver_id: str) -> Any:
    """One receiver in full, or a 404 problem."""
    detail = await get_receiver(context.store, receiver_id)
    if detail is None:
        raise not_found("receiver", receiver_id)
    receiver = detail.receiver
    item = receiver_out(context, detail, context.clock.now())
    machine = context.ingest.health(receiver_id)
    health = detail.health
    return item | {
        "province_id": detail.province.id if detail.province else None,
        "province_name": detail.province.name if detail.province else None,
        "group_names": [g.name for g in detail.groups],
        "speakers": receiver.speakers,
        "installed": receiver.installed.isoformat() if receiver.installed else None,
        "notes": receiver.notes,
        "heartbeat_s": receiver.heartbeat_s,
        "capabilities": list(machine.capabilities if machine else health.capabilities),
        "telemetry": machine.telemetry if machine else health.telemetry,
        "telemetry_at": _iso(machine.telemetry_at if machine else health.telemetry_at),
        "registered_at": utc_iso(detail.registered_at),
        "transitions": [_transition(t) for t in detail.transitions],
    }


def _transition(t: Any) -> dict[str, Any]:
    return {
        "at": utc_iso(t.at),
        "from_state": t.from_state,
        "to_state": t.to_state,
        "cause": t.cause,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def _period(context: HttpContext, days: float) -> tuple[datetime, datetime]:
    end = context.clock.now()
    return end - timedelta(days=days), end


async def receiver_history(context: HttpContext, receiver_id: str, days: float) -> Any:
    """State transitions and samples of the last `days` days (404 for an unknown id)."""
    if await get_receiver(context.store, receiver_id) is None:
        raise not_found("receiver", receiver_id)
    start, end = _period(context, days)
    before, transitions = await transitions_between(context.store, receiver_id, start, end)
    samples = await samples_between(context.store, receiver_id, start, end)
    return {
        "receiver": receiver_id,
        "start": utc_iso(start),
        "end": utc_iso(end),
        "state_at_start": before,
        "transitions": [_transition(t) for t in transitions],
        "samples": [
            {
                "at": utc_iso(s.at),
                "state": s.state,
                "rsrp_dbm": s.rsrp_dbm,
                "rssi_dbm": s.rssi_dbm,
                "battery_v": s.battery_v,
            }
            for s in samples
        ],
    }


async def receiver_uptime(
    context: HttpContext, receiver_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    (found,) = await receiver_uptimes(context.store, start, end, ids=[receiver_id])
    return {"id": receiver_id, "uptime": round(found.fraction, 5), "changes": found.changes}


async def current_alerts(context: HttpContext) -> list[dict[str, Any]]:
    """Every alert now, critical first, then by receiver; unregistered receivers too."""
    rows = await list_receivers(context.store)
    now = context.clock.now()
    found: list[dict[str, Any]] = []
    for row in rows:
        item = receiver_out(context, row, now)
        for alert in item["alerts"]:
            found.append(
                alert
                | {"receiver": row.receiver.id, "name": row.receiver.name}
                | {"village_name": row.village.name}
            )
    for stranger in await list_unregistered(context.store):
        alert = Alert(
            stranger.id,
            "unregistered",
            "warning",
            f"connected but not registered (last seen on {stranger.last_topic}); adopt it "
            f"with `loa devices adopt {stranger.id} --village ...` if it is ours",
            stranger.first_seen,
        )
        found.append(
            alert_data(alert) | {"receiver": stranger.id, "name": None, "village_name": None}
        )
    found.sort(key=lambda a: (a["severity"] != "critical", a["receiver"]))
    return found


# Routes

Days = Annotated[float, Query(gt=0, le=MAX_DAYS, description="the last N days")]


@router.get("/receivers", summary="Receivers with their live health and alerts")
async def receivers(
    context: Ctx,
    paging: PagingQuery,
    *,
    state: Annotated[
        list[str] | None, Query(description="health states (repeat or comma-separate)")
    ] = None,
    commune: Annotated[str | None, Query(description="a commune's id")] = None,
    village: Annotated[str | None, Query(description="a village's id")] = None,
    group: Annotated[
        str | None, Query(description="any group's id: the receivers below it")
    ] = None,
    q: Annotated[str | None, Query(description="text in the id or the name")] = None,
    alert: Annotated[str | None, Query(description="an alert kind")] = None,
) -> Page[ReceiverOut]:
    chosen = ReceiverFilter(tuple(_split(state)), commune, village, group, q, alert)
    items, _ = await receiver_list(context, chosen)
    return page_of([ReceiverOut.model_validate(item) for item in items], paging)


@router.get("/receivers/{receiver_id}", summary="One receiver in full")
async def receiver(context: Ctx, receiver_id: str) -> ReceiverDetailOut:
    return ReceiverDetailOut.model_validate(await receiver_detail(context, receiver_id))


@router.get("/receivers/{receiver_id}/history", summary="State changes and samples over days")
async def history(context: Ctx, receiver_id: str, days: Days = 7.0) -> HistoryOut:
    return HistoryOut.model_validate(await receiver_history(context, receiver_id, days))


@router.get("/receivers/{receiver_id}/uptime", summary="How much of the last days it was online")
async def one_uptime(context: Ctx, receiver_id: str, days: Days = 7.0) -> ReceiverUptimeOut:
    if await get_receiver(context.store, receiver_id) is None:
        raise not_found("receiver", receiver_id)
    start, end = _period(context, days)
    found = await receiver_uptime(context, receiver_id, start, end)
    return ReceiverUptimeOut.model_validate(found | {"start": utc_iso(start), "end": utc_iso(end)})


@router.get("/uptime", summary="How much of a period every receiver was online")
async def all_uptimes(
    context: Ctx,
    start: Annotated[
        datetime | None, Query(alias="from", description="ISO instant (default: 7 days ago)")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="ISO instant (default: now)")
    ] = None,
    group: Annotated[str | None, Query(description="only the receivers below this group")] = None,
) -> UptimesOut:
    now = context.clock.now()
    end = _aware(end, "to") if end is not None else now
    start = _aware(start, "from") if start is not None else end - timedelta(days=7)
    if start >= end:
        raise invalid(
            "from", f"the period must end after it starts ({utc_iso(start)} >= {utc_iso(end)})"
        )
    async with context.store.read() as session:
        ReceiverFilter(group=group).check(GroupTree(await load_groups(session)))
    found = [
        {"id": u.receiver_id, "uptime": round(u.fraction, 5), "changes": u.changes}
        for u in await receiver_uptimes(context.store, start, end, group=group)
    ]
    return UptimesOut.model_validate(
        {"start": utc_iso(start), "end": utc_iso(end), "receivers": found}
    )


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise invalid(field, "give a time zone (for example 2026-12-01T00:00:00Z)")
    return moment.astimezone(UTC)


@router.get("/alerts", summary="Every current alert")
async def alert_list(context: Ctx, paging: PagingQuery) -> Page[AlertItem]:
    found = await current_alerts(context)
    return page_of([AlertItem.model_validate(a) for a in found], paging)
