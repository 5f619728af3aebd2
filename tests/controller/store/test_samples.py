"""Receivers' health samples (`receiver_samples`) on SQLite and PostgreSQL, and how the
ingest writes them: at most one per receiver every `SAMPLE_SECONDS`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.config.model import HealthConfig
from controller.ingest.receivers import SAMPLE_SECONDS, ReceiverIngest
from controller.store import Store, import_registry
from controller.store.samples import (
    Sample,
    prune_samples,
    sample_of,
    samples_between,
    write_samples,
)
from devices.protocol import Topics
from devices.registry import Group, Receiver

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
VILLAGE = Group("v-1", "Thôn Một", "village", parent_id="c-1")
GROUPS = [Group("p-1", "Tỉnh", "province"), Group("c-1", "Xã", "commune", "p-1"), VILLAGE]


async def registered(store: Store, *ids: str) -> None:
    receivers = [Receiver(i, f"Loa {i}", VILLAGE.id, lat=22.7, lon=106.2) for i in ids]
    await import_registry(store, GROUPS, receivers, dry_run=False, at=NOW)


async def test_samples_are_written_read_by_receiver_and_period_and_pruned(store: Store) -> None:
    await registered(store, "r-1", "r-2")
    old = NOW - timedelta(days=31)
    await write_samples(
        store,
        [
            Sample("r-1", old, "online", -90, None, 12.5),
            Sample("r-1", NOW - timedelta(hours=2), "online", -95, -70, 12.4),
            Sample("r-1", NOW - timedelta(hours=1), "offline"),
            Sample("r-2", NOW - timedelta(hours=1), "online", -100, None, None),
        ],
    )
    found = await samples_between(store, "r-1", NOW - timedelta(days=7), NOW)
    assert [(s.at, s.state, s.rsrp_dbm, s.rssi_dbm, s.battery_v) for s in found] == [
        (NOW - timedelta(hours=2), "online", -95, -70, 12.4),
        (NOW - timedelta(hours=1), "offline", None, None, None),
    ]
    assert await prune_samples(store, NOW) == 1
    everything = await samples_between(store, "r-1", old - timedelta(days=1), NOW)
    assert len(everything) == 2  # the 31-day-old sample is gone, the others stay


def test_a_sample_takes_signal_and_battery_from_the_latest_telemetry() -> None:
    telemetry = {"net": {"rsrp_dbm": -97, "type": "4g"}, "power": {"battery_v": 12}}
    sample = sample_of("r-1", NOW, "online", telemetry)
    assert (sample.rsrp_dbm, sample.rssi_dbm, sample.battery_v) == (-97, None, 12.0)
    assert sample_of("r-1", NOW, "offline", None).rsrp_dbm is None


class StepClock:
    def __init__(self, now: datetime) -> None:
        self.at = now
        self.tick = 0.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.tick

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.tick += seconds


async def test_the_ingest_samples_each_receiver_at_most_every_ten_minutes(store: Store) -> None:
    await registered(store, "r-1", "r-2")
    clock = StepClock(NOW)
    ingest = ReceiverIngest(Topics("loa"), store, clock, HealthConfig())
    await ingest.load()
    ingest._changed.update(("r-1", "r-2"))
    await ingest.flush()
    first = await samples_between(store, "r-1", NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(s.at, s.state) for s in first] == [(NOW, "offline")]
    # A change within ten minutes writes the health row, but no second sample.
    await clock.sleep(SAMPLE_SECONDS / 2)
    ingest._changed.add("r-1")
    await ingest.flush()
    assert len(await samples_between(store, "r-1", NOW, NOW + timedelta(days=1))) == 1
    await clock.sleep(SAMPLE_SECONDS / 2)
    ingest._changed.add("r-1")
    await ingest.flush()
    later = await samples_between(store, "r-1", NOW, NOW + timedelta(days=1))
    assert [s.at for s in later] == [NOW, clock.now()]
    others = await samples_between(store, "r-2", NOW, NOW + timedelta(days=1))
    assert len(others) == 1  # r-2 changed nothing since
