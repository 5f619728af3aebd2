"""`GET /api/v1/health`: is the controller well: its broker link, store, receivers."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from controller.http.context import Ctx
from devices.health import HEALTH_STATES
from loa import __version__
from loa.clock import utc_iso

router = APIRouter(prefix="/api/v1", tags=["controller"])


class LinkHealth(BaseModel):
    connected: bool
    broker: str
    connections: int
    last_error: str | None


class ControllerHealth(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    now: str
    time_zone: str
    link: LinkHealth
    receivers: dict[str, int]
    scheduled_jobs: int
    live_watchers: int


@router.get("/health", summary="The controller's own health")
async def health(context: Ctx) -> ControllerHealth:
    """`ok` while the broker link is up; `degraded` (still HTTP 200) while it is down, so a
    monitor sees the reason in `link.last_error` instead of a bare failure."""
    link = context.link
    counts = Counter(machine.state for machine in context.ingest.receivers())
    scheduler = context.controller.scheduler
    return ControllerHealth(
        status="ok" if link.connected.is_set() else "degraded",
        version=__version__,
        now=utc_iso(context.clock.now()),
        time_zone=context.config.time_zone,
        link=LinkHealth(
            connected=link.connected.is_set(),
            broker=link.address,
            connections=link.connections,
            last_error=link.last_error,
        ),
        receivers={state: counts.get(state, 0) for state in HEALTH_STATES},
        scheduled_jobs=len(scheduler.job_ids()) if scheduler is not None else 0,
        live_watchers=context.hub.watchers,
    )
