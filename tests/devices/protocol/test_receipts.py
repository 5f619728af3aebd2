"""Receipts (with proof of play), repair and clock requests: round trips, rules, garbage."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol import (
    Proof,
    Receipt,
    RepairRequest,
    TimeRequest,
    Topics,
    decode_receipt,
    decode_repair,
    decode_time_request,
)
from devices.protocol.fields import MAX_CONTROL_PAYLOAD
from devices.protocol.receipts import MAX_REPAIR_CHUNKS, RECEIPT_STATES
from loa.errors import DecodeError
from tests.devices.protocol.strategies import (
    REMOVE,
    ids,
    instants,
    json_values,
    receipts,
    sha256s,
    with_fields,
)

RX = "cb-tl-01"
TOPIC = Topics("loa").receiver(RX, "receipt")
NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
OCCURRENCE = "0f" * 16
CONTENT = "ab" * 32
PROOF = Proof(
    started_at=NOW,
    ended_at=NOW + timedelta(seconds=61, milliseconds=250),
    clock_offset_ms=-1840,
    content=CONTENT,
    played_ms=61_250,
    level_db=-18.5,
)
PLAYED = Receipt(RX, 7, 12, OCCURRENCE, "played", NOW + timedelta(seconds=62), proof=PROOF)


@given(receipts())
def test_every_receipt_round_trips(receipt: Receipt) -> None:
    assert decode_receipt(receipt.encode(), None, receipt.id) == receipt


@given(
    st.builds(
        RepairRequest,
        ids,
        sha256s,
        st.lists(
            st.integers(0, 2**53 - 1), min_size=1, max_size=MAX_REPAIR_CHUNKS, unique=True
        ).map(tuple),
    )
)
def test_every_repair_request_round_trips(request: RepairRequest) -> None:
    assert decode_repair(request.encode(), None, request.id) == request


@given(st.builds(TimeRequest, ids, st.integers(0, 2**53 - 1), instants))
def test_every_clock_request_round_trips(request: TimeRequest) -> None:
    assert decode_time_request(request.encode(), None, request.id) == request


def test_a_played_receipt_carries_its_proof_of_play() -> None:
    body = json.loads(PLAYED.encode())
    assert body["proof"] == {
        "started_at": "2026-11-28T23:00:00.000Z",
        "ended_at": "2026-11-28T23:01:01.250Z",
        "clock_offset_ms": -1840,
        "content": CONTENT,
        "played_ms": 61_250,
        "level_db": -18.5,
    }
    assert decode_receipt(PLAYED.encode(), TOPIC, RX).proof == PROOF
    without_level = Receipt(
        RX, 7, 13, OCCURRENCE, "played", NOW, proof=Proof(NOW, NOW, 0, CONTENT, 0)
    )
    assert "level_db" not in json.loads(without_level.encode())["proof"]
    assert decode_receipt(without_level.encode(), TOPIC, RX) == without_level


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"proof": REMOVE}, "'proof' must be a JSON object"),
        ({"state": "queued"}, "'state' must be one of accepted"),
        ({"state": "failed"}, "'reason' must be a string"),
        ({"state": "rejected", "reason": "Bad Signature"}, "must be a lower-case word"),
        ({"state": "armed", "occurrence": REMOVE}, "'occurrence' must be 32 lower-case hex"),
        ({"occurrence": "not-an-id"}, "'occurrence' must be 32 lower-case hex"),
        ({"epoch": 0}, "'epoch' must be from 1"),
        ({"seq": -1}, "'seq' must be from 0"),
        ({"at": "2026-11-28 23:00"}, "'at' must say its offset"),
        ({"command": "xyz"}, "'command' must be 32 lower-case hex"),
        ({"v": 2}, "protocol version 1"),
        ({"id": "cb-tl-02"}, "claims to be from 'cb-tl-02' on the topic of 'cb-tl-01'"),
    ],
)
def test_a_wrong_receipt_field_is_named(change: dict[str, object], problem: str) -> None:
    with pytest.raises(DecodeError, match=problem) as caught:
        decode_receipt(with_fields(PLAYED.encode(), **change), TOPIC, RX)
    assert caught.value.topic == TOPIC


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("started_at", "yesterday", "'started_at' is not an ISO 8601 instant"),
        ("ended_at", "2026-11-28T22:00:00.000Z", "is before started_at"),
        ("content", "AB" * 32, "'content' must be a sha256"),
        ("played_ms", -5, "'played_ms' must be from 0"),
        ("level_db", "loud", "'level_db' must be a number"),
        ("level_db", 99, "'level_db' must be from -200 to 20"),
        ("clock_offset_ms", 1.5, "'clock_offset_ms' must be an integer"),
    ],
)
def test_a_wrong_proof_field_is_named(field: str, value: object, problem: str) -> None:
    body = json.loads(PLAYED.encode())
    body["proof"][field] = value
    with pytest.raises(DecodeError, match=problem):
        decode_receipt(json.dumps(body).encode(), TOPIC, RX)


def test_fields_that_do_not_belong_to_the_state_are_ignored_on_the_wire() -> None:
    armed = Receipt(RX, 7, 3, OCCURRENCE, "armed", NOW)
    noisy = with_fields(armed.encode(), reason="no_content", have=5, by=OCCURRENCE, extra=[1])
    assert decode_receipt(noisy, TOPIC, RX) == armed


def test_a_rejected_receipt_may_name_no_occurrence_and_keeps_unknown_reasons() -> None:
    receipt = Receipt(RX, 7, 0, None, "rejected", NOW, command="c0" * 16, reason="replayed")
    assert json.loads(receipt.encode())["occurrence"] is None
    assert decode_receipt(receipt.encode(), TOPIC, RX) == receipt
    newer = with_fields(receipt.encode(), reason="battery_low")  # a reason from newer firmware
    assert decode_receipt(newer, TOPIC, RX).reason == "battery_low"


def test_receipt_rules_hold_when_one_is_made() -> None:
    with pytest.raises(ValueError, match="carries the proof of play"):
        Receipt(RX, 7, 1, OCCURRENCE, "played", NOW)
    with pytest.raises(ValueError, match="carries the proof of play"):
        Receipt(RX, 7, 1, OCCURRENCE, "armed", NOW, proof=PROOF)
    with pytest.raises(ValueError, match="reason goes with failed and rejected"):
        Receipt(RX, 7, 1, OCCURRENCE, "failed", NOW)
    with pytest.raises(ValueError, match="reason goes with failed and rejected"):
        Receipt(RX, 7, 1, OCCURRENCE, "expired", NOW, reason="late")
    with pytest.raises(ValueError, match="names its occurrence"):
        Receipt(RX, 7, 1, None, "accepted", NOW)
    with pytest.raises(ValueError, match="only with downloading"):
        Receipt(RX, 7, 1, OCCURRENCE, "armed", NOW, have=3)
    with pytest.raises(ValueError, match="only with preempted"):
        Receipt(RX, 7, 1, OCCURRENCE, "played", NOW, by=OCCURRENCE, proof=PROOF)
    with pytest.raises(ValueError, match="a receiver reports one of"):
        Receipt(RX, 7, 1, OCCURRENCE, "offered", NOW)  # the controller's own state
    assert set(RECEIPT_STATES).isdisjoint({"queued", "offered"})


def test_receiver_messages_keep_the_16_kib_limit() -> None:
    payload = with_fields(PLAYED.encode(), pad="x" * MAX_CONTROL_PAYLOAD)
    with pytest.raises(DecodeError, match="larger than the 16384-byte limit") as caught:
        decode_receipt(payload, TOPIC, RX)
    assert caught.value.reason == "oversized"


def test_a_repair_request_encodes_as_documented() -> None:
    request = RepairRequest(RX, CONTENT, (3, 4, 9))
    assert request.encode() == (
        b'{"v":1,"id":"cb-tl-01","content":"' + CONTENT.encode() + b'","chunks":[3,4,9]}'
    )
    assert decode_repair(request.encode(), "loa/v1/rx/cb-tl-01/repair", RX) == request


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"chunks": list(range(MAX_REPAIR_CHUNKS + 1))}, "at most 1024 items"),
        ({"chunks": [3, 3]}, "each chunk once"),
        ({"chunks": []}, "1 to 1024 chunks"),
        ({"chunks": [-1]}, "holds -1, which is not a chunk index"),
        ({"chunks": [True]}, "holds True"),
        ({"chunks": "3,4"}, "'chunks' must be a list"),
        ({"content": "ab"}, "'content' must be a sha256"),
        ({"id": "cb-tl-09"}, "may only speak for itself"),
    ],
)
def test_a_wrong_repair_field_is_named(change: dict[str, object], problem: str) -> None:
    good = RepairRequest(RX, CONTENT, (3, 4, 9)).encode()
    with pytest.raises(DecodeError, match=problem):
        decode_repair(with_fields(good, **change), "loa/v1/rx/cb-tl-01/repair", RX)


def test_a_clock_request_is_checked() -> None:
    request = TimeRequest(RX, 42, NOW)
    assert request.encode() == (
        b'{"v":1,"id":"cb-tl-01","request":42,"sent":"2026-11-28T23:00:00.000Z"}'
    )
    with pytest.raises(DecodeError, match="'request' must be an integer"):
        decode_time_request(with_fields(request.encode(), request="42"), None, RX)
    with pytest.raises(DecodeError, match="'sent' must be a string"):
        decode_time_request(with_fields(request.encode(), sent=REMOVE), None, RX)


@given(st.binary(max_size=400))
def test_random_bytes_raise_only_our_decode_error(payload: bytes) -> None:
    for decode in (decode_receipt, decode_repair, decode_time_request):
        with contextlib.suppress(DecodeError):
            decode(payload, None, RX)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("v", "id", "epoch", "seq", "occurrence", "state", "at", "command", "reason"),
                *("have", "by", "proof", "content", "chunks", "request", "sent"),
            ]
        ),
        json_values,
    ),
    st.sampled_from(RECEIPT_STATES),
)
def test_random_json_objects_raise_only_our_decode_error(
    body: dict[str, object], state: str
) -> None:
    body = {"v": 1, "id": RX, "state": state} | body
    payload = json.dumps(body).encode()
    for decode in (decode_receipt, decode_repair, decode_time_request):
        with contextlib.suppress(DecodeError):
            decode(payload, None, RX)


@given(
    st.sampled_from(
        ["started_at", "ended_at", "clock_offset_ms", "content", "played_ms", "level_db"]
    ),
    json_values,
)
def test_a_proof_field_replaced_by_anything_raises_only_our_decode_error(
    field: str, value: object
) -> None:
    body = json.loads(PLAYED.encode())
    body["proof"][field] = value
    with contextlib.suppress(DecodeError):
        decode_receipt(json.dumps(body).encode(), None, RX)


def test_an_integer_too_long_for_python_is_a_decode_error() -> None:
    # Python refuses to parse integers of more than 4,300 digits with a bare ValueError.
    payload = b'{"v":1,"id":"cb-tl-01","seq":' + b"1" * 5000 + b"}"
    with pytest.raises(DecodeError, match="not JSON"):
        decode_receipt(payload, TOPIC, RX)
