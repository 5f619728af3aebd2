"""`loa serve`: the controller inside the HTTP server (uvicorn), started and stopped as one.

The app's lifespan runs the `Controller` (MQTT link, ingest, delivery, scheduler): the
server accepts requests only once the controller is connected, and on SIGINT/SIGTERM it
stops taking requests, ends the live streams, lets the requests still running finish
(`GRACEFUL_SECONDS`), then stops the controller within `SHUTDOWN_SECONDS`. If the
controller cannot start (the broker is unreachable, the store is broken), or stops on its
own, the server exits and `serve()` raises that error.

The socket is bound before anything starts, so a port in use is a clear error naming
`http.port`. Port 0 takes any free port; the address is logged either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from controller.app import SHUTDOWN_SECONDS, Controller
from controller.config.model import Config
from controller.http.app import create_app
from controller.http.context import HttpContext
from loa.clock import Clock
from loa.errors import HttpBindError, LoaError

log = logging.getLogger(__name__)

#: Requests still running when the server is told to stop get this long to finish.
GRACEFUL_SECONDS = 1


class _Server(uvicorn.Server):
    """uvicorn, without its own signal handling: `LoaServer` handles the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LoaServer:
    """The controller and its HTTP server; `run()` until `stop()`."""

    def __init__(self, config: Config, *, clock: Clock | None = None) -> None:
        self.config = config
        self.controller = Controller(config, clock=clock)
        self.failure: BaseException | None = None
        self.socket = bind(config.http.host, config.http.port)
        try:
            self.port: int = self.socket.getsockname()[1]
            self.app = create_app(self._lifespan)
            self._server = _Server(
                uvicorn.Config(
                    self.app,
                    log_config=None,
                    access_log=False,
                    lifespan="on",
                    ws="none",
                    timeout_graceful_shutdown=GRACEFUL_SECONDS,
                )
            )
        except BaseException:
            self.socket.close()
            raise

    @property
    def url(self) -> str:
        return self.config.http.local_url(self.port)

    @property
    def started(self) -> bool:
        return self._server.started

    def stop(self) -> None:
        """Stop serving and stop the controller (safe to call more than once).

        Requests already running get `GRACEFUL_SECONDS` to finish with the controller still
        up; the lifespan stops it after them. A controller still starting is stopped now.
        """
        self.controller.hub.close()  # the live streams end now, not at the grace timeout
        if not self.controller.ready.is_set():
            self.controller.stop()
        self._server.should_exit = True

    async def run(self) -> None:
        """Serve until stopped; raise what made the controller fail, if it did."""
        try:
            await self._server.serve(sockets=[self.socket])
        finally:
            self.socket.close()
        if self.failure is not None:
            raise self.failure

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        controller = self.controller
        task = asyncio.create_task(controller.run(), name="controller")
        ready = asyncio.create_task(controller.ready.wait(), name="controller-ready")
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task.done():
            # It ended before it was ready: asked to stop, or it could not start.
            self._ended(task)
            self._server.should_exit = True
            yield
            return
        app.state.loa = HttpContext(self.config, controller)
        task.add_done_callback(self._ended)
        log.info("dashboard at %s/ and the API at %s/api/v1 (docs at /docs)", self.url, self.url)
        try:
            yield
        finally:
            controller.stop()
            await asyncio.wait({task}, timeout=SHUTDOWN_SECONDS)
            if not task.done():
                log.warning("shutdown took over %g s; cancelling what is left", SHUTDOWN_SECONDS)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The controller's task ended: if it failed, or ended without being asked, the
        server stops too and `run()` raises the reason."""
        if task.cancelled():
            return
        error = task.exception()
        if error is None and not self.controller.stopping.is_set():
            error = LoaError("the controller stopped on its own; see the log above")
        if error is not None and self.failure is None:
            self.failure = error
            self.controller.hub.close()
            self._server.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    """A listening socket at `host:port`, or an `HttpBindError` that names the setting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise HttpBindError(
                f"the dashboard's port {port} on {host} is in use (http.port, LOA_HTTP_PORT): "
                "stop what holds it or choose another port"
            ) from exc
        raise HttpBindError(
            f"cannot listen on {host}:{port} for the dashboard (http.host, http.port): "
            f"{exc.strerror or exc}"
        ) from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(config: Config) -> None:
    """`loa serve`: run until SIGINT/SIGTERM; raise `LoaError` for problems a person can fix."""
    server = LoaServer(config)
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        log.info("received %s", signal.Signals(signum).name)
        server.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await server.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
