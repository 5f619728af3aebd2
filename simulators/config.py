"""Settings of simulated receivers: where the broker is, and how the firmware behaves.

`SimSettings` is what a fleet's receivers share; `ReceiverSpec` is what each
one has of its own. Both are plain data, so the CLI can build them from the
registry and its config without the simulator knowing either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.ids import check_id
from devices.protocol import Topics
from devices.protocol.fields import check_token
from devices.protocol.receiver import MAX_HEARTBEAT_S

DEFAULT_CAPABILITIES = ("mp3", "chunks-v1")


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

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


@dataclass(frozen=True)
class ReceiverSpec:
    """One receiver to simulate: its id and how often it sends a heartbeat."""

    id: str
    heartbeat_s: int = 60

    def __post_init__(self) -> None:
        check_id(self.id)
        if not 1 <= self.heartbeat_s <= MAX_HEARTBEAT_S:
            raise ValueError(
                f"heartbeat_s of {self.id} must be from 1 to {MAX_HEARTBEAT_S}, "
                f"not {self.heartbeat_s}"
            )
