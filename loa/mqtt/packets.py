"""MQTT 3.1.1 packets: the bytes of the few packets a simulated receiver needs.

Pure functions, no I/O: `loa.mqtt.client` reads and writes them. Builders
return whole packets (fixed header included); parsers take the body of one
packet (what follows the remaining length) and raise `MalformedPacket` on
anything MQTT 3.1.1 does not allow, so bytes from the wire never raise
anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from loa.mqtt.errors import MalformedPacket

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
SUBSCRIBE = 8
SUBACK = 9
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

#: The largest remaining length MQTT can express (four bytes of seven bits each).
MAX_REMAINING_LENGTH = 268_435_455
#: A remaining length takes at most this many bytes.
MAX_LENGTH_BYTES = 4
SUBACK_FAILURE = 0x80

PINGREQ_PACKET = bytes((PINGREQ << 4, 0))
DISCONNECT_PACKET = bytes((DISCONNECT << 4, 0))


@dataclass(frozen=True)
class Will:
    """The Last Will the broker publishes when the connection ends without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True

    def __post_init__(self) -> None:
        _check_qos(self.qos)


@dataclass(frozen=True)
class Message:
    """A PUBLISH received from the broker."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    packet_id: int | None = None


def encode_remaining_length(length: int) -> bytes:
    """The variable-length encoding of `length` (1 to 4 bytes)."""
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} is outside 0..{MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        digit, length = length % 128, length // 128
        out.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(out)


def decode_remaining_length(data: bytes) -> tuple[int, int] | None:
    """`(length, bytes used)` from the start of `data`; None while more bytes are needed.

    Raises `MalformedPacket` when a fourth byte still says "more follows".
    """
    value = 0
    for index, byte in enumerate(data[:MAX_LENGTH_BYTES]):
        value += (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    if len(data) >= MAX_LENGTH_BYTES:
        raise MalformedPacket("remaining length runs past 4 bytes")
    return None


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_session: bool = True,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError(f"keepalive {keepalive} is outside 0..65535 seconds")
    if password is not None and username is None:
        raise ValueError("MQTT 3.1.1 sends a password only with a user name")
    flags = 0x02 if clean_session else 0
    body = bytearray(_string("MQTT") + bytes((4,)))  # protocol name and level 4 (3.1.1)
    payload = bytearray(_string(client_id))
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _binary(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _binary(password.encode())
    body += bytes((flags,)) + struct.pack("!H", keepalive) + payload
    return _packet(CONNECT << 4, body)


def publish_packet(
    topic: str, payload: bytes, *, qos: int = 0, retain: bool = False, packet_id: int = 0
) -> bytes:
    _check_qos(qos)
    if qos and not 0 < packet_id <= 0xFFFF:
        raise ValueError("a QoS 1 publish needs a packet id from 1 to 65535")
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"cannot publish to {topic!r}: a topic name has no wildcards")
    head = PUBLISH << 4 | qos << 1 | (1 if retain else 0)
    body = _string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return _packet(head, body)


def puback_packet(packet_id: int) -> bytes:
    return _packet(PUBACK << 4, struct.pack("!H", packet_id))


def subscribe_packet(packet_id: int, filters: tuple[tuple[str, int], ...]) -> bytes:
    if not filters:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    body = bytearray(struct.pack("!H", packet_id))
    for topic_filter, qos in filters:
        _check_qos(qos)
        body += _string(topic_filter) + bytes((qos,))
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def parse_connack(body: bytes) -> tuple[bool, int]:
    """`(session present, return code)` of a CONNACK."""
    if len(body) != 2 or body[0] & 0xFE:
        raise MalformedPacket(f"CONNACK body {body.hex()} is not 2 bytes with flags 0 or 1")
    return bool(body[0] & 1), body[1]


def parse_publish(flags: int, body: bytes) -> Message:
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise MalformedPacket(f"PUBLISH with QoS {qos}, but this client subscribes at QoS 0/1")
    if len(body) < 2:
        raise MalformedPacket("PUBLISH too short for its topic length")
    (size,) = struct.unpack_from("!H", body)
    end = 2 + size
    if end + (2 if qos else 0) > len(body):
        raise MalformedPacket(f"PUBLISH topic of {size} bytes runs past the packet")
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError as exc:
        raise MalformedPacket("PUBLISH topic is not UTF-8") from exc
    packet_id = None
    if qos:
        (packet_id,) = struct.unpack_from("!H", body, end)
        end += 2
    return Message(topic, bytes(body[end:]), qos, bool(flags & 1), packet_id)


def parse_packet_id(kind: str, body: bytes) -> int:
    """The packet id of a PUBACK (its whole body)."""
    if len(body) != 2:
        raise MalformedPacket(f"{kind} body is {len(body)} bytes, not 2")
    packet_id: int = struct.unpack("!H", body)[0]
    return packet_id


def parse_suback(body: bytes) -> tuple[int, tuple[int, ...]]:
    """`(packet id, granted QoS or 0x80 per filter)` of a SUBACK."""
    if len(body) < 3:
        raise MalformedPacket(f"SUBACK body of {len(body)} bytes has no return code")
    codes = tuple(body[2:])
    for code in codes:
        if code not in (0, 1, 2, SUBACK_FAILURE):
            raise MalformedPacket(f"SUBACK return code {code:#x} is not 0, 1, 2 or 0x80")
    return parse_packet_id("SUBACK", body[:2]), codes


def _packet(head: int, body: bytes | bytearray) -> bytes:
    return bytes((head,)) + encode_remaining_length(len(body)) + bytes(body)


def _string(text: str) -> bytes:
    return _binary(text.encode())


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"a string field of {len(data)} bytes exceeds MQTT's 65535")
    return struct.pack("!H", len(data)) + data


def _check_qos(qos: int) -> None:
    if qos not in (0, 1):
        raise ValueError(f"QoS {qos} is not supported here; use 0 or 1")
