"""Settings of simulated receivers: where the broker is, and how the firmware behaves.

`SimSettings` is what a fleet's receivers share; `ReceiverSpec` is what each
one has of its own. Both are plain data, so the CLI can build them from the
registry and its config without the simulator knowing either.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from devices.ids import check_id
from devices.protocol import Topics
from devices.protocol.fields import check_token
from devices.protocol.receiver import MAX_HEARTBEAT_S
from devices.protocol.signing import VerifyKey

DEFAULT_CAPABILITIES = ("mp3", "chunks-v1")
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"broker port must be from 1 to 65535, not {self.port}")
        if self.password is not None and self.username is None:
            raise ValueError("a broker password needs a user name (MQTT 3.1.1)")


@dataclass(frozen=True)
class SimSettings:
    """What every receiver of a fleet shares.

    `keepalive` is the MQTT keepalive in seconds; `reboot_delay` how long a
    rebooting receiver stays away; `backoff_initial`/`backoff_max` bound the
    jittered exponential wait between connection attempts; `connect_timeout`
    bounds a connection attempt and `ack_timeout` a PUBACK or SUBACK.

    Delivery (`simulators.delivery`): `public_key` is the controller's key the
    receivers are provisioned with (None: they verify nothing, so they refuse every
    command as `bad_signature`); each receiver keeps its flash (content cache,
    command ids, occurrences) in `<data_root>/<id>/` (None: a temporary folder,
    one per fleet), its cache holding at most `cache_bytes`; `wav_dir`, when set,
    receives a WAV of every occurrence played. Clocks: each receiver's is off by
    up to `clock_skew_s` either way (None: the small offset of its telemetry
    profile) and drifts up to `clock_drift_ppm` either way; it sends
    `time_sync_requests` clock requests at each connection and every
    `time_sync_interval_s`. `repair_wait_s` is the repair rule's wait, and an
    occurrence without `play_at` starts once its first `emergency_chunks` are in.
    """

    broker: BrokerAddress = field(default_factory=BrokerAddress)
    topic_prefix: str = "loa"
    keepalive: int = 60
    firmware: str = "loa-sim 0.1.0"
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    reboot_delay: float = 3.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 10.0
    ack_timeout: float = 10.0
    public_key: VerifyKey | None = None
    data_root: Path | None = None
    cache_bytes: int = DEFAULT_CACHE_BYTES
    wav_dir: Path | None = None
    clock_skew_s: float | None = None
    clock_drift_ppm: float = 20.0
    time_sync_interval_s: float = 300.0
    time_sync_requests: int = 4
    repair_wait_s: float = 5.0
    emergency_chunks: int = 2

    def __post_init__(self) -> None:
        Topics(self.topic_prefix)  # raises ValueError naming a bad level
        if not 0 <= self.keepalive <= 0xFFFF:
            raise ValueError(f"keepalive must be from 0 to 65535 s, not {self.keepalive}")
        if len(self.firmware) > 100:
            raise ValueError("firmware must be at most 100 characters")
        for capability in self.capabilities:
            check_token(capability, "capability")
        if self.reboot_delay < 0:
            raise ValueError("reboot_delay must be >= 0")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("expected 0 < backoff_initial <= backoff_max")
        if self.connect_timeout <= 0 or self.ack_timeout <= 0:
            raise ValueError("connect_timeout and ack_timeout must be > 0")
        if self.cache_bytes < 1:
            raise ValueError(f"cache_bytes must be at least 1, not {self.cache_bytes}")
        if self.clock_skew_s is not None and self.clock_skew_s < 0:
            raise ValueError(f"clock_skew_s must be >= 0, not {self.clock_skew_s}")
        if self.clock_drift_ppm < 0:
            raise ValueError(f"clock_drift_ppm must be >= 0, not {self.clock_drift_ppm}")
        if self.time_sync_interval_s <= 0 or self.time_sync_requests < 1:
            raise ValueError("expected time_sync_interval_s > 0 and time_sync_requests >= 1")
        if self.repair_wait_s <= 0 or self.emergency_chunks < 1:
            raise ValueError("expected repair_wait_s > 0 and emergency_chunks >= 1")

    @functools.cached_property
    def topics(self) -> Topics:
        """The topic tree (made once: thousands of receivers share these settings)."""
        return Topics(self.topic_prefix)


@dataclass(frozen=True)
class ReceiverSpec:
    """One receiver to simulate: its id, how often it sends a heartbeat, and its clock.

    `clock_offset_s` (seconds ahead of true time) and `clock_drift_ppm` fix its
    clock; None draws them from the fleet's settings.
    """

    id: str
    heartbeat_s: int = 60
    clock_offset_s: float | None = None
    clock_drift_ppm: float | None = None

    def __post_init__(self) -> None:
        check_id(self.id)
        if not 1 <= self.heartbeat_s <= MAX_HEARTBEAT_S:
            raise ValueError(
                f"heartbeat_s of {self.id} must be from 1 to {MAX_HEARTBEAT_S}, "
                f"not {self.heartbeat_s}"
            )
