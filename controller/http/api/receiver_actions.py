"""`POST /api/v1/receivers/{id}/volume|restart|test-tone`: a technician's remote actions.

Each answers 202 Accepted with `{"receiver", "command", "online", "occurrence"}`: the
action was taken by the controller, and the receiver acts on it when the command reaches
it. `online: false` says the receiver is away: a volume or restart waits until it comes
back (or expires: a day, 10 minutes), a test tone is delivered like any bulletin.
`occurrence` is the test tone's (follow it on the delivery page or
`/api/v1/events?occurrence=ID`); null for the others. An unknown receiver is a 404
problem, a volume outside 0 to 100 a 422 problem naming `volume`. See
`controller.maintenance`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from controller.delivery.requests import RequestError
from controller.http.context import Ctx
from controller.http.problems import FieldError, Problem, not_found
from controller.maintenance import (
    ControllerNotRunning,
    Maintenance,
    MaintenanceResult,
    UnknownReceiver,
)

router = APIRouter(prefix="/api/v1", tags=["receivers"])


class VolumeIn(BaseModel):
    """The standing output level to set."""

    model_config = ConfigDict(extra="forbid")

    volume: int = Field(strict=True, ge=0, le=100, description="output level in %, 0 to 100")


class ActionOut(BaseModel):
    """What the controller did (see the module docstring)."""

    receiver: str
    command: Literal["volume", "restart", "test-tone"]
    online: bool
    occurrence: str | None


def _out(result: MaintenanceResult) -> ActionOut:
    return ActionOut(
        receiver=result.receiver,
        command=result.command,
        online=result.online,
        occurrence=result.occurrence,
    )


async def _done(receiver_id: str, action: Awaitable[MaintenanceResult]) -> ActionOut:
    """The action's result, its errors as problems: 404 unknown receiver, 503 not running."""
    try:
        return _out(await action)
    except UnknownReceiver as exc:
        raise not_found("receiver", receiver_id) from exc
    except ControllerNotRunning as exc:
        raise Problem(503, str(exc)) from exc
    except RequestError as exc:  # the test tone, refused as any bulletin (quiet hours)
        error = FieldError("action", str(exc), exc.code, exc.params)
        raise Problem(422, str(exc), errors=(error,)) from exc


@router.post(
    "/receivers/{receiver_id}/volume",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Set a receiver's output volume",
)
async def set_volume(receiver_id: str, body: VolumeIn, context: Ctx) -> ActionOut:
    """Send the receiver a signed `volume` command; its next heartbeats report the level."""
    return await _done(
        receiver_id, Maintenance.of(context.controller).set_volume(receiver_id, body.volume)
    )


@router.post(
    "/receivers/{receiver_id}/restart",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Restart a receiver",
)
async def restart(receiver_id: str, context: Ctx) -> ActionOut:
    """Send the receiver a signed `restart` command: it goes offline (`reboot`) and comes
    back with a new epoch."""
    return await _done(receiver_id, Maintenance.of(context.controller).restart(receiver_id))


@router.post(
    "/receivers/{receiver_id}/test-tone",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Play a test tone on a receiver",
)
async def test_tone(receiver_id: str, context: Ctx) -> ActionOut:
    """Send three 1 kHz beeps to this receiver alone as a normal bulletin ("Thử loa"),
    expiring in 10 minutes; `occurrence` follows it to `played`."""
    return await _done(receiver_id, Maintenance.of(context.controller).test_tone(receiver_id))
