"""Fixtures of the simulator tests: `watcher` (tests/support/watching.py) and `controller`,
a started test-side controller (`BrokerController`) on the test's private Mosquitto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devices.protocol.topics import Topics
from tests.simulators.delivery.on_broker import BrokerController
from tests.support.mosquitto import PrivateMosquitto
from tests.support.watching import watcher

__all__ = ["controller", "watcher"]


@pytest.fixture
def controller(mosquitto: PrivateMosquitto, topic_prefix: str) -> Iterator[BrokerController]:
    with BrokerController(mosquitto.host, mosquitto.port, Topics(topic_prefix)) as ctl:
        ctl.start()
        yield ctl
