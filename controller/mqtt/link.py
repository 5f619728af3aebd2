"""The controller's MQTT link: the only module of the controller that talks MQTT.

`MqttLink.run()` connects to the broker and stays connected forever: when the
connection fails or drops it logs why, waits a jittered exponential back-off
and tries again. What to do on each connection is the business of `LinkHooks`
(the controller's presence, receiver health, delivery): the hooks give the Last
Will before each attempt, subscribe and announce once connected, and receive
every incoming message.

The session is persistent (`clean_session=False` with a stable client id), so
messages published to the controller's subscriptions while it is away are
queued by the broker and delivered when it comes back.

The client is Loa's own (`loa.mqtt`), chosen by measurement: receiving a QoS 1
message costs it about 18 us of CPU, as gmqtt, against 57 us for aiomqtt (see
`loa.mqtt` and docs/performance.md). Messages are read by the client's reader
and handed, in order, to one consumer task that awaits the hooks; when the hooks
fall `INBOX_HIGH` messages behind, the link stops reading the socket (the broker
queues) until they are back under `INBOX_LOW`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from controller.config.model import BrokerConfig
from loa.backoff import Backoff
from loa.errors import BrokerError
from loa.mqtt import Message, MqttClient, MqttError, Will

log = logging.getLogger(__name__)

#: How long a clean disconnect may take before the link gives up on it.
DISCONNECT_SECONDS = 0.5
#: Messages waiting for the hooks above which the socket is no longer read...
INBOX_HIGH = 20_000
#: ...and below which it is read again.
INBOX_LOW = 2_000

#: A message that arrived on a subscription: topic, payload, qos, retain (and the
#: broker's packet id, which the hooks never need).
Incoming = Message


class LinkDown(BrokerError):
    """A publish or subscribe was asked for while the broker link is down."""


@dataclass(frozen=True)
class Outgoing:
    """A message to publish (also the shape of a Last Will)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


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


class ReadSwitch(Protocol):
    """What the inbox needs of the client: `MqttClient.pause_reading` and `resume_reading`."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Inbox:
    """Messages read from one connection, waiting for the hooks, in arrival order."""

    def __init__(self, client: ReadSwitch) -> None:
        self._client = client
        self._items: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False

    def put(self, message: Message) -> None:
        """The client's `on_message`: called by its reader for every PUBLISH."""
        self._items.append(message)
        if len(self._items) >= INBOX_HIGH:
            self._client.pause_reading()
        self._wake()

    def end(self) -> None:
        """The connection closed: `next()` gives what is left, then None."""
        self._ended = True
        self._wake()

    async def next(self) -> Message | None:
        """The next message, waiting for one; None once the connection closed and all
        that arrived on it were given."""
        while not self._items:
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if len(self._items) == INBOX_LOW:
            self._client.resume_reading()
        return self._items.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


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
        self._tls = tls_context(broker)
        self._client: MqttClient | None = None
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
        client = self._new_client(will)
        inbox = Inbox(client)
        client.on_message = inbox.put
        self.attempts += 1
        log.info("MQTT broker %s: connecting (attempt %d)", self.address, self.attempts)
        try:
            await client.connect()
        except MqttError as exc:
            self.last_error = _describe(exc, "connection failed")
            return
        client.closed.add_done_callback(lambda _closed: inbox.end())
        self._client = client
        self.connections += 1
        self._backoff.reset()
        cancelled = False
        log.info("MQTT broker %s: connected as %r", self.address, self._broker.client_id)
        try:
            await self._hooks.connected(self)
            # Set once the hooks have subscribed and announced: "connected" means ready.
            self.connected.set()
            while (message := await inbox.next()) is not None:
                await self._hooks.message(message)
            reason = client.closed.result()
            self.last_error = (
                _describe(reason, "connection closed") if reason else "connection closed"
            )
        except (MqttError, LinkDown) as exc:
            self.last_error = _describe(exc, "connection lost")
        except asyncio.CancelledError:
            cancelled = True  # asked to stop: not a lost connection
            raise
        finally:
            self._client = None
            self.connected.clear()
            # A clean DISCONNECT (so the broker drops our Last Will) when the broker still
            # answers, bounded; nothing when the connection is already gone.
            await client.disconnect(timeout=DISCONNECT_SECONDS)
            client.abort()
            if not cancelled:
                await self._hooks.disconnected(self.last_error or "connection closed")

    def _new_client(self, will: Outgoing | None) -> MqttClient:
        broker = self._broker
        return MqttClient(
            broker.connect_host,
            broker.port,
            broker.client_id,
            keepalive=broker.keepalive,
            clean_session=False,
            will=None if will is None else Will(will.topic, will.payload, will.qos, will.retain),
            username=broker.username,
            password=broker.password,
            connect_timeout=broker.connect_timeout,
            ack_timeout=broker.connect_timeout,
            tls=self._tls,
        )

    async def publish(self, message: Outgoing, *, timeout: float | None = None) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1) within `timeout`."""
        client = self._client
        if client is None:
            raise LinkDown(f"cannot publish to {message.topic}: the MQTT link is down")
        # A hook may publish while the inbox is full and the socket unread: the PUBACK
        # must still be read (the inbox pauses again at its next message).
        client.resume_reading()
        try:
            await client.publish(
                message.topic,
                message.payload,
                qos=message.qos,
                retain=message.retain,
                timeout=timeout or self._broker.connect_timeout,
            )
        except MqttError as exc:
            raise LinkDown(f"cannot publish to {message.topic}: {exc}") from exc

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        client = self._client
        if client is None:
            raise LinkDown(f"cannot subscribe to {topic_filter}: the MQTT link is down")
        try:
            await client.subscribe((topic_filter, qos), timeout=self._broker.connect_timeout)
        except MqttError as exc:
            raise LinkDown(f"cannot subscribe to {topic_filter}: {exc}") from exc


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    """The TLS context of `broker.tls`: the broker verified against `ca_file` (else the
    system's CAs) and its host name; a client certificate when `cert_file` is set."""
    tls = broker.tls
    if not tls.enabled:
        return None
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerError(
            f"cannot load the TLS files of broker.tls (ca_file {tls.ca_file}, cert_file "
            f"{tls.cert_file}, key_file {tls.key_file}): {exc}"
        ) from exc
    return context


def _describe(exc: BaseException, fallback: str) -> str:
    text = str(exc).strip()
    return text or fallback


async def read_retained(broker: BrokerConfig, topic: str, *, wait: float = 2.0) -> bytes | None:
    """The retained message on `topic`, or None if there is none; for one-shot tools.

    Connects with a throw-away clean session (no Last Will), subscribes to the
    exact topic (retained messages do not reach wildcards on every broker) and
    waits up to `wait` seconds for the retained copy.
    """
    address = f"{broker.connect_host}:{broker.port}"
    client = MqttClient(
        broker.connect_host,
        broker.port,
        f"loa-cli-{random.getrandbits(32):08x}",
        keepalive=broker.keepalive,
        clean_session=True,
        username=broker.username,
        password=broker.password,
        connect_timeout=broker.connect_timeout,
        ack_timeout=broker.connect_timeout,
        tls=tls_context(broker),
    )
    try:
        await client.connect()
        await client.subscribe((topic, 1))
        try:
            async with asyncio.timeout(wait):
                while True:
                    message = await client.messages.get()
                    if message.retain:
                        return message.payload
        except TimeoutError:
            return None
    except MqttError as exc:
        raise BrokerError(
            f"cannot reach the MQTT broker at {address} (broker.host, broker.port): "
            f"{_describe(exc, 'timed out')}; is `loa serve` (or your broker) running?"
        ) from exc
    finally:
        await client.disconnect(timeout=DISCONNECT_SECONDS)
        client.abort()
