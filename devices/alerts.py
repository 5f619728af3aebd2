"""Health alerts with reasons a technician can act on, from a receiver's health snapshot.

A pure function of what the controller knows (state, since when, the latest
telemetry) and the thresholds in `AlertPolicy`; the CLI and the dashboard show the
result, nothing here sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

AlertKind = Literal[
    "offline",
    "silent",
    "flapping",
    "weak_signal",
    "on_battery",
    "low_battery",
    "speaker_fault",
    "amplifier_fault",
    "clock_offset",
    "storage_low",
    "unregistered",
]
Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class AlertPolicy:
    offline_after_s: float = 300.0
    silent_after_s: float = 300.0
    weak_rsrp_dbm: int = -110
    weak_rssi_dbm: int = -95
    low_battery_v: float = 11.8
    clock_offset_ms: int = 2000
    storage_low_mb: int = 100


@dataclass(frozen=True)
class HealthSnapshot:
    """What `alerts()` needs to know about one receiver."""

    receiver_id: str
    state: str
    since: datetime | None
    cause: str
    telemetry: dict[str, Any] | None = None


@dataclass(frozen=True)
class Alert:
    receiver_id: str
    kind: AlertKind
    severity: Severity
    message: str
    since: datetime | None = None


def alerts(snapshot: HealthSnapshot, policy: AlertPolicy, now: datetime) -> list[Alert]:
    """Every alert that holds for this receiver now, most severe first."""
    found = _presence_alerts(snapshot, policy, now)
    # Telemetry describes a receiver that is heard from; stale values of a dead one mislead.
    if snapshot.telemetry is not None and snapshot.state in ("online", "flapping"):
        found += _telemetry_alerts(snapshot, snapshot.telemetry, policy)
    return sorted(found, key=lambda alert: alert.severity != "critical")


def _presence_alerts(snapshot: HealthSnapshot, policy: AlertPolicy, now: datetime) -> list[Alert]:
    rid, since = snapshot.receiver_id, snapshot.since
    lasted = (now - since).total_seconds() if since is not None else None
    if snapshot.state == "offline" and (lasted is None or lasted > policy.offline_after_s):
        how_long = "" if lasted is None else f" for {_duration(lasted)}"
        return [Alert(rid, "offline", "critical", f"offline{how_long}: {snapshot.cause}", since)]
    if snapshot.state == "silent" and lasted is not None and lasted > policy.silent_after_s:
        return [
            Alert(
                rid,
                "silent",
                "critical",
                f"silent for {_duration(lasted)}: {snapshot.cause}",
                since,
            )
        ]
    if snapshot.state == "flapping":
        return [Alert(rid, "flapping", "warning", f"link keeps dropping: {snapshot.cause}", since)]
    return []


def _telemetry_alerts(
    snapshot: HealthSnapshot, telemetry: dict[str, Any], policy: AlertPolicy
) -> list[Alert]:
    rid = snapshot.receiver_id
    found: list[Alert] = []
    net = telemetry.get("net") or {}
    rsrp, rssi = net.get("rsrp_dbm"), net.get("rssi_dbm")
    if isinstance(rsrp, int) and rsrp < policy.weak_rsrp_dbm:
        found.append(
            Alert(
                rid,
                "weak_signal",
                "warning",
                f"weak signal: RSRP {rsrp} dBm (below {policy.weak_rsrp_dbm} dBm)",
            )
        )
    elif isinstance(rssi, int) and rssi < policy.weak_rssi_dbm:
        found.append(
            Alert(
                rid,
                "weak_signal",
                "warning",
                f"weak signal: RSSI {rssi} dBm (below {policy.weak_rssi_dbm} dBm)",
            )
        )
    power = telemetry.get("power") or {}
    volts = power.get("battery_v")
    if power.get("source") == "battery":
        found.append(Alert(rid, "on_battery", "warning", "running on battery: mains power is off"))
    if isinstance(volts, int | float) and volts < policy.low_battery_v:
        found.append(
            Alert(
                rid,
                "low_battery",
                "critical",
                f"low battery: {volts:.1f} V (below {policy.low_battery_v:.1f} V)",
            )
        )
    if telemetry.get("speakers") == "fault":
        found.append(Alert(rid, "speaker_fault", "critical", "speaker fault reported"))
    if telemetry.get("amp") == "fault":
        found.append(Alert(rid, "amplifier_fault", "critical", "amplifier fault reported"))
    offset = telemetry.get("clock_offset_ms")
    if isinstance(offset, int) and abs(offset) > policy.clock_offset_ms:
        found.append(
            Alert(
                rid,
                "clock_offset",
                "warning",
                f"clock off by {offset / 1000:+.1f} s "
                f"(more than {policy.clock_offset_ms / 1000:g} s): bulletins start out of step",
            )
        )
    free = telemetry.get("storage_free_mb")
    if isinstance(free, int) and free < policy.storage_low_mb:
        found.append(
            Alert(
                rid,
                "storage_low",
                "warning",
                f"storage almost full: {free} MB free (below {policy.storage_low_mb} MB)",
            )
        )
    return found


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
