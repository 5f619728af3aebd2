"""Each simulated receiver's clock and flash: drawn from the seed, fixed by its spec, cleaned up."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.config import ReceiverSpec, SimSettings
from simulators.fleet import Fleet


def offsets(fleet: Fleet) -> dict[str, float]:
    return {r.id: r.sim_clock.offset_s for r in fleet}


def test_clocks_are_off_by_up_to_the_skew_the_same_for_the_same_seed(tmp_path: Path) -> None:
    settings = SimSettings(clock_skew_s=2.0, clock_drift_ppm=30, data_root=tmp_path)
    ids = [(f"rx-{n:02d}", 60) for n in range(40)]
    one = Fleet(ids, settings, seed=5)
    again = Fleet(list(reversed(ids)), settings, seed=5)
    other = Fleet(ids, settings, seed=6)
    assert offsets(one) == offsets(again)
    assert offsets(one) != offsets(other)
    assert all(abs(o) <= 2.0 for o in offsets(one).values())
    assert max(offsets(one).values()) - min(offsets(one).values()) > 2.0  # they do differ
    assert all(abs(r.sim_clock.drift_ppm) <= 30 for r in one)


def test_without_a_skew_a_clock_has_its_telemetry_profiles_small_offset(tmp_path: Path) -> None:
    (receiver,) = Fleet([("rx-01", 60)], SimSettings(data_root=tmp_path), seed=1)
    assert receiver.sim_clock.offset_s == receiver.telemetry.profile.clock_offset_ms / 1000


def test_a_spec_fixes_its_receivers_clock(tmp_path: Path) -> None:
    spec = ReceiverSpec("rx-01", 60, clock_offset_s=-1.25, clock_drift_ppm=7.0)
    (receiver,) = Fleet([spec], SimSettings(clock_skew_s=2.0, data_root=tmp_path))
    assert (receiver.sim_clock.offset_s, receiver.sim_clock.drift_ppm) == (-1.25, 7.0)


async def test_a_fleet_without_a_data_root_has_a_temporary_one_until_it_stops() -> None:
    fleet = Fleet([("rx-01", 60)], SimSettings())
    root = fleet.settings.data_root
    assert root is not None
    assert not root.exists()  # made by the first receiver that keeps something
    (root / "rx-01").mkdir(parents=True)
    await fleet.stop()
    assert not root.exists()


async def test_a_given_data_root_is_kept(tmp_path: Path) -> None:
    fleet = Fleet([("rx-01", 60)], SimSettings(data_root=tmp_path))
    await fleet.stop()
    assert tmp_path.is_dir()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cache_bytes", 0, "cache_bytes"),
        ("clock_skew_s", -1.0, "clock_skew_s"),
        ("clock_drift_ppm", -1.0, "clock_drift_ppm"),
        ("time_sync_requests", 0, "time_sync"),
        ("repair_wait_s", 0.0, "repair_wait_s"),
        ("emergency_chunks", 0, "emergency_chunks"),
    ],
)
def test_delivery_settings_are_checked(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimSettings(**{field: value})  # type: ignore[arg-type]
