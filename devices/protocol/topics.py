"""Topic names of protocol v1: the one place that builds and parses them.

Every topic lives under `<prefix>/v1/`, where the prefix comes from the
deployment's config (`topic_prefix`, e.g. `loa` or `caobang/loa`). Levels use
only `[a-z0-9_-]`: clustered brokers drop a connection on `.` or a space
(NATS) or rewrite `.` (RabbitMQ).

Receivers have one level each (`rx/<id>/<channel>`), groups share commands
(`grp/<group>/cmd`), and audio chunks go once per group or, for repair and late
joiners, to one receiver: `.../chunk/<content sha256>/<index>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from devices.ids import check_id, is_valid_id

PROTOCOL_VERSION = 1

#: What a receiver publishes on its own topics, and what it receives (`cmd`).
ReceiverChannel = Literal["status", "heartbeat", "cmd", "receipt", "repair", "time"]
RECEIVER_CHANNELS: tuple[ReceiverChannel, ...] = (
    "status",
    "heartbeat",
    "cmd",
    "receipt",
    "repair",
    "time",
)
#: Who a command or a chunk is published for: one receiver or every member of a group.
Scope = Literal["rx", "grp"]

_LEVEL = re.compile(r"^[a-z0-9_-]+$")
_CONTENT = re.compile(r"^[0-9a-f]{64}$")
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,15})$")
#: The highest chunk index a topic may name (integers must survive firmware JSON parsers).
MAX_CHUNK_INDEX = 2**53 - 1


class ChunkTopic(NamedTuple):
    """What a chunk topic says: `(scope, owner id, content sha256, chunk index)`.

    The index field is `chunk` (a tuple already has an `index` method).
    """

    scope: Scope
    owner: str
    content: str
    chunk: int


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
        """`<root>/grp/<id>/cmd`: commands for every receiver of a group."""
        return f"{self.root}/grp/{check_id(group_id, 'group id')}/cmd"

    def commands(self, scope: Scope, owner: str) -> str:
        """The command topic of one receiver (`rx`) or one group (`grp`)."""
        if scope == "rx":
            return self.receiver(owner, "cmd")
        if scope == "grp":
            return self.group_commands(owner)
        raise ValueError(f"unknown scope {scope!r}: expected 'rx' or 'grp'")

    def parse_commands(self, topic: str) -> tuple[Scope, str] | None:
        """`(scope, owner id)` of a command topic of this tree, else None."""
        parts = self._levels(topic)
        if parts is None or len(parts) != 3 or parts[2] != "cmd":
            return None
        scope = _scope(parts[0])
        if scope is None or not is_valid_id(parts[1]):
            return None
        return scope, parts[1]

    def group_chunk(self, group_id: str, content: str, index: int) -> str:
        """`<root>/grp/<group>/chunk/<content>/<index>`: one chunk, once for a whole group."""
        return f"{self.group_chunks(group_id)[:-1]}{_chunk_levels(content, index)}"

    def receiver_chunk(self, receiver_id: str, content: str, index: int) -> str:
        """`<root>/rx/<id>/chunk/<content>/<index>`: one chunk for one receiver (repair)."""
        return f"{self.receiver_chunks(receiver_id)[:-1]}{_chunk_levels(content, index)}"

    def chunk(self, scope: Scope, owner: str, content: str, index: int) -> str:
        """`group_chunk` or `receiver_chunk` by scope."""
        if scope == "rx":
            return self.receiver_chunk(owner, content, index)
        if scope == "grp":
            return self.group_chunk(owner, content, index)
        raise ValueError(f"unknown scope {scope!r}: expected 'rx' or 'grp'")

    def group_chunks(self, group_id: str) -> str:
        """A filter for every chunk sent to a group: `<root>/grp/<group>/chunk/#`."""
        return f"{self.root}/grp/{check_id(group_id, 'group id')}/chunk/#"

    def receiver_chunks(self, receiver_id: str) -> str:
        """A filter for every chunk sent to one receiver: `<root>/rx/<id>/chunk/#`."""
        return f"{self.root}/rx/{check_id(receiver_id)}/chunk/#"

    def parse_chunk(self, topic: str) -> ChunkTopic | None:
        """What a chunk topic of this tree names, else None (also for a malformed one)."""
        parts = self._levels(topic)
        if parts is None or len(parts) != 5 or parts[2] != "chunk":
            return None
        scope = _scope(parts[0])
        if scope is None or not is_valid_id(parts[1]):
            return None
        if not _CONTENT.match(parts[3]) or not _INDEX.match(parts[4]):
            return None
        index = int(parts[4])
        if index > MAX_CHUNK_INDEX:
            return None
        return ChunkTopic(scope, parts[1], parts[3], index)

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

    def _levels(self, topic: str) -> list[str] | None:
        head = f"{self.root}/"
        if not topic.startswith(head):
            return None
        return topic[len(head) :].split("/")


def _scope(level: str) -> Scope | None:
    if level == "rx":
        return "rx"
    if level == "grp":
        return "grp"
    return None


def _chunk_levels(content: str, index: int) -> str:
    if not _CONTENT.match(content):
        raise ValueError(f"content {content!r} is not a sha256 (64 lower-case hex characters)")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_CHUNK_INDEX:
        raise ValueError(f"chunk index {index!r} is not an integer from 0 to {MAX_CHUNK_INDEX}")
    return f"{content}/{index}"
