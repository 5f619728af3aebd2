"""Why a receiver's state changed, in the person's language.

`devices.health` writes each cause in English for logs and the API ("birth, session
epoch 3", "no heartbeat for 190 s (3 intervals) ..."). The dashboard shows them through
`CAUSES`: a pattern per cause and the `common.cause.*` text it becomes, with the numbers
it holds. The same table goes to the pages' JavaScript (`Loa.cause`), so live changes
read the same. A cause no pattern knows is shown as it is.
"""

from __future__ import annotations

import re
from typing import Final

from controller.http.i18n import Translator

_LOST: Final = "common.cause.lost"
#: (pattern, text key); the pattern's named groups fill the text's placeholders.
CAUSES: Final[tuple[tuple[str, str], ...]] = (
    (r"^birth, session epoch (?P<epoch>\d+)$", "common.cause.birth"),
    (r"^announced itself$", "common.cause.announced"),
    (
        r"^Last Will: the broker lost the connection( \(as the broker kept it\))?$",
        "common.cause.lost",
    ),
    (r"^clean shutdown( \(as the broker kept it\))?$", "common.cause.shutdown"),
    (r"^rebooting( \(as the broker kept it\))?$", "common.cause.reboot"),
    (r"^heartbeat$", "common.cause.heartbeat"),
    (r"^heartbeat of a new session epoch (?P<epoch>\d+)$", "common.cause.heartbeat_epoch"),
    (r"^heartbeats again$", "common.cause.heartbeats_again"),
    (r"^no heartbeat for (?P<seconds>\d+) s .*half-open$", "common.cause.silent"),
    (r"^(?P<changes>\d+) changes within (?P<minutes>[\d.]+) min$", "common.cause.flapping"),
    (r"^stable again$", "common.cause.stable"),
    (r"^controller restarted$", "common.cause.controller_restarted"),
    (r"^broker connection restored$", "common.cause.broker_restored"),
    (r"^never heard from$", "common.cause.never"),
)
_COMPILED: Final = tuple((re.compile(pattern), key) for pattern, key in CAUSES)


def js_patterns() -> list[list[str]]:
    """`CAUSES` for JavaScript's RegExp, which writes a named group `(?<name>...)`."""
    return [[pattern.replace("(?P<", "(?<"), key] for pattern, key in CAUSES]


def cause_text(cause: str | None, t: Translator) -> str:
    """`cause` in `t`'s language (as it is when no pattern knows it)."""
    if not cause:
        return ""
    for pattern, key in _COMPILED:
        found = pattern.match(cause)
        if found:
            return t(key, **{k: v for k, v in found.groupdict().items() if v is not None})
    return cause
