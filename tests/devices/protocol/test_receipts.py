"""Receipts (with proof of play), repair and clock requests: round trips, rules, garbage."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

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
from devices.protocol.fields import MAX_CONTROL_PAYLOAD, Body, parse_object
from devices.protocol.receipts import (
    MAX_REPAIR_CHUNKS,
    RECEIPT_STATES,
    _plain_receipt,
    _proof,
    _read_receipt,
    _receipt,
    _slot_setters,
)
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


# --- The plain-form reader against the field-by-field reader -----------------------------
# `decode_receipt` takes a receipt in its plain form through `_plain_receipt`, which makes
# it without `__post_init__`; everything else goes through `_read_receipt`. These hold the
# first to accepting only what the second accepts, and making the same receipt of it.


def read_both(data: dict[str, Any], receiver_id: str = RX) -> tuple[Receipt | None, object]:
    """What each reader makes of `data`: the plain one's receipt or None, and the checked
    one's receipt or the message of its DecodeError."""
    plain = _plain_receipt(data, receiver_id)
    try:
        checked: object = _read_receipt(Body.of(data, TOPIC, "receipt"), receiver_id)
    except DecodeError as exc:
        checked = str(exc)
    return plain, checked


def assert_same(plain: Receipt, checked: object) -> None:
    """`plain` is the receipt the checked reader made, down to the types and the UTC zone."""
    assert isinstance(checked, Receipt), checked
    assert plain == checked
    assert repr(plain) == repr(checked)
    assert hash(plain) == hash(checked)


@given(receipts())
def test_the_plain_reader_takes_every_receipt_as_encoded(receipt: Receipt) -> None:
    plain, checked = read_both(json.loads(receipt.encode()), receipt.id)
    assert plain is not None, "an encoded receipt is in plain form"
    assert_same(plain, checked)
    assert plain == receipt


def near_misses() -> st.SearchStrategy[object]:
    """Values close to what a field may hold, on both sides of every rule."""
    instants_ = st.sampled_from(
        [
            "2026-11-28T23:00:00.000Z",
            "2026-11-28T23:00:00Z",
            "2026-11-28T23:00:00.000+00:00",
            "2026-11-28T23:00:00.000-00:00",
            "2026-11-29T06:00:00.000+07:00",
            "2026-11-28T23:00:00.123456Z",
            "2026-11-28T23:00:00.1Z",
            "2026-11-28T23:00:00.000",
            "2026-11-28 23:00:00.000Z",
            "20261128T230000.000Z",
            "2026-11-28T23:00:00.000Z\n",
            "0001-01-01T00:00:00.000+01:00",
            "9999-12-31T23:59:59.999-01:00",
            "2026-11-28T23:00:00.000000000000000000000000000Z",
            "2026-02-30T23:00:00.000Z",
        ]
    )
    ids_ = st.sampled_from(
        [
            *("0f" * 16, "0F" * 16, "0f" * 16 + "\n", "0f" * 15, "0f" * 17, "", "g" * 32),
            *("ab" * 32, "AB" * 32, "ab" * 32 + "\n", RX, RX + "\n", "x" * 41),
        ]
    )
    words = st.sampled_from(
        ["no_content", "x", "no_content\n", "No", "9x", "a" * 40, "a" * 41, "", "bad word"]
    )
    numbers = st.sampled_from(
        [
            *(0, 1, -1, 2, 2**53 - 1, 2**53, -(2**53 - 1), -(2**53), 1.0, 0.5, -18.5, -200),
            *(20, -200.0, 20.0, -200.5, 20.5, True, False, float("nan"), float("inf"), 10**30),
        ]
    )
    states = st.sampled_from([*RECEIPT_STATES, "queued", "offered", "Armed", "armed\n"])
    return st.one_of(
        st.just(REMOVE), st.none(), instants_, ids_, words, numbers, states, json_values
    )


RECEIPT_FIELDS = (
    *("v", "id", "epoch", "seq", "occurrence", "state", "at", "command"),
    *("reason", "have", "by", "proof"),
)
PROOF_FIELDS = ("started_at", "ended_at", "clock_offset_ms", "content", "played_ms", "level_db")


@given(
    receipts(),
    st.lists(
        st.tuples(
            st.sampled_from(
                [*RECEIPT_FIELDS, *(f"proof.{name}" for name in PROOF_FIELDS), "extra"]
            ),
            near_misses(),
        ),
        min_size=1,
        max_size=4,
    ),
    # Other topic ids; `is_valid_id` takes the last two (a trailing newline), the reader not.
    st.sampled_from([None, "x" * 41, "Rx", "other", RX + "\n", "x" * 40 + "\n"]),
)
def test_the_plain_reader_accepts_only_what_the_checked_reader_accepts(
    receipt: Receipt, changes: list[tuple[str, object]], other_id: str | None
) -> None:
    data = json.loads(receipt.encode())
    for path, value in changes:
        target, name = data, path
        if path.startswith("proof."):
            if not isinstance(data.get("proof"), dict):
                data["proof"] = {}
            target, name = data["proof"], path.removeprefix("proof.")
        if value is REMOVE:
            target.pop(name, None)
        else:
            target[name] = value
    receiver_id = receipt.id if other_id is None else other_id
    if other_id is not None and data.get("id") == receipt.id:
        data["id"] = other_id
    plain, checked = read_both(data, receiver_id)
    if plain is not None:
        assert_same(plain, checked)
    # decode_receipt says what the checked reader says, whichever reader it used.
    payload = json.dumps(data).encode()
    try:
        decoded: object = decode_receipt(payload, TOPIC, receiver_id)
    except DecodeError as exc:
        decoded = str(exc)
    assert decoded == checked


GOOD_NOT_PLAIN = [
    pytest.param({"at": "2026-11-29T06:00:00.000+07:00"}, id="offset"),
    pytest.param({"at": "2026-11-28T23:00:00.123456Z"}, id="microseconds"),
    pytest.param({"proof": {**json.loads(PLAYED.encode())["proof"], "level_db": -18}}, id="int"),
]


@pytest.mark.parametrize("change", GOOD_NOT_PLAIN)
def test_a_good_receipt_not_in_plain_form_is_read_by_the_checked_reader(
    change: dict[str, object],
) -> None:
    data = json.loads(with_fields(PLAYED.encode(), **change))
    plain, checked = read_both(data)
    assert plain is None
    assert isinstance(checked, Receipt)
    assert decode_receipt(json.dumps(data).encode(), TOPIC, RX) == checked
    assert checked.at.tzinfo is UTC
    assert checked.at.microsecond % 1000 == 0
    assert checked.proof is not None
    assert isinstance(checked.proof.level_db, float)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"occurrence": "0f" * 16 + "\n"}, "'occurrence' must be 32 lower-case hex"),
        ({"command": "0f" * 16 + "\n"}, "'command' must be 32 lower-case hex"),
        ({"state": "failed", "reason": "no_content\n"}, "must be a lower-case word"),
        ({"proof": {**PROOF.fields(), "content": CONTENT + "\n"}}, "must be a sha256"),
    ],
)
def test_a_trailing_newline_does_not_pass_for_an_id_or_a_word(
    change: dict[str, object], problem: str
) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode_receipt(with_fields(PLAYED.encode(), **change), TOPIC, RX)


def test_receipts_made_without_post_init_are_the_checked_ones() -> None:
    proof = _proof(
        started_at=PROOF.started_at,
        ended_at=PROOF.ended_at,
        clock_offset_ms=PROOF.clock_offset_ms,
        content=PROOF.content,
        played_ms=PROOF.played_ms,
        level_db=PROOF.level_db,
    )
    made = _receipt(
        id=RX,
        epoch=PLAYED.epoch,
        seq=PLAYED.seq,
        occurrence=PLAYED.occurrence,
        state="played",
        at=PLAYED.at,
        command=None,
        reason=None,
        have=None,
        by=None,
        proof=proof,
    )
    assert_same(made, PLAYED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 3  # type: ignore[misc]
    assert dataclasses.replace(made, seq=13) == dataclasses.replace(PLAYED, seq=13)
    with pytest.raises(ValueError, match="is before started_at"):
        dataclasses.replace(proof, ended_at=NOW - timedelta(seconds=1))


def test_the_slot_setters_name_every_field_in_order() -> None:
    with pytest.raises(TypeError, match="fields are not"):
        _slot_setters(Proof, "started_at", "ended_at")
    with pytest.raises(TypeError, match="fields are not"):
        _slot_setters(Proof, *reversed([f.name for f in dataclasses.fields(Proof)]))


# --- Parsing: the same objects and errors as json.loads ----------------------------------


def parsed(payload: bytes) -> object:
    try:
        return parse_object(payload, None, "receipt")
    except DecodeError as exc:
        return str(exc)


def loaded(payload: bytes) -> object:
    """What `parse_object` said before it decoded UTF-8 itself: json.loads(bytes)."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        return f"receipt is not JSON: {exc}"
    return data if isinstance(data, dict) else "receipt is not a JSON object"


@given(
    st.one_of(
        st.binary(max_size=60),
        st.binary(max_size=30).map(lambda tail: b"{" + tail),
        st.tuples(
            st.dictionaries(st.text(max_size=5), json_values, max_size=4),
            st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "utf-32-be"]),
            st.sampled_from(["", " ", "\n\t ", " x", "{}", "\x00"]),
        ).map(
            lambda t: (json.dumps(t[0], ensure_ascii=False) + t[2]).encode(t[1], "surrogatepass")
        ),
    )
)
def test_parsing_gives_what_json_loads_gives(payload: bytes) -> None:
    assert repr(parsed(payload)) == repr(loaded(payload))


@pytest.mark.parametrize(
    "payload",
    [
        *(b"{", b"{\x00", b"{\x00\x00\x00", b'{"a":1} ', b'{"a":1}x', b"{}\n", b"[]", b"{}"),
        *(b'{"\xed\xa0\x80":1}', b'{"a":"\xff"}', b"{" * 5000 + b"}" * 5000, b'{"a":NaN}'),
    ],
)
def test_parsing_odd_payloads_gives_what_json_loads_gives(payload: bytes) -> None:
    assert repr(parsed(payload)) == repr(loaded(payload))
