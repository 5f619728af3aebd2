"""How much of a period each receiver was online, from its stored transitions.

A receiver is counted from the later of the period's start and the day it was registered:
before it existed it was not "down", so a receiver put up on Wednesday is not 40% down
for a week that began on Monday. Shared by `loa uptime`, the API and the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from controller.store import Store, list_receivers
from controller.store.health import transitions_between
from controller.store.schema import receivers as receivers_table
from devices.health import uptime
from loa.errors import LoaError


@dataclass(frozen=True)
class Uptime:
    receiver_id: str
    #: the share of [since, end) it was online, 0 to 1
    fraction: float
    #: state changes within the period
    changes: int
    #: where counting began: the period's start, or the receiver's registration if later
    since: datetime


async def receiver_uptimes(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    ids: Sequence[str] = (),
    group: str | None = None,
) -> list[Uptime]:
    """The uptime of every registered receiver (below `group`, or only `ids`), by id."""
    known = [row.receiver.id for row in await list_receivers(store, group=group)]
    if ids:
        unknown = sorted(set(ids) - set(known))
        if unknown:
            raise LoaError(
                f"no registered receiver {', '.join(unknown)}; `loa devices list` shows them"
            )
        known = [i for i in known if i in set(ids)]
    async with store.read() as session:
        query = select(receivers_table.c.id, receivers_table.c.created_at)
        registered = {row.id: row.created_at for row in (await session.execute(query)).all()}
    found: list[Uptime] = []
    for receiver_id in known:
        since = max(start, registered.get(receiver_id, start))
        if since >= end:  # registered after the period: nothing to count
            found.append(Uptime(receiver_id, 0.0, 0, end))
            continue
        before, transitions = await transitions_between(store, receiver_id, since, end)
        fraction = uptime(transitions, since, end, state_at_start=before)
        found.append(Uptime(receiver_id, fraction, len(transitions), since))
    return found
