"""Simulated telemetry: the same seed gives the same numbers, and they behave like a village's."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import UTC, datetime, timedelta

from devices.protocol import Heartbeat
from devices.protocol.receiver import decode_heartbeat
from simulators.telemetry import Profile, Telemetry, is_daytime, local_hour

# 2026-06-01 00:00 UTC is 07:00 in Cao Bằng
MORNING = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def solar(seed: int = 0) -> Telemetry:
    for n in range(seed, seed + 1000):
        telemetry = Telemetry(random.Random(n))
        if telemetry.profile.source == "solar":
            return telemetry
    raise AssertionError("no solar receiver in 1000 seeds")


def run(telemetry: Telemetry, start: datetime, hours: float, step_s: int = 600) -> list[float]:
    volts = []
    for n in range(int(hours * 3600 / step_s) + 1):
        sample = telemetry.sample(start + timedelta(seconds=n * step_s))
        assert sample.power.battery_v is not None
        volts.append(sample.power.battery_v)
    return volts


def test_the_same_seed_gives_the_same_samples() -> None:
    one, two = Telemetry(random.Random(5)), Telemetry(random.Random(5))
    for n in range(20):
        at = MORNING + timedelta(minutes=n)
        assert one.sample(at) == two.sample(at)


def test_local_time_is_utc_plus_seven() -> None:
    assert local_hour(MORNING) == 7.0
    assert is_daytime(MORNING)
    assert not is_daytime(MORNING + timedelta(hours=12))  # 19:00


def test_a_solar_battery_charges_by_day_and_drains_at_night() -> None:
    telemetry = solar()
    telemetry.battery_v = 12.0
    day = run(telemetry, MORNING, hours=4)  # 07:00-11:00
    assert day[-1] > day[0] + 1.0
    night = run(telemetry, MORNING + timedelta(hours=13), hours=6)  # 20:00-02:00
    assert night[-1] < night[1] - 0.5
    assert all(later <= earlier for earlier, later in itertools.pairwise(night[1:]))


def test_the_cabinet_is_warmer_in_the_afternoon_than_before_dawn() -> None:
    telemetry = Telemetry(random.Random(1))
    afternoon = telemetry.temperature(MORNING + timedelta(hours=7))  # 14:00
    dawn = telemetry.temperature(MORNING - timedelta(hours=2))  # 05:00
    assert afternoon > dawn + 8


def test_signal_wanders_around_its_mean() -> None:
    telemetry = Telemetry(random.Random(3))
    rssi = [telemetry.sample(MORNING + timedelta(minutes=n)).signal.rssi_dbm for n in range(500)]
    assert len(set(rssi)) > 5
    assert abs(statistics.mean(r for r in rssi if r is not None) - telemetry.profile.rssi_mean) < 3


def test_a_fleet_is_mostly_4g_with_a_few_weak_receivers() -> None:
    profiles = [Profile.draw(random.Random(n)) for n in range(1000)]
    assert sum(p.network == "4g" for p in profiles) > 750
    weak = sum(p.rssi_mean < -90 for p in profiles)
    assert 40 < weak < 200
    assert {p.source for p in profiles} == {"mains", "solar", "battery"}


def test_samples_make_valid_heartbeats() -> None:
    for seed in range(50):
        telemetry = Telemetry(random.Random(seed))
        sample = telemetry.sample(MORNING)
        heartbeat = Heartbeat(
            id="cb-tl-01",
            epoch=1,
            seq=0,
            at=MORNING,
            signal=sample.signal,
            power=sample.power,
            volume=sample.volume,
            temperature_c=sample.temperature_c,
            storage_free_mb=sample.storage_free_mb,
            clock_offset_ms=sample.clock_offset_ms,
        )
        assert decode_heartbeat(heartbeat.encode(), "cb-tl-01") == heartbeat
