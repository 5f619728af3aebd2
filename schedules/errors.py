"""Errors of the schedules package.

`RecurrenceError` is both a `LoaError` (so the command line prints it on one line and exits
with 2) and a `ValueError` (so code that validates values, such as a YAML loader, can catch
the usual built-in). Its message always names the field, the value and what was expected.
"""

from __future__ import annotations

from loa.errors import LoaError


class RecurrenceError(LoaError, ValueError):
    """A schedule's "when" (recurrence, window, exceptions or zone) is not valid.

    `field` is the name a person wrote (`daily.times`, `when.until`), `value` the bad value.
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: {value!r} is not valid; expected {expected}")
