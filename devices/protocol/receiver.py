"""Messages a receiver sends: its status (birth / offline, also its Last Will) and heartbeats.

Field names on the wire are in `docs/protocol.md`; each class encodes to and
decodes from exactly that JSON. Decoding checks that the `id` in the body is
the id in the topic, so a receiver cannot speak for another on its own topic.

A birth may list the `groups` the receiver is subscribed to (its last `assign`):
`None` means the field is absent (a receiver that was never assigned, or older
firmware) and is not written; an empty tuple is written as `[]` (assigned to no
group). Either way the controller compares it with the registry and sends an
`assign` when they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from devices.ids import check_id
from devices.protocol.fields import MAX_SAFE_INT, Body, check_identity, check_token, dumps
from loa.clock import utc_iso
from loa.errors import DecodeError

OfflineReason = Literal["lost", "shutdown", "reboot"]
Network = Literal["4g", "3g", "2g", "wifi", "ethernet"]
PowerSource = Literal["mains", "battery", "solar"]
AmplifierStatus = Literal["ok", "fault", "off"]
SpeakerStatus = Literal["ok", "fault"]

OFFLINE_REASONS: tuple[OfflineReason, ...] = ("lost", "shutdown", "reboot")
NETWORKS: tuple[Network, ...] = ("4g", "3g", "2g", "wifi", "ethernet")
POWER_SOURCES: tuple[PowerSource, ...] = ("mains", "battery", "solar")
AMPLIFIER_STATES: tuple[AmplifierStatus, ...] = ("ok", "fault", "off")
SPEAKER_STATES: tuple[SpeakerStatus, ...] = ("ok", "fault")

MAX_HEARTBEAT_S = 86_400
#: The most groups a receiver belongs to (village, commune, district, province, free groups).
MAX_GROUPS = 64


def _aware(value: datetime | None, what: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")


def _in(value: float | None, low: float, high: float, what: str) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{what} must be from {low:g} to {high:g}, not {value}")


@dataclass(frozen=True)
class ReceiverBirth:
    """`state: online` on `rx/<id>/status`, retained: the receiver has (re)connected."""

    id: str
    epoch: int
    at: datetime
    firmware: str
    capabilities: tuple[str, ...] = ()
    heartbeat_s: int = 60
    #: The groups it is subscribed to; None: not said (never assigned, or older firmware).
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_id(self.id)
        _in(self.epoch, 1, MAX_SAFE_INT, "epoch")
        _aware(self.at, "at")
        _in(self.heartbeat_s, 1, MAX_HEARTBEAT_S, "heartbeat_s")
        if len(self.firmware) > 100:
            raise ValueError("firmware must be at most 100 characters")
        for capability in self.capabilities:
            check_token(capability, "capability")
        if self.groups is not None:
            if len(self.groups) > MAX_GROUPS:
                raise ValueError(f"a receiver is in at most {MAX_GROUPS} groups")
            for group in self.groups:
                check_id(group, "group id")

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": 1,
            "id": self.id,
            "state": "online",
            "epoch": self.epoch,
            "at": utc_iso(self.at),
            "firmware": self.firmware,
            "capabilities": list(self.capabilities),
            "heartbeat_s": self.heartbeat_s,
        }
        if self.groups is not None:
            body["groups"] = list(self.groups)
        return dumps(body)


@dataclass(frozen=True)
class ReceiverOffline:
    """`state: offline` on `rx/<id>/status`, retained: a clean goodbye or the Last Will."""

    id: str
    epoch: int
    reason: OfflineReason
    at: datetime | None = None

    def __post_init__(self) -> None:
        check_id(self.id)
        _in(self.epoch, 1, MAX_SAFE_INT, "epoch")
        if self.reason not in OFFLINE_REASONS:
            raise ValueError(f"reason must be one of {OFFLINE_REASONS}, not {self.reason!r}")
        _aware(self.at, "at")

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": 1,
            "id": self.id,
            "state": "offline",
            "epoch": self.epoch,
            "reason": self.reason,
        }
        if self.at is not None:
            body["at"] = utc_iso(self.at)
        return dumps(body)


ReceiverStatus = ReceiverBirth | ReceiverOffline


@dataclass(frozen=True)
class Signal:
    network: Network
    rssi_dbm: int | None = None
    rsrp_dbm: int | None = None

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, not {self.network!r}")
        _in(self.rssi_dbm, -150, 0, "rssi_dbm")
        _in(self.rsrp_dbm, -160, 0, "rsrp_dbm")


@dataclass(frozen=True)
class Power:
    source: PowerSource
    battery_v: float | None = None

    def __post_init__(self) -> None:
        if self.source not in POWER_SOURCES:
            raise ValueError(f"source must be one of {POWER_SOURCES}, not {self.source!r}")
        _in(self.battery_v, 0, 100, "battery_v")


@dataclass(frozen=True)
class Heartbeat:
    """Telemetry on `rx/<id>/heartbeat`, QoS 0, every `heartbeat_s` seconds."""

    id: str
    epoch: int
    seq: int
    at: datetime
    signal: Signal
    power: Power
    amplifier: AmplifierStatus = "ok"
    speakers: SpeakerStatus = "ok"
    volume: int = 80
    temperature_c: float | None = None
    storage_free_mb: int | None = None
    clock_offset_ms: int | None = None
    playing: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id)
        _in(self.epoch, 1, MAX_SAFE_INT, "epoch")
        _in(self.seq, 0, MAX_SAFE_INT, "seq")
        _aware(self.at, "at")
        if self.amplifier not in AMPLIFIER_STATES:
            raise ValueError(f"amplifier must be one of {AMPLIFIER_STATES}")
        if self.speakers not in SPEAKER_STATES:
            raise ValueError(f"speakers must be one of {SPEAKER_STATES}")
        _in(self.volume, 0, 100, "volume")
        _in(self.temperature_c, -60, 150, "temperature_c")
        _in(self.storage_free_mb, 0, MAX_SAFE_INT, "storage_free_mb")
        _in(self.clock_offset_ms, -MAX_SAFE_INT, MAX_SAFE_INT, "clock_offset_ms")
        if self.playing is not None and len(self.playing) > 100:
            raise ValueError("playing must be at most 100 characters")

    def telemetry(self) -> dict[str, Any]:
        """The telemetry part as plain JSON data (what the controller stores and shows)."""
        body = _without_none(
            {
                "net": _without_none(
                    {
                        "type": self.signal.network,
                        "rssi_dbm": self.signal.rssi_dbm,
                        "rsrp_dbm": self.signal.rsrp_dbm,
                    }
                ),
                "power": _without_none(
                    {"source": self.power.source, "battery_v": self.power.battery_v}
                ),
                "amp": self.amplifier,
                "speakers": self.speakers,
                "volume": self.volume,
                "temp_c": self.temperature_c,
                "storage_free_mb": self.storage_free_mb,
                "clock_offset_ms": self.clock_offset_ms,
            }
        )
        body["playing"] = self.playing
        return body

    def encode(self) -> bytes:
        return dumps(
            {
                "v": 1,
                "id": self.id,
                "epoch": self.epoch,
                "seq": self.seq,
                "at": utc_iso(self.at),
                **self.telemetry(),
            }
        )


def decode_status(payload: bytes, receiver_id: str, topic: str | None = None) -> ReceiverStatus:
    """A status message from `rx/<receiver_id>/status`."""
    body = Body(payload, topic, "receiver status")
    check_identity(body, receiver_id)
    state = body.choice("state", ("online", "offline"))
    try:
        if state == "online":
            return ReceiverBirth(
                id=receiver_id,
                epoch=body.integer("epoch", 1),
                at=body.instant("at"),
                firmware=body.text("firmware", 100),
                capabilities=body.tokens("capabilities"),
                heartbeat_s=body.integer("heartbeat_s", 1, MAX_HEARTBEAT_S),
                groups=body.ids("groups", MAX_GROUPS) if body.has("groups") else None,
            )
        return ReceiverOffline(
            id=receiver_id,
            epoch=body.integer("epoch", 1),
            reason=body.choice("reason", OFFLINE_REASONS),
            at=body.opt_instant("at"),
        )
    except ValueError as exc:
        raise DecodeError(f"receiver status: {exc}", topic=topic) from exc


def decode_heartbeat(payload: bytes, receiver_id: str, topic: str | None = None) -> Heartbeat:
    """A heartbeat from `rx/<receiver_id>/heartbeat`."""
    body = Body(payload, topic, "heartbeat")
    check_identity(body, receiver_id)
    net = body.sub("net")
    power = body.sub("power")
    try:
        return Heartbeat(
            id=receiver_id,
            epoch=body.integer("epoch", 1),
            seq=body.integer("seq"),
            at=body.instant("at"),
            signal=Signal(
                network=net.choice("type", NETWORKS),
                rssi_dbm=net.opt_integer("rssi_dbm", -150, 0),
                rsrp_dbm=net.opt_integer("rsrp_dbm", -160, 0),
            ),
            power=Power(
                source=power.choice("source", POWER_SOURCES),
                battery_v=power.opt_number("battery_v", 0, 100),
            ),
            amplifier=body.choice("amp", AMPLIFIER_STATES),
            speakers=body.choice("speakers", SPEAKER_STATES),
            volume=body.integer("volume", 0, 100),
            temperature_c=body.opt_number("temp_c", -60, 150),
            storage_free_mb=body.opt_integer("storage_free_mb", 0, MAX_SAFE_INT),
            clock_offset_ms=body.opt_integer("clock_offset_ms", -MAX_SAFE_INT, MAX_SAFE_INT),
            playing=body.opt_text("playing", 100),
        )
    except ValueError as exc:
        raise DecodeError(f"heartbeat: {exc}", topic=topic) from exc


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}
