"""Reading JSON message bodies strictly, with errors that name the field.

Every decoder of the protocol goes through `Body`: it checks the payload size,
parses JSON, insists on an object, and reads each field with its type and range.
Any problem is a `DecodeError` naming the topic and the field, and nothing
else escapes: random bytes from the wire never raise anything but our error.
Unknown fields are ignored (forward compatibility).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, TypeVar

from loa.errors import DecodeError

#: The largest control message a receiver or the controller may send, in bytes.
MAX_CONTROL_PAYLOAD = 16 * 1024
#: Integers must survive a JavaScript or Lua JSON parser in firmware.
MAX_SAFE_INT = 2**53 - 1
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")

L = TypeVar("L", bound=str)


class Body:
    """A decoded JSON object and where it came from."""

    def __init__(self, payload: bytes, topic: str | None, what: str) -> None:
        self.topic = topic
        self.what = what
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise DecodeError(
                f"{what} of {len(payload)} bytes is larger than the {MAX_CONTROL_PAYLOAD}-byte "
                "limit for control messages",
                topic=topic,
                reason="oversized",
            )
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise DecodeError(f"{what} is not JSON: {exc}", topic=topic) from exc
        if not isinstance(data, dict):
            raise DecodeError(f"{what} is not a JSON object", topic=topic)
        self.data: dict[str, Any] = data

    def error(self, field: str, problem: str) -> DecodeError:
        return DecodeError(f"{self.what}: field {field!r} {problem}", topic=self.topic)

    def has(self, field: str) -> bool:
        return self.data.get(field) is not None

    def sub(self, field: str) -> Body:
        """A nested object, read with the same rules."""
        value = self.data.get(field)
        if not isinstance(value, dict):
            raise self.error(field, "must be a JSON object")
        nested = Body.__new__(Body)
        nested.topic = self.topic
        nested.what = f"{self.what}: {field}"
        nested.data = value
        return nested

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
        return value

    def opt_instant(self, field: str) -> datetime | None:
        return self.instant(field) if self.has(field) else None

    def tokens(self, field: str, max_items: int = 32) -> tuple[str, ...]:
        value = self.data.get(field, [])
        if not isinstance(value, list) or len(value) > max_items:
            raise self.error(field, f"must be a list of at most {max_items} names")
        for item in value:
            if not isinstance(item, str) or not _TOKEN.match(item):
                raise self.error(field, f"holds {item!r}, which is not a lower-case name")
        return tuple(value)


def check_token(value: str, what: str) -> None:
    """Raise ValueError unless `value` is a lower-case name (a capability, a network type)."""
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} is not a lower-case name like 'mp3' or 'chunks-v1'")


def dumps(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the form every message is sent in."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _kind(value: object) -> str:
    if value is None:
        return "missing"
    return {bool: "true/false", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )
