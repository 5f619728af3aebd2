"""The delivery agent: a play from command to proof, the cache, repair, cancel, pre-emption."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.simulators.delivery.rig import RX, Rig
from tests.simulators.delivery.support import Content


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / RX)


def test_a_play_goes_from_accepted_to_played_with_its_proof(rig: Rig) -> None:
    content = Content.make(size=8 * 1024, chunk_size=1024, duration_ms=3000)
    at = rig.true.now() + timedelta(seconds=30)
    play = rig.controller.play(content, play_at=at, repeat=2)
    payload = rig.command(play)
    receipts = rig.receipts()
    assert [(r.state, r.have) for r in receipts] == [("accepted", None), ("downloading", 0)]
    assert {r.command for r in receipts} == {rig.controller_command_id(payload)}
    rig.chunks(content, 0, 1, 2, 3)
    rig.true.advance(1.1)
    rig.chunks(content, 4, 5)  # past a quarter and a second since the last
    rig.chunks(content, 6, 7)
    assert [(r.state, r.have) for r in rig.receipts()] == [("downloading", 5), ("armed", None)]
    rig.run(60)
    playing, played = rig.receipts()
    assert (playing.state, played.state) == ("playing", "played")
    assert playing.at == at
    proof = played.proof
    assert proof is not None
    assert (proof.started_at, proof.ended_at) == (at, at + timedelta(seconds=6))
    assert (proof.content, proof.played_ms, proof.clock_offset_ms) == (content.id, 6000, 0)
    assert proof.level_db is None
    assert [r.seq for r in receipts] == [0, 1]  # stamped in order when sent
    assert rig.agent.downloads.cache.has(content.id)
    (heard,) = rig.agent.heard
    assert (heard.true_start, heard.state) == (at, "played")


def test_a_cached_content_goes_straight_to_armed(rig: Rig) -> None:
    content = Content.make()
    rig.command(rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=5)))
    rig.chunks(content)
    rig.run(30)
    rig.receipts()
    again = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=5))
    rig.command(again)
    assert rig.states() == [(again.occurrence, "accepted"), (again.occurrence, "armed")]
    rig.chunks(content, 0)
    assert rig.counters.stray_chunks == 1  # the group's chunks go by unused


def test_a_bad_chunk_is_dropped_and_asked_for_again(rig: Rig) -> None:
    content = Content.make(size=4 * 1024, chunk_size=1024)
    rig.command(rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=60)))
    rig.chunks(content, 0)
    rig.agent.on_chunk(content.id, 1, b"\0" * 1024)
    rig.chunks(content, 2, 3)
    assert rig.counters.bad_chunks == 1
    rig.agent.tick()
    (repair,) = rig.repairs()
    assert (repair.content, repair.chunks) == (content.id, (1,))
    rig.chunks(content, 1)
    assert rig.states()[-1][1] == "armed"


def test_a_lost_chunk_is_asked_for_five_seconds_after_those_that_followed(rig: Rig) -> None:
    content = Content.make(size=4 * 1024, chunk_size=1024)
    rig.command(rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=60)))
    rig.chunks(content, 0, 1, 3)
    rig.run(4.9)
    assert rig.repairs() == []
    rig.run(0.2)
    (repair,) = rig.repairs()
    assert repair.chunks == (2,)
    assert rig.counters.repairs == 1


def test_cancel_before_air_time_drops_it(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=20))
    rig.command(play)
    rig.chunks(content)
    rig.receipts()
    cancel = rig.command(rig.controller.cancel(play.occurrence))
    (receipt,) = rig.receipts()
    assert (receipt.state, receipt.command) == ("cancelled", rig.controller_command_id(cancel))
    rig.run(60)
    assert rig.receipts() == []
    assert rig.agent.heard == []


def test_cancel_during_a_download_frees_its_space(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=20))
    rig.command(play)
    rig.chunks(content, 0, 1)
    rig.command(rig.controller.cancel(play.occurrence))
    assert rig.states()[-1] == (play.occurrence, "cancelled")
    assert rig.agent.downloads.cache.used_bytes == 0
    assert not list((rig.folder / "partial").iterdir())


def test_cancel_while_playing_stops_it(rig: Rig) -> None:
    content = Content.make(duration_ms=60_000)
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=1))
    rig.command(play)
    rig.chunks(content)
    rig.run(11)
    rig.receipts()
    rig.command(rig.controller.cancel(play.occurrence))
    assert rig.states() == [(play.occurrence, "cancelled")]
    (heard,) = rig.agent.heard
    assert heard.state == "cancelled"
    assert heard.ended_at - heard.started_at == timedelta(seconds=10)
    assert rig.agent.playing_content is None


def test_cancel_after_it_was_played_changes_nothing(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now())
    rig.command(play)
    rig.chunks(content)
    rig.run(10)
    rig.receipts()
    rig.command(rig.controller.cancel(play.occurrence))
    (receipt,) = rig.receipts()
    assert receipt.state == "played"
    assert receipt.proof is not None


def test_a_cancel_that_overtakes_its_play_keeps_it_off_the_air(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now())
    rig.command(rig.controller.cancel(play.occurrence))
    rig.command(play)
    assert rig.states() == [(play.occurrence, "cancelled"), (play.occurrence, "cancelled")]


def test_an_emergency_streams_in_and_pre_empts_the_one_playing(rig: Rig) -> None:
    normal = Content.make(duration_ms=60_000)
    first = rig.controller.play(normal, play_at=rig.true.now())
    rig.command(first)
    rig.chunks(normal)
    rig.run(5)
    rig.receipts()
    alarm = Content.make(size=6 * 1024, chunk_size=1024, duration_ms=3000)
    emergency = rig.controller.play(alarm, play_at=None, priority="emergency")
    rig.command(emergency)
    rig.chunks(alarm, 0)
    assert [r.state for r in rig.receipts()] == ["accepted", "downloading"]
    rig.chunks(alarm, 1)  # enough to start
    preempted, playing = rig.receipts()
    assert (preempted.occurrence, preempted.state) == (first.occurrence, "preempted")
    assert preempted.by == emergency.occurrence
    assert (playing.occurrence, playing.state) == (emergency.occurrence, "playing")
    rig.chunks(alarm, 2, 3, 4, 5)  # the rest arrives while it plays
    assert rig.receipts() == []
    rig.run(10)
    (played,) = rig.receipts()
    assert (played.occurrence, played.state) == (emergency.occurrence, "played")
    assert rig.agent.downloads.cache.has(alarm.id)


def test_an_emergency_whose_stream_runs_dry_is_failed(rig: Rig) -> None:
    alarm = Content.make(size=6 * 1024, chunk_size=1024, duration_ms=2000)
    emergency = rig.controller.play(alarm, play_at=None, priority="emergency")
    rig.command(emergency)
    rig.chunks(alarm, 0, 1)
    rig.run(3)
    last = rig.receipts()[-1]
    assert (last.state, last.reason) == ("failed", "chunk_timeout")


def test_a_repeated_play_command_is_answered_with_the_current_state(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=30))
    rig.command(play)
    rig.chunks(content, 0, 1, 2)
    rig.receipts()
    again = rig.command(play)  # the controller sends it again: a new command id
    (receipt,) = rig.receipts()
    assert (receipt.state, receipt.have) == ("downloading", 3)
    assert receipt.command == rig.controller_command_id(again)


def test_a_content_that_does_not_fit_fails_as_storage_full(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, cache_bytes=4096)
    content = Content.make(size=8 * 1024)
    rig.command(rig.controller.play(content, play_at=rig.true.now()))
    assert [(r.state, r.reason) for r in rig.receipts()] == [
        ("accepted", None),
        ("failed", "storage_full"),
    ]


def test_it_plays_its_language_else_vietnamese_else_fails(rig: Rig) -> None:
    vi, tay = Content.make(), Content.make()
    rig.command(rig.controller.assign("ban-na", language="tay"))
    both = rig.controller.play({"vi": vi, "tay": tay}, play_at=rig.true.now())
    rig.command(both)
    rig.chunks(tay)
    rig.run(5)
    assert rig.agent.heard[-1].content == tay.id
    only_nung = rig.controller.play({"nung": Content.make()}, play_at=rig.true.now())
    rig.command(only_nung)
    assert (rig.receipts()[-1].state, rig.agent.state_of(only_nung.occurrence)) == (
        "failed",
        "failed",
    )


def test_a_download_unfinished_at_expiry_fails(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=5))
    rig.command(play)
    rig.chunks(content, 0)
    rig.run(700)
    last = rig.receipts()[-1]
    assert (last.state, last.reason) == ("failed", "chunk_timeout")
    assert rig.agent.downloads.contents() == []


def test_a_play_that_already_expired_is_reported_expired(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(
        content, play_at=rig.true.now() - timedelta(minutes=20), expires_in=60
    )
    rig.command(play)
    assert rig.states() == [(play.occurrence, "expired")]


def test_a_late_armed_one_starts_at_once_if_not_expired(rig: Rig) -> None:
    content = Content.make()
    at = rig.true.now() + timedelta(seconds=2)
    rig.command(rig.controller.play(content, play_at=at))
    rig.run(10)
    rig.chunks(content)
    states = [r.state for r in rig.receipts()]
    assert states[-2:] == ["armed", "playing"]
    assert rig.agent.heard == []
    rig.run(5)
    assert rig.agent.heard[0].started_at == at + timedelta(seconds=8)  # 10 s after the command
