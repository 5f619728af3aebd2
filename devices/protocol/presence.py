"""The controller's presence message (retained, QoS 1, on `Topics.controller_status`).

JSON object, UTF-8:

| field      | type    | meaning                                                        |
|------------|---------|----------------------------------------------------------------|
| `v`        | int     | protocol version, 1                                            |
| `state`    | string  | `online` or `offline`                                          |
| `epoch`    | int     | the controller's session epoch; grows on every (re)connection  |
| `reason`   | string  | for `offline`: `shutdown` (clean stop) or `lost` (Last Will)    |
| `since`    | string  | UTC instant (ISO 8601, `Z`) the connection of this epoch began |
| `version`  | string  | Loa's software version                                         |

A reader keeps the message with the highest epoch: an `offline` of an older
epoch (a late Last Will) never overrides a newer `online`. Unknown fields are
ignored, for forward compatibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from devices.protocol.fields import MAX_SAFE_INT, Body, dumps
from loa.clock import utc_iso
from loa.errors import DecodeError

PresenceState = Literal["online", "offline"]
OfflineReason = Literal["shutdown", "lost"]
STATES: tuple[PresenceState, ...] = ("online", "offline")
REASONS: tuple[OfflineReason, ...] = ("shutdown", "lost")


@dataclass(frozen=True)
class ControllerPresence:
    state: PresenceState
    epoch: int
    since: datetime
    version: str
    reason: OfflineReason | None = None

    def __post_init__(self) -> None:
        if self.state not in ("online", "offline"):
            raise ValueError(f"state must be 'online' or 'offline', not {self.state!r}")
        if not 1 <= self.epoch <= MAX_SAFE_INT:
            raise ValueError(f"epoch must be from 1 to {MAX_SAFE_INT}, not {self.epoch}")
        if self.since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        if (self.state == "online") != (self.reason is None):
            raise ValueError("an offline presence has a reason, an online one has none")
        if self.reason not in (None, "shutdown", "lost"):
            raise ValueError(f"reason must be 'shutdown' or 'lost', not {self.reason!r}")

    def supersedes(self, other: ControllerPresence) -> bool:
        """True when this message is newer news than `other`.

        A higher epoch wins; within one epoch, `offline` follows `online`.
        """
        if self.epoch != other.epoch:
            return self.epoch > other.epoch
        return self.state == "offline" and other.state == "online"

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": 1,
            "state": self.state,
            "epoch": self.epoch,
            "since": utc_iso(self.since),
            "version": self.version,
        }
        if self.reason is not None:
            body["reason"] = self.reason
        return dumps(body)

    @classmethod
    def decode(cls, payload: bytes, topic: str | None = None) -> ControllerPresence:
        body = Body(payload, topic, "controller presence")
        state = body.choice("state", STATES)
        try:
            return cls(
                state=state,
                epoch=body.integer("epoch", 1),
                since=body.instant("since"),
                version=body.text("version", 100),
                reason=body.choice("reason", REASONS) if state == "offline" else None,
            )
        except ValueError as exc:
            raise DecodeError(f"controller presence is not valid: {exc}", topic=topic) from exc
