"""Topic names of protocol v1: the one place that builds and parses them.

Every topic lives under `<prefix>/v1/`, where the prefix comes from the
deployment's config (`topic_prefix`, e.g. `loa` or `caobang/loa`). Levels use
only `[a-z0-9_-]`: clustered brokers drop a connection on `.` or a space
(NATS) or rewrite `.` (RabbitMQ). Later issues add receiver and group topics
here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from devices.ids import check_id, is_valid_id

PROTOCOL_VERSION = 1

#: What a receiver publishes on its own topics, and what it receives.
ReceiverChannel = Literal["status", "heartbeat", "cmd"]
RECEIVER_CHANNELS: tuple[ReceiverChannel, ...] = ("status", "heartbeat", "cmd")

_LEVEL = re.compile(r"^[a-z0-9_-]+$")


def check_level(level: str, what: str) -> str:
    """Return `level` if it is a valid topic level; raise ValueError saying what it is for."""
    if not _LEVEL.match(level):
        raise ValueError(
            f"{what} {level!r} is not a valid topic level: use lower-case letters, digits, "
            "'_' and '-' only"
        )
    return level


@dataclass(frozen=True)
class Topics:
    """The topic tree of one deployment."""

    prefix: str

    def __post_init__(self) -> None:
        for level in self.prefix.split("/"):
            check_level(level, "topic prefix level")

    @property
    def root(self) -> str:
        """`<prefix>/v1`: every topic of this protocol version starts here."""
        return f"{self.prefix}/v{PROTOCOL_VERSION}"

    @property
    def controller_status(self) -> str:
        """The controller's retained presence (online/offline) and its Last Will."""
        return f"{self.root}/controller/status"

    @property
    def everything(self) -> str:
        """A wildcard filter for the whole tree of this deployment (for tools and tests)."""
        return f"{self.root}/#"

    def receiver(self, receiver_id: str, channel: ReceiverChannel) -> str:
        """`<root>/rx/<id>/<channel>`: one receiver's status, heartbeat or commands."""
        if channel not in RECEIVER_CHANNELS:
            raise ValueError(f"unknown receiver channel {channel!r}")
        return f"{self.root}/rx/{check_id(receiver_id)}/{channel}"

    def group_commands(self, group_id: str) -> str:
        """`<root>/grp/<id>/cmd`: commands for every receiver of a group (the delivery issue)."""
        return f"{self.root}/grp/{check_id(group_id, 'group id')}/cmd"

    def every_receiver(self, channel: ReceiverChannel) -> str:
        """A filter for one channel of every receiver, like `<root>/rx/+/heartbeat`."""
        if channel not in RECEIVER_CHANNELS:
            raise ValueError(f"unknown receiver channel {channel!r}")
        return f"{self.root}/rx/+/{channel}"

    def is_receiver_topic(self, topic: str) -> bool:
        """Whether `topic` lies in the receivers' part of the tree (`<root>/rx/...`)."""
        return topic.startswith(f"{self.root}/rx/")

    def parse_receiver(self, topic: str) -> tuple[str, ReceiverChannel] | None:
        """`(receiver id, channel)` for a receiver topic of this tree, else None."""
        head = f"{self.root}/rx/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 2 or not is_valid_id(parts[0]):
            return None
        for channel in RECEIVER_CHANNELS:
            if parts[1] == channel:
                return parts[0], channel
        return None
