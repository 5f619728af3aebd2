"""Rendering a dashboard page: the template, the person's language, local times.

Every template extends `base.html` and gets: `t` (the translator), `lang`, `ctx` (the
`HttpContext`), `zone` (the configured time zone's name), `nav` (the active section)
and the filters `local` (an instant as `HH:MM dd/mm/yyyy` in the zone), `local_time`
(`HH:MM`), `local_date` (`dd/mm/yyyy`), `ago` ("5 phút trước") and `cause` (why a
receiver's state changed, translated: `controller.http.causes`). Times on the wire and
in the store are UTC; pages show the configured zone (`Asia/Ho_Chi_Minh`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from controller.http.causes import cause_text, js_patterns
from controller.http.i18n import COOKIE, Translator, request_language
from loa import __version__

if TYPE_CHECKING:
    from controller.http.problems import Problem

TEMPLATES = Path(__file__).parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def local_format(value: datetime | str | None, zone: ZoneInfo, pattern: str) -> str:
    instant = _instant(value)
    return "" if instant is None else instant.astimezone(zone).strftime(pattern)


def ago_text(value: datetime | str | None, now: datetime, t: Translator) -> str:
    instant = _instant(value)
    if instant is None:
        return t("common.never")
    seconds = max(0, int((now - instant).total_seconds()))
    if seconds < 60:
        return t("common.ago_seconds", n=seconds)
    if seconds < 3600:
        return t("common.ago_minutes", n=seconds // 60)
    if seconds < 86400:
        return t("common.ago_hours", n=seconds // 3600)
    return t("common.ago_days", n=seconds // 86400)


def translator(request: Request) -> Translator:
    context = getattr(request.app.state, "loa", None)
    default = context.config.http.language if context is not None else "vi"
    return Translator(request_language(request, default))


def render(
    request: Request,
    template: str,
    *,
    nav: str = "",
    http_status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """The page `template` in the person's language (remembering `?lang=`), answered with
    `http_status`; `values` are the template's own (any name but those listed above)."""
    t = translator(request)
    context = getattr(request.app.state, "loa", None)
    zone_name = context.config.time_zone if context is not None else "Asia/Ho_Chi_Minh"
    zone = ZoneInfo(zone_name)
    now = context.clock.now() if context is not None else datetime.now(UTC)
    page: dict[str, Any] = {
        "t": t,
        "lang": t.language,
        "other_lang": "en" if t.language == "vi" else "vi",
        # This page in the other language, its filters and page kept.
        "lang_link": _lang_link(request, "en" if t.language == "vi" else "vi"),
        "ctx": context,
        "zone": zone_name,
        "nav": nav,
        "version": __version__,
        "now": now,
        "local": lambda v: local_format(v, zone, "%H:%M %d/%m/%Y"),
        "local_time": lambda v: local_format(v, zone, "%H:%M"),
        "local_date": lambda v: local_format(v, zone, "%d/%m/%Y"),
        "ago": lambda v: ago_text(v, now, t),
        "cause": lambda v: cause_text(v, t),
        # The cause patterns for `Loa.cause` in the page's JavaScript.
        "cause_patterns": js_patterns(),
        **values,
    }
    response = templates.TemplateResponse(request, template, page, status_code=http_status)
    if request.query_params.get("lang") == t.language:
        response.set_cookie(COOKIE, t.language, max_age=365 * 86400, samesite="lax")
    return response


def _lang_link(request: Request, language: str) -> str:
    url = request.url.include_query_params(lang=language)
    return f"{url.path}?{url.query}"


def error_page(request: Request, problem: Problem) -> Response:
    return render(request, "error.html", http_status=problem.status, problem=problem)
