"""A paho-mqtt client on its own network thread, with blocking waits for tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from paho.mqtt.client import (
    Client,
    ConnectFlags,
    MQTTMessage,
)
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

TIMEOUT = 10.0


class PahoClient:
    """One MQTT 3.1.1 connection; records what it receives and what the broker acked."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        clean_session: bool = True,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        will: tuple[str, bytes] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{uuid.uuid4().hex[:12]}",
            clean_session=clean_session,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.max_inflight_messages_set(1000)
        self.connack: ReasonCode | None = None
        self.session_present = False
        self.messages: list[MQTTMessage] = []
        self.acked = 0
        self.subscribed = 0
        self._changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    def connect(self, timeout: float = TIMEOUT) -> ReasonCode:
        """Connect and wait for the CONNACK; returns its reason code (success or refusal)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.wait_for(lambda: self.connack is not None, timeout, "no CONNACK")
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str, qos: int = 1, timeout: float = TIMEOUT) -> None:
        wanted = self.subscribed + 1
        self.client.subscribe(topic, qos)
        self.wait_for(lambda: self.subscribed >= wanted, timeout, f"no SUBACK for {topic}")

    def publish(
        self,
        topic: str,
        payloads: Iterable[bytes],
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = TIMEOUT,
    ) -> None:
        """Publish every payload and wait until the broker acked them all (QoS 1)."""
        wanted = self.acked
        for payload in payloads:
            self.client.publish(topic, payload, qos=qos, retain=retain)
            wanted += 1
        self.wait_for(lambda: self.acked >= wanted, timeout, f"{wanted - self.acked} unacked")

    def payloads(self) -> list[bytes]:
        with self._changed:
            return [bytes(message.payload) for message in self.messages]

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until `condition()` holds after a callback; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what} within {timeout} s")
                self._changed.wait(left)

    def close(self) -> None:
        """Disconnect cleanly (no will) and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _notify(self, update: Callable[[], None]) -> None:
        with self._changed:
            update()
            self._changed.notify_all()

    def _on_connect(
        self, _c: Client, _u: Any, flags: ConnectFlags, code: ReasonCode, _p: Properties | None
    ) -> None:
        def update() -> None:
            self.session_present = flags.session_present
            self.connack = code

        self._notify(update)

    def _on_message(self, _c: Client, _u: Any, message: MQTTMessage) -> None:
        self._notify(lambda: self.messages.append(message))

    def _on_publish(
        self, _c: Client, _u: Any, _mid: int, _code: ReasonCode, _p: Properties
    ) -> None:
        def update() -> None:
            self.acked += 1

        self._notify(update)

    def _on_subscribe(
        self, _c: Client, _u: Any, _mid: int, _codes: list[ReasonCode], _p: Properties
    ) -> None:
        def update() -> None:
            self.subscribed += 1

        self._notify(update)
