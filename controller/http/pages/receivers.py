"""The dashboard's receivers pages: `/receivers` (map, counts, table) and `/receivers/{id}`.

Both are rendered on the server (the map and the history chart are inline SVG made here),
so 3,000 receivers cost no script on load; `receivers.js` and `receiver.js` then follow
live events and change only what changed. The map and the counts show every receiver the
filters keep; the table shows them `TABLE_PAGE` at a time (a technician filters or pages
rather than scrolls through 3,000 rows, and the page stays fast on a phone).

The map projects GPS points equirectangularly (longitude scaled by the cosine of the
middle latitude), fitted to the points' bounding box with a margin: no tile server.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controller.http.api.receivers import (
    ReceiverFilter,
    receiver_detail,
    receiver_history,
    receiver_list,
    receiver_uptime,
)
from controller.http.context import Ctx, HttpContext
from controller.http.pages.render import render
from devices.health import HEALTH_STATES
from devices.registry import Group, GroupTree

router = APIRouter(include_in_schema=False)

#: Rows of the receivers table on one page.
TABLE_PAGE: Final = 100
MAP_WIDTH: Final = 1000
#: The map's height / width stays within these, whatever the points' shape.
MAP_RATIO: Final = (0.45, 0.8)
MAP_MARGIN: Final = 0.08
#: Village labels are centred at least this share of the width from the map's sides.
LABEL_EDGE: Final = 0.13
#: The smallest span shown, in degrees (one receiver alone is not a map of a dot).
MIN_SPAN_DEG: Final = 0.004
CHART_DAYS: Final = 7.0
#: Signal axis of the history chart, dBm.
SIGNAL_RANGE: Final = (-130.0, -50.0)
#: A gap between samples longer than this breaks the signal line.
SAMPLE_GAP: Final = timedelta(hours=1)


@dataclass(frozen=True)
class MapPoint:
    id: str
    name: str
    state: str
    x: float
    y: float


@dataclass(frozen=True)
class MapView:
    width: int
    height: int
    radius: float
    points: list[MapPoint]
    labels: list[tuple[str, float, float]]
    #: Receivers shown in the table but not on the map (no GPS point).
    unplaced: int


def map_view(items: list[dict[str, Any]]) -> MapView:
    """The receivers with a GPS point, projected and fitted into a `MAP_WIDTH` wide box."""
    placed = [i for i in items if i["lat"] is not None and i["lon"] is not None]
    if not placed:
        return MapView(MAP_WIDTH, int(MAP_WIDTH * MAP_RATIO[0]), 6, [], [], len(items))
    lats = [i["lat"] for i in placed]
    middle = (min(lats) + max(lats)) / 2
    scale_x = math.cos(math.radians(middle))
    xs = [i["lon"] * scale_x for i in placed]
    ys = [-i["lat"] for i in placed]
    span_x = max(max(xs) - min(xs), MIN_SPAN_DEG) * (1 + 2 * MAP_MARGIN)
    span_y = max(max(ys) - min(ys), MIN_SPAN_DEG) * (1 + 2 * MAP_MARGIN)
    ratio = span_y / span_x
    if ratio < MAP_RATIO[0]:
        span_y = span_x * MAP_RATIO[0]
    elif ratio > MAP_RATIO[1]:
        span_x = span_y / MAP_RATIO[1]
    centre_x, centre_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    unit = MAP_WIDTH / span_x
    height = round(span_y * unit)

    def to_box(x: float, y: float) -> tuple[float, float]:
        return (
            round((x - centre_x) * unit + MAP_WIDTH / 2, 1),
            round((y - centre_y) * unit + height / 2, 1),
        )

    points = []
    by_village: dict[str, list[tuple[float, float]]] = {}
    names: dict[str, str] = {}
    for item, x, y in zip(placed, xs, ys, strict=True):
        bx, by = to_box(x, y)
        points.append(MapPoint(item["id"], item["name"], item["state"], bx, by))
        by_village.setdefault(item["village_id"], []).append((bx, by))
        names[item["village_id"]] = item["village_name"]
    # A label stays inside the box even for a village at its edge (phones draw them big).
    edge = MAP_WIDTH * LABEL_EDGE
    labels = [
        (
            names[v],
            round(min(max(sum(p[0] for p in ps) / len(ps), edge), MAP_WIDTH - edge), 1),
            round(max(min(p[1] for p in ps) - 14, 36), 1),
        )
        for v, ps in by_village.items()
    ]
    radius = 7.0 if len(points) <= 100 else 5.0 if len(points) <= 600 else 3.5
    return MapView(MAP_WIDTH, height, radius, points, labels, len(items) - len(placed))


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    #: the filters, kept in the links to other pages
    keep: dict[str, str]

    @property
    def first_row(self) -> int:
        return (self.page - 1) * TABLE_PAGE + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.page * TABLE_PAGE, self.total)

    def link(self, page: int) -> str:
        return "/receivers?" + urlencode({**self.keep, "page": page})


def places(tree: GroupTree) -> list[tuple[Group, bool]]:
    """Communes and their villages for the place filter: (group, is a village)."""
    communes = sorted((g for g in tree if g.kind == "commune"), key=lambda g: g.name)
    found: list[tuple[Group, bool]] = []
    for commune in communes:
        found.append((commune, False))
        villages = [g for g in tree if g.kind == "village" and g.parent_id == commune.id]
        found += [(v, True) for v in sorted(villages, key=lambda g: g.name)]
    return found


@router.get("/receivers", response_class=HTMLResponse)
async def receivers_page(
    request: Request,
    context: Ctx,
    *,
    state: Annotated[str | None, Query()] = None,
    group: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    chosen = ReceiverFilter(
        state=(state,) if state else (), group=group or None, q=(q or "").strip() or None
    )
    items, tree = await receiver_list(context, chosen)
    counts = Counter(item["state"] for item in items)
    pages = max(1, -(-len(items) // TABLE_PAGE))
    page = min(page, pages)
    keep = {"state": state, "group": group, "q": q}
    return render(
        request,
        "receivers.html",
        nav="receivers",
        items=items,
        rows=items[(page - 1) * TABLE_PAGE : page * TABLE_PAGE],
        pager=Pager(page, pages, len(items), {k: v for k, v in keep.items() if v}),
        # Every shown receiver's state and alerts, so the live counts stay right for
        # receivers on other pages of the table.
        live_states={item["id"]: item["state"] for item in items},
        alerted=[item["id"] for item in items if item["alerts"]],
        map=map_view(items),
        counts=[(s, counts.get(s, 0)) for s in HEALTH_STATES],
        with_alerts=sum(1 for item in items if item["alerts"]),
        places=places(tree),
        states=HEALTH_STATES,
        chosen=chosen,
        filtered=bool(chosen.state or chosen.group or chosen.q),
    )


# The receiver's page and its chart


@dataclass
class Chart:
    width: int = 900
    height: int = 250
    left: int = 52
    right: int = 12
    band_top: int = 6
    band_height: int = 22
    plot_top: int = 44
    plot_bottom: int = 214
    band: list[tuple[float, float, str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    samples: int = 0
    kind: str = "RSRP"


def history_chart(
    history: dict[str, Any],
    start: datetime,
    end: datetime,
    context: HttpContext,
    registered: datetime | None = None,
) -> Chart:
    """The state band and the signal line of `history` (the API's history) as SVG geometry.

    The band begins when the receiver was registered, if that is within the period: before
    it there was no receiver to be up or down."""
    chart = Chart()
    plot_w = chart.width - chart.left - chart.right
    seconds = (end - start).total_seconds()
    zone = context.zone

    def x_of(moment: datetime) -> float:
        share = (moment - start).total_seconds() / seconds
        return round(chart.left + max(0.0, min(1.0, share)) * plot_w, 1)

    state, cursor = history["state_at_start"], max(start, registered or start)
    for transition in history["transitions"]:
        at = datetime.fromisoformat(transition["at"])
        chart.band.append(_segment((x_of(cursor), x_of(at)), state, cursor, at, zone))
        state, cursor = transition["to_state"], at
    chart.band.append(_segment((x_of(cursor), x_of(end)), state, cursor, end, zone))
    chart.band = [b for b in chart.band if b[1] > 0]

    low, high = SIGNAL_RANGE
    span_y = chart.plot_bottom - chart.plot_top

    def y_of(dbm: float) -> float:
        share = (max(low, min(high, dbm)) - low) / (high - low)
        return round(chart.plot_bottom - share * span_y, 1)

    samples = history["samples"]
    use_rsrp = any(s["rsrp_dbm"] is not None for s in samples)
    chart.kind = "RSRP" if use_rsrp else "RSSI"
    run: list[str] = []
    last: datetime | None = None
    for sample in samples:
        value = sample["rsrp_dbm"] if use_rsrp else sample["rssi_dbm"]
        at = datetime.fromisoformat(sample["at"])
        if value is None or (last is not None and at - last > SAMPLE_GAP):
            if len(run) > 1:
                chart.lines.append(" ".join(run))
            run = []
        if value is not None:
            run.append(f"{x_of(at)},{y_of(value)}")
            chart.samples += 1
        last = at
    if len(run) > 1:
        chart.lines.append(" ".join(run))
    elif len(run) == 1:
        x, y = run[0].split(",")
        chart.lines.append(f"{x},{y} {float(x) + 2},{y}")
    chart.y_ticks = [(y_of(v), f"{v:.0f}") for v in (-120, -100, -80, -60)]
    day = datetime.combine(start.astimezone(zone).date() + timedelta(days=1), time(), zone)
    while day < end:
        chart.x_ticks.append((x_of(day), f"{day:%d/%m}"))
        day += timedelta(days=1)
    return chart


def _segment(
    xs: tuple[float, float], state: str, since: datetime, until: datetime, zone: Any
) -> tuple[float, float, str, str]:
    title = f"{since.astimezone(zone):%H:%M %d/%m} - {until.astimezone(zone):%H:%M %d/%m}"
    # A state that lasted a moment (the one since a few seconds ago) stays visible.
    width = max(xs[1] - xs[0], 1.5) if until > since else 0.0
    return (xs[0], round(width, 1), state, title)


@router.get("/receivers/{receiver_id}", response_class=HTMLResponse)
async def receiver_page(request: Request, context: Ctx, receiver_id: str) -> HTMLResponse:
    item = await receiver_detail(context, receiver_id)  # a 404 page for an unknown id
    history = await receiver_history(context, receiver_id, CHART_DAYS)
    end = datetime.fromisoformat(history["end"])
    start = datetime.fromisoformat(history["start"])
    found = await receiver_uptime(context, receiver_id, start, end)
    return render(
        request,
        "receiver.html",
        nav="receivers",
        item=item,
        history=history,
        chart=history_chart(
            history, start, end, context, datetime.fromisoformat(item["registered_at"])
        ),
        uptime=found["uptime"],
        days=int(CHART_DAYS),
    )
