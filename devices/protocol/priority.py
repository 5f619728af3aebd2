"""The priority ladder of bulletins: `emergency > live > priority > normal > background`.

`normal`, `priority` and `emergency` are the three levels of the Vietnamese rules
for commune IP radio; `live` (an operator speaking now) and `background` (music,
fillers) sit beside them. A receiver plays one occurrence at a time: a strictly
higher level pre-empts the one playing; an equal or lower one waits for it to end.
The schedule, the delivery engine and the receivers all compare through here.
"""

from __future__ import annotations

from typing import Literal

Priority = Literal["emergency", "live", "priority", "normal", "background"]

#: Every level, highest first (the order the wire, the CLI and the dashboard list them in).
PRIORITIES: tuple[Priority, ...] = ("emergency", "live", "priority", "normal", "background")

_RANK: dict[str, int] = {level: len(PRIORITIES) - place for place, level in enumerate(PRIORITIES)}


def rank(priority: Priority) -> int:
    """A number that grows with importance: `background` is 1, `emergency` 5."""
    try:
        return _RANK[priority]
    except KeyError:
        raise ValueError(
            f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}"
        ) from None


def preempts(new: Priority, playing: Priority) -> bool:
    """Whether `new` stops `playing` when it is due: only a strictly higher level does."""
    return rank(new) > rank(playing)


def is_priority(value: object) -> bool:
    """Whether `value` is one of the five levels (for readers of untrusted input)."""
    return isinstance(value, str) and value in _RANK
