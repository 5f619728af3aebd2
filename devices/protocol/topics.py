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

PROTOCOL_VERSION = 1

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
