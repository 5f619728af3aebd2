"""Commands a receiver refuses: forged, expired, replayed, not for it, malformed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devices.protocol.signing import SigningKey
from simulators.delivery.outbox import DeliveryCounters
from tests.simulators.delivery.rig import RX, Rig
from tests.simulators.delivery.support import Content


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / RX)


def refused(rig: Rig) -> tuple[str | None, str | None, str | None]:
    (receipt,) = rig.receipts()
    assert receipt.state == "rejected"
    return receipt.reason, receipt.command, receipt.occurrence


def test_a_command_signed_with_another_key_is_forged(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now())
    payload = rig.command(play, key=SigningKey.generate())
    assert refused(rig) == (
        "bad_signature",
        rig.controller_command_id(payload),
        play.occurrence,
    )
    assert rig.agent.state_of(play.occurrence) is None
    assert rig.counters.rejected == {"bad_signature": 1}


def test_a_command_changed_after_signing_is_forged(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now())
    topic, payload = rig.controller.command(RX, play)
    data = json.loads(payload)
    data["priority"] = "emergency"
    rig.deliver(topic, json.dumps(data).encode())
    assert refused(rig)[0] == "bad_signature"


def test_an_expired_command_is_refused(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now())
    rig.command(play, issued=rig.true.now() - timedelta(minutes=20), lifetime=60)
    assert refused(rig)[0] == "expired"
    rig.command(play, issued=rig.true.now() + timedelta(minutes=6))  # from the future
    assert refused(rig)[0] == "expired"
    assert rig.counters.rejected == {"expired": 2}


def test_a_replayed_command_is_refused_even_after_a_reboot(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now() + timedelta(seconds=60))
    topic, payload = rig.controller.command(RX, play)
    rig.deliver(topic, payload)
    assert [r.state for r in rig.receipts()] == ["accepted", "downloading"]
    rig.deliver(topic, payload)
    assert refused(rig)[:2] == ("replayed", rig.controller_command_id(payload))
    rig.reboot()
    rig.receipts()
    rig.deliver(topic, payload)
    assert refused(rig)[0] == "replayed"
    assert rig.counters.rejected == {"replayed": 2}


def test_a_refused_command_does_not_burn_its_id(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now() + timedelta(seconds=60))
    topic, genuine = rig.controller.command(RX, play)
    forged = json.loads(genuine)
    forged["title"] = "giả mạo"
    rig.deliver(topic, json.dumps(forged, ensure_ascii=False).encode())
    assert refused(rig)[0] == "bad_signature"
    rig.deliver(topic, genuine)  # same id, genuine: still accepted
    assert rig.receipts()[0].state == "accepted"


def test_a_command_for_a_group_it_is_not_in_is_not_for_it(rig: Rig) -> None:
    play = rig.controller.play(Content.make(), play_at=rig.true.now())
    rig.command(play, scope="grp", to="ban-khac")
    assert refused(rig)[0] == "not_for_me"
    rig.command(rig.controller.assign("ban-khac"))
    assert rig.agent.assignment_changed
    rig.command(play, scope="grp", to="ban-khac")
    assert rig.receipts()[0].state == "accepted"


def test_garbage_is_malformed_and_answered_without_ids(rig: Rig) -> None:
    rig.deliver(rig.topics.receiver(RX, "cmd"), b"\xff not json")
    assert refused(rig) == ("malformed", None, None)
    rig.deliver(rig.topics.receiver(RX, "cmd"), b'{"v": 1, "type": "play"}')
    assert refused(rig)[0] == "malformed"
    assert rig.counters.rejected == {"malformed": 2}


def test_with_no_key_provisioned_every_command_is_forged(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX)
    rig.settings = rig.settings.__class__(topic_prefix=rig.settings.topic_prefix)
    rig.reboot()
    rig.command(rig.controller.assign("ban-na"))
    assert refused(rig)[0] == "bad_signature"
    assert rig.agent.groups is None


def test_counters_start_at_zero() -> None:
    assert DeliveryCounters().rejected == {}
