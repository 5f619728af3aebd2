"""The delivery part of the topic tree, the birth's `groups`, and the priority ladder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol import PRIORITIES, ChunkTopic, ReceiverBirth, Topics, decode_status
from devices.protocol.priority import is_priority, preempts, rank
from devices.protocol.receiver import MAX_GROUPS
from loa.errors import DecodeError
from tests.devices.protocol.strategies import ids, sha256s

TOPICS = Topics("caobang/loa")
CONTENT = "ab" * 32
NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


def test_receiver_channels_of_the_delivery_work() -> None:
    for channel in ("receipt", "repair", "time", "cmd"):
        topic = TOPICS.receiver("cb-tl-01", channel)
        assert topic == f"caobang/loa/v1/rx/cb-tl-01/{channel}"
        assert TOPICS.parse_receiver(topic) == ("cb-tl-01", channel)
    assert TOPICS.every_receiver("receipt") == "caobang/loa/v1/rx/+/receipt"
    assert TOPICS.every_receiver("repair") == "caobang/loa/v1/rx/+/repair"


def test_command_topics_build_and_parse() -> None:
    assert TOPICS.commands("rx", "cb-tl-01") == "caobang/loa/v1/rx/cb-tl-01/cmd"
    assert TOPICS.commands("grp", "xa-ta-lung") == "caobang/loa/v1/grp/xa-ta-lung/cmd"
    assert TOPICS.parse_commands("caobang/loa/v1/grp/xa-ta-lung/cmd") == ("grp", "xa-ta-lung")
    assert TOPICS.parse_commands("caobang/loa/v1/rx/cb-tl-01/cmd") == ("rx", "cb-tl-01")
    for foreign in [
        "caobang/loa/v1/rx/cb-tl-01/status",
        "caobang/loa/v1/grp/xa-ta-lung/cmd/extra",
        "caobang/loa/v1/grp/Xa/cmd",
        "caobang/loa/v1/zone/xa/cmd",
        "loa/v1/grp/xa-ta-lung/cmd",
    ]:
        assert TOPICS.parse_commands(foreign) is None


def test_chunk_topics_build_and_parse() -> None:
    group = TOPICS.group_chunk("xa-ta-lung", CONTENT, 12)
    assert group == f"caobang/loa/v1/grp/xa-ta-lung/chunk/{CONTENT}/12"
    assert TOPICS.parse_chunk(group) == ChunkTopic("grp", "xa-ta-lung", CONTENT, 12)
    one = TOPICS.receiver_chunk("cb-tl-01", CONTENT, 0)
    assert one == f"caobang/loa/v1/rx/cb-tl-01/chunk/{CONTENT}/0"
    scope, owner, content, index = TOPICS.parse_chunk(one) or ("", "", "", -1)
    assert (scope, owner, content, index) == ("rx", "cb-tl-01", CONTENT, 0)
    assert TOPICS.chunk("grp", "xa-ta-lung", CONTENT, 12) == group
    assert TOPICS.group_chunks("xa-ta-lung") == "caobang/loa/v1/grp/xa-ta-lung/chunk/#"
    assert TOPICS.receiver_chunks("cb-tl-01") == "caobang/loa/v1/rx/cb-tl-01/chunk/#"


@pytest.mark.parametrize(
    "topic",
    [
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}/01",  # leading zero: one spelling per chunk
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}/-1",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}/1e3",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}/99999999999999999",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT.upper()}/1",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT[:-1]}/1",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}",
        f"caobang/loa/v1/grp/xa/chunk/{CONTENT}/1/2",
        f"caobang/loa/v1/grp/xa/chonk/{CONTENT}/1",
        f"caobang/loa/v1/zz/xa/chunk/{CONTENT}/1",
        f"other/v1/grp/xa/chunk/{CONTENT}/1",
    ],
)
def test_foreign_or_malformed_chunk_topics_parse_as_none(topic: str) -> None:
    assert TOPICS.parse_chunk(topic) is None


@given(st.sampled_from(["rx", "grp"]), ids, sha256s, st.integers(0, 2**53 - 1))
def test_every_chunk_topic_parses_back(scope: str, owner: str, content: str, index: int) -> None:
    topic = TOPICS.chunk("rx" if scope == "rx" else "grp", owner, content, index)
    assert TOPICS.parse_chunk(topic) == (scope, owner, content, index)


def test_chunk_topics_refuse_bad_parts() -> None:
    with pytest.raises(ValueError, match="not a sha256"):
        TOPICS.group_chunk("xa", "nothex", 0)
    with pytest.raises(ValueError, match="chunk index -1"):
        TOPICS.receiver_chunk("cb-tl-01", CONTENT, -1)
    with pytest.raises(ValueError, match="group id"):
        TOPICS.group_chunks("Xã Tà Lùng")


def test_a_birth_may_say_its_groups() -> None:
    birth = ReceiverBirth("cb-tl-01", 7, NOW, "fw 2.4.0", ("mp3",), 60, ("ban-na-vuong", "xa-tl"))
    assert json.loads(birth.encode())["groups"] == ["ban-na-vuong", "xa-tl"]
    assert decode_status(birth.encode(), "cb-tl-01") == birth
    never_assigned = ReceiverBirth("cb-tl-01", 7, NOW, "fw 2.4.0")
    assert "groups" not in json.loads(never_assigned.encode())
    assert decode_status(never_assigned.encode(), "cb-tl-01") == never_assigned
    in_no_group = ReceiverBirth("cb-tl-01", 7, NOW, "fw 2.4.0", groups=())
    assert json.loads(in_no_group.encode())["groups"] == []
    assert decode_status(in_no_group.encode(), "cb-tl-01") == in_no_group


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        (["Ban Na"], "holds 'Ban Na', which is not a group id"),
        ([1], "holds 1"),
        ("ban-na", "'groups' must be a list"),
        ([f"g{i}" for i in range(MAX_GROUPS + 1)], "at most 64 items"),
    ],
)
def test_a_birth_with_bad_groups_is_refused(groups: object, problem: str) -> None:
    body = json.loads(ReceiverBirth("cb-tl-01", 7, NOW, "fw").encode()) | {"groups": groups}
    with pytest.raises(DecodeError, match=problem):
        decode_status(json.dumps(body).encode(), "cb-tl-01")


def test_the_priority_ladder() -> None:
    assert list(PRIORITIES) == ["emergency", "live", "priority", "normal", "background"]
    assert [rank(p) for p in PRIORITIES] == [5, 4, 3, 2, 1]
    assert preempts("emergency", "live")
    assert preempts("priority", "normal")
    assert not preempts("normal", "normal")
    assert not preempts("normal", "background")  # normal items never interrupt anything
    assert preempts("priority", "background")
    assert not preempts("background", "emergency")
    assert is_priority("live")
    assert not is_priority("urgent")
    with pytest.raises(ValueError, match="unknown priority 'urgent'"):
        rank("urgent")  # type: ignore[arg-type]
