"""Waiting in tests: polling a condition from async code, and a paho subscriber watching all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient


async def eventually(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` until it holds; returns the seconds it took. AssertionError on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def watcher(mosquitto: PrivateMosquitto, topic_prefix: str) -> Iterator[PahoClient]:
    """A paho client subscribed to everything under the test's topic prefix."""
    with PahoClient(mosquitto.host, mosquitto.port) as client:
        client.connect()
        client.subscribe(f"{topic_prefix}/#")
        yield client
