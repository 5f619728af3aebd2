"""The controller presence message: round-trips, rejects garbage, orders by epoch."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol import ControllerPresence, Topics
from devices.protocol.presence import PresenceState
from loa.errors import DecodeError

instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@st.composite
def presences(draw: st.DrawFn) -> ControllerPresence:
    state: PresenceState = draw(st.sampled_from(["online", "offline"]))
    return ControllerPresence(
        state=state,
        epoch=draw(st.integers(min_value=1, max_value=2**53 - 1)),
        since=draw(instants),
        version=draw(st.text(max_size=20)),
        reason=None if state == "online" else draw(st.sampled_from(["shutdown", "lost"])),
    )


@given(presences())
def test_every_presence_round_trips(presence: ControllerPresence) -> None:
    assert ControllerPresence.decode(presence.encode()) == presence


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_our_decode_error(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        ControllerPresence.decode(payload, "t")


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'{"state":"online"}',
        b'{"v":1,"state":"asleep","epoch":1,"since":"2026-01-01T00:00:00Z","version":"x"}',
        b'{"v":1,"state":"online","epoch":true,"since":"2026-01-01T00:00:00Z","version":"x"}',
        b'{"v":1,"state":"online","epoch":0,"since":"2026-01-01T00:00:00Z","version":"x"}',
        b'{"v":1,"state":"online","epoch":1,"since":"2026-01-01T00:00:00","version":"x"}',
        b'{"v":1,"state":"offline","epoch":1,"since":"2026-01-01T00:00:00Z","version":"x"}',
    ],
)
def test_invalid_messages_are_refused_with_a_reason(payload: bytes) -> None:
    with pytest.raises(DecodeError, match="controller presence"):
        ControllerPresence.decode(payload)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    payload = (
        b'{"v":1,"state":"online","epoch":3,"since":"2026-11-28T23:00:00.000Z",'
        b'"version":"0.1.0","future":{"x":1}}'
    )
    assert ControllerPresence.decode(payload).epoch == 3


def test_a_late_will_of_an_older_epoch_never_supersedes_a_newer_online() -> None:
    since = datetime(2026, 11, 28, tzinfo=UTC)
    online = ControllerPresence("online", 5, since, "0.1.0")
    late_will = ControllerPresence("offline", 4, since, "0.1.0", reason="lost")
    own_will = ControllerPresence("offline", 5, since, "0.1.0", reason="lost")
    assert not late_will.supersedes(online)
    assert online.supersedes(late_will)
    assert own_will.supersedes(online)


def test_topics_are_versioned_under_the_prefix_and_refuse_bad_levels() -> None:
    assert Topics("caobang/loa").controller_status == "caobang/loa/v1/controller/status"
    with pytest.raises(ValueError, match="topic prefix level"):
        Topics("loa.v1")
    with pytest.raises(ValueError, match="topic prefix level"):
        Topics("loa/#")
