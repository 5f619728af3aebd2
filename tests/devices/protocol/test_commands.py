"""Signed commands: round trips, and every reason a receiver refuses one, in the doc's order."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.manifest import Manifest, manifest_of
from devices.protocol import (
    Assign,
    Cancel,
    Command,
    ContentRef,
    Play,
    Rejected,
    SigningKey,
    TimeReply,
    Topics,
    decode_receipt,
    new_command_id,
    new_occurrence_id,
    open_command,
)
from devices.protocol.commands import parse_target, target
from devices.protocol.fields import MAX_COMMAND_PAYLOAD, MAX_CONTROL_PAYLOAD
from tests.devices.protocol.strategies import REMOVE, commands, content_of, with_fields

TOPICS = Topics("loa")
KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
RX = "cb-tl-01"
GROUP = "ban-na-vuong"
GROUP_TOPIC = TOPICS.group_commands(GROUP)
RX_TOPIC = TOPICS.receiver(RX, "cmd")
CONTENT = content_of("Thông báo".encode() * 400)
PLAY = Play(
    occurrence="0f" * 16,
    bulletin="b0" * 16,
    title="Họp thôn Nà Vường 20h",
    priority="normal",
    play_at=NOW + timedelta(hours=1),
    expires_at=NOW + timedelta(hours=2),
    volume=80,
    repeat=2,
    contents={"vi": CONTENT},
)
COMMAND = Command(
    id="c0" * 16,
    to=f"grp:{GROUP}",
    issued=NOW,
    expires=NOW + timedelta(hours=2),
    body=PLAY,
)
SIGNED = COMMAND.encode(KEY)


def open_(
    payload: bytes,
    topic: str = GROUP_TOPIC,
    *,
    now: datetime = NOW,
    groups: Collection[str] = (GROUP,),
    seen: Collection[str] = (),
    receiver_id: str = RX,
) -> Command | Rejected:
    return open_command(
        payload,
        topic,
        topics=TOPICS,
        receiver_id=receiver_id,
        groups=groups,
        key=KEY.public,
        now=now,
        seen=lambda command_id: command_id in seen,
    )


def rejected(result: Command | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


@given(commands())
def test_every_command_opens_as_itself_on_its_topic(command: Command) -> None:
    scope, owner = parse_target(command.to)
    opened = open_(
        command.encode(KEY),
        command.topic(TOPICS),
        now=command.issued,
        groups=(owner,) if scope == "grp" else (),
        receiver_id=owner if scope == "rx" else RX,
    )
    assert opened == command


def test_a_good_command_opens_and_the_caller_decides_what_was_seen() -> None:
    assert open_(SIGNED) == COMMAND
    assert COMMAND.occurrence == PLAY.occurrence
    assert COMMAND.type == "play"
    assert COMMAND.topic(TOPICS) == "loa/v1/grp/ban-na-vuong/cmd"


def test_a_command_signed_with_another_key_is_forged() -> None:
    refusal = rejected(open_(COMMAND.encode(OTHER_KEY)))
    assert refusal.reason == "bad_signature"
    assert refusal.command_id == COMMAND.id
    assert refusal.occurrence == PLAY.occurrence
    assert KEY.public.fingerprint() in refusal.detail


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Họp thôn Nà Vường 21h"},
        {"priority": "emergency"},
        {"expires": "2030-01-01T00:00:00.000Z"},
        {"repeat": 3},
        {"note": "a field the controller never signed"},
        {"sig": KEY.sign(b"something else")},
    ],
)
def test_a_field_changed_after_signing_breaks_the_signature(change: dict[str, object]) -> None:
    assert rejected(open_(with_fields(SIGNED, **change))).reason == "bad_signature"


def test_a_changed_chunk_hash_breaks_the_signature() -> None:
    body = json.loads(SIGNED)
    body["contents"]["vi"]["chunks"][0] = "0" * 64
    assert rejected(open_(json.dumps(body).encode())).reason == "bad_signature"


def test_key_order_and_whitespace_do_not_matter_to_the_signature() -> None:
    body = json.loads(SIGNED)
    shuffled = json.dumps(dict(reversed(list(body.items()))), indent=2, ensure_ascii=True)
    assert open_(shuffled.encode()) == COMMAND


@pytest.mark.parametrize(
    ("command", "topic", "groups"),
    [
        # addressed to another group, on that group's topic: we are not in it
        (replace(COMMAND, to="grp:ban-khac"), TOPICS.group_commands("ban-khac"), (GROUP,)),
        # addressed to our group but published on another group's topic
        (COMMAND, TOPICS.group_commands("ban-khac"), (GROUP, "ban-khac")),
        # addressed to another receiver on our own topic
        (replace(COMMAND, to="rx:cb-tl-02"), RX_TOPIC, (GROUP,)),
        # addressed to our group on our own receiver topic
        (COMMAND, RX_TOPIC, (GROUP,)),
        # a topic that is not a command topic at all
        (COMMAND, TOPICS.receiver(RX, "status"), (GROUP,)),
        (COMMAND, "elsewhere/v1/grp/ban-na-vuong/cmd", (GROUP,)),
    ],
)
def test_a_command_for_someone_else_or_on_the_wrong_topic_is_not_for_me(
    command: Command, topic: str, groups: tuple[str, ...]
) -> None:
    refusal = rejected(open_(command.encode(KEY), topic, groups=groups))
    assert refusal.reason == "not_for_me"
    assert refusal.command_id == command.id


def test_the_target_is_checked_before_the_signature() -> None:
    forged = replace(COMMAND, to="grp:ban-khac").encode(OTHER_KEY)
    assert rejected(open_(forged, TOPICS.group_commands("ban-khac"))).reason == "not_for_me"


def test_an_expired_command_is_refused() -> None:
    assert open_(SIGNED, now=COMMAND.expires) == COMMAND  # the last instant it may be acted on
    refusal = rejected(open_(SIGNED, now=COMMAND.expires + timedelta(milliseconds=1)))
    assert refusal.reason == "expired"
    assert "expired at 2026-11-29T01:00:00.000Z" in refusal.detail


def test_a_command_issued_more_than_five_minutes_ahead_is_refused() -> None:
    assert open_(SIGNED, now=NOW - timedelta(minutes=5)) == COMMAND
    refusal = rejected(open_(SIGNED, now=NOW - timedelta(minutes=5, milliseconds=1)))
    assert refusal.reason == "expired"
    assert "more than 5 minutes after this receiver's clock" in refusal.detail


def test_a_replayed_command_is_refused_after_the_other_checks() -> None:
    refusal = rejected(open_(SIGNED, seen={COMMAND.id}))
    assert refusal.reason == "replayed"
    assert refusal.command_id == COMMAND.id
    late = open_(SIGNED, seen={COMMAND.id}, now=COMMAND.expires + timedelta(seconds=1))
    assert rejected(late).reason == "expired"
    assert rejected(open_(COMMAND.encode(OTHER_KEY), seen={COMMAND.id})).reason == "bad_signature"


def _play_command(**changes: object) -> bytes:
    return with_fields(SIGNED, **changes)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"v": 1, "v": 1}', "names the key 'v' twice"),
        (_play_command(v=2), "protocol version 1"),
        (_play_command(type="reboot"), "'type' must be one of assign, play, cancel, time"),
        (_play_command(id="C0" * 16), "'id' must be 32 lower-case hex"),
        (_play_command(id=REMOVE), "'id' must be 32 lower-case hex"),
        (_play_command(sig=REMOVE), "'sig' must be a string"),
        (_play_command(to="everyone"), "neither 'rx:<receiver id>' nor 'grp:<group id>'"),
        (_play_command(to="grp:Bad.Group"), "group id 'Bad.Group' is not valid"),
        (_play_command(issued="2026-11-28T23:00:00"), "'issued' must say its offset"),
        (_play_command(expires="2026-11-28T22:00:00.000Z"), "is not after issued"),
        (_play_command(expires_at="soon"), "'expires_at' is not an ISO 8601 instant"),
        (_play_command(repeat=11), "'repeat' must be from 1 to 10"),
        (_play_command(priority="urgent"), "'priority' must be one of emergency"),
        (_play_command(volume=1.5), "'volume' must be an integer"),
        (_play_command(title="x" * 201), "'title' must be at most 200 characters"),
        (_play_command(contents={}), "1 to 16 contents"),
        (_play_command(contents={"Việt": CONTENT.fields()}), "is not a language code"),
        (_play_command(level=0.5), "a float"),
        (_play_command(occurrence=REMOVE), "'occurrence' must be 32 lower-case hex"),
    ],
)
def test_a_malformed_command_is_refused_saying_what(payload: bytes, detail: str) -> None:
    refusal = rejected(open_(payload))
    assert refusal.reason == "malformed"
    assert detail in refusal.detail


def test_a_malformed_command_still_names_its_id_and_occurrence_when_it_can() -> None:
    refusal = rejected(open_(_play_command(repeat=0)))
    assert (refusal.reason, refusal.command_id, refusal.occurrence) == (
        "malformed",
        COMMAND.id,
        PLAY.occurrence,
    )
    assert rejected(open_(b"{}")).command_id is None


def test_a_broken_content_manifest_is_malformed() -> None:
    body = json.loads(SIGNED)
    assert CONTENT.chunk_count == 5
    body["contents"]["vi"]["chunk_count"] = 2
    assert (
        "lists 5 hashes but chunk_count is 2" in rejected(open_(json.dumps(body).encode())).detail
    )
    body["contents"]["vi"]["chunk_count"] = 5
    body["contents"]["vi"]["size"] = 99_999
    assert "expected 98" in rejected(open_(json.dumps(body).encode())).detail


@pytest.mark.parametrize("body", [Assign(("ban-na-vuong",), "tay"), TimeReply(1, NOW, NOW)])
def test_assign_and_time_go_to_one_receiver_only(body: Assign | TimeReply) -> None:
    with pytest.raises(ValueError, match="is for one receiver"):
        Command(new_command_id(), f"grp:{GROUP}", NOW, NOW + timedelta(minutes=1), body)
    good = Command(new_command_id(), f"rx:{RX}", NOW, NOW + timedelta(minutes=1), body)
    assert open_(good.encode(KEY), RX_TOPIC) == good
    # A controller bug or an attacker relabelling it: refused before anything else.
    relabelled = with_fields(good.encode(KEY), to=f"grp:{GROUP}")
    assert "is for one receiver" in rejected(open_(relabelled, GROUP_TOPIC)).detail


def test_a_play_with_many_chunks_fits_the_256_kib_command_limit_not_the_16_kib_one() -> None:
    big = content_of(bytes(range(256)) * 4 * 3000, chunk_size=1024)  # 3,000 chunk hashes
    command = replace(COMMAND, body=replace(PLAY, contents={"vi": big}))
    payload = command.encode(KEY)
    assert MAX_CONTROL_PAYLOAD < len(payload) < MAX_COMMAND_PAYLOAD
    assert open_(payload) == command


def test_a_command_over_256_kib_is_refused_before_parsing() -> None:
    payload = with_fields(SIGNED, pad="x" * MAX_COMMAND_PAYLOAD)
    refusal = rejected(open_(payload))
    assert refusal.reason == "malformed"
    assert "larger than the 262144-byte limit" in refusal.detail


def test_a_refusal_becomes_a_rejected_receipt() -> None:
    refusal = rejected(open_(COMMAND.encode(OTHER_KEY)))
    receipt = refusal.receipt(RX, epoch=7, seq=3, at=NOW)
    decoded = decode_receipt(receipt.encode(), TOPICS.receiver(RX, "receipt"), RX)
    assert decoded == receipt
    assert (decoded.state, decoded.reason, decoded.command, decoded.occurrence) == (
        "rejected",
        "bad_signature",
        COMMAND.id,
        PLAY.occurrence,
    )
    anonymous = rejected(open_(b"garbage")).receipt(RX, epoch=7, seq=4, at=NOW)
    assert decode_receipt(anonymous.encode(), None, RX).occurrence is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.binary(max_size=500))
def test_random_bytes_are_malformed_never_an_exception(payload: bytes) -> None:
    assert rejected(open_(payload)).reason == "malformed"


@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("v", "type", "id", "to", "issued", "expires", "sig", "occurrence", "groups"),
                *("language", "request", "received", "sent", "contents", "play_at", "repeat"),
            ]
        ),
        json_values,
    )
)
def test_random_json_objects_are_refused_never_an_exception(body: dict[str, object]) -> None:
    assert isinstance(open_(json.dumps(body).encode()), Rejected)


@given(st.sampled_from(sorted(json.loads(SIGNED))), json_values)
def test_any_field_of_a_signed_command_replaced_by_anything_is_refused(
    field: str, value: object
) -> None:
    payload = with_fields(SIGNED, **{field: value})
    result = open_(payload)
    unchanged = json.dumps(json.loads(payload), sort_keys=True) == json.dumps(
        json.loads(SIGNED), sort_keys=True
    )
    assert result == COMMAND if unchanged else isinstance(result, Rejected)


def test_the_receiver_plays_its_language_else_vietnamese() -> None:
    tay = content_of(b"tay" * 500)
    play = replace(PLAY, contents={"vi": CONTENT, "tay": tay})
    assert play.content_for("tay") == tay
    assert play.content_for("nung") == CONTENT
    assert replace(PLAY, contents={"tay": tay}).content_for("nung") is None


def test_without_its_language_or_vietnamese_the_receiver_plays_the_default() -> None:
    tay = content_of(b"tay" * 500)
    hmn = content_of(b"hmn" * 500)
    play = replace(PLAY, contents={"tay": tay, "hmn": hmn}, default="hmn")
    assert play.content_for("nung") == hmn
    assert play.content_for("tay") == tay
    assert replace(play, contents={"vi": CONTENT, "hmn": hmn}).content_for("nung") == CONTENT
    with pytest.raises(ValueError, match="default 'nung' is not one of the contents"):
        replace(play, default="nung")


def test_the_default_travels_signed_and_a_wrong_one_is_refused() -> None:
    tay = content_of(b"tay" * 500)
    play = replace(PLAY, contents={"vi": CONTENT, "tay": tay}, default="tay")
    command = replace(COMMAND, body=play)
    opened = open_(command.encode(KEY))
    assert opened == command
    assert isinstance(opened, Command)
    assert isinstance(opened.body, Play)
    assert opened.body.default == "tay"
    assert b'"default":"tay"' in command.encode(KEY)
    assert b'"default"' not in SIGNED, "no default, no field: older commands read the same"
    moved = with_fields(command.encode(KEY), default="vi")  # the default is signed too
    assert rejected(open_(moved)).reason == "bad_signature"


def test_a_content_ref_and_an_audio_manifest_carry_the_same_fields() -> None:
    data = bytes(range(256)) * 300
    manifest = manifest_of(data, chunk_size=4096)
    ref = ContentRef.from_manifest_fields(manifest.to_json(), codec="opus", duration_ms=4800)
    assert (ref.content, ref.size, ref.chunk_count) == (manifest.content_id, len(data), 19)
    assert Manifest.from_json(ref.manifest_fields()) == manifest
    with pytest.raises(ValueError, match="'chunk_size' must be from 1024"):
        ContentRef.from_manifest_fields(
            manifest.to_json() | {"chunk_size": 10}, codec="mp3", duration_ms=1
        )


def test_a_time_reply_gives_the_ntp_offset() -> None:
    # The receiver runs 2 s behind; the network takes 100 ms each way; the controller 10 ms.
    t0 = NOW - timedelta(seconds=2)
    received = NOW + timedelta(milliseconds=100)
    reply = TimeReply(5, received, received + timedelta(milliseconds=10))
    t3 = t0 + timedelta(milliseconds=210)
    assert reply.offset(t0, t3) == timedelta(seconds=2)
    assert TimeReply.round_trip(t0, t3) == timedelta(milliseconds=210)


def test_ids_and_targets() -> None:
    assert len({new_command_id() for _ in range(100)}) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in (new_command_id(), new_occurrence_id()))
    assert target("grp", GROUP) == "grp:ban-na-vuong"
    assert parse_target("rx:cb-tl-01") == ("rx", "cb-tl-01")
    with pytest.raises(ValueError, match="receiver id"):
        target("rx", "Bad Id")


def test_made_values_are_checked() -> None:
    with pytest.raises(ValueError, match="is not after issued"):
        replace(COMMAND, expires=NOW)
    with pytest.raises(ValueError, match="command id"):
        replace(COMMAND, id="xyz")
    with pytest.raises(ValueError, match=r"play_at .* is after expires_at"):
        replace(PLAY, play_at=PLAY.expires_at + timedelta(seconds=1))
    with pytest.raises(ValueError, match="name a group twice"):
        Assign(("a", "a"), "vi")
    with pytest.raises(ValueError, match="occurrence"):
        Cancel("0F" * 16)


def test_instants_are_kept_to_the_millisecond_in_utc() -> None:
    hanoi = datetime(2026, 11, 29, 6, 30, 0, 123_456, tzinfo=timezone(timedelta(hours=7)))
    command = replace(COMMAND, issued=hanoi)
    assert command.issued == datetime(2026, 11, 28, 23, 30, 0, 123_000, tzinfo=UTC)
    assert command.issued.tzinfo is UTC
    assert b'"issued":"2026-11-28T23:30:00.123Z"' in command.encode(KEY)


def test_an_integer_too_long_for_python_is_malformed() -> None:
    refusal = rejected(
        open_(with_fields(SIGNED, repeat=REMOVE)[:-1] + b',"repeat":' + b"9" * 5000 + b"}")
    )
    assert refusal.reason == "malformed"
    assert "not JSON" in refusal.detail
