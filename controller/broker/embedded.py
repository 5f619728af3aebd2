"""The private Mosquitto of `embedded` mode: start, supervise, stop.

Mosquitto runs in its own session and is not tied to the controller's life: if
the controller is SIGKILLed, the broker stays up to publish the controller's
Last Will, and the next `start()` replaces that orphan (`orphans.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
import socket
from collections import deque
from collections.abc import Callable
from pathlib import Path

from controller.broker.mosquitto_conf import (
    CONFIG_NAME,
    FOLDER_NAME,
    MosquittoSettings,
    render,
    settings_from_config,
)
from controller.broker.orphans import replace_orphan
from controller.config.model import BrokerConfig
from loa.errors import BrokerError, BrokerNotInstalled, BrokerPortInUse, BrokerStartError

logger = logging.getLogger(__name__)
#: Mosquitto's own output, line by line.
mosquitto_log = logging.getLogger("controller.broker.mosquitto")

READY_TIMEOUT = 10.0
#: A child that dies sooner than this after its start makes the next delay double.
QUICK_EXIT = 10.0
MAX_RESTART_DELAY = 30.0
#: How long a restart waits for the old process's port to be released.
PORT_RELEASE_TIMEOUT = 5.0
_POLL = 0.05
_TAIL_LINES = 15
#: Connection chatter (one line per connect/disconnect) is logged at DEBUG.
_CHATTER = (
    "New connection from",
    "New client connected",
    "Client ",
    # every autosave_interval (10 s): routine, not news for an operator
    "Saving in-memory database",
)


class EmbeddedBroker:
    """One Mosquitto child process on `broker.host:broker.port`."""

    def __init__(
        self,
        broker: BrokerConfig,
        data_dir: Path,
        *,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        self._broker = broker
        self._data_dir = data_dir
        self._folder = (data_dir / FOLDER_NAME).absolute()
        self._on_restart = on_restart
        self._process: asyncio.subprocess.Process | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._started_at = 0.0
        self._stopping = False
        self._restarts = 0

    @property
    def host(self) -> str:
        return self._broker.host

    @property
    def port(self) -> int:
        return self._broker.port

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def config_path(self) -> Path:
        return self._folder / CONFIG_NAME

    @property
    def restarts(self) -> int:
        """How many times `supervise()` restarted the child."""
        return self._restarts

    async def start(self) -> None:
        """Start Mosquitto and return once it accepts TCP connections.

        Raises `BrokerNotInstalled`, `BrokerPortInUse` or `BrokerStartError`.
        """
        if self.pid is not None:
            raise RuntimeError(f"the embedded broker already runs (pid {self.pid})")
        self._stopping = False
        binary = _find_binary(self._broker.embedded.binary)
        try:
            settings = await asyncio.to_thread(self._write_config)
        except OSError as exc:
            raise BrokerStartError(
                f"cannot write the embedded broker's files in {self._folder} (data_dir): {exc}"
            ) from exc
        await replace_orphan(settings.pid_file, self.config_path)
        await self._launch(binary, port_wait=0.0)

    async def supervise(self) -> None:
        """Restart Mosquitto whenever it exits unexpectedly; runs until cancelled.

        Returns once `stop()` has been called. The delay before a restart is
        `restart_delay`, doubling up to 30 s while the child keeps dying within
        10 s of its start.
        """
        first_delay = self._broker.embedded.restart_delay
        delay = first_delay
        loop = asyncio.get_running_loop()
        while True:
            process = self._process
            if process is None:
                raise RuntimeError("supervise() needs a started broker")
            code = await process.wait()
            if self._stop_requested():
                return
            lived = loop.time() - self._started_at
            if lived >= QUICK_EXIT:
                delay = first_delay
            await self._drain_pumps()  # its last words first
            logger.warning(
                "Mosquitto (pid %d) exited unexpectedly %s after %.1f s; restarting it in %.1f s",
                process.pid,
                _describe_exit(code),
                lived,
                delay,
            )
            next_delay = await self._relaunch(delay)
            if next_delay is None:
                return
            delay = next_delay
            self._restarts += 1
            logger.info("Mosquitto restarted (pid %s, restart %d)", self.pid, self._restarts)
            if self._on_restart is not None:
                try:
                    self._on_restart()
                except Exception:
                    logger.exception("The on_restart callback of the embedded broker failed")

    async def _relaunch(self, delay: float) -> float | None:
        """Launch again after `delay`, retrying with back-off; the next delay, None if stopped."""
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)
            if self._stop_requested():
                return None
            try:
                binary = _find_binary(self._broker.embedded.binary)
                await self._launch(binary, PORT_RELEASE_TIMEOUT)
            except BrokerError as exc:
                failure = exc
            else:
                return delay
            if self._stop_requested():
                return None
            logger.error("Restarting Mosquitto failed (%s); next try in %.1f s", failure, delay)

    def _stop_requested(self) -> bool:
        """Whether `stop()` was called (a method, so type narrowing cannot go stale)."""
        return self._stopping

    async def stop(self, timeout: float = 1.5) -> None:
        """SIGTERM the child, SIGKILL it after `timeout` seconds.

        Idempotent, and fit for the `finally` of a cancelled task; a `supervise()`
        still running returns instead of restarting the child.
        """
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            await _terminate(process, timeout)
        await self._drain_pumps()

    def _write_config(self) -> MosquittoSettings:
        """Settings from the config; writes the config file atomically (runs in a thread)."""
        settings = settings_from_config(self._broker, self._data_dir)
        temporary = self.config_path.with_name(f".{CONFIG_NAME}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(render(settings))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.config_path)
        return settings

    async def _launch(self, binary: str, port_wait: float) -> None:
        """Spawn Mosquitto on the written config and wait until it accepts connections."""
        await _check_port_free(self.host, self.port, port_wait)
        self._tail.clear()
        process = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(self.config_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._process = process
        self._started_at = asyncio.get_running_loop().time()
        if self._stop_requested():  # stop() ran while this one was being spawned
            await _terminate(process, 1.0)
            raise BrokerStartError("the embedded Mosquitto was stopped while starting")
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                task = asyncio.create_task(self._pump(stream), name=f"mosquitto-{process.pid}-log")
                self._pumps.add(task)
                task.add_done_callback(self._pumps.discard)
        logger.debug("Started %s -c %s (pid %d)", binary, self.config_path, process.pid)
        try:
            await self._wait_ready(process)
        except BaseException:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            raise

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while process.returncode is None and loop.time() < deadline:
            if await _accepts_connections(self._broker.connect_host, self.port):
                return
            await asyncio.sleep(_POLL)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            what = f"did not accept connections within {READY_TIMEOUT:g} s"
        else:
            what = f"exited {_describe_exit(process.returncode)} before listening"
        await self._drain_pumps()
        said = " | ".join(self._tail) or "nothing"
        if "Address already in use" in said:
            raise BrokerPortInUse(self.host, self.port, "broker.port")
        raise BrokerStartError(
            f"the embedded Mosquitto {what} on {self.host}:{self.port}; it said: {said} "
            f"(config {self.config_path})"
        )

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        """Forward the child's output to the `controller.broker.mosquitto` logger."""
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the reader's limit: it was dropped
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._tail.append(line)
                mosquitto_log.log(_level(line), "%s", line)

    async def _drain_pumps(self) -> None:
        """Let the log pumps read to the end of a finished child's output (bounded)."""
        if self._pumps:
            await asyncio.wait(list(self._pumps), timeout=1.0)


def _find_binary(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise BrokerNotInstalled(
            f"the MQTT broker {binary!r} (broker.embedded.binary) was not found; install it "
            "with `apt-get install mosquitto` (Debian/Ubuntu) or set broker.embedded.binary "
            "to its path"
        )
    return found


def _level(line: str) -> int:
    if line.startswith("Error"):
        return logging.ERROR
    if line.startswith("Warning: Mosquitto should not be run as root"):
        return logging.DEBUG  # our config says `user root` on purpose
    if line.startswith("Warning"):
        return logging.WARNING
    if "not authorised" in line:
        return logging.INFO
    return logging.DEBUG if line.startswith(_CHATTER) else logging.INFO


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"on signal {signal.Signals(-code).name}"
    return f"with code {code}"


async def _terminate(process: asyncio.subprocess.Process, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        async with asyncio.timeout(timeout):
            await process.wait()
    except TimeoutError:
        logger.warning(
            "Mosquitto (pid %d) ignored SIGTERM for %.1f s; killing it", process.pid, timeout
        )
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise


async def _accepts_connections(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _check_port_free(host: str, port: int, wait: float) -> None:
    """Raise `BrokerPortInUse` unless `host:port` can be bound, retrying for `wait` seconds."""
    loop = asyncio.get_running_loop()
    try:
        addresses = await loop.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise BrokerStartError(f"cannot resolve broker.host {host!r}: {exc}") from exc
    deadline = loop.time() + wait
    while True:
        try:
            for family, kind, proto, _, address in addresses:
                with socket.socket(family, kind, proto) as probe:
                    # As Mosquitto does: connections in TIME_WAIT do not block the port.
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise BrokerStartError(
                    f"cannot listen on {host}:{port} (broker.host, broker.port): {exc.strerror}"
                ) from exc
            if loop.time() >= deadline:
                raise BrokerPortInUse(host, port, "broker.port") from exc
            await asyncio.sleep(_POLL)
        else:
            return
