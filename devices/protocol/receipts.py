"""What a receiver reports about bulletins: receipts (with proof of play), repairs, clock requests.

A receipt (`rx/<id>/receipt`) is one state change of one occurrence on one
receiver, numbered by `(epoch, seq)` so the controller can drop duplicates. A
`played` receipt carries the proof of play in a nested `proof` object. A repair
request (`rx/<id>/repair`) lists the chunks of a content the receiver still
lacks; a clock request (`rx/<id>/time`) asks for the controller's time. Like
every receiver message, each is at most 16 KiB and its `id` must be the id of
its topic.

Field rules a state implies (a `reason` for `failed` and `rejected`, `have` only
with `downloading`, `by` only with `preempted`, `proof` exactly with `played`)
are enforced when a receipt is made; when one is decoded, a field that does not
belong to its state is ignored like any unknown field.

The controller decodes every receipt of the fleet, so `decode_receipt` reads a receipt
in its plain form (every field present with its type and in range, instants in UTC)
straight from the parsed JSON, checking each field once, and makes the `Receipt`
without running those checks again in `__post_init__`. Anything else, every fault
above all, goes through the field-by-field reader (`Body`), which names the field at
fault; the tests hold the two readers to the same verdict on every payload.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

from devices.delivery import DELIVERY_STATES, RECEIPT_STATES, DeliveryState
from devices.ids import check_id, is_valid_id
from devices.protocol.fields import (
    HEX_ID_PATTERN,
    MAX_SAFE_INT,
    SHA256_PATTERN,
    Body,
    check_identity,
    dumps,
    is_hex_id,
    is_sha256,
    millis,
    parse_object,
)
from loa.clock import utc_iso
from loa.errors import DecodeError

__all__ = [
    "DELIVERY_STATES",
    "MAX_REPAIR_CHUNKS",
    "RECEIPT_REASONS",
    "RECEIPT_STATES",
    "DeliveryState",
    "Proof",
    "Receipt",
    "RepairRequest",
    "TimeRequest",
    "decode_receipt",
    "decode_repair",
    "decode_time_request",
]

# The states are the delivery state machine's (devices.delivery), re-exported here.
#: The reasons of `failed` and `rejected` receipts known to this version; others are accepted.
RECEIPT_REASONS: tuple[str, ...] = (
    "malformed",
    "not_for_me",
    "bad_signature",
    "expired",
    "replayed",
    "no_content",
    "storage_full",
    "chunk_timeout",
    "decode_error",
    "speaker_fault",
    "unsupported_codec",
)
#: The most chunk indices one repair request may list.
MAX_REPAIR_CHUNKS = 1024
_REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")  # fullmatch: no trailing newline
_NEEDS_REASON = ("failed", "rejected")
#: A state as written on the wire -> the same state (a dict: one lookup, not ten compares).
_RECEIPT_STATE: Final[dict[str, DeliveryState]] = {state: state for state in RECEIPT_STATES}
_is_hex_id = HEX_ID_PATTERN.fullmatch
_is_sha256 = SHA256_PATTERN.fullmatch
_is_reason = _REASON.fullmatch


@dataclass(frozen=True, slots=True)
class Proof:
    """Proof of play: what a receiver played, when, and how it set its clock."""

    started_at: datetime
    ended_at: datetime
    #: The correction it applied: its clock minus the controller's, in ms.
    clock_offset_ms: int
    #: sha256 of what it played.
    content: str
    #: How long it played, all repeats together.
    played_ms: int
    #: Measured output level in dBFS, if the hardware measures it.
    level_db: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", millis(self.started_at, "started_at"))
        object.__setattr__(self, "ended_at", millis(self.ended_at, "ended_at"))
        if self.ended_at < self.started_at:
            raise ValueError(f"ended_at {self.ended_at} is before started_at {self.started_at}")
        if not -MAX_SAFE_INT <= self.clock_offset_ms <= MAX_SAFE_INT:
            raise ValueError(f"clock_offset_ms {self.clock_offset_ms} is out of range")
        if not is_sha256(self.content):
            raise ValueError(f"content {self.content!r} is not a sha256 (64 lower-case hex)")
        if not 0 <= self.played_ms <= MAX_SAFE_INT:
            raise ValueError(f"played_ms must be from 0 to {MAX_SAFE_INT}, not {self.played_ms}")
        if self.level_db is not None and not (
            math.isfinite(self.level_db) and -200 <= self.level_db <= 20
        ):
            raise ValueError(f"level_db must be from -200 to 20 dBFS, not {self.level_db}")

    def fields(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "started_at": utc_iso(self.started_at),
            "ended_at": utc_iso(self.ended_at),
            "clock_offset_ms": self.clock_offset_ms,
            "content": self.content,
            "played_ms": self.played_ms,
        }
        if self.level_db is not None:
            data["level_db"] = self.level_db
        return data

    @classmethod
    def read(cls, body: Body) -> Proof:
        return cls(
            started_at=body.instant("started_at"),
            ended_at=body.instant("ended_at"),
            clock_offset_ms=body.integer("clock_offset_ms", -MAX_SAFE_INT, MAX_SAFE_INT),
            content=body.sha256("content"),
            played_ms=body.integer("played_ms"),
            level_db=body.opt_number("level_db", -200, 20),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """One state change of one occurrence on one receiver (`rx/<id>/receipt`, QoS 1)."""

    id: str
    epoch: int
    seq: int
    #: None only for a `rejected` command that named no occurrence.
    occurrence: str | None
    state: DeliveryState
    at: datetime
    #: The command this answers (always, for `rejected`, when its id could be read).
    command: str | None = None
    #: For `failed` and `rejected`: a lower-case word (`RECEIPT_REASONS`).
    reason: str | None = None
    #: With `downloading`: chunks held so far.
    have: int | None = None
    #: With `preempted`: the occurrence that took its place.
    by: str | None = None
    #: With `played` (and only then).
    proof: Proof | None = None

    def __post_init__(self) -> None:
        check_id(self.id)
        if not 1 <= self.epoch <= MAX_SAFE_INT:
            raise ValueError(f"epoch must be from 1 to {MAX_SAFE_INT}, not {self.epoch}")
        if not 0 <= self.seq <= MAX_SAFE_INT:
            raise ValueError(f"seq must be from 0 to {MAX_SAFE_INT}, not {self.seq}")
        if self.state not in RECEIPT_STATES:
            raise ValueError(f"a receiver reports one of {', '.join(RECEIPT_STATES)}")
        if self.occurrence is None and self.state != "rejected":
            raise ValueError(f"a {self.state} receipt names its occurrence")
        for name in ("occurrence", "command", "by"):
            value = getattr(self, name)
            if value is not None and not is_hex_id(value):
                raise ValueError(f"{name} {value!r} is not 32 lower-case hex characters")
        object.__setattr__(self, "at", millis(self.at, "at"))
        if (self.reason is not None) != (self.state in _NEEDS_REASON):
            raise ValueError("a reason goes with failed and rejected receipts, and only them")
        if self.reason is not None and not _is_reason(self.reason):
            raise ValueError(f"reason {self.reason!r} is not a lower-case word like 'no_content'")
        if self.have is not None and (self.state != "downloading" or not self.have >= 0):
            raise ValueError("have is a count of chunks, only with downloading")
        if self.by is not None and self.state != "preempted":
            raise ValueError("by names the pre-empting occurrence, only with preempted")
        if (self.proof is not None) != (self.state == "played"):
            raise ValueError("a played receipt carries the proof of play, and only it")

    def encode(self) -> bytes:
        data: dict[str, Any] = {
            "v": 1,
            "id": self.id,
            "epoch": self.epoch,
            "seq": self.seq,
            "occurrence": self.occurrence,
            "state": self.state,
            "at": utc_iso(self.at),
        }
        optional = {"command": self.command, "reason": self.reason, "have": self.have}
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.by is not None:
            data["by"] = self.by
        if self.proof is not None:
            data["proof"] = self.proof.fields()
        return dumps(data)


def decode_receipt(payload: bytes, topic: str | None, receiver_id: str) -> Receipt:
    """A receipt from `rx/<receiver_id>/receipt`; DecodeError naming the field at fault."""
    data = parse_object(payload, topic, "receipt")
    receipt = _plain_receipt(data, receiver_id)
    if receipt is None:  # not in its plain form: the checked reader decodes it or names why not
        return _read_receipt(Body.of(data, topic, "receipt"), receiver_id)
    return receipt


def _read_receipt(body: Body, receiver_id: str) -> Receipt:
    """A receipt read field by field, each fault a DecodeError naming its field."""
    check_identity(body, receiver_id)
    state = body.choice("state", RECEIPT_STATES)
    # Only a rejected command may have named no occurrence.
    read_occurrence = body.opt_hex_id if state == "rejected" else body.hex_id
    occurrence = read_occurrence("occurrence")
    reason = None
    if state in _NEEDS_REASON:
        reason = body.text("reason", 40)
        if not _is_reason(reason):
            raise body.error(
                "reason", f"must be a lower-case word like 'no_content', not {reason!r}"
            )
    proof_body = body.sub("proof") if state == "played" else None
    try:
        return Receipt(
            id=receiver_id,
            epoch=body.integer("epoch", 1),
            seq=body.integer("seq"),
            occurrence=occurrence,
            state=state,
            at=body.instant("at"),
            command=body.opt_hex_id("command"),
            reason=reason,
            have=body.opt_integer("have", 0, MAX_SAFE_INT) if state == "downloading" else None,
            by=body.opt_hex_id("by") if state == "preempted" else None,
            proof=None if proof_body is None else Proof.read(proof_body),
        )
    except ValueError as exc:
        raise DecodeError(f"receipt: {exc}", topic=body.topic) from exc


def _plain_receipt(  # noqa: PLR0911, PLR0912 - one early return per field not in plain form
    data: dict[str, Any], receiver_id: str
) -> Receipt | None:
    """The receipt `data` holds if every field is in its plain form, else None.

    Accepts only what `_read_receipt` accepts, and makes the same receipt of it (the
    tests hold them to it); every check of `Receipt` and `Proof` is made here, once, so
    they are made without `__post_init__`. Plain means: integers as JSON integers within
    their ranges, ids as lower-case hex, instants in UTC with at most millisecond
    precision (what `utc_iso` writes), `level_db` a JSON number with a fraction or
    exponent; anything else is for `_read_receipt`.
    """
    get = data.get
    version = get("v")
    claimed = get("id")
    wire_state = get("state")
    # 40: the length `check_identity` allows (`is_valid_id` lets a trailing newline make 41).
    if (
        type(version) is not int
        or version != 1
        or type(claimed) is not str
        or claimed != receiver_id
        or len(claimed) > 40
        or not is_valid_id(receiver_id)
        or type(wire_state) is not str
    ):
        return None
    state = _RECEIPT_STATE.get(wire_state)
    if state is None:
        return None
    occurrence = get("occurrence")
    if occurrence is None:
        if state != "rejected":
            return None
    elif type(occurrence) is not str or _is_hex_id(occurrence) is None:
        return None
    reason = None
    if state in _NEEDS_REASON:
        reason = get("reason")
        # `_REASON` is at most 40 characters, the length `_read_receipt` allows.
        if type(reason) is not str or _is_reason(reason) is None:
            return None
    epoch = get("epoch")
    seq = get("seq")
    if type(epoch) is not int or not 1 <= epoch <= MAX_SAFE_INT:
        return None
    if type(seq) is not int or not 0 <= seq <= MAX_SAFE_INT:
        return None
    at = _plain_instant(get("at"))
    if at is None:
        return None
    command = get("command")
    if command is not None and (type(command) is not str or _is_hex_id(command) is None):
        return None
    have = get("have") if state == "downloading" else None
    if have is not None and (type(have) is not int or not 0 <= have <= MAX_SAFE_INT):
        return None
    by = get("by") if state == "preempted" else None
    if by is not None and (type(by) is not str or _is_hex_id(by) is None):
        return None
    proof = None
    if state == "played":
        proof_data = get("proof")
        if type(proof_data) is not dict:
            return None
        proof = _plain_proof(proof_data)
        if proof is None:
            return None
    return _receipt(
        id=receiver_id,
        epoch=epoch,
        seq=seq,
        occurrence=occurrence,
        state=state,
        at=at,
        command=command,
        reason=reason,
        have=have,
        by=by,
        proof=proof,
    )


def _plain_proof(data: dict[str, Any]) -> Proof | None:
    """The proof of play `data` holds if it is in its plain form (`_plain_receipt`), else None."""
    get = data.get
    started_at = _plain_instant(get("started_at"))
    ended_at = _plain_instant(get("ended_at"))
    offset = get("clock_offset_ms")
    content = get("content")
    played_ms = get("played_ms")
    level_db = get("level_db")
    if (
        started_at is None
        or ended_at is None
        or ended_at < started_at
        or type(offset) is not int
        or not -MAX_SAFE_INT <= offset <= MAX_SAFE_INT
        or type(content) is not str
        or _is_sha256(content) is None
        or type(played_ms) is not int
        or not 0 <= played_ms <= MAX_SAFE_INT
        # A float: `Body.number` makes an integer one; NaN fails the comparison.
        or (level_db is not None and (type(level_db) is not float or not -200 <= level_db <= 20))
    ):
        return None
    return _proof(
        started_at=started_at,
        ended_at=ended_at,
        clock_offset_ms=offset,
        content=content,
        played_ms=played_ms,
        level_db=level_db,
    )


def _plain_instant(value: object) -> datetime | None:
    """`value` as an instant if it is one in UTC cut to the millisecond, else None.

    That is `Body.instant` followed by `millis` when both change nothing: an ISO 8601
    string of at most 40 characters (`Body.instant`) that reads as UTC (`Z` or `+00:00`:
    `astimezone(UTC)` returns it as it is) with whole milliseconds (`millis` keeps it).
    """
    if type(value) is not str or len(value) > 40:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.tzinfo is not UTC or instant.microsecond % 1000:
        return None
    return instant


def _slot_setters(cls: Any, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The setters of the slots `names` of the dataclass `cls`, which must name its fields.

    A setter stores a value past the frozen guard and without `__post_init__`: only for
    values `_plain_receipt` has just checked. Naming the fields here (checked at import)
    keeps a new, renamed or reordered field from being left unset or set wrongly.
    """
    if names != tuple(field.name for field in fields(cls)):
        raise TypeError(f"{cls.__name__} fields are not {names}: update {__name__}")
    return tuple(getattr(cls, name).__set__ for name in names)


(
    _set_started_at,
    _set_ended_at,
    _set_clock_offset_ms,
    _set_content,
    _set_played_ms,
    _set_level_db,
) = _slot_setters(
    Proof, "started_at", "ended_at", "clock_offset_ms", "content", "played_ms", "level_db"
)
(
    _set_id,
    _set_epoch,
    _set_seq,
    _set_occurrence,
    _set_state,
    _set_at,
    _set_command,
    _set_reason,
    _set_have,
    _set_by,
    _set_proof,
) = _slot_setters(
    Receipt,
    "id",
    "epoch",
    "seq",
    "occurrence",
    "state",
    "at",
    "command",
    "reason",
    "have",
    "by",
    "proof",
)
_new = object.__new__


def _proof(
    *,
    started_at: datetime,
    ended_at: datetime,
    clock_offset_ms: int,
    content: str,
    played_ms: int,
    level_db: float | None,
) -> Proof:
    """A `Proof` of values checked as `Proof.__post_init__` checks them (`_plain_proof`)."""
    proof: Proof = _new(Proof)
    _set_started_at(proof, started_at)
    _set_ended_at(proof, ended_at)
    _set_clock_offset_ms(proof, clock_offset_ms)
    _set_content(proof, content)
    _set_played_ms(proof, played_ms)
    _set_level_db(proof, level_db)
    return proof


def _receipt(
    *,
    id: str,  # noqa: A002 - the field's name
    epoch: int,
    seq: int,
    occurrence: str | None,
    state: DeliveryState,
    at: datetime,
    command: str | None,
    reason: str | None,
    have: int | None,
    by: str | None,
    proof: Proof | None,
) -> Receipt:
    """A `Receipt` of values checked as `Receipt.__post_init__` checks them (`_plain_receipt`)."""
    receipt: Receipt = _new(Receipt)
    _set_id(receipt, id)
    _set_epoch(receipt, epoch)
    _set_seq(receipt, seq)
    _set_occurrence(receipt, occurrence)
    _set_state(receipt, state)
    _set_at(receipt, at)
    _set_command(receipt, command)
    _set_reason(receipt, reason)
    _set_have(receipt, have)
    _set_by(receipt, by)
    _set_proof(receipt, proof)
    return receipt


@dataclass(frozen=True)
class RepairRequest:
    """The chunks of `content` a receiver still lacks (`rx/<id>/repair`, QoS 1)."""

    id: str
    content: str
    chunks: tuple[int, ...]

    def __post_init__(self) -> None:
        check_id(self.id)
        if not is_sha256(self.content):
            raise ValueError(f"content {self.content!r} is not a sha256 (64 lower-case hex)")
        if not 1 <= len(self.chunks) <= MAX_REPAIR_CHUNKS:
            raise ValueError(f"a repair asks for 1 to {MAX_REPAIR_CHUNKS} chunks")
        if len(set(self.chunks)) != len(self.chunks):
            raise ValueError("a repair names each chunk once")
        for index in self.chunks:
            if isinstance(index, bool) or not 0 <= index <= MAX_SAFE_INT:
                raise ValueError(f"chunk index {index!r} is not from 0 to {MAX_SAFE_INT}")

    def encode(self) -> bytes:
        return dumps({"v": 1, "id": self.id, "content": self.content, "chunks": list(self.chunks)})


def decode_repair(payload: bytes, topic: str | None, receiver_id: str) -> RepairRequest:
    """A repair request from `rx/<receiver_id>/repair`; DecodeError naming the field at fault."""
    body = Body(payload, topic, "repair request")
    check_identity(body, receiver_id)
    content = body.sha256("content")
    chunks = body.items("chunks", MAX_REPAIR_CHUNKS)
    for index in chunks:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_SAFE_INT:
            raise body.error("chunks", f"holds {index!r}, which is not a chunk index")
    try:
        return RepairRequest(receiver_id, content, tuple(chunks))
    except ValueError as exc:
        raise DecodeError(f"repair request: {exc}", topic=topic) from exc


@dataclass(frozen=True)
class TimeRequest:
    """A clock request (`rx/<id>/time`, QoS 0); the answer is a `time` command."""

    id: str
    #: The receiver's number for this request, echoed in the answer.
    request: int
    #: The receiver's clock when it sent the request (`t0`).
    sent: datetime

    def __post_init__(self) -> None:
        check_id(self.id)
        if not 0 <= self.request <= MAX_SAFE_INT:
            raise ValueError(f"request must be from 0 to {MAX_SAFE_INT}, not {self.request}")
        object.__setattr__(self, "sent", millis(self.sent, "sent"))

    def encode(self) -> bytes:
        return dumps({"v": 1, "id": self.id, "request": self.request, "sent": utc_iso(self.sent)})


def decode_time_request(payload: bytes, topic: str | None, receiver_id: str) -> TimeRequest:
    """A clock request from `rx/<receiver_id>/time`; DecodeError naming the field at fault."""
    body = Body(payload, topic, "clock request")
    check_identity(body, receiver_id)
    try:
        return TimeRequest(receiver_id, body.integer("request"), body.instant("sent"))
    except ValueError as exc:
        raise DecodeError(f"clock request: {exc}", topic=topic) from exc
