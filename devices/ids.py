"""Identifiers of receivers and groups: they are MQTT topic levels, so they are strict.

A receiver id or group id is 1 to 40 characters of lower-case letters, digits,
`_` and `-`, starting with a letter or digit: it appears as one level of the
topic tree (`<prefix>/v1/rx/<id>/...`), and clustered brokers drop or rewrite
other characters (NATS drops a connection on `.` or a space; RabbitMQ rewrites `.`).
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ID_RULE = "1 to 40 lower-case letters, digits, '_' or '-', starting with a letter or digit"


def is_valid_id(value: object) -> bool:
    """Whether `value` is a valid receiver or group id."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def check_id(value: object, what: str = "receiver id") -> str:
    """Return `value` if it is a valid id; raise ValueError naming `what` otherwise."""
    if not is_valid_id(value):
        raise ValueError(f"{what} {value!r} is not valid; expected {ID_RULE}")
    assert isinstance(value, str)  # noqa: S101 - is_valid_id checked it
    return value
