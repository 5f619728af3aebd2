"""MQTT 3.1.1 packet bytes: remaining length at its edges, builders, parsers on bad input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loa.mqtt import MalformedPacket
from loa.mqtt.packets import (
    MAX_REMAINING_LENGTH,
    Will,
    connect_packet,
    decode_remaining_length,
    encode_remaining_length,
    parse_connack,
    parse_publish,
    parse_suback,
    publish_packet,
    subscribe_packet,
)

EDGES = [
    (0, b"\x00"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (16_383, b"\xff\x7f"),
    (16_384, b"\x80\x80\x01"),
    (2_097_151, b"\xff\xff\x7f"),
    (2_097_152, b"\x80\x80\x80\x01"),
    (268_435_455, b"\xff\xff\xff\x7f"),
]


@pytest.mark.parametrize(("length", "encoded"), EDGES)
def test_remaining_length_edges_encode_and_decode(length: int, encoded: bytes) -> None:
    assert encode_remaining_length(length) == encoded
    assert decode_remaining_length(encoded + b"\x55") == (length, len(encoded))


@pytest.mark.parametrize(("length", "encoded"), EDGES)
def test_a_cut_remaining_length_asks_for_more(length: int, encoded: bytes) -> None:
    for cut in range(len(encoded)):
        assert decode_remaining_length(encoded[:cut]) is None


@pytest.mark.parametrize("length", [-1, MAX_REMAINING_LENGTH + 1])
def test_lengths_mqtt_cannot_express_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        encode_remaining_length(length)


def test_a_fifth_length_byte_is_malformed() -> None:
    with pytest.raises(MalformedPacket, match="past 4 bytes"):
        decode_remaining_length(b"\xff\xff\xff\xff\x01")


@given(st.integers(min_value=0, max_value=MAX_REMAINING_LENGTH))
def test_remaining_length_round_trips(length: int) -> None:
    encoded = encode_remaining_length(length)
    assert decode_remaining_length(encoded) == (length, len(encoded))


def test_connect_packet_carries_will_credentials_and_keepalive() -> None:
    packet = connect_packet(
        "cb-tl-01",
        keepalive=60,
        will=Will("loa/v1/rx/cb-tl-01/status", b"gone", qos=1, retain=True),
        username="rx",
        password="secret",
    )
    body = packet[2:]  # one length byte: the packet is short
    assert packet[0] == 0x10
    assert packet[1] == len(body)
    assert body[:7] == b"\x00\x04MQTT\x04"
    # user name, password, will retain, will QoS 1, will flag, clean session
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02
    assert struct.unpack("!H", body[8:10]) == (60,)
    assert body.endswith(b"\x00\x02rx\x00\x06secret")


def test_a_password_without_a_user_name_is_refused() -> None:
    with pytest.raises(ValueError, match="user name"):
        connect_packet("a", keepalive=10, password="x")


def test_publish_round_trips_through_the_parser() -> None:
    packet = publish_packet("a/b", b"payload", qos=1, retain=True, packet_id=7)
    flags = packet[0] & 0x0F
    message = parse_publish(flags, packet[2:])
    assert (message.topic, message.payload, message.qos, message.retain) == (
        "a/b",
        b"payload",
        1,
        True,
    )
    assert message.packet_id == 7


@pytest.mark.parametrize("topic", ["", "a/+", "a/#"])
def test_publish_refuses_wildcards_and_empty_topics(topic: str) -> None:
    with pytest.raises(ValueError, match="wildcards"):
        publish_packet(topic, b"")


def test_subscribe_packet_has_the_reserved_flags() -> None:
    packet = subscribe_packet(3, (("a/b", 1),))
    assert packet[0] == 0x82
    assert packet[2:] == b"\x00\x03\x00\x03a/b\x01"


@pytest.mark.parametrize(
    ("flags", "body", "problem"),
    [
        (0x04, b"\x00\x01a", "QoS 2"),
        (0x00, b"\x00", "too short"),
        (0x00, b"\x00\x09abc", "runs past"),
        (0x02, b"\x00\x01a\x00", "runs past"),
        (0x00, b"\x00\x02\xff\xfe", "UTF-8"),
    ],
)
def test_bad_publish_bodies_are_malformed(flags: int, body: bytes, problem: str) -> None:
    with pytest.raises(MalformedPacket, match=problem):
        parse_publish(flags, body)


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x02\x00", b"\x00\x00\x00"])
def test_bad_connack_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPacket, match="CONNACK"):
        parse_connack(body)


@pytest.mark.parametrize("body", [b"\x00\x01", b"\x00\x01\x07"])
def test_bad_suback_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPacket, match="SUBACK"):
        parse_suback(body)


@given(st.integers(0, 15), st.binary(max_size=64))
def test_random_publish_bytes_raise_only_malformed_packet(flags: int, body: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        parse_publish(flags, body)
