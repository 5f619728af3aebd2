"""Run `loa serve` as a real process for tests, and watch its presence on the broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from controller.app import Controller
from controller.config import Config
from tests.support.paho_client import PahoClient

LOA = str(Path(sys.executable).parent / "loa")


def write_config(folder: Path, **sections: Any) -> Path:
    """A config file in `folder` with a data dir beside it; `sections` override keys.

    Quiet hours are off (tests run at any hour of the day); a test of quiet hours sets them.
    The HTTP server takes any free port.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "data_dir": str(folder / "data"),
        "logging": {"level": "DEBUG"},
        "schedules": {"quiet_hours": "none"},
        # Any free port: tests run side by side.
        "http": {"port": 0},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run_loa(
    *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `loa ARGS` to completion and return what it printed."""
    return subprocess.run(
        [LOA, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def one_error_line(output: str) -> str:
    """The one `loa: error: ...` line of `output`, which holds no traceback."""
    errors = [line for line in output.splitlines() if line.startswith("loa: error: ")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    return errors[0]


def failed_serve(config: Path) -> str:
    """Run `loa serve` that must stop by itself with exit code 2; its one error line."""
    serve = ServeProcess(config)
    try:
        assert serve.wait(timeout=20) == 2, serve.log()
    finally:
        serve.stop()
    return one_error_line(serve.log())


class ServeProcess:
    """`loa serve --config PATH` in the background, its output in a log file."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log_path = config.parent / "serve.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [LOA, "serve", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop it whatever state it is in (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class PresenceWatcher(PahoClient):
    """Subscribes to the controller's status topic and decodes what arrives."""

    def __init__(self, host: str, port: int, topic: str, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.topic = topic

    def start(self, timeout: float = 10) -> PresenceWatcher:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.subscribe(self.topic)
        return self

    def presences(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for payload in self.payloads()]

    def wait_presence(self, timeout: float = 10, **expected: Any) -> dict[str, Any]:
        """Wait for a presence message whose fields include `expected`; return it."""
        found: list[dict[str, Any]] = []

        def matches() -> bool:
            for message in self.presences():
                if all(message.get(k) == v for k, v in expected.items()):
                    found.append(message)
                    return True
            return False

        self.wait_for(matches, timeout, f"no presence with {expected} (saw {self.presences()})")
        return found[0]


@asynccontextmanager
async def controller_running(config: Config) -> AsyncIterator[Controller]:
    """A controller in this event loop, connected and announced; stopped on the way out."""
    controller = Controller(config)
    task = asyncio.create_task(controller.run())
    ready = asyncio.create_task(controller.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what made it stop
        assert controller.ready.is_set(), "the controller did not connect within 15 s"
        yield controller
    finally:
        ready.cancel()
        controller.stop()
        await asyncio.wait_for(task, 10)
