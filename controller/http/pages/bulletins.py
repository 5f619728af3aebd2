"""`/bulletins`: the latest airings; `/bulletins/{occurrence}`: one airing's delivery.

The delivery page counts receivers per delivery state, draws the progress, and lists
every targeted receiver, those that missed it (or may: offline) first with the reason;
`static/delivery.js` keeps it live from `/api/v1/events` and cancels through the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controller.http.api.bulletins import (
    MISSED,
    find_report,
    occurrence_out,
    status_of,
)
from controller.http.context import Ctx
from controller.http.pages.render import render
from controller.store.bulletins import list_occurrences
from devices.delivery import DELIVERY_STATES

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
#: On the way to being heard (the progress bar's middle part).
MOVING = ("queued", "offered", "accepted", "downloading", "armed", "playing")
#: States whose count is shown only when some receiver stands in them.
RARE = ("waiting", "rejected", "preempted", "expired", "cancelled")


@router.get("/bulletins", response_class=HTMLResponse)
async def bulletins_page(
    request: Request,
    context: Ctx,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    async with context.store.read() as session:
        rows = await list_occurrences(session, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    return render(
        request,
        "bulletins.html",
        nav="bulletins",
        rows=[occurrence_out(row) for row in rows[:PER_PAGE]],
        page=page,
        more=len(rows) > PER_PAGE,
    )


@router.get("/bulletins/{occurrence}", response_class=HTMLResponse)
async def bulletin_page(request: Request, occurrence: str, context: Ctx) -> HTMLResponse:
    report = await status_of(context, await find_report(context, occurrence))
    counts = dict(report.counts)
    counts["waiting"] = report.waiting
    missed = [row for row in report.receivers if row.missed]
    return render(
        request,
        "bulletin.html",
        nav="bulletins",
        report=report,
        counts=counts,
        states=("waiting", *DELIVERY_STATES),
        missed=missed,
        missed_states=MISSED,
        moving_states=MOVING,
        rare_states=RARE,
        cancellable=report.state in ("scheduled", "dispatched"),
    )
