"""Plausible, varying telemetry for one simulated receiver.

Each receiver draws a profile from its own `random.Random` (the same seed gives
the same fleet): a mean signal level (a few receivers sit in a valley with a
weak signal), a network (4G mostly), a power source, a volume, a storage card
and a clock that is a little off. Every sample then moves:

- RSSI and RSRP follow a random walk pulled back towards the receiver's mean;
- on solar power the battery charges by day and drains at night, on battery
  alone it only drains (until a technician swaps it, which resets it); day and
  night follow the local time of Vietnam (UTC+7) of the simulated clock;
- the cabinet temperature follows the day, warmest in the early afternoon;
- free storage shrinks a little as audio is cached, and is freed again.

Faults are set from outside (`amplifier`, `speakers`) and reported as they are.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from devices.protocol.receiver import AmplifierStatus, Network, Power, PowerSource, Signal

#: Local time in the communes: Indochina Time, no daylight saving.
LOCAL = timezone(timedelta(hours=7))
SUNRISE_HOUR = 6.0
SUNSET_HOUR = 18.0
#: A 12 V lead-acid bank: empty, full.
BATTERY_EMPTY_V = 11.2
BATTERY_FULL_V = 14.2
CHARGE_V_PER_HOUR = 0.45
DRAIN_V_PER_HOUR = 0.12
WEAK_SIGNAL_SHARE = 0.1


@dataclass(frozen=True)
class Profile:
    """What stays the same for one receiver."""

    rssi_mean: float
    rsrp_mean: float
    network: Network
    source: PowerSource
    volume: int
    storage_mb: int
    clock_offset_ms: int
    warmth_c: float

    @classmethod
    def draw(cls, rng: random.Random) -> Profile:
        weak = rng.random() < WEAK_SIGNAL_SHARE
        rssi = rng.uniform(-101, -93) if weak else rng.uniform(-85, -63)
        network: Network = rng.choices(("4g", "3g", "2g"), weights=(90, 8, 2))[0]
        if weak and network == "4g" and rng.random() < 0.5:
            network = "3g"
        source: PowerSource = rng.choices(("mains", "solar", "battery"), weights=(60, 32, 8))[0]
        return cls(
            rssi_mean=rssi,
            rsrp_mean=rssi - rng.uniform(18, 26),
            network=network,
            source=source,
            volume=rng.choice((60, 70, 75, 80, 85, 90, 100)),
            storage_mb=rng.choice((3_500, 7_400, 14_800, 29_700)),
            clock_offset_ms=round(rng.gauss(0, 120)),
            warmth_c=rng.uniform(2, 7),
        )


@dataclass(frozen=True)
class Sample:
    """One heartbeat's worth of telemetry."""

    signal: Signal
    power: Power
    temperature_c: float
    storage_free_mb: int
    clock_offset_ms: int
    volume: int


class Telemetry:
    """The changing state of one receiver; `sample(now)` moves it to `now` and reads it.

    The profile and the starting state come from `rng`; the noise of each sample
    from `noise` (default: `rng`). A fleet shares one `noise` generator among its
    receivers: a `random.Random` holds 2.5 KB of state, more than the rest of a
    receiver's telemetry.
    """

    def __init__(self, rng: random.Random, noise: random.Random | None = None) -> None:
        self.profile = profile = Profile.draw(rng)
        self.rssi = profile.rssi_mean
        self.rsrp = profile.rsrp_mean
        self.battery_v = rng.uniform(12.4, 13.6)
        self.storage_free_mb = int(profile.storage_mb * rng.uniform(0.55, 0.9))
        self.amplifier: AmplifierStatus = "ok"
        self.speakers_ok = True
        self._last: datetime | None = None
        self.rng = noise or rng

    def sample(self, now: datetime) -> Sample:
        hours = 0.0 if self._last is None else (now - self._last).total_seconds() / 3600
        self._last = now
        self._walk_signal()
        self._move_battery(now, max(0.0, hours))
        self._use_storage()
        p = self.profile
        return Sample(
            signal=Signal(p.network, rssi_dbm=round(self.rssi), rsrp_dbm=round(self.rsrp)),
            power=Power(
                p.source, battery_v=None if p.source == "mains" else round(self.battery_v, 2)
            ),
            temperature_c=round(self.temperature(now), 1),
            storage_free_mb=self.storage_free_mb,
            clock_offset_ms=p.clock_offset_ms + round(self.rng.gauss(0, 15)),
            volume=p.volume,
        )

    def temperature(self, now: datetime) -> float:
        """Cabinet temperature: about 17 C before dawn to 29 C at 14:00, plus its own warmth."""
        hour = local_hour(now)
        daily = 6.0 * math.cos((hour - 14.0) / 24.0 * 2 * math.pi)
        return 23.0 + daily + self.profile.warmth_c + self.rng.gauss(0, 0.3)

    def _walk_signal(self) -> None:
        p = self.profile
        self.rssi += 0.2 * (p.rssi_mean - self.rssi) + self.rng.gauss(0, 1.5)
        self.rsrp += 0.2 * (p.rsrp_mean - self.rsrp) + self.rng.gauss(0, 1.5)
        self.rssi = min(-40.0, max(-120.0, self.rssi))
        self.rsrp = min(-60.0, max(-140.0, self.rsrp))

    def _move_battery(self, now: datetime, hours: float) -> None:
        source = self.profile.source
        if source == "mains" or hours == 0:
            return
        if source == "solar" and is_daytime(now):
            self.battery_v = min(BATTERY_FULL_V, self.battery_v + CHARGE_V_PER_HOUR * hours)
        else:
            self.battery_v -= DRAIN_V_PER_HOUR * hours
        if self.battery_v < BATTERY_EMPTY_V:
            self.battery_v = (
                BATTERY_FULL_V - 0.4 if source == "battery" else BATTERY_EMPTY_V
            )  # a technician swapped the battery; a solar bank just stays flat

    def _use_storage(self) -> None:
        change = self.rng.choice((-64, -16, 0, 0, 0, 0, 16, 64))
        self.storage_free_mb = min(self.profile.storage_mb, max(0, self.storage_free_mb + change))


def local_hour(now: datetime) -> float:
    """The hour of the day (0-24, fractional) in Vietnam at `now`."""
    local = now.astimezone(LOCAL)
    return local.hour + local.minute / 60 + local.second / 3600


def is_daytime(now: datetime) -> bool:
    return SUNRISE_HOUR <= local_hour(now) < SUNSET_HOUR
