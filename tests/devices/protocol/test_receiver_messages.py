"""Receiver status and heartbeat messages: round-trips, garbage, identity, limits."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol import (
    Heartbeat,
    Power,
    ReceiverBirth,
    ReceiverOffline,
    Signal,
    Topics,
    decode_heartbeat,
    decode_status,
)
from devices.protocol.fields import MAX_CONTROL_PAYLOAD, MAX_SAFE_INT
from devices.protocol.receiver import (
    AMPLIFIER_STATES,
    NETWORKS,
    OFFLINE_REASONS,
    POWER_SOURCES,
    SPEAKER_STATES,
)
from loa.errors import DecodeError

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
epochs = st.integers(min_value=1, max_value=MAX_SAFE_INT)
tokens = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,39}", fullmatch=True)


def births() -> st.SearchStrategy[ReceiverBirth]:
    return st.builds(
        ReceiverBirth,
        id=ids,
        epoch=epochs,
        at=instants,
        firmware=st.text(max_size=100),
        capabilities=st.lists(tokens, max_size=8).map(tuple),
        heartbeat_s=st.integers(min_value=1, max_value=86_400),
    )


def offlines() -> st.SearchStrategy[ReceiverOffline]:
    return st.builds(
        ReceiverOffline,
        id=ids,
        epoch=epochs,
        reason=st.sampled_from(OFFLINE_REASONS),
        at=st.none() | instants,
    )


def heartbeats() -> st.SearchStrategy[Heartbeat]:
    return st.builds(
        Heartbeat,
        id=ids,
        epoch=epochs,
        seq=st.integers(min_value=0, max_value=MAX_SAFE_INT),
        at=instants,
        signal=st.builds(
            Signal,
            network=st.sampled_from(NETWORKS),
            rssi_dbm=st.none() | st.integers(-150, 0),
            rsrp_dbm=st.none() | st.integers(-160, 0),
        ),
        power=st.builds(
            Power,
            source=st.sampled_from(POWER_SOURCES),
            battery_v=st.none() | st.floats(0, 100, allow_nan=False),
        ),
        amplifier=st.sampled_from(AMPLIFIER_STATES),
        speakers=st.sampled_from(SPEAKER_STATES),
        volume=st.integers(0, 100),
        temperature_c=st.none() | st.floats(-60, 150, allow_nan=False),
        storage_free_mb=st.none() | st.integers(0, MAX_SAFE_INT),
        clock_offset_ms=st.none() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT),
        playing=st.none() | st.text(max_size=100),
    )


@given(st.one_of(births(), offlines()))
def test_every_status_round_trips(status: ReceiverBirth | ReceiverOffline) -> None:
    assert decode_status(status.encode(), status.id) == status


@given(heartbeats())
def test_every_heartbeat_round_trips(heartbeat: Heartbeat) -> None:
    assert decode_heartbeat(heartbeat.encode(), heartbeat.id) == heartbeat


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_our_decode_error(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_status(payload, "rx-1")
    with contextlib.suppress(DecodeError):
        decode_heartbeat(payload, "rx-1")


@given(
    st.dictionaries(
        st.sampled_from(
            ["v", "id", "state", "epoch", "at", "net", "power", "seq", "amp", "reason", "firmware"]
        ),
        json_values,
    )
)
def test_random_json_objects_raise_only_our_decode_error(body: dict[str, object]) -> None:
    payload = json.dumps(body).encode()
    with contextlib.suppress(DecodeError):
        decode_status(payload, "rx-1")
    with contextlib.suppress(DecodeError):
        decode_heartbeat(payload, "rx-1")


NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
BIRTH = ReceiverBirth("cb-tl-01", 7, NOW, "fw 2.3.1", ("mp3", "chunks-v1"), 60)
BEAT = Heartbeat(
    "cb-tl-01", 7, 12, NOW, Signal("4g", -71, -98), Power("solar", 12.4), temperature_c=41.5
)


def test_a_receiver_cannot_speak_for_another_on_its_topic() -> None:
    with pytest.raises(
        DecodeError, match=r"claims to be from 'cb-tl-01' on the topic of 'cb-tl-02'"
    ):
        decode_status(BIRTH.encode(), "cb-tl-02", "loa/v1/rx/cb-tl-02/status")
    with pytest.raises(DecodeError, match="may only speak for itself"):
        decode_heartbeat(BEAT.encode(), "cb-tl-02")


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    payload = b'{"pad":"' + b"x" * MAX_CONTROL_PAYLOAD + b'"}'
    with pytest.raises(DecodeError, match="larger than the 16384-byte limit"):
        decode_heartbeat(payload, "cb-tl-01")


def test_unknown_fields_are_ignored() -> None:
    body = json.loads(BEAT.encode())
    body["solar_panel_w"] = 40
    body["net"]["cell_id"] = "452-04-1234"
    assert decode_heartbeat(json.dumps(body).encode(), "cb-tl-01") == BEAT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"epoch": 0}, "'epoch' must be from 1"),
        ({"epoch": "7"}, "'epoch' must be an integer"),
        ({"seq": -1}, "'seq' must be from 0"),
        ({"volume": 101}, "'volume' must be from 0 to 100"),
        ({"at": "2026-11-28T23:00:00"}, "'at' must say its offset"),
        ({"at": "yesterday"}, "'at' is not an ISO 8601 instant"),
        ({"amp": "broken"}, "'amp' must be one of ok, fault, off"),
        ({"net": {"type": "5g"}}, "'type' must be one of 4g"),
        ({"net": "4g"}, "'net' must be a JSON object"),
        ({"power": {"source": "solar", "battery_v": float("inf")}}, "'battery_v'"),
        ({"v": 2}, "protocol version 1"),
        ({"id": None}, "'id' must be a string, not missing"),
    ],
)
def test_a_wrong_field_is_named(change: dict[str, object], field: str) -> None:
    body = json.loads(BEAT.encode()) | change
    with pytest.raises(DecodeError, match=field):
        decode_heartbeat(json.dumps(body).encode(), "cb-tl-01", "loa/v1/rx/cb-tl-01/heartbeat")


def test_the_documented_examples_decode() -> None:
    birth = (
        b'{"v":1,"id":"cb-tl-01","state":"online","epoch":7,"at":"2026-11-28T23:00:00.000Z",'
        b'"firmware":"fw 2.3.1","capabilities":["mp3","chunks-v1"],"heartbeat_s":60}'
    )
    assert decode_status(birth, "cb-tl-01") == BIRTH
    will = b'{"v":1,"id":"cb-tl-01","state":"offline","epoch":7,"reason":"lost"}'
    assert decode_status(will, "cb-tl-01") == ReceiverOffline("cb-tl-01", 7, "lost")
    beat = (
        b'{"v":1,"id":"cb-tl-01","epoch":7,"seq":12,"at":"2026-11-28T23:00:00.000Z",'
        b'"net":{"type":"4g","rssi_dbm":-71,"rsrp_dbm":-98},'
        b'"power":{"source":"solar","battery_v":12.4},"amp":"ok","speakers":"ok",'
        b'"volume":80,"temp_c":41.5,"playing":null}'
    )
    assert decode_heartbeat(beat, "cb-tl-01") == BEAT


def test_receiver_topics_build_and_parse() -> None:
    topics = Topics("caobang/loa")
    status = topics.receiver("cb-tl-01", "status")
    assert status == "caobang/loa/v1/rx/cb-tl-01/status"
    assert topics.parse_receiver(status) == ("cb-tl-01", "status")
    assert topics.every_receiver("heartbeat") == "caobang/loa/v1/rx/+/heartbeat"
    assert topics.group_commands("ban-na-vuong") == "caobang/loa/v1/grp/ban-na-vuong/cmd"
    for foreign in [
        "caobang/loa/v1/rx/cb-tl-01/status/extra",
        "caobang/loa/v1/rx/CB/status",
        "caobang/loa/v1/rx/cb-tl-01/gossip",
        "other/v1/rx/cb-tl-01/status",
        "caobang/loa/v1/controller/status",
    ]:
        assert topics.parse_receiver(foreign) is None
    with pytest.raises(ValueError, match="receiver id"):
        topics.receiver("Bad.Id", "status")
