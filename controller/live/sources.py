"""Live events made from what the controller's parts report: receivers' health,
deliveries moving, occurrences finishing, and alerts appearing or clearing.

Alerts partly depend on time passing (offline for more than 5 minutes), so `tick()`
looks at every receiver again; an `alerts` event goes out only when a receiver's set of
alerts changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.config.model import HealthConfig
from controller.live.hub import LiveEvent, LiveHub
from devices.alerts import Alert, AlertPolicy, HealthSnapshot, alerts
from devices.delivery import Delivery
from devices.health import ReceiverHealth
from loa.clock import Clock, utc_iso


def alert_policy(config: HealthConfig) -> AlertPolicy:
    """The alert thresholds of the `health` config."""
    return AlertPolicy(
        offline_after_s=config.offline_alert_after,
        silent_after_s=config.silent_alert_after,
        weak_rsrp_dbm=config.weak_rsrp_dbm,
        weak_rssi_dbm=config.weak_rssi_dbm,
        low_battery_v=config.low_battery_v,
        clock_offset_ms=config.clock_offset_alert_ms,
        storage_low_mb=config.storage_low_mb,
    )


def receiver_data(machine: ReceiverHealth) -> dict[str, Any]:
    """What the dashboard shows of a receiver's health (also the API's `live` part)."""
    return {
        "id": machine.receiver_id,
        **health_data(
            machine.state, machine.since, machine.cause, machine.last_heard, machine.telemetry
        ),
    }


def health_data(
    state: str,
    since: datetime | None,
    cause: str,
    last_heard: datetime | None,
    telemetry: dict[str, Any] | None,
) -> dict[str, Any]:
    """A receiver's health as the dashboard and the API show it, live or as stored."""
    telemetry = telemetry or {}
    net = telemetry.get("net") or {}
    power = telemetry.get("power") or {}
    return {
        "state": state,
        "since": _iso(since),
        "cause": cause,
        "last_heard": _iso(last_heard),
        "rsrp_dbm": net.get("rsrp_dbm"),
        "rssi_dbm": net.get("rssi_dbm"),
        "network": net.get("type"),
        "power": power.get("source"),
        "battery_v": power.get("battery_v"),
        "volume": telemetry.get("volume"),
        "playing": telemetry.get("playing"),
    }


def alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "kind": alert.kind,
        "severity": alert.severity,
        "message": alert.message,
        "since": _iso(alert.since),
    }


class LiveSources:
    """Turns the controller's reports into `LiveEvent`s on `hub`."""

    def __init__(self, hub: LiveHub, policy: AlertPolicy, clock: Clock) -> None:
        self._hub = hub
        self._policy = policy
        self._clock = clock
        self._alert_kinds: dict[str, tuple[str, ...]] = {}

    def receiver_changed(self, machine: ReceiverHealth) -> None:
        data = receiver_data(machine)
        self._hub.publish(LiveEvent("receiver", f"receiver:{machine.receiver_id}", data))
        self._check_alerts(machine, self._clock.now())

    def delivery_moved(self, delivery: Delivery) -> None:
        data = {
            "occurrence": delivery.occurrence,
            "receiver": delivery.receiver,
            "state": delivery.state,
            "reason": delivery.reason,
            "at": utc_iso(delivery.updated_at),
        }
        key = f"delivery:{delivery.occurrence}:{delivery.receiver}"
        self._hub.publish(LiveEvent("delivery", key, data, occurrence=delivery.occurrence))

    def occurrence_finished(self, occurrence_id: str, state: str) -> None:
        data = {"id": occurrence_id, "state": state}
        event = LiveEvent("occurrence", f"occurrence:{occurrence_id}", data, occurrence_id)
        self._hub.publish(event)

    def link_changed(self, connected: bool, detail: str | None) -> None:
        self._hub.publish(LiveEvent("link", "link", {"connected": connected, "detail": detail}))

    def tick(self, machines: list[ReceiverHealth]) -> None:
        """Alerts that time alone brings (offline for longer than the threshold)."""
        now = self._clock.now()
        for machine in machines:
            self._check_alerts(machine, now)

    def _check_alerts(self, machine: ReceiverHealth, now: datetime) -> None:
        snapshot = HealthSnapshot(
            machine.receiver_id, machine.state, machine.since, machine.cause, machine.telemetry
        )
        found = alerts(snapshot, self._policy, now)
        kinds = tuple(alert.kind for alert in found)
        if self._alert_kinds.get(machine.receiver_id, ()) == kinds:
            return
        self._alert_kinds[machine.receiver_id] = kinds
        data = {"receiver": machine.receiver_id, "alerts": [alert_data(a) for a in found]}
        self._hub.publish(LiveEvent("alerts", f"alerts:{machine.receiver_id}", data))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)
