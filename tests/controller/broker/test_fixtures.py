"""The private-broker fixtures other tests build on: auth, TLS, restart, prefixes."""

from __future__ import annotations

import os
import re

import pytest

from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient

pytestmark = pytest.mark.broker

RECEIVER = ("rx-1", "pw-1")  # a user name and its password


def test_plain_broker_restarts_on_the_same_port(mosquitto: PrivateMosquitto) -> None:
    port, pid = mosquitto.port, mosquitto.pid
    mosquitto.kill()
    assert mosquitto.pid is None
    mosquitto.restart()
    assert mosquitto.port == port
    assert mosquitto.pid not in (None, pid)
    with PahoClient(mosquitto.host, mosquitto.port) as client:
        assert not client.connect().is_failure


def test_auth_broker_checks_the_password(mosquitto_auth: PrivateMosquitto) -> None:
    host, port = mosquitto_auth.host, mosquitto_auth.port
    user, password = mosquitto_auth.username, mosquitto_auth.password
    assert user is not None
    with PahoClient(host, port, username=user, password=password) as good:
        assert not good.connect().is_failure
    with PahoClient(host, port, username=user, password=f"{password}x") as bad:
        assert bad.connect().is_failure
    with PahoClient(host, port) as anonymous:
        assert anonymous.connect().is_failure


def test_auth_broker_takes_new_users_and_acl_lines(
    mosquitto_auth: PrivateMosquitto, topic_prefix: str
) -> None:
    host, port = mosquitto_auth.host, mosquitto_auth.port
    name, secret = RECEIVER
    mosquitto_auth.add_user(name, secret)
    mosquitto_auth.add_acl(f"user {name}", f"topic read {topic_prefix}/#")
    with PahoClient(host, port, username=name, password=secret) as receiver:
        assert not receiver.connect().is_failure
        receiver.subscribe(f"{topic_prefix}/#")
        receiver.publish(f"{topic_prefix}/own", [b"denied"])  # read-only: dropped
        user, password = mosquitto_auth.username, mosquitto_auth.password
        with PahoClient(host, port, username=user, password=password) as controller:
            controller.connect()
            controller.publish(f"{topic_prefix}/cmd", [b"play"])
        receiver.wait_for(lambda: bool(receiver.messages), 5, "no command")
        assert receiver.payloads() == [b"play"]


def test_tls_broker_is_verified_with_the_ca(mosquitto_tls: PrivateMosquitto) -> None:
    assert mosquitto_tls.tls_port is not None
    assert mosquitto_tls.ca_file is not None
    client = PahoClient(mosquitto_tls.host, mosquitto_tls.tls_port, ca_file=mosquitto_tls.ca_file)
    with client:
        assert not client.connect().is_failure
    assert client.client.socket() is None  # closed again


def test_topic_prefix_is_a_valid_unique_level(topic_prefix: str) -> None:
    assert re.fullmatch(r"[a-z0-9_-]+", topic_prefix)


def test_fixture_broker_stops_by_pid(mosquitto: PrivateMosquitto) -> None:
    pid = mosquitto.pid
    assert pid is not None
    mosquitto.stop()
    assert mosquitto.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
