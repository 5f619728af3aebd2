"""The FastAPI application: the API's routers, the pages, static files, errors."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from controller.http import metrics, problems
from controller.http.api import (
    bulletins,
    contents,
    events,
    groups,
    health,
    receiver_actions,
    receivers,
    reports,
    schedules,
)
from controller.http.i18n import catalogue
from controller.http.pages import broadcast as broadcast_pages
from controller.http.pages import bulletins as bulletin_pages
from controller.http.pages import calendar as calendar_pages
from controller.http.pages import receivers as receiver_pages
from controller.http.pages import reports as report_pages
from loa import __version__

STATIC = Path(__file__).parent / "static"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

API_DESCRIPTION = """\
Loa's HTTP API: receivers and their health, audio contents, bulletins and their
delivery, schedules, reports, and live changes (`/api/v1/events`, Server-Sent Events).

Times are UTC (ISO 8601 with `Z`). Lists take `limit` and `offset` and answer `total`.
Errors are `application/problem+json` documents whose `detail` says what was wrong and
where; form and query mistakes are listed one per field in `errors`.

There are no accounts yet: keep the server on 127.0.0.1 (see docs/operations.md).
"""


def create_app(lifespan: Lifespan) -> FastAPI:
    """The application; `lifespan` runs the controller and sets `app.state.loa`."""
    catalogue()  # a broken locale file stops the start, not a page later
    app = FastAPI(
        title="Loa",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below with local assets
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    problems.install(app)
    for module in (
        health,
        events,
        receivers,
        receiver_actions,
        groups,
        contents,
        bulletins,
        schedules,
        reports,
    ):
        app.include_router(module.router)
    app.include_router(metrics.router)
    for pages in (receiver_pages, broadcast_pages, bulletin_pages, calendar_pages, report_pages):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The API's docs page, with Swagger UI's files from this machine, not a CDN.
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="Loa API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/loa.svg",
        )

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/receivers", status_code=303)

    return app
