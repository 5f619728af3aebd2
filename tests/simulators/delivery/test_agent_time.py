"""Time sync in the agent: a receiver whose clock is off plays at play_at by true time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from devices.protocol.receipts import decode_time_request
from tests.simulators.delivery.rig import RX, Rig
from tests.simulators.delivery.support import Content


def answer_clock_requests(rig: Rig, delay_s: float = 0.004) -> int:
    """Answer every clock request sent so far, as the controller (true time) would."""
    answered = 0
    for topic, payload in rig.sent:
        request = decode_time_request(payload, topic, RX)
        rig.true.advance(delay_s)
        received = rig.true.now()
        rig.true.advance(0.001)
        reply = rig.controller.time(request.request, received, rig.true.now())
        command_topic, signed = rig.controller.command(RX, reply)
        rig.true.advance(delay_s)
        rig.deliver(command_topic, signed)
        answered += 1
    rig.sent.clear()
    return answered


def test_clock_requests_go_on_connect_and_correct_the_clock(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, offset_s=2.0)
    before = rig.agent.clock_offset_ms
    assert before is None
    rig.agent.connected()
    answered = 0
    for _ in range(4):
        answered += answer_clock_requests(rig)  # each as soon as it was sent
        rig.run(0.25)
    assert answered == 4
    assert rig.counters.time_samples == 4
    assert rig.agent.clock_offset_ms == 2000
    corrected = rig.agent.clock.now()
    assert abs((corrected - rig.true.now()).total_seconds()) < 0.002


def test_a_receiver_two_seconds_ahead_plays_at_play_at_by_true_time(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, offset_s=2.0)
    rig.agent.connected()
    answer_clock_requests(rig)
    content = Content.make(duration_ms=1000)
    at = rig.true.now() + timedelta(seconds=10)
    rig.command(rig.controller.play(content, play_at=at))
    rig.chunks(content)
    rig.run(20)
    (heard,) = rig.agent.heard
    assert abs((heard.true_start - at).total_seconds()) < 0.003
    played = rig.receipts()[-1]
    assert played.proof is not None
    assert played.proof.clock_offset_ms == 2000


def test_without_time_sync_it_plays_by_its_own_wrong_clock(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, offset_s=2.0)
    content = Content.make(duration_ms=1000)
    at = rig.true.now() + timedelta(seconds=10)
    rig.command(rig.controller.play(content, play_at=at))
    rig.chunks(content)
    rig.run(20)
    (heard,) = rig.agent.heard
    assert heard.true_start == at - timedelta(seconds=2)  # two seconds early


def test_a_clock_request_says_its_number_and_its_own_time(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, offset_s=-1.5)
    rig.agent.connected()
    ((topic, payload),) = rig.sent
    assert topic == rig.topics.receiver(RX, "time")
    body = json.loads(payload)
    assert (body["id"], body["request"]) == (RX, 1)
    sent = datetime.fromisoformat(body["sent"])
    assert sent == rig.true.now() - timedelta(seconds=1.5)
    rig.link = False
    rig.run(0.3)
    assert rig.counters.time_requests == 1  # the next one found no link


def test_a_receiver_nobody_answered_asks_again_within_seconds_not_minutes(tmp_path: Path) -> None:
    rig = Rig(tmp_path / RX, offset_s=2.0)
    rig.agent.connected()
    rig.run(1.0)
    assert len(rig.sent) == 4  # the connection's round, lost: the controller is behind
    rig.sent.clear()
    waited = 1.0  # since the connection
    while not rig.sent and waited < 300:
        rig.run(0.01)
        waited += 0.01
    # Given up 5 s after the last request (sent at 0.75 s), asked again 1 to 2 s later.
    assert 5.75 + 1.0 - 0.01 <= waited <= 5.75 + 2.0 + 0.01
    assert len(rig.sent) == 1  # one request, not a whole round
    assert answer_clock_requests(rig) == 1
    offset = rig.agent.clock_offset_ms
    assert offset is not None
    assert abs(offset - 2000) <= 5  # its clock drifts while it waits
    rig.run(290.0)
    assert rig.sent == []  # in sync: the next round comes with the interval
