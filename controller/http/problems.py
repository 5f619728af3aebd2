"""Errors as the API and the pages show them.

The API answers every error with a JSON problem document (RFC 9457,
`application/problem+json`): `title` (what kind of error), `detail` (what was wrong,
where, and what to do), `status`, `instance` (the path) and, for forms and query
strings, `errors`: one `{field, message}` per mistake, with `code` and `params` where
the mistake has a name a page can say in its own language. A page shows the same in a
readable error page (in the person's language for the errors the dashboard knows).

Raise `Problem` from a handler for an error a person can fix. Validation errors from
FastAPI, unknown paths, and `LoaError`s that escape a handler are translated here;
anything else is a 500 that says to read the controller's log (where its traceback is).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.http.pages import render
from loa.errors import LoaError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Not ready",
}


@dataclass(frozen=True)
class FieldError:
    """One mistake in a form or query: the field's name and what is wrong with it."""

    field: str
    message: str
    #: names the mistake for a page that says it in its own language (with `params`)
    code: str | None = None
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class Problem(Exception):
    """An error a person can fix, with the HTTP status it is answered with."""

    status: int
    detail: str
    title: str | None = None
    errors: Sequence[FieldError] = field(default_factory=tuple)
    #: HTTP headers the answer must carry (`Allow` on a 405)
    headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title or _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = [_error(e) for e in self.errors]
        return body


def not_found(what: str, ident: str) -> Problem:
    """The usual 404 for an id in a URL that names nothing."""
    return Problem(404, f"there is no {what} {ident!r}", title=f"No such {what}")


def invalid(field_name: str, message: str) -> Problem:
    """The usual 422 for one bad field."""
    return Problem(422, f"{field_name}: {message}", errors=(FieldError(field_name, message),))


def validation_problem(errors: Sequence[Any]) -> Problem:
    """A 422 from FastAPI's (pydantic's) validation errors, one line per field."""
    found: list[FieldError] = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        name = ".".join(location) or "request"
        message = str(error.get("msg", "is not valid"))
        message = message.removeprefix("Value error, ")
        found.append(FieldError(name, message))
    detail = "; ".join(f"{e.field}: {e.message}" for e in found) or "the request is not valid"
    return Problem(422, detail, errors=tuple(found))


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem_response(request: Request, problem: Problem) -> Response:
    """JSON for the API; the HTML error page for the dashboard."""
    if is_api(request):
        response: Response = JSONResponse(
            problem.body(request.url.path), status_code=problem.status, media_type=PROBLEM_JSON
        )
    else:
        response = render.error_page(request, problem)
    response.headers.update(problem.headers or {})
    return response


def install(app: FastAPI) -> None:
    """Answer every error as described above."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        return problem_response(request, cast(Problem, exc))

    async def on_validation(request: Request, exc: Exception) -> Response:
        errors = cast(RequestValidationError, exc).errors()
        return problem_response(request, validation_problem(errors))

    async def on_http(request: Request, exc: Exception) -> Response:
        http = cast(StarletteHTTPException, exc)
        if http.status_code == 404:
            detail = f"there is nothing at {request.url.path}"
        else:
            detail = str(http.detail)
        headers = dict(http.headers) if http.headers else None
        return problem_response(request, Problem(http.status_code, detail, headers=headers))

    async def on_loa_error(request: Request, exc: Exception) -> Response:
        return problem_response(request, Problem(422, str(exc)))

    async def on_anything(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        detail = f"the controller failed on this request ({type(exc).__name__}); see its log"
        return problem_response(request, Problem(500, detail))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(LoaError, on_loa_error)
    app.add_exception_handler(Exception, on_anything)


def _error(error: FieldError) -> dict[str, Any]:
    shown: dict[str, Any] = {"field": error.field, "message": error.message}
    if error.code is not None:
        shown.update(code=error.code, params=dict(error.params))
    return shown
