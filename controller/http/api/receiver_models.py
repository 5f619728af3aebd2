"""The answer models of `/api/v1/receivers`, `/api/v1/alerts` and `/api/v1/uptime`
(`controller.http.api.receivers`): what the OpenAPI schema shows of a receiver, its
history, uptime and alerts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AlertOut(BaseModel):
    kind: str
    severity: str
    message: str
    since: str | None


class ReceiverOut(BaseModel):
    """A receiver: where it is (registry) and how it is now (live health, alerts)."""

    id: str
    name: str
    village_id: str
    village_name: str
    commune_id: str | None
    commune_name: str | None
    lat: float | None
    lon: float | None
    languages: list[str]
    groups: list[str]
    state: str
    since: str | None
    cause: str
    last_heard: str | None
    rsrp_dbm: int | None
    rssi_dbm: int | None
    network: str | None
    power: str | None
    battery_v: float | None
    volume: int | None
    playing: Any
    firmware: str | None
    alerts: list[AlertOut]


class TransitionOut(BaseModel):
    at: str
    from_state: str
    to_state: str
    cause: str


class ReceiverDetailOut(ReceiverOut):
    """Everything about one receiver."""

    province_id: str | None
    province_name: str | None
    group_names: list[str]
    speakers: int
    installed: str | None
    notes: str
    heartbeat_s: int
    capabilities: list[str]
    telemetry: dict[str, Any] | None
    telemetry_at: str | None
    registered_at: str
    #: The newest state changes, newest first.
    transitions: list[TransitionOut]


class SampleOut(BaseModel):
    at: str
    state: str
    rsrp_dbm: int | None
    rssi_dbm: int | None
    battery_v: float | None


class HistoryOut(BaseModel):
    receiver: str
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")
    #: The link state when the period began.
    state_at_start: str
    transitions: list[TransitionOut]
    samples: list[SampleOut]


class UptimeOut(BaseModel):
    id: str
    uptime: float
    changes: int


class ReceiverUptimeOut(UptimeOut):
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")


class UptimesOut(BaseModel):
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")
    receivers: list[UptimeOut]


class AlertItem(AlertOut):
    receiver: str
    name: str | None
    village_name: str | None
