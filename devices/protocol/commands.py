"""Signed commands from the controller (assign, play, cancel, time, volume, restart) and how
receivers open them.

A command is one JSON object: the envelope (`v`, `type`, `id`, `to`, `issued`,
`expires`), the fields of its type beside them, and `sig`, the Ed25519 signature
of the canonical form of everything else (`devices.protocol.signing`). The
controller builds a `Command` and calls `encode(key)`; a receiver calls
`open_command`, which applies the five checks of `docs/protocol.md` in order and
returns the command or a `Rejected` saying which check failed. Every byte string
ends as one or the other: nothing raises.

`assign`, `time`, `volume` and `restart` speak to one receiver, so they must be
addressed `rx:<id>`; `play` and `cancel` may go to a receiver or a group (`grp:<group>`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from devices.ids import check_id
from devices.protocol.command_bodies import (
    COMMAND_TYPES,
    RECEIVER_ONLY,
    Assign,
    Body,
    Cancel,
    CommandType,
    Play,
    Restart,
    SetVolume,
    TimeReply,
)
from devices.protocol.content_ref import ContentRef
from devices.protocol.fields import (
    MAX_COMMAND_PAYLOAD,
    check_hex_id,
    dumps,
    is_hex_id,
    millis,
)
from devices.protocol.fields import Body as Reader
from devices.protocol.receipts import Receipt
from devices.protocol.signing import SigningKey, VerifyKey, canonical
from devices.protocol.topics import Scope, Topics
from loa.clock import utc_iso
from loa.errors import DecodeError

__all__ = [
    "COMMAND_TYPES",
    "MAX_ISSUED_AHEAD",
    "REJECT_REASONS",
    "Assign",
    "Body",
    "Cancel",
    "Command",
    "CommandType",
    "ContentRef",
    "Play",
    "RejectReason",
    "Rejected",
    "Restart",
    "SetVolume",
    "Target",
    "TimeReply",
    "check_hex_id",
    "new_command_id",
    "new_occurrence_id",
    "open_command",
    "parse_target",
    "target",
]

#: "rx:<receiver id>" or "grp:<group id>".
Target = str
RejectReason = Literal["malformed", "not_for_me", "bad_signature", "expired", "replayed"]
REJECT_REASONS: tuple[RejectReason, ...] = (
    "malformed",
    "not_for_me",
    "bad_signature",
    "expired",
    "replayed",
)
#: How far ahead of a receiver's (corrected) clock a command may have been issued.
MAX_ISSUED_AHEAD = timedelta(minutes=5)


def new_command_id() -> str:
    """A fresh command id (the nonce): 128 random bits as 32 lower-case hex characters."""
    return secrets.token_hex(16)


def new_occurrence_id() -> str:
    """A fresh occurrence or bulletin id, same form as a command id."""
    return secrets.token_hex(16)


def target(scope: Scope, owner: str) -> Target:
    """`rx:<id>` or `grp:<group>`."""
    return f"{scope}:{check_id(owner, 'receiver id' if scope == 'rx' else 'group id')}"


def parse_target(to: str) -> tuple[Scope, str]:
    """`(scope, owner)` of a target; ValueError if it is neither `rx:<id>` nor `grp:<group>`."""
    scope, _, owner = to.partition(":")
    if scope == "rx":
        return "rx", check_id(owner, "receiver id")
    if scope == "grp":
        return "grp", check_id(owner, "group id")
    raise ValueError(f"target {to!r} is neither 'rx:<receiver id>' nor 'grp:<group id>'")


_BODIES: dict[
    str,
    type[Assign] | type[Play] | type[Cancel] | type[TimeReply] | type[SetVolume] | type[Restart],
] = {
    "assign": Assign,
    "play": Play,
    "cancel": Cancel,
    "time": TimeReply,
    "volume": SetVolume,
    "restart": Restart,
}


@dataclass(frozen=True)
class Command:
    """A command and its envelope; `encode(key)` signs it."""

    id: str
    to: Target
    issued: datetime
    expires: datetime
    body: Body

    def __post_init__(self) -> None:
        check_hex_id(self.id, "command id")
        scope, _ = parse_target(self.to)
        if scope != "rx" and self.body.type in RECEIVER_ONLY:
            raise ValueError(
                f"a {self.body.type} command is for one receiver (rx:<id>), not {self.to}"
            )
        object.__setattr__(self, "issued", millis(self.issued, "issued"))
        object.__setattr__(self, "expires", millis(self.expires, "expires"))
        if self.expires <= self.issued:
            raise ValueError(f"expires {self.expires} is not after issued {self.issued}")

    @property
    def type(self) -> CommandType:
        return self.body.type

    @property
    def occurrence(self) -> str | None:
        """The occurrence a play or cancel names, else None."""
        return self.body.occurrence if isinstance(self.body, Play | Cancel) else None

    def topic(self, topics: Topics) -> str:
        """The topic this command is published on: its target's `cmd` topic."""
        return topics.commands(*parse_target(self.to))

    def unsigned(self) -> dict[str, Any]:
        """The command as JSON data without `sig`: what the signature covers, canonically."""
        return {
            "v": 1,
            "type": self.type,
            "id": self.id,
            "to": self.to,
            "issued": utc_iso(self.issued),
            "expires": utc_iso(self.expires),
            **self.body.fields(),
        }

    def encode(self, key: SigningKey) -> bytes:
        """The signed command, ready to publish (compact UTF-8 JSON, `sig` last)."""
        data = self.unsigned()
        return dumps({**data, "sig": key.sign(canonical(data))})


@dataclass(frozen=True)
class Rejected:
    """Why a receiver refused a command, and what it could read of it for the receipt."""

    reason: RejectReason
    command_id: str | None
    occurrence: str | None
    detail: str

    def receipt(self, receiver_id: str, epoch: int, seq: int, at: datetime) -> Receipt:
        """The `rejected` receipt a receiver sends for this."""
        return Receipt(
            id=receiver_id,
            epoch=epoch,
            seq=seq,
            occurrence=self.occurrence,
            state="rejected",
            at=at,
            command=self.command_id,
            reason=self.reason,
        )


def open_command(  # noqa: PLR0911 - one early return per check, in the doc's order
    payload: bytes,
    topic: str,
    *,
    topics: Topics,
    receiver_id: str,
    groups: Collection[str],
    key: VerifyKey,
    now: datetime,
    seen: Callable[[str], bool],
    fresh: Callable[[Command], bool] | None = None,
) -> Command | Rejected:
    """The command in `payload` if a receiver may act on it, else why not.

    The checks of `docs/protocol.md`, in order: it parses (`malformed`); it is
    addressed to `receiver_id` or one of its `groups` and came on that target's
    topic (`not_for_me`); the signature verifies with `key` (`bad_signature`); it
    was not issued more than 5 minutes after `now` (the receiver's corrected clock)
    and has not expired (`expired`); `seen(id)` is False (`replayed`). The caller
    records the id (until it expires) once it acts. Never raises for any payload.

    The two clock checks are skipped for a signed command `fresh(command)` vouches for: a
    `time` reply answering a request the receiver sent moments ago (by its monotonic
    clock). A receiver whose clock jumped must still accept the answer that corrects it.
    """
    try:
        body = Reader(payload, topic, "command", max_size=MAX_COMMAND_PAYLOAD, unique_keys=True)
    except DecodeError as exc:
        return Rejected("malformed", None, None, exc.problem)
    # What the receipt can name, read before anything is trusted (it only labels the refusal).
    claimed_id, claimed_occurrence = body.data.get("id"), body.data.get("occurrence")
    command_id = claimed_id if isinstance(claimed_id, str) and is_hex_id(claimed_id) else None
    occurrence = (
        claimed_occurrence
        if isinstance(claimed_occurrence, str) and is_hex_id(claimed_occurrence)
        else None
    )

    def no(reason: RejectReason, detail: str) -> Rejected:
        return Rejected(reason, command_id, occurrence, detail)

    try:
        command, signed = _read(body)
    except DecodeError as exc:
        return no("malformed", exc.problem)
    where = topics.parse_commands(topic)
    if where is None:
        return no("not_for_me", f"{topic!r} is not a command topic under {topics.root}")
    if command.to != target(*where):
        return no("not_for_me", f"addressed to {command.to} but came on {topic}")
    scope, owner = where
    if (scope == "rx" and owner != receiver_id) or (scope == "grp" and owner not in groups):
        return no("not_for_me", f"addressed to {command.to}, not to {receiver_id} or its groups")
    if not key.verify(signed, body.data["sig"]):
        return no("bad_signature", f"the signature does not verify with key {key.fingerprint()}")
    vouched = fresh is not None and fresh(command)
    if not vouched and command.issued > now + MAX_ISSUED_AHEAD:
        return no(
            "expired",
            f"issued at {utc_iso(command.issued)}, more than 5 minutes after this receiver's "
            f"clock ({utc_iso(now)})",
        )
    if not vouched and now > command.expires:
        return no("expired", f"expired at {utc_iso(command.expires)}; now is {utc_iso(now)}")
    if seen(command.id):
        return no("replayed", f"command {command.id} was seen before")
    return command


def _read(body: Reader) -> tuple[Command, bytes]:
    """The command and the bytes its signature must cover; DecodeError if malformed."""
    version = body.integer("v", 0, 1000)
    if version != 1:
        raise body.error("v", f"is {version}; this receiver speaks protocol version 1")
    kind = body.choice("type", COMMAND_TYPES)
    body.text("sig", 200)
    try:
        command = Command(
            id=body.hex_id("id"),
            to=body.text("to", 50),
            issued=body.instant("issued"),
            expires=body.instant("expires"),
            body=_BODIES[kind].read(body),
        )
        signed = canonical({key: value for key, value in body.data.items() if key != "sig"})
    except ValueError as exc:
        raise DecodeError(f"command: {exc}", topic=body.topic) from exc
    return command, signed
