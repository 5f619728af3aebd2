"""`MqttClient`: one MQTT 3.1.1 connection over asyncio streams (see the package docstring).

`connect()` once, then `subscribe()`, `publish()` (QoS 0, or QoS 1 that returns
once the broker acked it) and `disconnect()`; a new connection is a new client.
The client sends PINGREQ when it has sent nothing for 3/4 of `keepalive` (a
little early: Mosquitto counts whole seconds, and with a keepalive of 1 s a
ping at exactly 1 s can land 2 whole seconds after the last one) and closes
the connection when no PINGRESP comes back within `keepalive`.
Incoming messages go to the `on_message` callback, or else to the `messages`
queue. The callback is synchronous on purpose: it runs in the reader, and an
async callback that awaited a QoS 1 publish there would wait for a PUBACK that
the same reader has to read. `closed` resolves when the connection ends, with
the reason (`None` after a clean `disconnect()`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from loa.mqtt.errors import (
    AckTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    MalformedPacket,
    MqttError,
    SubscribeRefused,
)
from loa.mqtt.packets import (
    CONNACK,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    SUBACK_FAILURE,
    Message,
    Will,
    connect_packet,
    decode_remaining_length,
    parse_connack,
    parse_packet_id,
    parse_publish,
    parse_suback,
    puback_packet,
    publish_packet,
    subscribe_packet,
)

log = logging.getLogger(__name__)

#: Larger incoming packets are refused: the protocol's payloads are at most 1 MB.
DEFAULT_MAX_PACKET = 2 * 1024 * 1024
#: PINGREQ after this share of the keepalive without sending anything.
PING_SHARE = 0.75


class MqttClient:
    """One MQTT 3.1.1 connection (see the module docstring)."""

    __slots__ = (
        "_ack_timeout",
        "_closed",
        "_connect_timeout",
        "_frozen",
        "_last_sent",
        "_loop",
        "_max_packet",
        "_next_id",
        "_paused",
        "_pending",
        "_ping_sent",
        "_queue",
        "_reader_task",
        "_thawed",
        "_timer",
        "_writer",
        "clean_session",
        "client_id",
        "host",
        "keepalive",
        "on_message",
        "password",
        "port",
        "tls",
        "username",
        "will",
    )

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        keepalive: int = 60,
        clean_session: bool = True,
        will: Will | None = None,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        max_packet_size: int = DEFAULT_MAX_PACKET,
        on_message: Callable[[Message], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.keepalive = keepalive
        self.clean_session = clean_session
        self.will = will
        self.username = username
        self.password = password
        self.on_message = on_message
        self.tls = tls
        self._connect_timeout = connect_timeout
        self._ack_timeout = ack_timeout
        self._max_packet = max_packet_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[MqttError | None] | None = None
        self._pending: dict[int, asyncio.Future[tuple[int, ...]]] = {}
        self._next_id = 0
        self._last_sent = 0.0
        self._ping_sent: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._frozen = False
        self._paused = False
        self._thawed: asyncio.Event | None = None
        self._queue: asyncio.Queue[Message] | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Connected and not closed (a frozen connection still counts: it looks open)."""
        return self._closed is not None and not self._closed.done()

    @property
    def is_frozen(self) -> bool:
        return self._frozen

    @property
    def closed(self) -> asyncio.Future[MqttError | None]:
        """Resolves when the connection ends: the reason, or None after `disconnect()`.

        A shield: a caller that cancels it (`wait_for(client.closed, ...)` timing out)
        does not cancel the client's own.
        """
        if self._closed is None:
            raise RuntimeError("connect() first")
        return asyncio.shield(self._closed)

    @property
    def messages(self) -> asyncio.Queue[Message]:
        """Incoming messages, when no `on_message` callback was given."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> bool:
        """Connect and wait for CONNACK; returns the session-present flag."""
        if self._loop is not None:
            raise RuntimeError("an MqttClient connects once; make a new one to reconnect")
        self._loop = asyncio.get_running_loop()
        where = f"{self.host}:{self.port}"
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
                writer.write(
                    connect_packet(
                        self.client_id,
                        keepalive=self.keepalive,
                        clean_session=self.clean_session,
                        will=self.will,
                        username=self.username,
                        password=self.password,
                    )
                )
                kind, flags, body = await self._read_packet(reader)
            if kind != CONNACK or flags:
                raise MalformedPacket(f"expected CONNACK from {where}, got packet type {kind}")
            session_present, code = parse_connack(body)
            if code:
                raise ConnectRefused(code, self.host, self.port, self.client_id)
        except BaseException as exc:
            if writer is not None:
                writer.transport.abort()
            if isinstance(exc, TimeoutError):
                raise ConnectFailed(
                    f"no CONNACK from {where} within {self._connect_timeout:g} s"
                ) from exc
            if isinstance(exc, asyncio.IncompleteReadError):
                raise ConnectFailed(f"{where} closed the connection before CONNACK") from exc
            if isinstance(exc, OSError):
                raise ConnectFailed(f"cannot connect to the broker at {where}: {exc}") from exc
            raise
        self._writer = writer
        self._closed = self._loop.create_future()
        self._last_sent = self._loop.time()
        self._reader_task = asyncio.create_task(
            self._read_loop(reader), name=f"mqtt-read-{self.client_id}"
        )
        self._schedule_keepalive()
        return session_present

    async def disconnect(self, timeout: float = 2.0) -> None:
        """Send DISCONNECT (the broker drops the will) and close; bounded by `timeout`."""
        writer = self._writer
        if writer is None or not self.is_connected:
            return
        self._write(DISCONNECT_PACKET)
        self._close(None, abort=False)
        try:
            async with asyncio.timeout(timeout):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except OSError as exc:
            log.debug("%s: closing after DISCONNECT: %s", self.client_id, exc)

    def abort(self) -> None:
        """A power cut: drop the socket with no DISCONNECT; the broker publishes the will."""
        self._close(ConnectionLost(f"{self.client_id}: connection aborted"), abort=True)

    def freeze(self) -> None:
        """A half-open link: read nothing, write nothing, ping nothing; keep the socket.

        Publishes are dropped (QoS 1 ones time out). The broker notices only when
        its keepalive check (1.5 x keepalive) fires and publishes the will.
        """
        if self._frozen or not self.is_connected:
            return
        self._frozen = True
        self._thawed = asyncio.Event()
        self._cancel_timer()
        assert self._writer is not None  # noqa: S101 - is_connected says so
        self._writer.transport.pause_reading()  # type: ignore[attr-defined]

    def thaw(self) -> None:
        """The link works again: read what arrived meanwhile (perhaps the broker's EOF)."""
        if not self._frozen:
            return
        self._frozen = False
        if self._thawed is not None:
            self._thawed.set()
        if self.is_connected and self._writer is not None:
            if not self._paused:
                self._writer.transport.resume_reading()  # type: ignore[attr-defined]
            self._schedule_keepalive()

    def pause_reading(self) -> None:
        """Stop reading the socket (the owner cannot keep up); the broker queues for us.

        Unlike `freeze()`, PINGREQs still go out, so the broker keeps the connection;
        while paused no PINGRESP can be read, so its absence does not end the connection.
        """
        if self._paused or not self.is_connected or self._frozen:
            return
        self._paused = True
        assert self._writer is not None  # noqa: S101 - is_connected says so
        self._writer.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        """Read the socket again after `pause_reading()`."""
        if not self._paused:
            return
        self._paused = False
        self._ping_sent = None  # a PINGRESP may have waited unread in the socket
        if self.is_connected and not self._frozen and self._writer is not None:
            self._writer.transport.resume_reading()  # type: ignore[attr-defined]

    # -- messages --------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Publish; with QoS 1, return once the broker acked it (or raise `AckTimeout`)."""
        if not qos:
            self._write(publish_packet(topic, payload, retain=retain))
            return
        packet_id, acked = self._expect_ack()
        try:
            self._write(publish_packet(topic, payload, qos=qos, retain=retain, packet_id=packet_id))
            await self._wait_ack(acked, timeout, f"PUBACK for {topic}")
        finally:
            self._pending.pop(packet_id, None)

    def publish_nowait(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 0 now, without awaiting: the bytes leave before this returns.

        For messages whose send time matters (a clock request carries it); a frozen
        link swallows them like any other write.
        """
        self._write(publish_packet(topic, payload))

    async def subscribe(
        self, *filters: tuple[str, int], timeout: float | None = None
    ) -> tuple[int, ...]:
        """Subscribe to `(topic filter, qos)` pairs; returns the granted QoS of each."""
        packet_id, acked = self._expect_ack()
        try:
            self._write(subscribe_packet(packet_id, filters))
            codes = await self._wait_ack(acked, timeout, "SUBACK")
        finally:
            self._pending.pop(packet_id, None)
        if len(codes) != len(filters):
            raise MalformedPacket(f"SUBACK has {len(codes)} return codes for {len(filters)}")
        for (topic_filter, _), code in zip(filters, codes, strict=True):
            if code == SUBACK_FAILURE:
                raise SubscribeRefused(
                    f"the broker refused {self.client_id!r} a subscription to {topic_filter}; "
                    "check its ACL"
                )
        return codes

    # -- internals -------------------------------------------------------------------------

    def _expect_ack(self) -> tuple[int, asyncio.Future[tuple[int, ...]]]:
        if not self.is_connected:
            raise ConnectionLost(f"{self.client_id}: not connected")
        assert self._loop is not None  # noqa: S101 - connected
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._pending:
                future: asyncio.Future[tuple[int, ...]] = self._loop.create_future()
                self._pending[self._next_id] = future
                return self._next_id, future
        raise MqttError(f"{self.client_id}: 65535 acknowledgements are already pending")

    async def _wait_ack(
        self, future: asyncio.Future[tuple[int, ...]], timeout: float | None, what: str
    ) -> tuple[int, ...]:
        limit = self._ack_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await future
        except TimeoutError as exc:
            raise AckTimeout(f"{self.client_id}: no {what} within {limit:g} s") from exc

    def _write(self, data: bytes) -> None:
        if not self.is_connected:
            raise ConnectionLost(f"{self.client_id}: not connected")
        if self._frozen:
            return  # the half-open link swallows it
        writer, loop = self._writer, self._loop
        assert writer is not None  # noqa: S101 - connected
        assert loop is not None  # noqa: S101 - connected
        if writer.transport.is_closing():  # the peer is gone; the reader has yet to notice
            raise ConnectionLost(f"{self.client_id}: the connection is closing")
        writer.write(data)
        self._last_sent = loop.time()

    async def _read_packet(self, reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
        head = (await reader.readexactly(1))[0]
        length_bytes = b""
        while (decoded := decode_remaining_length(length_bytes)) is None:
            length_bytes += await reader.readexactly(1)
        length = decoded[0]
        if length > self._max_packet:
            raise MalformedPacket(
                f"a packet of {length} bytes from the broker exceeds {self._max_packet}"
            )
        body = await reader.readexactly(length) if length else b""
        return head >> 4, head & 0x0F, body

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, flags, body = await self._read_packet(reader)
                if self._frozen and self._thawed is not None:
                    await self._thawed.wait()
                self._handle(kind, flags, body)
        except asyncio.IncompleteReadError:
            self._close(ConnectionLost(f"{self.client_id}: the broker closed the connection"))
        except OSError as exc:
            self._close(ConnectionLost(f"{self.client_id}: connection lost: {exc}"))
        except MqttError as exc:
            log.warning("%s: %s; closing the connection", self.client_id, exc)
            self._close(exc)
        except Exception as exc:
            log.exception("%s: the message callback failed; closing", self.client_id)
            self._close(ConnectionLost(f"{self.client_id}: the message callback failed: {exc}"))

    def _handle(self, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBLISH:
            message = parse_publish(flags, body)
            if self.on_message is not None:
                self.on_message(message)
            else:
                self.messages.put_nowait(message)
            if message.packet_id is not None:
                self._write(puback_packet(message.packet_id))
            return
        if flags:
            raise MalformedPacket(f"packet type {kind} with reserved flags {flags:#x}")
        if kind == PUBACK:
            self._resolve(parse_packet_id("PUBACK", body), ())
        elif kind == SUBACK:
            packet_id, codes = parse_suback(body)
            self._resolve(packet_id, codes)
        elif kind == PINGRESP:
            if body:
                raise MalformedPacket("PINGRESP with a body")
            self._ping_sent = None
        else:
            raise MalformedPacket(f"unexpected packet type {kind} from the broker")

    def _resolve(self, packet_id: int, result: tuple[int, ...]) -> None:
        future = self._pending.get(packet_id)
        if future is not None and not future.done():
            future.set_result(result)

    def _schedule_keepalive(self) -> None:
        if not self.keepalive or self._frozen or not self.is_connected:
            return
        assert self._loop is not None  # noqa: S101 - connected
        due = self._last_sent + self.keepalive * PING_SHARE
        if self._ping_sent is not None:
            due = min(due, self._ping_sent + self.keepalive)
        self._timer = self._loop.call_at(due, self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        self._timer = None
        assert self._loop is not None  # noqa: S101 - scheduled only when connected
        now = self._loop.time() + 0.001  # call_at may fire within the clock resolution
        if (
            self._ping_sent is not None
            and not self._paused
            and now - self._ping_sent >= self.keepalive
        ):
            self._close(ConnectionLost(f"{self.client_id}: no PINGRESP within {self.keepalive} s"))
            return
        if now - self._last_sent >= self.keepalive * PING_SHARE:
            self._write(PINGREQ_PACKET)
            if self._ping_sent is None:
                self._ping_sent = self._last_sent
        self._schedule_keepalive()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self, reason: MqttError | None, *, abort: bool = True) -> None:
        closed = self._closed
        if closed is None or closed.done():
            return
        closed.set_result(reason)
        self._cancel_timer()
        for future in self._pending.values():
            if not future.done():
                why = reason or "disconnected"
                future.set_exception(ConnectionLost(f"{self.client_id}: {why}"))
        if self._thawed is not None:
            self._thawed.set()
        if self._writer is not None:
            if abort:
                self._writer.transport.abort()
            else:
                self._writer.close()
        task = self._reader_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
