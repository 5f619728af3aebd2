"""The controller in-process against real brokers: credentials, TLS, a late Last Will."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.config import Config, load_config
from controller.store import Store, list_events
from loa.errors import BrokerUnreachable
from tests.support.controller import PresenceWatcher, controller_running, write_config
from tests.support.mosquitto import PrivateMosquitto

pytestmark = pytest.mark.broker


def external(tmp_path: Path, prefix: str, broker: dict[str, Any]) -> Config:
    settings = {"mode": "external", "reconnect": {"initial_delay": 0.1, "max_delay": 0.5}}
    return load_config(
        write_config(tmp_path, topic_prefix=prefix, broker=settings | broker), environ={}
    )


async def see_online(broker: PrivateMosquitto, topic: str) -> None:
    """A subscriber (with the broker's credentials, if any) sees the controller online."""
    watcher = PresenceWatcher(
        broker.host,
        broker.port,
        topic,
        username=broker.username,
        password=broker.password,
    )
    with await asyncio.to_thread(watcher.start):
        await asyncio.to_thread(watcher.wait_presence, state="online")


async def test_it_connects_with_a_username_and_password(
    tmp_path: Path, topic_prefix: str, mosquitto_auth: PrivateMosquitto
) -> None:
    config = external(
        tmp_path,
        topic_prefix,
        {
            "port": mosquitto_auth.port,
            "username": mosquitto_auth.username,
            "password": mosquitto_auth.password,
        },
    )
    async with controller_running(config) as controller:
        await see_online(mosquitto_auth, controller.topics.controller_status)


async def test_a_wrong_password_is_reported_when_the_broker_stays_unreachable(
    tmp_path: Path, topic_prefix: str, mosquitto_auth: PrivateMosquitto
) -> None:
    config = external(
        tmp_path,
        topic_prefix,
        {
            "port": mosquitto_auth.port,
            "username": mosquitto_auth.username,
            "password": "not-the-password",
            "startup_timeout": 1,
        },
    )
    with pytest.raises(BrokerUnreachable) as caught:
        await Controller(config).run()
    message = str(caught.value)
    assert f"127.0.0.1:{mosquitto_auth.port}" in message
    assert "not authori" in message.lower() or "bad user name or password" in message.lower()


async def test_it_connects_over_tls_verifying_the_broker_against_the_ca(
    tmp_path: Path, topic_prefix: str, mosquitto_tls: PrivateMosquitto
) -> None:
    assert mosquitto_tls.tls_port is not None
    assert mosquitto_tls.ca_file is not None
    config = external(
        tmp_path,
        topic_prefix,
        {
            "port": mosquitto_tls.tls_port,
            "tls": {"enabled": True, "ca_file": str(mosquitto_tls.ca_file)},
        },
    )
    async with controller_running(config) as controller:
        await see_online(mosquitto_tls, controller.topics.controller_status)


# paho-mqtt 2.2 leaks the SSL socket of a failed handshake (Client._ssl_wrap_socket);
# the garbage collector closes it, and pytest reports that as an unraisable warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_tls_against_a_plain_listener_fails_with_a_clear_reason(
    tmp_path: Path, topic_prefix: str, mosquitto_tls: PrivateMosquitto
) -> None:
    assert mosquitto_tls.ca_file is not None
    config = external(
        tmp_path,
        topic_prefix,
        {
            "port": mosquitto_tls.port,
            "startup_timeout": 1,
            "tls": {"enabled": True, "ca_file": str(mosquitto_tls.ca_file)},
        },
    )
    with pytest.raises(BrokerUnreachable, match=rf"127\.0\.0\.1:{mosquitto_tls.port}"):
        await Controller(config).run()


async def test_a_late_will_is_repaired(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    config = external(tmp_path, topic_prefix, {"port": mosquitto.port})
    # A first run leaves epoch 1 behind, so the second run's epoch is 2.
    async with controller_running(config):
        pass
    async with controller_running(config) as controller:
        topic = controller.topics.controller_status
        watcher = PresenceWatcher(mosquitto.host, mosquitto.port, topic)
        with await asyncio.to_thread(watcher.start):
            online = await asyncio.to_thread(watcher.wait_presence, state="online", epoch=2)
            late_will = (
                b'{"v":1,"state":"offline","reason":"lost","epoch":1,'
                b'"since":"2026-01-01T00:00:00.000Z","version":"0.1.0"}'
            )
            await asyncio.to_thread(watcher.publish, topic, [late_will], retain=True)

            def repaired() -> bool:
                presences = watcher.presences()
                after = presences[presences.index(online) + 1 :]
                return any(p.get("epoch") == 1 for p in after) and after[-1] == online

            await asyncio.to_thread(watcher.wait_for, repaired, 10, "online published again")
            # Only the late will was answered, not the history from before this connection.
            assert controller_republished(controller) == 1
    # What stays retained once the controller has stopped is its own clean goodbye.
    with PresenceWatcher(mosquitto.host, mosquitto.port, topic) as last:
        await asyncio.to_thread(last.start)
        final = await asyncio.to_thread(last.wait_presence, epoch=2, state="offline")
        assert final["reason"] == "shutdown"


def controller_republished(controller: Controller) -> int:
    assert controller.presence is not None
    return controller.presence.republished


async def test_start_connections_and_stop_are_recorded_in_the_store(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    config = external(tmp_path, topic_prefix, {"port": mosquitto.port})
    async with controller_running(config):
        pass
    async with await Store.open(config.store.url) as store:
        kinds = [event.kind for event in reversed(await list_events(store))]
    assert kinds == ["start", "broker_connected", "stop"]
