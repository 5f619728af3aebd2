"""Receivers' health over time: `receiver_samples`, for the dashboard's history charts.

The store keeps only the latest telemetry of a receiver (`receiver_health`); the ingest
also writes a sample here now and then (at most one per receiver every few minutes):
its health state and the signal and battery the latest telemetry reported. Samples
older than `KEEP_DAYS` days are pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, insert, select

from controller.store.schema import receiver_samples
from controller.store.store import Store

#: How long samples are kept.
KEEP_DAYS: Final = 30


@dataclass(frozen=True)
class Sample:
    """A receiver's health at one instant."""

    receiver_id: str
    at: datetime
    state: str
    rsrp_dbm: int | None = None
    rssi_dbm: int | None = None
    battery_v: float | None = None


def sample_of(
    receiver_id: str, at: datetime, state: str, telemetry: dict[str, Any] | None
) -> Sample:
    """A sample from a receiver's state and its latest telemetry (`net`, `power`)."""
    net = _section(telemetry, "net")
    power = _section(telemetry, "power")
    return Sample(
        receiver_id,
        at,
        state,
        _int(net.get("rsrp_dbm")),
        _int(net.get("rssi_dbm")),
        _float(power.get("battery_v")),
    )


async def write_samples(store: Store, samples: Sequence[Sample]) -> None:
    """Append `samples` in one transaction."""
    if not samples:
        return
    async with store.write() as session:
        await session.execute(
            insert(receiver_samples),
            [
                {
                    "receiver_id": s.receiver_id,
                    "at": s.at,
                    "state": s.state[:16],
                    "rsrp_dbm": s.rsrp_dbm,
                    "rssi_dbm": s.rssi_dbm,
                    "battery_v": s.battery_v,
                }
                for s in samples
            ],
        )


async def samples_between(
    store: Store, receiver_id: str, start: datetime, end: datetime
) -> list[Sample]:
    """The samples of `receiver_id` in [start, end), oldest first."""
    table = receiver_samples
    query = (
        select(table)
        .where(table.c.receiver_id == receiver_id, table.c.at >= start, table.c.at < end)
        .order_by(table.c.at, table.c.id)
    )
    async with store.read() as session:
        rows = (await session.execute(query)).all()
    return [Sample(r.receiver_id, r.at, r.state, r.rsrp_dbm, r.rssi_dbm, r.battery_v) for r in rows]


async def prune_samples(store: Store, now: datetime, keep_days: float = KEEP_DAYS) -> int:
    """Delete the samples older than `keep_days` days before `now`; how many went."""
    cutoff = now - timedelta(days=keep_days)
    async with store.write() as session:
        result = await session.execute(
            delete(receiver_samples).where(receiver_samples.c.at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def _section(telemetry: dict[str, Any] | None, name: str) -> dict[str, Any]:
    part = (telemetry or {}).get(name)
    return part if isinstance(part, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
