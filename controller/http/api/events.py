"""`GET /api/v1/events`: what changes, as Server-Sent Events.

Each SSE message is `event: batch` with a JSON array of changes, oldest first; each
change has a `kind`:

- `receiver`: `{id, state, since, cause, last_heard, rsrp_dbm, rssi_dbm, network,
  power, battery_v, volume, playing}`, on a state change or a heartbeat;
- `alerts`: `{receiver, alerts: [{kind, severity, message, since}]}` when a receiver's
  alerts change (an empty list: all cleared);
- `delivery`: `{occurrence, receiver, state, reason, at}` when a delivery moves;
- `occurrence`: `{id, state}` when all of an occurrence's deliveries have ended;
- `link`: `{connected, detail}` when the controller's broker link goes up or down.

Changes gather for up to 0.1 s into one batch, and a batch holds only the latest change
of each receiver or delivery, so a slow page skips states rather than falls behind.
`event: resync` says the page was too slow even for that and must reload its data. A
comment line every 15 s keeps proxies from closing a quiet stream.

Filters: `?kinds=receiver,alerts` (default: all) and `?occurrence=ID` (delivery and
occurrence changes of that occurrence only).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from controller.http.context import Ctx
from controller.http.problems import invalid
from controller.live.hub import LiveEvent, LiveHub

router = APIRouter(prefix="/api/v1", tags=["live"])

KINDS = ("receiver", "alerts", "delivery", "occurrence", "link")
KEEPALIVE_S = 15.0
GATHER_S = 0.1


@router.get(
    "/events",
    response_class=StreamingResponse,
    summary="Live changes as Server-Sent Events",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    context: Ctx,
    kinds: Annotated[str | None, Query(description="comma-separated kinds")] = None,
    occurrence: Annotated[str | None, Query(description="one occurrence's changes")] = None,
) -> StreamingResponse:
    wanted = _kinds(kinds)

    def wants(event: LiveEvent) -> bool:
        if event.kind not in wanted:
            return False
        return occurrence is None or event.occurrence in (None, occurrence)

    # The link's state now, so the page knows it without waiting for a change.
    link = context.link
    first = {"kind": "link", "connected": link.connected.is_set(), "detail": link.last_error}
    return StreamingResponse(
        _stream(context.hub, wants, first if "link" in wanted else None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _kinds(kinds: str | None) -> frozenset[str]:
    if kinds is None or not kinds.strip():
        return frozenset(KINDS)
    asked = {kind.strip() for kind in kinds.split(",") if kind.strip()}
    unknown = sorted(asked - set(KINDS))
    if unknown:
        raise invalid("kinds", f"unknown kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    return frozenset(asked)


async def _stream(
    hub: LiveHub, wants: Callable[[LiveEvent], bool], first: dict[str, object] | None
) -> AsyncIterator[str]:
    # Subscribed here, inside the `try`, so whatever ends the stream (even before its first
    # line) unsubscribes it.
    subscription = hub.subscribe(wants)
    try:
        yield "retry: 2000\n\n"
        if first is not None:
            yield _message("batch", [first])
        while True:
            batch = await subscription.next_batch(KEEPALIVE_S, GATHER_S)
            if batch is None:
                return  # the controller is stopping
            if subscription.take_overflow():
                yield _message("resync", {})
            elif batch:
                yield _message("batch", [event.wire() for event in batch])
            else:
                yield ": keep-alive\n\n"
    finally:
        subscription.close()


def _message(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
