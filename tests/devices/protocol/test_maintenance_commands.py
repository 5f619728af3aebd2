"""The maintenance commands `volume` and `restart`: round trips, the receiver's checks
(the same five as every command), and the documented examples."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol import (
    Command,
    Rejected,
    Restart,
    SetVolume,
    SigningKey,
    Topics,
    VerifyKey,
    canonical,
    new_command_id,
    open_command,
)
from devices.protocol.command_bodies import COMMAND_TYPES
from tests.devices.protocol import doc_examples
from tests.devices.protocol.strategies import REMOVE, with_fields

TOPICS = Topics("loa")
KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
RX = "cb-tl-01"
GROUP = "ban-na-vuong"
RX_TOPIC = TOPICS.receiver(RX, "cmd")
DOC = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text(encoding="utf-8")

volumes = st.builds(SetVolume, st.integers(0, 100))
restarts = st.builds(Restart, st.none() | st.text(max_size=200))


def command(body: SetVolume | Restart, *, expires: timedelta = timedelta(minutes=10)) -> Command:
    return Command(new_command_id(), f"rx:{RX}", NOW, NOW + expires, body)


def open_(
    payload: bytes,
    topic: str = RX_TOPIC,
    *,
    now: datetime = NOW,
    seen: Collection[str] = (),
    receiver_id: str = RX,
) -> Command | Rejected:
    return open_command(
        payload,
        topic,
        topics=TOPICS,
        receiver_id=receiver_id,
        groups=(GROUP,),
        key=KEY.public,
        now=now,
        seen=lambda command_id: command_id in seen,
    )


def rejected(result: Command | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


def test_both_are_command_types() -> None:
    assert {"volume", "restart"} <= set(COMMAND_TYPES)


@given(st.one_of(volumes, restarts), st.integers(1, 10**7))
def test_each_opens_as_itself(body: SetVolume | Restart, lifetime_s: int) -> None:
    sent = command(body, expires=timedelta(seconds=lifetime_s))
    assert open_(sent.encode(KEY)) == sent


@given(volumes)
def test_a_volume_travels_as_an_integer_beside_the_envelope(body: SetVolume) -> None:
    data = json.loads(command(body).encode(KEY))
    assert data["type"] == "volume"
    assert data["volume"] == body.volume
    assert isinstance(data["volume"], int)


def test_a_restart_without_a_reason_leaves_the_field_out_and_null_reads_as_none() -> None:
    sent = command(Restart())
    data = json.loads(sent.encode(KEY))
    assert data["type"] == "restart"
    assert "reason" not in data
    # A firmware that writes `"reason": null` is signed over what it wrote; it opens.
    unsigned = sent.unsigned() | {"reason": None}
    payload = json.dumps({**unsigned, "sig": KEY.sign(canonical(unsigned))}).encode()
    opened = open_(payload)
    assert isinstance(opened, Command)
    assert opened.body == Restart(None)


@pytest.mark.parametrize("level", [-1, 101, 1000])
def test_a_volume_out_of_range_cannot_be_made_or_read(level: int) -> None:
    with pytest.raises(ValueError, match="volume must be from 0 to 100"):
        SetVolume(level)
    good = command(SetVolume(50)).encode(KEY)
    detail = rejected(open_(with_fields(good, volume=level))).detail
    assert "'volume' must be from 0 to 100" in detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [("50", "must be an integer"), (50.0, "must be an integer"), (True, "must be an integer")],
)
def test_a_volume_that_is_not_an_integer_is_malformed(value: object, expected: str) -> None:
    payload = with_fields(command(SetVolume(50)).encode(KEY), volume=value)
    refusal = rejected(open_(payload))
    assert refusal.reason == "malformed"
    assert expected in refusal.detail or "floating-point" in refusal.detail


def test_a_volume_without_its_field_is_malformed() -> None:
    payload = with_fields(command(SetVolume(50)).encode(KEY), volume=REMOVE)
    assert rejected(open_(payload)).reason == "malformed"


def test_made_values_are_checked() -> None:
    with pytest.raises(TypeError, match="integer"):
        SetVolume(True)
    with pytest.raises(ValueError, match="reason must be at most 200"):
        Restart("x" * 201)
    too_long = with_fields(command(Restart("ok")).encode(KEY), reason="x" * 201)
    assert "at most 200 characters" in rejected(open_(too_long)).detail


@pytest.mark.parametrize("body", [SetVolume(40), Restart("cập nhật")])
def test_they_go_to_one_receiver_only(body: SetVolume | Restart) -> None:
    with pytest.raises(ValueError, match="is for one receiver"):
        Command(new_command_id(), f"grp:{GROUP}", NOW, NOW + timedelta(minutes=1), body)
    relabelled = with_fields(command(body).encode(KEY), to=f"grp:{GROUP}")
    refusal = rejected(open_(relabelled, TOPICS.group_commands(GROUP)))
    assert refusal.reason == "malformed"
    assert "is for one receiver" in refusal.detail


@pytest.mark.parametrize("body", [SetVolume(40), Restart()])
def test_forged_misaddressed_expired_and_replayed_ones_are_refused(
    body: SetVolume | Restart,
) -> None:
    sent = command(body)
    payload = sent.encode(KEY)
    assert rejected(open_(sent.encode(OTHER_KEY))).reason == "bad_signature"
    assert rejected(open_(with_fields(payload, volume=41))).reason == "bad_signature"
    assert rejected(open_(payload, receiver_id="cb-tl-02")).reason == "not_for_me"
    assert rejected(open_(payload, TOPICS.receiver("cb-tl-02", "cmd"))).reason == "not_for_me"
    late = NOW + timedelta(minutes=10, milliseconds=1)
    assert rejected(open_(payload, now=late)).reason == "expired"
    early = NOW - timedelta(minutes=5, milliseconds=1)
    assert rejected(open_(payload, now=early)).reason == "expired"
    refusal = rejected(open_(payload, seen={sent.id}))
    assert (refusal.reason, refusal.command_id) == ("replayed", sent.id)
    receipt = refusal.receipt(RX, epoch=3, seq=0, at=NOW)
    assert (receipt.state, receipt.occurrence, receipt.command) == ("rejected", None, sent.id)


VOLUME_EXAMPLE = Command(
    "0" * 31 + "5",
    f"rx:{doc_examples.RX}",
    doc_examples.ISSUED,
    doc_examples.ISSUED + timedelta(days=1),
    SetVolume(35),
)
RESTART_EXAMPLE = Command(
    "0" * 31 + "6",
    f"rx:{doc_examples.RX}",
    doc_examples.ISSUED,
    doc_examples.ISSUED + timedelta(minutes=10),
    Restart("kỹ thuật viên khởi động lại"),
)


@pytest.mark.parametrize("example", [VOLUME_EXAMPLE, RESTART_EXAMPLE])
def test_the_documented_examples_are_what_the_code_makes_and_they_open(example: Command) -> None:
    text = example.encode(doc_examples.KEY).decode()
    assert text in DOC, f"docs/protocol.md lacks the {example.type} example: {text}"
    opened = open_command(
        text.encode(),
        example.topic(TOPICS),
        topics=TOPICS,
        receiver_id=doc_examples.RX,
        groups=(),
        key=VerifyKey.from_text("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"),
        now=doc_examples.ISSUED,
        seen=lambda _: False,
    )
    assert opened == example


def test_the_doc_lists_both_types_and_a_section_for_each() -> None:
    assert "`assign`, `play`, `cancel`, `time`, `volume` or `restart`" in DOC
    assert "#### `volume`: the receiver's output level" in DOC
    assert "#### `restart`: reboot" in DOC
