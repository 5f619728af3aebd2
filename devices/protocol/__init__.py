"""Wire protocol v1: topics and messages shared by the controller and the receivers.

`docs/protocol.md` is the contract in prose; this package is the one place that
builds and parses topics and encodes and decodes messages.
"""

from devices.protocol.presence import ControllerPresence
from devices.protocol.receiver import (
    Heartbeat,
    Power,
    ReceiverBirth,
    ReceiverOffline,
    ReceiverStatus,
    Signal,
    decode_heartbeat,
    decode_status,
)
from devices.protocol.topics import PROTOCOL_VERSION, Topics

__all__ = [
    "PROTOCOL_VERSION",
    "ControllerPresence",
    "Heartbeat",
    "Power",
    "ReceiverBirth",
    "ReceiverOffline",
    "ReceiverStatus",
    "Signal",
    "Topics",
    "decode_heartbeat",
    "decode_status",
]
