"""The health state machine: each state, the epoch rules, silence, flapping, uptime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devices.health import HealthPolicy, ReceiverHealth, Transition, uptime
from devices.protocol import Heartbeat, Power, ReceiverBirth, ReceiverOffline, Signal

T0 = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
POLICY = HealthPolicy(
    default_heartbeat_s=10, silent_after_intervals=3, flapping_transitions=4,
    flapping_window_s=120,
)  # fmt: skip


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def birth(epoch: int, heartbeat_s: int = 10) -> ReceiverBirth:
    return ReceiverBirth("rx-1", epoch, T0, "fw", ("mp3",), heartbeat_s)


def beat(epoch: int, seq: int, speakers: str = "ok") -> Heartbeat:
    return Heartbeat(
        "rx-1", epoch, seq, T0, Signal("4g", -70, -95), Power("mains"),
        speakers="fault" if speakers == "fault" else "ok",
    )  # fmt: skip


def will(epoch: int) -> ReceiverOffline:
    return ReceiverOffline("rx-1", epoch, "lost")


def fresh() -> ReceiverHealth:
    return ReceiverHealth("rx-1", POLICY)


def test_a_new_receiver_is_offline_never_heard_from() -> None:
    health = fresh()
    assert (health.state, health.cause) == ("offline", "never heard from")


def test_a_live_birth_makes_it_online_and_heartbeats_keep_it_so() -> None:
    health = fresh()
    [change] = health.birth(birth(3), at(0), retained=False)
    assert (change.from_state, change.to_state, change.epoch) == ("offline", "online", 3)
    assert "epoch 3" in change.cause
    assert health.heartbeat(beat(3, 0), at(10)) == []
    assert health.tick(at(35)) == []
    assert health.telemetry is not None
    assert health.telemetry["net"]["rsrp_dbm"] == -95


def test_a_retained_birth_proves_nothing_about_now_but_its_epoch_is_learnt() -> None:
    health = fresh()
    assert health.birth(birth(5), at(0), retained=True) == []
    assert (health.state, health.epoch) == ("offline", 5)


def test_the_last_will_of_the_current_epoch_makes_it_offline() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    [change] = health.offline(will(3), at(5), retained=False)
    assert (change.to_state, change.cause) == (
        "offline",
        "Last Will: the broker lost the connection",
    )


def test_a_late_will_of_an_older_epoch_never_marks_a_reconnected_receiver_offline() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.birth(birth(4), at(5), retained=False)
    assert health.offline(will(3), at(6), retained=False) == []
    assert health.state == "online"


def test_a_late_heartbeat_of_a_dead_epoch_does_not_revive_it() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.offline(will(3), at(5), retained=False)
    assert health.heartbeat(beat(3, 9), at(6)) == []
    assert health.state == "offline"
    [change] = health.birth(birth(4), at(7), retained=False)
    assert change.to_state == "online"


def test_a_heartbeat_of_a_newer_epoch_counts_as_a_reconnection_missed_birth() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.offline(will(3), at(5), retained=False)
    [change] = health.heartbeat(beat(4, 0), at(6))
    assert (change.to_state, health.epoch) == ("online", 4)


def test_duplicate_and_reordered_heartbeats_change_nothing() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.heartbeat(beat(3, 5), at(10))
    health.heartbeat(beat(3, 5, speakers="fault"), at(11))
    health.heartbeat(beat(3, 4, speakers="fault"), at(12))
    assert health.telemetry is not None
    assert health.telemetry["speakers"] == "ok"
    assert health.last_heard == at(10)


def test_no_heartbeat_for_three_intervals_without_a_will_is_silent_then_heartbeats_revive() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.heartbeat(beat(3, 0), at(0))
    assert health.tick(at(30)) == []
    [change] = health.tick(at(30.5))
    assert change.to_state == "silent"
    assert "half-open" in change.cause
    [back] = health.heartbeat(beat(3, 1), at(31))
    assert (back.from_state, back.to_state, back.cause) == ("silent", "online", "heartbeats again")


def test_the_silence_limit_follows_the_interval_the_receiver_announced() -> None:
    health = fresh()
    health.birth(birth(3, heartbeat_s=60), at(0), retained=False)
    assert health.tick(at(179)) == []
    assert health.tick(at(181))[0].to_state == "silent"


def test_a_restart_makes_online_and_silent_receivers_unverified_until_they_speak() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    [change] = health.unverify(at(1), "controller restarted")
    assert (change.to_state, change.cause) == ("unverified", "controller restarted")
    [back] = health.birth(birth(3), at(2), retained=False)
    assert (back.to_state, back.cause) == ("online", "announced itself")
    dead = fresh()
    assert dead.unverify(at(1), "controller restarted") == []


def test_an_unverified_receiver_that_never_speaks_becomes_silent() -> None:
    health = fresh()
    health.birth(birth(3), at(0), retained=False)
    health.unverify(at(100), "broker connection restored")
    assert health.tick(at(125)) == []
    assert health.tick(at(131))[0].to_state == "silent"


def test_more_than_n_changes_in_the_window_is_flapping_until_stable_for_a_window() -> None:
    health = fresh()
    transitions: list[Transition] = []
    for i in range(3):
        transitions += health.birth(birth(10 + i, heartbeat_s=600), at(i * 10), retained=False)
        transitions += health.offline(will(10 + i), at(i * 10 + 5), retained=False)
    assert health.state == "flapping"
    flapping = [t for t in transitions if t.to_state == "flapping"]
    assert len(flapping) == 1
    assert "5 changes within 2 min" in flapping[0].cause
    # The link keeps changing underneath: recorded, but the public state stays flapping.
    health.birth(birth(20, heartbeat_s=600), at(60), retained=False)
    assert (health.state, health.link_state) == ("flapping", "online")
    assert health.tick(at(179)) == []
    [calm] = health.tick(at(181))
    assert (calm.from_state, calm.to_state, calm.cause) == ("flapping", "online", "stable again")
    assert not health.flapping


def test_uptime_over_a_period() -> None:
    def t(seconds: float, old: str, new: str) -> Transition:
        return Transition("rx-1", at(seconds), old, new, "", 1)  # type: ignore[arg-type]

    rows = [
        t(-50, "offline", "online"),
        t(10, "online", "offline"),
        t(30, "offline", "online"),
        t(40, "online", "flapping"),
        t(60, "flapping", "online"),
        t(80, "online", "silent"),
    ]
    assert uptime(rows, at(0), at(100)) == (10 + 50) / 100
    assert uptime([], at(0), at(100), state_at_start="online") == 1.0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["birth", "will", "beat", "tick", "unverify", "retained"]),
            st.integers(1, 6),
            st.integers(0, 5),
            st.floats(0, 40),
        ),
        max_size=60,
    )
)
def test_any_message_sequence_keeps_the_machine_consistent(
    steps: list[tuple[str, int, int, float]],
) -> None:
    health = fresh()
    now = 0.0
    last_epoch = 0
    for kind, epoch, seq, gap in steps:
        now += gap
        before, link_before = health.state, health.link_state
        if kind == "birth":
            changes = health.birth(birth(epoch), at(now), retained=False)
        elif kind == "retained":
            changes = health.birth(birth(epoch), at(now), retained=True)
        elif kind == "will":
            changes = health.offline(will(epoch), at(now), retained=False)
        elif kind == "beat":
            changes = health.heartbeat(beat(epoch, seq), at(now))
        elif kind == "tick":
            changes = health.tick(at(now))
        else:
            changes = health.unverify(at(now), "restart")
        # The epoch never goes backwards, and transitions chain from the previous state.
        assert (health.epoch or 0) >= last_epoch
        last_epoch = health.epoch or 0
        for change in changes:
            assert change.from_state != change.to_state
        if changes:
            assert changes[0].from_state in (before, link_before)
        assert health.state in ("online", "offline", "silent", "unverified", "flapping")
