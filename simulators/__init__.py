"""Simulated receivers: firmware written from `docs/protocol.md` and `devices` alone.

`simulators` imports `devices`, `audio` (chunk manifests, decoding to WAV) and
`loa` only (never `controller`, aiomqtt or paho), like a vendor's firmware
would: if a simulator needs the controller to speak the protocol, the protocol
is not written down well enough.

- `SimReceiver`: one receiver with its own MQTT connection, its telemetry and
  its faults (power cut, half-open link, speaker or amplifier fault, reboot);
- `Fleet`: many receivers on one event loop, started at a ramp;
- `generate_commune()`: a plausible Cao Bằng commune to import and simulate;
- `simulators.delivery`: the bulletin firmware of a receiver (signed commands,
  chunks and repair, a content cache on disk, a clock corrected by time sync,
  the player with its priority ladder, receipts and proof of play);
- its MQTT is `loa.mqtt`, the client the controller uses too, with the faults built in.
"""

from simulators.commune import GeneratedCommune, generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.delivery import DeliveryAgent, DeliveryCounters, Heard
from simulators.epochs import EpochStore
from simulators.fleet import Fleet, FleetStatus
from simulators.receiver import Counters, SimReceiver

__all__ = [
    "BrokerAddress",
    "Counters",
    "DeliveryAgent",
    "DeliveryCounters",
    "EpochStore",
    "Fleet",
    "FleetStatus",
    "GeneratedCommune",
    "Heard",
    "ReceiverSpec",
    "SimReceiver",
    "SimSettings",
    "generate_commune",
]
