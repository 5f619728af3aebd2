"""`/reports`: the as-run log of a period with its reach per day (an inline SVG bar
chart), and each receiver's uptime, worst first; both downloadable as CSV.

The numbers are the API's (`controller.http.api.reports`); a period that cannot be
reported on is shown on the page next to the form, with the last 7 days below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controller.http.api.reports import (
    AsRunDay,
    AsRunReport,
    UptimeReport,
    as_run_report,
    uptime_report,
)
from controller.http.context import Ctx
from controller.http.i18n import Translator
from controller.http.pages.render import render, translator
from controller.http.problems import Problem
from controller.reports.period import PeriodError, period_of
from controller.store.registry_rows import load_groups

router = APIRouter(include_in_schema=False)

CHART_WIDTH: Final = 900
CHART_HEIGHT: Final = 220
#: room for the value above the bars and the dates below them
CHART_TOP: Final = 36
CHART_BOTTOM: Final = 34
CHART_LEFT: Final = 86


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    title: str
    #: "good" (>= 90 %), "fair" (>= 60 %), "poor", or "none" (nothing aired)
    grade: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    base: float
    left: int
    bars: list[Bar]
    #: (y, label) of the 0, 50 and 100 % lines
    grid: list[tuple[float, str]]
    #: show a date under every n-th bar only (many days)
    every: int


def _grade(reach: float | None) -> str:
    if reach is None:
        return "none"
    if reach >= 0.9:
        return "good"
    return "fair" if reach >= 0.6 else "poor"


def _percent(reach: float | None) -> str:
    return "\u2013" if reach is None else f"{reach * 100:.0f}%"


def chart(days: list[AsRunDay], t: Translator) -> Chart:
    """Reach per day as bars, each with its tooltip in the page's language."""
    inner = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    base = CHART_TOP + inner
    slot = (CHART_WIDTH - CHART_LEFT) / max(1, len(days))
    bars = []
    for k, day in enumerate(days):
        reach = day.reach
        height = 0.0 if reach is None else max(1.5, inner * reach)
        bars.append(
            Bar(
                x=CHART_LEFT + k * slot + slot * 0.15,
                y=base - height,
                width=slot * 0.7,
                height=height,
                label=f"{day.day:%d/%m}",
                value=_percent(reach),
                title=(
                    f"{day.day:%d/%m/%Y}: {t('reports.chart_none')}"
                    if reach is None
                    else t(
                        "reports.chart_label",
                        day=f"{day.day:%d/%m/%Y}",
                        reach=_percent(reach),
                        played=day.played,
                        targeted=day.targeted,
                    )
                ),
                grade=_grade(reach),
            )
        )
    grid = [(base - inner * f, f"{int(f * 100)}%") for f in (0.0, 0.5, 1.0)]
    every = max(1, round(len(days) / 14))
    return Chart(CHART_WIDTH, CHART_HEIGHT, base, CHART_LEFT, bars, grid, every)


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    context: Ctx,
    given_from: Annotated[str | None, Query(alias="from")] = None,
    given_to: Annotated[str | None, Query(alias="to")] = None,
    commune: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    t = translator(request)
    #: (field, message) of each mistake; the form keeps what was asked, the report below
    #: shows the default period (its dates are said under the form).
    errors: list[tuple[str, str]] = []
    asked = {"from": given_from or "", "to": given_to or "", "commune": commune or ""}
    try:
        period_of(given_from, given_to, context.zone, context.clock.now())
        as_run: AsRunReport = await as_run_report(context, given_from, given_to, commune)
        uptime: UptimeReport = await uptime_report(context, given_from, given_to)
    except PeriodError as exc:  # said in the page's language
        errors = [(exc.field, t(f"reports.error.{exc.kind}", **exc.params))]
    except Problem as problem:
        errors = [
            (e.field, t("reports.error.commune", given=commune or "") if e.field == "commune"
             else e.message)
            for e in problem.errors
        ] or [("", problem.detail)]  # fmt: skip
    if errors:
        as_run = await as_run_report(context, None, None, None)
        uptime = await uptime_report(context, None, None)
    zone = context.zone
    first = as_run.start.astimezone(zone).date()
    last_day = (as_run.end - timedelta(microseconds=1)).astimezone(zone).date()
    async with context.store.read() as session:
        communes = sorted(
            ((g.id, g.name) for g in await load_groups(session) if g.kind == "commune"),
            key=lambda c: c[1],
        )
    query = {k: v for k, v in {"from": first.isoformat(), "to": last_day.isoformat(),
                               "commune": as_run.commune or ""}.items() if v}  # fmt: skip
    uptime_query = {k: v for k, v in query.items() if k != "commune"}
    return render(
        request,
        "reports.html",
        nav="reports",
        as_run=as_run,
        uptime=uptime,
        chart=chart(as_run.days, t),
        first=first,
        last=last_day,
        communes=communes,
        asked=asked,
        errors=errors,
        as_run_csv="/api/v1/reports/as-run.csv?" + urlencode(query),
        uptime_csv="/api/v1/reports/uptime.csv?" + urlencode(uptime_query),
        percent=_percent,
        grade=_grade,
    )
