"""What a receiver keeps across a reboot: downloads resume, nothing plays twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.simulators.delivery.rig import RX, Rig
from tests.simulators.delivery.support import Content


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / RX)


def test_a_download_resumes_after_a_reboot_and_plays_once(rig: Rig) -> None:
    content = Content.make(size=10 * 1024, chunk_size=1024)
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=30))
    rig.command(play)
    rig.chunks(content, 0, 1, 2, 3, 4)
    rig.receipts()
    rig.reboot()
    assert rig.agent.downloads.get(content.id) is not None
    assert [(r.state, r.have) for r in rig.receipts()] == [("downloading", 5)]
    rig.agent.tick()
    (repair,) = rig.repairs()  # everything missing, at once
    assert repair.chunks == (5, 6, 7, 8, 9)
    rig.chunks(content, 5, 6, 7, 8, 9)
    assert rig.states() == [(play.occurrence, "armed")]
    rig.run(60)
    assert [r.state for r in rig.receipts()] == ["playing", "played"]
    rig.reboot()
    rig.run(60)
    assert rig.receipts() == []
    rig.command(play)  # the controller, unsure, sends it again
    (receipt,) = rig.receipts()
    assert receipt.state == "played"
    assert len(rig.agent.heard) == 0  # this boot played nothing


def test_an_armed_occurrence_is_armed_again_after_a_reboot(rig: Rig) -> None:
    content = Content.make()
    play = rig.controller.play(content, play_at=rig.true.now() + timedelta(seconds=30))
    rig.command(play)
    rig.chunks(content)
    rig.receipts()
    rig.reboot()
    assert rig.states() == [(play.occurrence, "armed")]
    rig.run(40)
    assert [r.state for r in rig.receipts()] == ["playing", "played"]


def test_one_playing_when_the_power_went_is_not_played_again(rig: Rig) -> None:
    content = Content.make(duration_ms=30_000)
    play = rig.controller.play(content, play_at=rig.true.now())
    rig.command(play)
    rig.chunks(content)
    rig.run(5)
    rig.receipts()
    rig.reboot()
    (receipt,) = rig.receipts()
    assert (receipt.state, receipt.reason) == ("failed", "interrupted")
    rig.run(60)
    assert rig.receipts() == []


def test_what_expired_while_it_was_off_is_reported(rig: Rig) -> None:
    armed, pending = Content.make(), Content.make()
    first = rig.controller.play(armed, play_at=rig.true.now() + timedelta(seconds=30))
    second = rig.controller.play(pending, play_at=rig.true.now() + timedelta(seconds=30))
    rig.command(first)
    rig.chunks(armed)
    rig.command(second)
    rig.receipts()
    rig.true.advance(3600)  # off for an hour
    rig.reboot()
    assert sorted((r.occurrence, r.state, r.reason) for r in rig.receipts()) == sorted(
        [(first.occurrence, "expired", None), (second.occurrence, "failed", "chunk_timeout")]
    )
    assert not (rig.folder / "partial").exists() or not list((rig.folder / "partial").iterdir())


def test_the_assignment_and_cache_survive_a_reboot(rig: Rig) -> None:
    content = Content.make()
    rig.command(rig.controller.assign("ban-na", "xa-ta-lung", language="tay"))
    rig.command(rig.controller.play({"tay": content}, play_at=rig.true.now()))
    rig.chunks(content)
    rig.reboot()
    assert (rig.agent.groups, rig.agent.language) == (("ban-na", "xa-ta-lung"), "tay")
    assert not rig.agent.assignment_changed
    assert rig.agent.downloads.cached(content.id)
