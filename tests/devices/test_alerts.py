"""Health alerts: each reason, its threshold, and no telemetry alerts for dead receivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devices.alerts import AlertPolicy, HealthSnapshot, alerts

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
POLICY = AlertPolicy()
GOOD: dict[str, Any] = {
    "net": {"type": "4g", "rssi_dbm": -70, "rsrp_dbm": -95},
    "power": {"source": "mains"},
    "amp": "ok",
    "speakers": "ok",
    "volume": 80,
    "storage_free_mb": 800,
    "clock_offset_ms": 40,
}


def snapshot(state: str = "online", ago: float = 10, **telemetry: Any) -> HealthSnapshot:
    return HealthSnapshot(
        "rx-1", state, NOW - timedelta(seconds=ago), "Last Will: the broker lost the connection",
        GOOD | telemetry,
    )  # fmt: skip


def kinds(snap: HealthSnapshot) -> list[str]:
    return [alert.kind for alert in alerts(snap, POLICY, NOW)]


def test_a_healthy_receiver_has_no_alert() -> None:
    assert kinds(snapshot()) == []


def test_offline_longer_than_the_limit_is_critical_with_its_cause() -> None:
    assert kinds(snapshot("offline", ago=200)) == []
    [alert] = alerts(snapshot("offline", ago=3700), POLICY, NOW)
    assert (alert.kind, alert.severity) == ("offline", "critical")
    assert alert.message == "offline for 1 h 1 min: Last Will: the broker lost the connection"


def test_silent_longer_than_the_limit_and_flapping() -> None:
    assert kinds(snapshot("silent", ago=400)) == ["silent"]
    assert kinds(snapshot("flapping")) == ["flapping"]


@pytest.mark.parametrize(
    ("telemetry", "kind", "words"),
    [
        ({"net": {"type": "4g", "rsrp_dbm": -118}}, "weak_signal", "RSRP -118 dBm"),
        ({"net": {"type": "3g", "rssi_dbm": -101}}, "weak_signal", "RSSI -101 dBm"),
        ({"power": {"source": "battery", "battery_v": 12.6}}, "on_battery", "mains power is off"),
        ({"power": {"source": "solar", "battery_v": 11.2}}, "low_battery", "11.2 V"),
        ({"speakers": "fault"}, "speaker_fault", "speaker fault"),
        ({"amp": "fault"}, "amplifier_fault", "amplifier fault"),
        ({"clock_offset_ms": -2500}, "clock_offset", "-2.5 s"),
        ({"storage_free_mb": 12}, "storage_low", "12 MB free"),
    ],
)
def test_each_telemetry_alert(telemetry: dict[str, Any], kind: str, words: str) -> None:
    found = [a for a in alerts(snapshot(**telemetry), POLICY, NOW) if a.kind == kind]
    assert len(found) == 1
    assert words in found[0].message


def test_stale_telemetry_of_an_offline_receiver_raises_no_telemetry_alert() -> None:
    assert kinds(snapshot("offline", ago=4000, speakers="fault")) == ["offline"]


def test_critical_alerts_come_first() -> None:
    snap = snapshot(storage_free_mb=10, speakers="fault")
    assert [a.severity for a in alerts(snap, POLICY, NOW)] == ["critical", "warning"]
