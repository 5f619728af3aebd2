"""The controller's MQTT link: the only module that imports the MQTT client library.

`MqttLink.run()` connects to the broker and stays connected forever: when the
connection fails or drops it logs why, waits a jittered exponential back-off
and tries again. What to do on each connection is the business of `LinkHooks`
(the controller's presence today; ingest and delivery later): the hooks give
the Last Will before each attempt, subscribe and announce once connected, and
receive every incoming message.

The session is persistent (`clean_session=False` with a stable client id), so
messages published to the controller's subscriptions while it is away are
queued by the broker and delivered when it comes back.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Protocol

import aiomqtt

from controller.config.model import BrokerConfig
from loa.backoff import Backoff
from loa.errors import BrokerError

log = logging.getLogger(__name__)

#: How long a clean disconnect may take before the link gives up on it.
DISCONNECT_SECONDS = 0.5


#: Publishes awaiting their acknowledgement before aiomqtt logs a warning.
PENDING_PUBLISHES_WARNING = 1100


class LinkDown(BrokerError):
    """A publish or subscribe was asked for while the broker link is down."""


@dataclass(frozen=True)
class Outgoing:
    """A message to publish (also the shape of a Last Will)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class LinkHooks(Protocol):
    """What the rest of the controller does with the link."""

    async def prepare(self) -> Outgoing | None:
        """Before each connection attempt: the Last Will for that connection."""
        ...

    async def connected(self, link: MqttLink) -> None:
        """Once connected: subscribe, announce. An exception here drops the connection."""
        ...

    async def message(self, message: Incoming) -> None:
        """Every message that arrives on a subscription."""
        ...

    async def disconnected(self, reason: str) -> None:
        """The connection was lost (not called for a connection never made)."""
        ...


class MqttLink:
    def __init__(
        self,
        broker: BrokerConfig,
        hooks: LinkHooks,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._broker = broker
        self._hooks = hooks
        jitter = rng or random.Random()  # noqa: S311 - spreading reconnects, not secrecy
        self._backoff = Backoff(broker.reconnect.initial_delay, broker.reconnect.max_delay, jitter)
        self._client: aiomqtt.Client | None = None
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.attempts = 0
        self.connections = 0
        self.last_error: str | None = None

    @property
    def address(self) -> str:
        scheme = "mqtts" if self._broker.tls.enabled else "mqtt"
        return f"{scheme}://{self._broker.connect_host}:{self._broker.port}"

    def wake(self) -> None:
        """Cut the current back-off wait short (e.g. the embedded broker is back)."""
        self._wake.set()

    async def run(self) -> None:
        """Connect, serve the connection, reconnect; until cancelled."""
        while True:
            await self._serve_one_connection()
            delay = self._backoff.next_delay()
            log.warning(
                "MQTT broker %s: %s; next attempt in %.1f s",
                self.address,
                self.last_error,
                delay,
            )
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
                log.info("MQTT broker %s: woken to reconnect early", self.address)
            except TimeoutError:
                pass

    async def _serve_one_connection(self) -> None:
        will = await self._hooks.prepare()
        client = self._make_client(will)
        self.attempts += 1
        log.info("MQTT broker %s: connecting (attempt %d)", self.address, self.attempts)
        try:
            async with asyncio.timeout(self._broker.connect_timeout):
                await client.__aenter__()
        except (aiomqtt.MqttError, TimeoutError) as exc:
            self.last_error = _describe(exc, "connection timed out")
            return
        self._client = client
        self.connections += 1
        self._backoff.reset()
        cancelled = False
        log.info("MQTT broker %s: connected as %r", self.address, self._broker.client_id)
        try:
            await self._hooks.connected(self)
            # Set once the hooks have subscribed and announced: "connected" means ready.
            self.connected.set()
            async for message in client.messages:
                await self._hooks.message(
                    Incoming(
                        topic=message.topic.value,
                        payload=_as_bytes(message.payload),
                        qos=message.qos,
                        retain=message.retain,
                    )
                )
            self.last_error = "connection closed"
        except (aiomqtt.MqttError, LinkDown) as exc:
            self.last_error = _describe(exc, "connection lost")
        except asyncio.CancelledError:
            cancelled = True  # asked to stop: not a lost connection
            raise
        finally:
            self._client = None
            self.connected.clear()
            try:
                # Bounded: a clean DISCONNECT (so the broker drops our Last Will) when the
                # broker still answers, and no waiting on one that does not.
                async with asyncio.timeout(DISCONNECT_SECONDS):
                    await client.__aexit__(None, None, None)
            except (aiomqtt.MqttError, TimeoutError):
                pass  # the connection is already gone; the reason was recorded above
            if not cancelled:
                await self._hooks.disconnected(self.last_error or "connection closed")

    def _make_client(self, will: Outgoing | None) -> aiomqtt.Client:
        client = self._new_client(will)
        # aiomqtt warns once more than 10 publishes await their PUBACK; delivery keeps
        # `delivery.chunks_in_flight` (32 by default) in flight on purpose.
        client.pending_calls_threshold = PENDING_PUBLISHES_WARNING
        return client

    def _new_client(self, will: Outgoing | None) -> aiomqtt.Client:
        broker = self._broker
        return aiomqtt.Client(
            broker.connect_host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=broker.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=False,
            keepalive=broker.keepalive,
            timeout=broker.connect_timeout,
            will=None
            if will is None
            else aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
            tls_params=_tls(broker),
        )

    async def publish(self, message: Outgoing, *, timeout: float | None = None) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1) within `timeout`."""
        client = self._client
        if client is None:
            raise LinkDown(f"cannot publish to {message.topic}: the MQTT link is down")
        try:
            await client.publish(
                message.topic,
                message.payload,
                qos=message.qos,
                retain=message.retain,
                timeout=timeout or self._broker.connect_timeout,
            )
        except aiomqtt.MqttError as exc:
            raise LinkDown(f"cannot publish to {message.topic}: {exc}") from exc

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        client = self._client
        if client is None:
            raise LinkDown(f"cannot subscribe to {topic_filter}: the MQTT link is down")
        try:
            await client.subscribe(topic_filter, qos=qos, timeout=self._broker.connect_timeout)
        except aiomqtt.MqttError as exc:
            raise LinkDown(f"cannot subscribe to {topic_filter}: {exc}") from exc


def _tls(broker: BrokerConfig) -> aiomqtt.TLSParameters | None:
    if not broker.tls.enabled:
        return None
    tls = broker.tls
    return aiomqtt.TLSParameters(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
    )


def _describe(exc: BaseException, fallback: str) -> str:
    text = str(exc).strip()
    return text or fallback


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


async def read_retained(broker: BrokerConfig, topic: str, *, wait: float = 2.0) -> bytes | None:
    """The retained message on `topic`, or None if there is none; for one-shot tools.

    Connects with a throw-away clean session (no Last Will), subscribes to the
    exact topic (retained messages do not reach wildcards on every broker) and
    waits up to `wait` seconds for the retained copy.
    """
    address = f"{broker.connect_host}:{broker.port}"
    client = aiomqtt.Client(
        broker.connect_host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=f"loa-cli-{random.getrandbits(32):08x}",
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=True,
        keepalive=broker.keepalive,
        timeout=broker.connect_timeout,
        tls_params=_tls(broker),
    )
    try:
        async with asyncio.timeout(broker.connect_timeout + wait):
            async with client:
                await client.subscribe(topic, qos=1)
                try:
                    async with asyncio.timeout(wait):
                        async for message in client.messages:
                            if message.retain:
                                return _as_bytes(message.payload)
                except TimeoutError:
                    return None
    except (aiomqtt.MqttError, TimeoutError) as exc:
        raise BrokerError(
            f"cannot reach the MQTT broker at {address} (broker.host, broker.port): "
            f"{_describe(exc, 'timed out')}; is `loa serve` (or your broker) running?"
        ) from exc
    return None  # pragma: no cover - the message iterator only ends by error
