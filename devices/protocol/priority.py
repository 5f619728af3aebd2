"""The priority ladder of bulletins: `emergency > live > priority > normal > background`.

`normal`, `priority` and `emergency` are the three levels of the Vietnamese rules
for commune IP radio; `live` (an operator speaking now) and `background` (music,
fillers) sit beside them. A receiver plays one occurrence at a time: a strictly
higher level from `priority` up pre-empts the one playing; anything else waits for it
to end. `normal` (and `background`) never interrupt anything, not even background music:
the day's programme is not cut into, it follows.
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


#: The lowest level that may cut into another occurrence.
INTERRUPTS_FROM: Priority = "priority"


def preempts(new: Priority, playing: Priority) -> bool:
    """Whether `new` stops `playing` when it is due: a strictly higher level, and only
    `priority`, `live` or `emergency` (normal items never interrupt anything)."""
    return rank(new) > rank(playing) and rank(new) >= _RANK[INTERRUPTS_FROM]


def is_priority(value: object) -> bool:
    """Whether `value` is one of the five levels (for readers of untrusted input)."""
    return isinstance(value, str) and value in _RANK
