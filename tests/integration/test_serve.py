"""`loa serve` as a process: presence, Last Will, shutdown, the embedded broker's restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.controller import (
    PresenceWatcher,
    ServeProcess,
    failed_serve,
    run_loa,
    write_config,
)
from tests.support.mosquitto import PrivateMosquitto, free_port

pytestmark = pytest.mark.broker

HOST = "127.0.0.1"


@pytest.fixture
def embedded(tmp_path: Path, topic_prefix: str) -> Iterator[tuple[ServeProcess, int, str]]:
    """`loa serve` with its embedded Mosquitto on a free port."""
    port = free_port()
    config = write_config(tmp_path, topic_prefix=topic_prefix, broker={"port": port})
    serve = ServeProcess(config)
    try:
        yield serve, port, f"{topic_prefix}/v1/controller/status"
    finally:
        serve.stop()
        _kill_orphan_broker(tmp_path / "data")
        print(f"--- loa serve log ---\n{serve.log()[-6000:]}")


def _broker_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "mosquitto" / "mosquitto.pid"
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper does not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _kill_orphan_broker(data_dir: Path) -> None:
    pid = _broker_pid(data_dir)
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.05)


def test_serve_publishes_online_and_a_clean_stop_publishes_offline_within_3_s(
    embedded: tuple[ServeProcess, int, str],
) -> None:
    serve, port, topic = embedded
    with PresenceWatcher(HOST, port, topic).start(timeout=15) as watcher:
        online = watcher.wait_presence(state="online")
        assert online["epoch"] >= 1
        status = run_loa("status", "--json", "--config", str(serve.config))
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout) | {"since": None} == {
            "topic": topic,
            "state": "online",
            "epoch": online["epoch"],
            "since": None,
            "reason": None,
            "version": online["version"],
        }
        started = time.monotonic()
        serve.signal(signal.SIGTERM)
        watcher.wait_presence(state="offline", reason="shutdown", epoch=online["epoch"])
        assert serve.wait(timeout=5) == 0
        assert time.monotonic() - started < 3.0
    log = serve.log()
    assert "received SIGTERM" in log
    assert "Loa stopped" in log


def test_sigint_stops_it_too(embedded: tuple[ServeProcess, int, str]) -> None:
    serve, port, topic = embedded
    with PresenceWatcher(HOST, port, topic).start(timeout=15) as watcher:
        watcher.wait_presence(state="online")
        started = time.monotonic()
        serve.signal(signal.SIGINT)
        assert serve.wait(timeout=5) == 0
        assert time.monotonic() - started < 3.0


def test_sigkill_of_the_controller_leaves_its_last_will_and_a_restart_replaces_the_orphan(
    tmp_path: Path, embedded: tuple[ServeProcess, int, str]
) -> None:
    serve, port, topic = embedded
    with PresenceWatcher(HOST, port, topic).start(timeout=15) as watcher:
        online = watcher.wait_presence(state="online")
        serve.signal(signal.SIGKILL)
        serve.wait(timeout=5)
        # The embedded broker outlives its parent long enough to publish the Last Will.
        will = watcher.wait_presence(state="offline", reason="lost", timeout=60)
        assert will["epoch"] == online["epoch"]
    orphan = _broker_pid(tmp_path / "data")
    assert orphan is not None
    assert _alive(orphan)

    again = ServeProcess(serve.config)
    try:
        _wait(lambda: not _alive(orphan), 10, "the orphan broker replaced")
        with PresenceWatcher(HOST, port, topic).start(timeout=15) as watcher:
            back = watcher.wait_presence(state="online", timeout=15)
            assert back["epoch"] > online["epoch"]
        assert f"{orphan}" in again.log()
        # The orphan's will and the retained history precede our online: nothing to repair.
        assert "late Last Will" not in again.log()
    finally:
        again.stop()
        print(f"--- second loa serve log ---\n{again.log()[-4000:]}")


def test_a_killed_embedded_broker_is_restarted_and_the_controller_reconnects_within_10_s(
    tmp_path: Path, embedded: tuple[ServeProcess, int, str]
) -> None:
    serve, port, topic = embedded
    with PresenceWatcher(HOST, port, topic).start(timeout=15) as watcher:
        online = watcher.wait_presence(state="online")
    first = _broker_pid(tmp_path / "data")
    assert first is not None
    killed_at = time.monotonic()
    os.kill(first, signal.SIGKILL)
    _wait(
        lambda: (_broker_pid(tmp_path / "data") or first) != first,
        10,
        "a new embedded broker",
    )
    with PresenceWatcher(HOST, port, topic).start(timeout=10) as watcher:
        back = watcher.wait_presence(state="online", epoch=online["epoch"] + 1, timeout=10)
    assert time.monotonic() - killed_at < 10.0
    assert back["epoch"] == online["epoch"] + 1
    assert serve.process.poll() is None, "the controller kept running"


def test_a_port_in_use_is_one_clear_line_and_exit_2(tmp_path: Path, topic_prefix: str) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = write_config(tmp_path, topic_prefix=topic_prefix, broker={"port": port})
        error = failed_serve(config)
    assert f"port {port}" in error
    assert "broker.port" in error


def test_external_broker_lost_and_back_the_controller_keeps_running_and_reconnects(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    config = write_config(
        tmp_path,
        topic_prefix=topic_prefix,
        broker={
            "mode": "external",
            "port": mosquitto.port,
            "reconnect": {"initial_delay": 0.2, "max_delay": 1.0},
        },
    )
    serve = ServeProcess(config)
    topic = f"{topic_prefix}/v1/controller/status"
    try:
        with PresenceWatcher(HOST, mosquitto.port, topic).start() as watcher:
            online = watcher.wait_presence(state="online")
        mosquitto.stop()
        _wait(lambda: serve.log().count("next attempt in") >= 2, 10, "logged retries")
        assert serve.process.poll() is None
        mosquitto.start()
        with PresenceWatcher(HOST, mosquitto.port, topic).start() as watcher:
            watcher.wait_presence(state="online", epoch=online["epoch"] + 1, timeout=10)
    finally:
        serve.stop()
        print(f"--- loa serve log ---\n{serve.log()[-6000:]}")
    assert "connecting (attempt" in serve.log()


def test_an_unreachable_external_broker_at_start_is_one_clear_line_and_exit_2(
    tmp_path: Path, topic_prefix: str
) -> None:
    port = free_port()
    config = write_config(
        tmp_path,
        topic_prefix=topic_prefix,
        broker={"mode": "external", "port": port, "startup_timeout": 1.5},
    )
    error = failed_serve(config)
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in error
    assert "broker.startup_timeout" in error
