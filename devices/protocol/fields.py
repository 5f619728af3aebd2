"""Reading JSON message bodies strictly, with errors that name the field.

Every decoder of the protocol goes through `Body`: it checks the payload size,
parses JSON, insists on an object, and reads each field with its type and range.
Any problem is a `DecodeError` naming the topic and the field, and nothing
else escapes: random bytes from the wire never raise anything but our error.
Unknown fields are ignored (forward compatibility). Receiver messages are at
most 16 KiB; commands, which carry the chunk hashes of their audio, 256 KiB.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from devices.ids import ID_RULE, is_valid_id
from loa.errors import DecodeError

#: The largest control message a receiver or the controller may send, in bytes.
MAX_CONTROL_PAYLOAD = 16 * 1024
#: The largest command (`rx/<id>/cmd`, `grp/<group>/cmd`): a play carries chunk hashes.
MAX_COMMAND_PAYLOAD = 256 * 1024
#: Integers must survive a JavaScript or Lua JSON parser in firmware.
MAX_SAFE_INT = 2**53 - 1
# Matched with `fullmatch`: `match` with `$` would let a trailing newline through.
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
#: An occurrence, bulletin or command id (use `fullmatch`).
HEX_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
#: A sha256 as 64 lower-case hex characters (use `fullmatch`).
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# The parser json.loads uses for a str. `parse_object` decodes a payload that is plainly
# UTF-8 itself and calls it directly: json.loads(bytes) spends about a third of its time
# guessing the encoding and scanning for whitespace around the object.
_JSON = json.JSONDecoder()

L = TypeVar("L", bound=str)


def parse_object(
    payload: bytes,
    topic: str | None,
    what: str,
    *,
    max_size: int = MAX_CONTROL_PAYLOAD,
    unique_keys: bool = False,
) -> dict[str, Any]:
    """The JSON object in `payload`, or DecodeError (oversized, not JSON, not an object).

    What `Body` does before reading fields, for a decoder that reads the plain form of
    its message straight from the dict and makes a `Body` only to name a fault.
    """
    if len(payload) > max_size:
        raise DecodeError(
            f"{what} of {len(payload)} bytes is larger than the {max_size}-byte limit",
            topic=topic,
            reason="oversized",
        )
    try:
        # json.loads(bytes) decodes as UTF-8 unless the first bytes say UTF-16 or 32 (a BOM
        # or a zero byte); one that starts with `{` and no zero byte is UTF-8 for it, so
        # decoding it here (with the same error handler) gives the same text and errors.
        if payload[:1] == b"{" and payload[1:2] != b"\x00":
            text = payload.decode("utf-8", "surrogatepass")
            data = _loads_unique(text) if unique_keys else _loads(text)
        else:
            data = json.loads(payload, object_pairs_hook=_unique_object if unique_keys else None)
    except _DuplicateKey as exc:
        raise DecodeError(f"{what} names the key {exc.key!r} twice", topic=topic) from exc
    # ValueError also covers an integer of more than 4300 digits (Python's int limit) and
    # bytes that are not UTF-8 (UnicodeDecodeError).
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"{what} is not JSON: {exc}", topic=topic) from exc
    if not isinstance(data, dict):
        raise DecodeError(f"{what} is not a JSON object", topic=topic)
    return data


class Body:
    """A decoded JSON object and where it came from."""

    data: dict[str, Any]

    def __init__(
        self,
        payload: bytes,
        topic: str | None,
        what: str,
        *,
        max_size: int = MAX_CONTROL_PAYLOAD,
        unique_keys: bool = False,
    ) -> None:
        """Parse `payload`; `unique_keys` refuses an object that names a key twice."""
        self.topic = topic
        self.what = what
        self.data = parse_object(payload, topic, what, max_size=max_size, unique_keys=unique_keys)

    @classmethod
    def of(cls, data: dict[str, Any], topic: str | None, what: str) -> Body:
        """A reader over an already parsed object (a nested content, a manifest)."""
        body = cls.__new__(cls)
        body.topic = topic
        body.what = what
        body.data = data
        return body

    def error(self, field: str, problem: str) -> DecodeError:
        return DecodeError(f"{self.what}: field {field!r} {problem}", topic=self.topic)

    def has(self, field: str) -> bool:
        return self.data.get(field) is not None

    def sub(self, field: str) -> Body:
        """A nested object, read with the same rules."""
        value = self.data.get(field)
        if not isinstance(value, dict):
            raise self.error(field, "must be a JSON object")
        return Body.of(value, self.topic, f"{self.what}: {field}")

    def opt_sub(self, field: str) -> Body | None:
        return self.sub(field) if self.has(field) else None

    def integer(self, field: str, low: int = 0, high: int = MAX_SAFE_INT) -> int:
        value = self.data.get(field)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(field, f"must be an integer, not {_kind(value)}")
        if not low <= value <= high:
            raise self.error(field, f"must be from {low} to {high}, not {value}")
        return value

    def opt_integer(self, field: str, low: int, high: int) -> int | None:
        return self.integer(field, low, high) if self.has(field) else None

    def number(self, field: str, low: float, high: float) -> float:
        value = self.data.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.error(field, f"must be a number, not {_kind(value)}")
        if not math.isfinite(value) or not low <= value <= high:
            raise self.error(field, f"must be from {low:g} to {high:g}, not {value}")
        return float(value)

    def opt_number(self, field: str, low: float, high: float) -> float | None:
        return self.number(field, low, high) if self.has(field) else None

    def text(self, field: str, max_length: int = 200) -> str:
        value = self.data.get(field)
        if not isinstance(value, str):
            raise self.error(field, f"must be a string, not {_kind(value)}")
        if len(value) > max_length:
            raise self.error(field, f"must be at most {max_length} characters")
        return value

    def opt_text(self, field: str, max_length: int = 200) -> str | None:
        return self.text(field, max_length) if self.has(field) else None

    def choice(self, field: str, allowed: tuple[L, ...]) -> L:
        value = self.data.get(field)
        for option in allowed:
            if value == option:
                return option
        raise self.error(field, f"must be one of {', '.join(allowed)}, not {value!r}")

    def instant(self, field: str) -> datetime:
        text = self.text(field, 40)
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise self.error(field, f"is not an ISO 8601 instant: {text!r}") from exc
        if value.tzinfo is None:
            raise self.error(field, "must say its offset (UTC with 'Z')")
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+01:00 has no UTC instant
            raise self.error(field, f"is out of range: {text!r}") from exc

    def opt_instant(self, field: str) -> datetime | None:
        return self.instant(field) if self.has(field) else None

    def hex_id(self, field: str) -> str:
        """An occurrence, bulletin or command id: 32 lower-case hex characters."""
        value = self.data.get(field)
        if not isinstance(value, str) or not HEX_ID_PATTERN.fullmatch(value):
            raise self.error(field, f"must be 32 lower-case hex characters, not {value!r}")
        return value

    def opt_hex_id(self, field: str) -> str | None:
        return self.hex_id(field) if self.has(field) else None

    def sha256(self, field: str) -> str:
        """A content id or chunk hash: sha256 as 64 lower-case hex characters."""
        value = self.data.get(field)
        if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value):
            raise self.error(
                field, f"must be a sha256 (64 lower-case hex characters), not {value!r}"
            )
        return value

    def items(self, field: str, max_items: int) -> list[Any]:
        """A JSON list of at most `max_items` items, not yet checked one by one."""
        value = self.data.get(field)
        if not isinstance(value, list):
            raise self.error(field, f"must be a list, not {_kind(value)}")
        if len(value) > max_items:
            raise self.error(field, f"must hold at most {max_items} items, not {len(value)}")
        return value

    def ids(self, field: str, max_items: int, what: str = "group id") -> tuple[str, ...]:
        """A list of receiver or group ids (they are topic levels, so they are strict)."""
        values = self.items(field, max_items)
        for item in values:
            if not is_valid_id(item):
                raise self.error(field, f"holds {item!r}, which is not a {what} ({ID_RULE})")
        return tuple(values)

    def tokens(self, field: str, max_items: int = 32) -> tuple[str, ...]:
        value = self.data.get(field, [])
        if not isinstance(value, list) or len(value) > max_items:
            raise self.error(field, f"must be a list of at most {max_items} names")
        for item in value:
            if not isinstance(item, str) or not _TOKEN.fullmatch(item):
                raise self.error(field, f"holds {item!r}, which is not a lower-case name")
        return tuple(value)


def check_token(value: str, what: str) -> None:
    """Raise ValueError unless `value` is a lower-case name (a capability, a network type)."""
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a lower-case name like 'mp3' or 'chunks-v1'")


def is_hex_id(value: object) -> bool:
    """Whether `value` is 32 lower-case hex characters (a command, occurrence or bulletin id)."""
    return isinstance(value, str) and HEX_ID_PATTERN.fullmatch(value) is not None


def check_hex_id(value: object, what: str = "id") -> str:
    """`value` if it is 32 lower-case hex characters, else ValueError naming `what`."""
    if not is_hex_id(value):
        raise ValueError(f"{what} {value!r} is not 32 lower-case hex characters")
    assert isinstance(value, str)  # noqa: S101 - is_hex_id checked it
    return value


def is_sha256(value: object) -> bool:
    """Whether `value` is a sha256 written as 64 lower-case hex characters."""
    return isinstance(value, str) and SHA256_PATTERN.fullmatch(value) is not None


def millis(value: datetime, what: str) -> datetime:
    """`value` in UTC cut to the millisecond, as the wire carries it; ValueError if naive."""
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def check_identity(body: Body, receiver_id: str) -> None:
    """Refuse a receiver message whose `id` is not the id of its topic, or whose `v` is not 1."""
    claimed = body.text("id", 40)
    if claimed != receiver_id:
        raise DecodeError(
            f"{body.what} claims to be from {claimed!r} on the topic of {receiver_id!r}; "
            "a receiver may only speak for itself",
            topic=body.topic,
            reason="impersonation",
        )
    version = body.integer("v", 0, 1000)
    if version != 1:
        raise body.error("v", f"is {version}; this controller speaks protocol version 1")


def dumps(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the form every message is sent in."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r}")


def _loads(text: str) -> Any:
    """`json.loads(text)` for a text that starts with `{`, without its whitespace scans."""
    data, end = _JSON.raw_decode(text)
    if end != len(text):  # trailing whitespace, or extra data: json.loads decides which
        return _JSON.decode(text)
    return data


def _loads_unique(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_unique_object)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _kind(value: object) -> str:
    if value is None:
        return "missing"
    return {bool: "true/false", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )
