"""Wire protocol v1: topics and messages shared by the controller and the receivers.

`docs/protocol.md` is the contract in prose; this package is the one place that
builds and parses topics and encodes and decodes messages:

- `topics`: the topic tree; `presence`: the controller's presence;
- `receiver`: a receiver's birth, goodbye and heartbeats;
- `signing`: the canonical form, Ed25519 keys and the key file;
- `commands` (with `command_bodies`, `content_ref`): signed commands and the
  receiver's checks; `receipts`: receipts with proof of play, repair and clock
  requests; `priority`: the priority ladder.
"""

from devices.protocol.commands import (
    Assign,
    Cancel,
    Command,
    ContentRef,
    Play,
    Rejected,
    RejectReason,
    Restart,
    SetVolume,
    TimeReply,
    new_command_id,
    new_occurrence_id,
    open_command,
)
from devices.protocol.presence import ControllerPresence
from devices.protocol.priority import PRIORITIES, Priority, preempts, rank
from devices.protocol.receipts import (
    DeliveryState,
    Proof,
    Receipt,
    RepairRequest,
    TimeRequest,
    decode_receipt,
    decode_repair,
    decode_time_request,
)
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
from devices.protocol.signing import KeyFileError, SigningKey, VerifyKey, canonical, load_or_create
from devices.protocol.topics import PROTOCOL_VERSION, ChunkTopic, Topics

__all__ = [
    "PRIORITIES",
    "PROTOCOL_VERSION",
    "Assign",
    "Cancel",
    "ChunkTopic",
    "Command",
    "ContentRef",
    "ControllerPresence",
    "DeliveryState",
    "Heartbeat",
    "KeyFileError",
    "Play",
    "Power",
    "Priority",
    "Proof",
    "Receipt",
    "ReceiverBirth",
    "ReceiverOffline",
    "ReceiverStatus",
    "RejectReason",
    "Rejected",
    "RepairRequest",
    "Restart",
    "SetVolume",
    "Signal",
    "SigningKey",
    "TimeReply",
    "TimeRequest",
    "Topics",
    "VerifyKey",
    "canonical",
    "decode_heartbeat",
    "decode_receipt",
    "decode_repair",
    "decode_status",
    "decode_time_request",
    "load_or_create",
    "new_command_id",
    "new_occurrence_id",
    "open_command",
    "preempts",
    "rank",
]
