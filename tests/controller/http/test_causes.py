"""Causes of state changes, as the dashboard shows them in Vietnamese and English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.http.causes import cause_text, js_patterns
from controller.http.i18n import Translator
from devices.health import NEVER_HEARD, HealthPolicy, ReceiverHealth
from devices.protocol.receiver import ReceiverBirth, ReceiverOffline

VI, EN = Translator("vi"), Translator("en")
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cause", "vi", "en"),
    [
        ("birth, session epoch 3", "bật lên (phiên 3)", "came up (session 3)"),
        ("Last Will: the broker lost the connection (as the broker kept it)",
         "mất kết nối đột ngột (máy chủ MQTT báo)", "connection lost (the broker's Last Will)"),
        ("no heartbeat for 190 s (3 intervals) and no Last Will: the link may be half-open",
         "không có tín hiệu 190 giây, đường truyền có thể bị treo",
         "no heartbeat for 190 s: the link may be half-open"),
        ("6 changes within 10 min", "6 lần đổi trạng thái trong 10 phút",
         "6 changes within 10 min"),
        (NEVER_HEARD, "chưa từng liên lạc", "never heard from"),
        ("something new", "something new", "something new"),
    ],
)  # fmt: skip
def test_known_causes_are_translated_and_unknown_ones_shown_as_they_are(
    cause: str, vi: str, en: str
) -> None:
    assert cause_text(cause, VI) == vi
    assert cause_text(cause, EN) == en


def test_every_cause_the_health_machine_writes_has_a_pattern() -> None:
    machine = ReceiverHealth("rx-1", HealthPolicy(), since=T0)
    causes = [machine.cause]
    for step, transitions in enumerate(
        [
            machine.birth(ReceiverBirth("rx-1", 1, T0, "fw"), T0, retained=False),
            machine.offline(ReceiverOffline("rx-1", 1, "reboot"), T0, retained=True),
            machine.birth(ReceiverBirth("rx-1", 2, T0, "fw"), T0, retained=False),
            machine.tick(T0 + timedelta(hours=1)),
            machine.unverify(T0 + timedelta(hours=2), "controller restarted"),
        ]
    ):
        causes += [transition.cause for transition in transitions]
        assert transitions, f"step {step} changed nothing"
    for cause in causes:
        assert cause_text(cause, VI) != cause, f"no Vietnamese for {cause!r}"


def test_the_javascript_patterns_use_its_named_group_syntax() -> None:
    assert all("(?P<" not in pattern for pattern, _ in js_patterns())
    assert any("(?<epoch>" in pattern for pattern, _ in js_patterns())
