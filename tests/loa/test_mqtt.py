"""Loa's MQTT client against a real private Mosquitto and against a lying server."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from loa.mqtt import (
    AckTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    MalformedPacket,
    Message,
    MqttClient,
    SubscribeRefused,
    Will,
)
from tests.support.mosquitto import PrivateMosquitto, free_port
from tests.support.paho_client import PahoClient
from tests.support.watching import eventually

pytestmark = pytest.mark.broker


_made: list[MqttClient] = []


def new(host: str, port: int, client_id: str, **options: Any) -> MqttClient:
    """An MqttClient that is aborted when the test ends, passed or failed."""
    made = MqttClient(host, port, client_id, **options)
    _made.append(made)
    return made


def client(broker: PrivateMosquitto, client_id: str, **options: Any) -> MqttClient:
    return new(broker.host, broker.port, client_id, **options)


@pytest.fixture(autouse=True)
async def _abort_leftovers() -> AsyncIterator[None]:
    yield
    while _made:
        _made.pop().abort()
    await asyncio.sleep(0)  # transport.abort() closes the socket in a callback


def will_of(watcher: PahoClient, topic: str) -> list[bytes]:
    return [bytes(m.payload) for m in list(watcher.messages) if m.topic == topic]


async def test_publish_and_subscribe_at_qos_0_and_1(
    mosquitto: PrivateMosquitto, topic_prefix: str
) -> None:
    received: list[Message] = []
    reader = client(mosquitto, "reader", on_message=received.append)
    writer = client(mosquitto, "writer")
    assert await reader.connect() is False  # clean session: nothing kept
    assert await reader.subscribe((f"{topic_prefix}/a", 1), (f"{topic_prefix}/b", 0)) == (1, 0)
    await writer.connect()
    await writer.publish(f"{topic_prefix}/a", b"one", qos=1)  # returns once acked
    await writer.publish(f"{topic_prefix}/b", b"two")
    await writer.publish(f"{topic_prefix}/a", b"x" * 200_000, qos=1)  # 3-byte length
    await eventually(lambda: len(received) == 3, 5, "three messages")
    assert [(m.topic[-1], m.payload[:3], m.qos) for m in received] == [
        ("a", b"one", 1),
        ("b", b"two", 0),
        ("a", b"xxx", 1),
    ]
    assert len(received[2].payload) == 200_000
    await writer.disconnect()
    await reader.disconnect()
    assert await reader.closed is None


async def test_messages_go_to_a_queue_without_a_callback(
    mosquitto: PrivateMosquitto, topic_prefix: str
) -> None:
    with PahoClient(mosquitto.host, mosquitto.port) as paho:
        paho.connect()
        paho.publish(f"{topic_prefix}/kept", [b"retained"], retain=True)
    reader = client(mosquitto, "queue-reader")
    await reader.connect()
    await reader.subscribe((f"{topic_prefix}/kept", 1))
    message = await asyncio.wait_for(reader.messages.get(), 5)
    assert (message.payload, message.retain, message.qos) == (b"retained", True, 1)
    await reader.disconnect()


async def test_abort_makes_the_broker_publish_the_will_at_once(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    topic = f"{topic_prefix}/will"
    victim = client(mosquitto, "victim", will=Will(topic, b"lost", qos=1, retain=True))
    await victim.connect()
    victim.abort()
    assert isinstance(await victim.closed, ConnectionLost)
    took = await eventually(lambda: will_of(watcher, topic) == [b"lost"], 5, "the will")
    assert took < 2
    with pytest.raises(ConnectionLost):
        await victim.publish(topic, b"too late")


async def test_a_clean_disconnect_sends_no_will(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    topic = f"{topic_prefix}/will"
    polite = client(mosquitto, "polite", will=Will(topic, b"lost"))
    await polite.connect()
    await polite.publish(f"{topic_prefix}/bye", b"bye", qos=1)
    await polite.disconnect()
    await eventually(lambda: len(watcher.messages) == 1, 5, "the goodbye")
    await asyncio.sleep(1.0)
    assert will_of(watcher, topic) == []


async def test_a_frozen_link_is_noticed_only_after_one_and_a_half_keepalives(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    # Mosquitto 2.0 drops a client silent for more than 1.5 x keepalive (whole seconds),
    # and runs that check only every 5 s or so: the will comes 3 to ~10 s after freeze().
    topic = f"{topic_prefix}/will"
    frozen = client(mosquitto, "frozen", keepalive=2, will=Will(topic, b"lost"))
    await frozen.connect()
    await frozen.subscribe((f"{topic_prefix}/in", 0))
    frozen.freeze()
    frozen_at = time.monotonic()
    await frozen.publish(f"{topic_prefix}/swallowed", b"never arrives")
    with pytest.raises(AckTimeout):
        await frozen.publish(f"{topic_prefix}/swallowed", b"never acked", qos=1, timeout=0.5)
    await eventually(lambda: will_of(watcher, topic) == [b"lost"], 15, "the will")
    assert time.monotonic() - frozen_at >= 2.0
    assert frozen.is_connected  # it has not noticed: nothing is read
    assert [m.topic for m in watcher.messages] == [topic]
    frozen.thaw()  # the link comes back and finds the broker's end closed
    assert isinstance(await asyncio.wait_for(frozen.closed, 5), ConnectionLost)


async def test_pings_keep_an_idle_connection_open(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    # Mosquitto checks keepalives every 5 s or so: 6.5 s of idling meets a check
    idle = client(mosquitto, "idle", keepalive=1, will=Will(f"{topic_prefix}/will", b"lost"))
    await idle.connect()
    await asyncio.sleep(6.5)
    assert idle.is_connected
    await idle.publish(f"{topic_prefix}/still-here", b"yes", qos=1, timeout=2)
    await idle.disconnect()
    await eventually(lambda: len(watcher.messages) == 1, 5, "the message")
    assert watcher.messages[0].topic.endswith("still-here")


async def test_bad_credentials_are_refused_with_a_clear_error(
    mosquitto_auth: PrivateMosquitto,
) -> None:
    assert mosquitto_auth.username is not None
    wrong = client(mosquitto_auth, "rx", username=mosquitto_auth.username, password="wrong")
    with pytest.raises(ConnectRefused, match="refused client 'rx'") as refused:
        await wrong.connect()
    assert refused.value.code in (4, 5)
    right = client(
        mosquitto_auth,
        "rx",
        username=mosquitto_auth.username,
        password=mosquitto_auth.password,
    )
    await right.connect()
    await right.disconnect()


async def test_no_broker_is_a_connect_failure() -> None:
    lonely = new("127.0.0.1", free_port(), "lonely", connect_timeout=2)
    with pytest.raises(ConnectFailed, match="cannot connect"):
        await lonely.connect()


# -- a server that says what we tell it to ----------------------------------------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CONNACK_OK = b"\x20\x02\x00\x00"


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    assert head[1] < 128, "the tests only send short packets"
    return head + await reader.readexactly(head[1])


@asynccontextmanager
async def lying_server(script: Script) -> AsyncIterator[int]:
    """A TCP server on a free port that reads CONNECT, runs `script`, and waits for EOF."""
    handlers: list[asyncio.Future[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await read_packet(reader)
            await script(reader, writer)
            await reader.read()  # until the client (or the end of the test) closes it
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away first
        finally:
            writer.close()

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.ensure_future(handle(reader, writer)))

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        if handlers:
            await asyncio.wait(handlers, timeout=2)
        await server.wait_closed()


def sends(data: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return script


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (b"\x20\xff\xff\xff\xff\x01", "past 4 bytes"),
        (b"\xd0\x00", "expected CONNACK"),
        (b"\x20\x03\x00\x00\x00", "CONNACK body"),
        (b"\x20\x7f", "no CONNACK"),  # promises 127 bytes, sends none: the timeout ends it
    ],
)
async def test_a_malformed_connack_fails_the_connect_in_bounded_time(
    reply: bytes, problem: str
) -> None:
    async with lying_server(sends(reply)) as port:
        victim = new("127.0.0.1", port, "victim", connect_timeout=1)
        with pytest.raises((MalformedPacket, ConnectFailed), match=problem):
            await asyncio.wait_for(victim.connect(), 5)


async def test_a_refusal_names_its_reason() -> None:
    async with lying_server(sends(b"\x20\x02\x00\x02")) as port:
        victim = new("127.0.0.1", port, "bad id")
        with pytest.raises(ConnectRefused, match="rejected the client id"):
            await victim.connect()


@pytest.mark.parametrize(
    ("after_connack", "problem"),
    [
        (b"\x00\x00", "unexpected packet type 0"),
        (b"\xf0\x00", "unexpected packet type 15"),
        (b"\x30\x05\x00\x09abc", "runs past"),
        (b"\x40\x03\x00\x01\x00", "PUBACK body"),
        (b"\xd2\x00", "reserved flags"),
        (b"\x30\xff\xff\xff\x7f", "exceeds"),
    ],
)
async def test_a_malformed_packet_closes_the_connection(after_connack: bytes, problem: str) -> None:
    async with lying_server(sends(CONNACK_OK + after_connack)) as port:
        victim = new("127.0.0.1", port, "victim")
        await victim.connect()
        reason = await asyncio.wait_for(victim.closed, 5)
        assert isinstance(reason, MalformedPacket)
        assert problem in str(reason)
        with pytest.raises(ConnectionLost):
            await victim.publish("a", b"b", qos=1)


async def test_a_server_that_stops_answering_is_dropped_after_a_missing_pingresp() -> None:
    # CONNACK, then half a PUBLISH and silence: the reader waits for the rest, the
    # keepalive does not: a PINGREQ after 0.75 s, no PINGRESP within another second.
    async with lying_server(sends(CONNACK_OK + b"\x30\x10\x00")) as port:
        victim = new("127.0.0.1", port, "victim", keepalive=1)
        await victim.connect()
        started = time.monotonic()
        reason = await asyncio.wait_for(victim.closed, 5)
        assert isinstance(reason, ConnectionLost)
        assert "no PINGRESP" in str(reason)
        assert 1.5 < time.monotonic() - started < 3.0


async def test_an_idle_client_pings_and_a_pingresp_keeps_it_open() -> None:
    pings = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal pings
        writer.write(CONNACK_OK)
        while await read_packet(reader) == b"\xc0\x00":
            pings += 1
            writer.write(b"\xd0\x00")
        writer.close()

    async with lying_server(script) as port:
        idle = new("127.0.0.1", port, "idle", keepalive=1)
        await idle.connect()
        await asyncio.sleep(2.0)
        assert idle.is_connected
        assert 2 <= pings <= 3  # every 0.75 s of silence
        await idle.publish("t", b"x")  # not a ping: the server's script ends, and closes
        assert isinstance(await asyncio.wait_for(idle.closed, 2), ConnectionLost)


async def test_an_unacknowledged_publish_times_out() -> None:
    async with lying_server(sends(CONNACK_OK)) as port:
        victim = new("127.0.0.1", port, "victim", ack_timeout=0.3)
        await victim.connect()
        with pytest.raises(AckTimeout, match=r"no PUBACK for t within 0\.3 s"):
            await victim.publish("t", b"x", qos=1)
        victim.abort()


async def test_incoming_qos_1_is_acknowledged_after_delivery() -> None:
    seen: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CONNACK_OK + b"\x32\x08\x00\x01t\x12\x34abc")  # QoS 1, packet id 0x1234
        seen.set_result(await read_packet(reader))

    async with lying_server(script) as port:
        victim = new("127.0.0.1", port, "victim")
        await victim.connect()
        message = await asyncio.wait_for(victim.messages.get(), 5)
        assert (message.topic, message.payload, message.packet_id) == ("t", b"abc", 0x1234)
        assert await asyncio.wait_for(seen, 5) == b"\x40\x02\x12\x34"
        await victim.disconnect()


async def test_a_refused_subscription_raises() -> None:
    # Mosquitto 2.0 grants what its ACL denies (and delivers nothing); other brokers say 0x80.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CONNACK_OK)
        subscribe = await read_packet(reader)
        writer.write(b"\x90\x04" + subscribe[2:4] + b"\x01\x80")

    async with lying_server(script) as port:
        victim = new("127.0.0.1", port, "victim")
        await victim.connect()
        with pytest.raises(SubscribeRefused, match="subscription to forbidden/x; check its ACL"):
            await victim.subscribe(("allowed/x", 1), ("forbidden/x", 1))
        await victim.disconnect()


async def test_giving_up_on_closed_does_not_break_the_client() -> None:
    async with lying_server(sends(CONNACK_OK)) as port:
        victim = new("127.0.0.1", port, "victim")
        await victim.connect()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(victim.closed, 0.1)  # cancels only its own view
        assert victim.is_connected
        victim.abort()
        assert isinstance(await victim.closed, ConnectionLost)


async def test_an_mqtt_client_connects_once() -> None:
    async with lying_server(sends(CONNACK_OK)) as port:
        once = new("127.0.0.1", port, "once")
        await once.connect()
        with pytest.raises(RuntimeError, match="connects once"):
            await once.connect()
        await once.disconnect()


async def test_paused_reading_holds_messages_and_keeps_the_connection(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    # keepalive 1 s: paused for 3 s, the client still pings (the broker keeps it) and does
    # not end the connection for the PINGRESPs it cannot read meanwhile.
    topic = f"{topic_prefix}/held"
    received: list[Message] = []
    reader = client(
        mosquitto, "pausing", keepalive=1, on_message=received.append,
        will=Will(f"{topic_prefix}/will", b"lost"),
    )  # fmt: skip
    await reader.connect()
    await reader.subscribe((topic, 1))
    reader.pause_reading()
    writer = client(mosquitto, "feeder")
    await writer.connect()
    for n in range(5):
        await writer.publish(topic, str(n).encode(), qos=1)
    await asyncio.sleep(3.0)
    assert received == []
    assert reader.is_connected
    reader.resume_reading()
    await eventually(lambda: len(received) == 5, 5, "the held messages")
    assert [m.payload for m in received] == [b"0", b"1", b"2", b"3", b"4"]
    await asyncio.sleep(1.5)  # pings answered again after resuming
    assert reader.is_connected
    assert will_of(watcher, f"{topic_prefix}/will") == []


async def test_tls_connects_verifying_the_broker(
    mosquitto_tls: PrivateMosquitto, topic_prefix: str
) -> None:
    assert mosquitto_tls.tls_port is not None
    assert mosquitto_tls.ca_file is not None
    context = ssl.create_default_context(cafile=str(mosquitto_tls.ca_file))
    received: list[Message] = []
    secure = new(
        mosquitto_tls.host, mosquitto_tls.tls_port, "secure", tls=context,
        on_message=received.append,
    )  # fmt: skip
    await secure.connect()
    await secure.subscribe((f"{topic_prefix}/tls", 1))
    await secure.publish(f"{topic_prefix}/tls", b"over tls", qos=1)
    await eventually(lambda: len(received) == 1, 5, "the message over TLS")
    await secure.disconnect()
    untrusting = new(
        mosquitto_tls.host, mosquitto_tls.tls_port, "untrusting",
        tls=ssl.create_default_context(),  # the system CAs do not know the test CA
    )  # fmt: skip
    with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusting.connect()
