"""Asking the running `loa serve` through its HTTP API, for what only it can do.

A maintenance command (volume, restart, test tone) is signed and published by the
controller, which also keeps it for a receiver that is away; the command line asks the
running server to do it at `http.host:http.port` (`LOA_HTTP_PORT`), as the dashboard
does. An answer that is an error (a problem document) becomes a `ServerError` with its
`detail`; a server that does not answer says so, with the setting to check.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Final

from controller.config.model import Config
from loa.errors import LoaError

#: How long a call may take: a test tone renders its sound the first time.
TIMEOUT_S: Final = 30.0


class ServerError(LoaError):
    """`loa serve` could not be reached, or refused what was asked (the message says why)."""


def server_url(config: Config) -> str:
    """The address `loa serve` listens on, by the config."""
    if config.http.port == 0:
        raise ServerError(
            "http.port is 0 (any free port), so the address of `loa serve` is not known "
            "here; set LOA_HTTP_PORT to the port its log shows (`dashboard at http://...`)"
        )
    return config.http.local_url()


def call(config: Config, method: str, path: str, body: Any = None) -> Any:
    """`method path` on the running server with a JSON `body`; its JSON answer."""
    url = server_url(config) + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http only)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise ServerError(_refusal(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerError(
            f"cannot reach `loa serve` at {server_url(config)} (http.host, http.port, "
            f"LOA_HTTP_PORT): {reason}; is it running?"
        ) from None


def _refusal(error: urllib.error.HTTPError) -> str:
    """What the server's problem document says, else the status."""
    try:
        problem = json.loads(error.read())
    except (ValueError, OSError):
        problem = None
    if isinstance(problem, dict) and problem.get("detail"):
        return str(problem["detail"])
    return f"`loa serve` answered {error.code} {error.reason}"
