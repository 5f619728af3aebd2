"""`loa serve`'s HTTP side as a process: where it listens, a port in use, and a stop
with a live stream open."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.controller import ServeProcess, failed_serve, write_config
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.broker


def _wait_http(serve: ServeProcess, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert serve.process.poll() is None, serve.log()
        time.sleep(0.1)
    raise AssertionError(f"no answer at {url} within {timeout} s:\n{serve.log()}")


def test_a_port_in_use_is_one_clear_error_naming_http_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, broker={"port": free_port()}, http={"port": port})
        error = failed_serve(config)
    assert f"the dashboard's port {port} on 127.0.0.1 is in use (http.port" in error
    # Nothing was started before the check: no broker left behind.
    assert not (tmp_path / "data" / "mosquitto" / "mosquitto.pid").exists()


def test_it_serves_the_dashboard_and_stops_within_3_s_with_a_stream_open(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = write_config(tmp_path, broker={"port": free_port()}, http={"port": port})
    serve = ServeProcess(config)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(serve, url)
        assert f"dashboard at {url}/" in serve.log()
        page = httpx.get(url + "/receivers", timeout=10)
        assert page.status_code == 200
        assert '<meta charset="utf-8">' in page.text
        assert "Thiết bị" in page.text  # Vietnamese by default
        assert httpx.get(url + "/docs", timeout=10).status_code == 200
        assert "cdn" not in httpx.get(url + "/docs", timeout=10).text.lower()

        lines: list[str] = []
        ended = threading.Event()

        def follow() -> None:
            with httpx.stream("GET", url + "/api/v1/events", timeout=30) as stream:
                for line in stream.iter_lines():
                    lines.append(line)
            ended.set()

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while not any(line.startswith("data:") for line in lines):
            assert time.monotonic() < deadline, "no first event on the stream"
            time.sleep(0.05)
        started = time.monotonic()
        serve.signal(signal.SIGTERM)
        assert serve.wait(timeout=5) == 0, serve.log()
        assert time.monotonic() - started < 3.0
        assert ended.wait(2), "the live stream did not end with the server"
    finally:
        serve.stop()
    assert "Loa stopped" in serve.log()
