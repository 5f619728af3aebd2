"""`/api/v1/bulletins`: send a bulletin, follow its delivery, cancel it.

`POST /bulletins` is `loa bulletin send`: the same checks (targets, sound, quiet hours,
play time) and the same writing (`controller.delivery.requests.send_bulletin`); the
delivery engine is woken at once. An emergency interrupts whatever receivers are
playing and ignores quiet hours, so it must say `"confirm": true`.

A bulletin's airings are occurrences; the list and the status are by occurrence id (or
its first 6 or more characters), like `loa bulletin list | status | cancel`. The status
names every targeted receiver with its delivery state, those that missed it (or may: they
are offline) first; a receiver the delivery has not reached yet is `waiting`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from audio.errors import AudioError
from audio.tts.vietnamese import TextError
from controller.audio.library import UnknownContent
from controller.delivery.plan import TargetError, resolve
from controller.delivery.requests import (
    Audio,
    RequestError,
    SendRequest,
    Sent,
    parse_duration,
    send_bulletin,
)
from controller.delivery.status import (
    Report,
    UnknownOccurrence,
    cancel_occurrence,
    occurrence_report,
)
from controller.http.api.contents import operator
from controller.http.api.fields import Language
from controller.http.api.paging import Page, PagingQuery
from controller.http.context import Ctx, HttpContext
from controller.http.problems import FieldError, Problem, invalid
from controller.store.bulletins import (
    OCCURRENCE_STATES,
    OccurrenceFilter,
    OccurrenceSummary,
    count_occurrences,
    list_occurrences,
)
from controller.store.registry_rows import load_groups, load_receivers
from devices.delivery import DELIVERY_STATES, is_terminal
from devices.registry import GroupTree

router = APIRouter(prefix="/api/v1", tags=["bulletins"])

Priority = Literal["emergency", "live", "priority", "normal", "background"]
Chime = Literal["none", "before", "after", "both"]
#: Ended without being heard.
MISSED = ("failed", "rejected", "preempted", "expired", "cancelled")
_RANK: dict[str, int] = {state: index for index, state in enumerate(DELIVERY_STATES)}


class BulletinIn(BaseModel):
    """A bulletin to send: its sound, to whom, how and when."""

    title: str | None = Field(None, max_length=200, description="a title for people")
    text: str | None = Field(None, max_length=20_000, description="text to read aloud")
    contents: list[str] = Field(
        default_factory=list,
        description="stored contents (ids or their first 6+ characters), one per language",
    )
    language: Language | None = Field(
        None, description="the language of `text`, or of one content sent alone"
    )
    targets: list[str] = Field(
        min_length=1, description="group and receiver ids, or ['all']", examples=[["thon-1"]]
    )
    priority: Priority = "normal"
    play_at: datetime | None = Field(None, description="UTC instant; null: as soon as it can")
    expires: str | None = Field(None, description="how long it may still play: 30m, 2h")
    repeat: int = Field(1, ge=1, le=10)
    volume: int | None = Field(None, ge=0, le=100)
    chime: Chime = "none"
    confirm: bool = Field(False, description="required for an emergency")

    @field_validator("play_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give an instant with its offset, e.g. 2026-12-01T23:00:00Z")
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        cleaned = [target.strip() for target in value if target.strip()]
        if not cleaned:
            raise ValueError("pick at least one village, group or receiver")
        return cleaned


class LanguageOut(BaseModel):
    language: str
    content: str
    receivers: int


class SentOut(BaseModel):
    occurrence: str
    bulletin: str
    title: str
    priority: str
    receivers: int
    languages: list[LanguageOut]
    play_at: datetime | None
    expires_at: datetime
    url: str


class OccurrenceOut(BaseModel):
    occurrence: str
    bulletin: str
    title: str
    priority: str
    state: str
    reason: str | None
    schedule: str | None
    play_at: datetime | None
    expires_at: datetime
    created_at: datetime
    counts: dict[str, int]
    total: int
    url: str


class ReceiverDeliveryOut(BaseModel):
    receiver: str
    name: str
    village: str | None
    village_name: str | None
    #: a delivery state, or `waiting` before the delivery reaches the receiver
    state: str
    reason: str | None
    updated_at: datetime | None
    #: the receiver's health now (`online`, `offline`, ...); None if it is not registered
    health: str | None
    online: bool
    #: it ended without being heard, or it may: not ended and the receiver is offline
    missed: bool


class StatusOut(OccurrenceOut):
    finished: bool
    waiting: int
    receivers: list[ReceiverDeliveryOut]


class CancelledOut(BaseModel):
    occurrence: str
    cancelled: bool
    was: str


@router.post("/bulletins", status_code=201, summary="Send a bulletin now or at a time")
async def send(body: BulletinIn, context: Ctx) -> SentOut:
    if body.priority == "emergency" and not body.confirm:
        raise invalid(
            "confirm",
            "an emergency interrupts every targeted receiver, even in quiet hours; "
            'send it again with "confirm": true',
        )
    if body.text is not None and not body.text.strip():
        raise invalid("text", "write the text to read aloud")
    if body.text is None and not body.contents:
        raise invalid("text", "give text to read aloud, or stored contents (`contents`)")
    expires = None
    if body.expires is not None and body.expires.strip():
        try:
            expires = parse_duration(body.expires, what="expires")
        except RequestError as exc:
            raise invalid("expires", str(exc)) from exc
    config = context.config
    request = SendRequest(
        audio=Audio(text=body.text, contents=tuple(body.contents)),
        language=body.language or config.audio.default_language,
        targets=",".join(body.targets),
        priority=body.priority,
        play_at=body.play_at,
        expires_after=expires,
        volume=body.volume,
        repeat=body.repeat,
        chime=body.chime,
        title=body.title.strip() if body.title and body.title.strip() else None,
        created_by=operator(),
    )
    try:
        sent = await send_bulletin(context.store, context.library(), config, request, context.clock)
    except TargetError as exc:
        raise invalid("targets", str(exc)) from exc
    except UnknownContent as exc:
        raise invalid("contents", str(exc)) from exc
    except (TextError, AudioError) as exc:
        raise invalid("text", str(exc)) from exc
    except RequestError as exc:
        error = FieldError(_field_of(str(exc)), str(exc), exc.code, exc.params)
        raise Problem(422, str(exc), errors=(error,)) from exc
    context.woken()
    return sent_out(sent)


def _field_of(message: str) -> str:
    """Which field a `RequestError` of `send_bulletin` is about (its words are the CLI's)."""
    if "--at" in message or "quiet hours" in message:
        return "play_at"
    if "--content" in message or "content " in message:
        return "contents"
    if "--lang" in message:
        return "language"
    return "text"


def sent_out(sent: Sent) -> SentOut:
    occurrence = sent.occurrence
    return SentOut(
        occurrence=occurrence.id,
        bulletin=sent.bulletin.id,
        title=sent.bulletin.title,
        priority=sent.bulletin.priority,
        receivers=sent.receivers,
        languages=[
            LanguageOut(language=language, content=content, receivers=sent.hearing[language])
            for language, content in sent.contents.items()
        ],
        play_at=occurrence.play_at,
        expires_at=occurrence.expires_at,
        url=f"/bulletins/{occurrence.id}",
    )


def occurrence_out(summary: OccurrenceSummary) -> OccurrenceOut:
    occurrence = summary.occurrence
    return OccurrenceOut(
        occurrence=occurrence.id,
        bulletin=occurrence.bulletin_id,
        title=summary.title,
        priority=summary.priority,
        state=occurrence.state,
        reason=occurrence.reason,
        schedule=occurrence.schedule_id,
        play_at=occurrence.play_at,
        expires_at=occurrence.expires_at,
        created_at=occurrence.created_at,
        counts=summary.counts,
        total=sum(summary.counts.values()),
        url=f"/bulletins/{occurrence.id}",
    )


@router.get("/bulletins", summary="Occurrences of bulletins, newest first")
async def list_bulletins(
    context: Ctx,
    paging: PagingQuery,
    *,
    state: Annotated[str | None, Query(description="occurrence states, comma-separated")] = None,
    priority: Annotated[Priority | None, Query(description="only this priority")] = None,
    since: Annotated[
        datetime | None, Query(alias="from", description="playing at or after (UTC)")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="playing before (UTC)")] = None,
) -> Page[OccurrenceOut]:
    states = None
    if state is not None and state.strip():
        states = [part.strip() for part in state.split(",") if part.strip()]
        unknown = [part for part in states if part not in OCCURRENCE_STATES]
        if unknown:
            raise invalid(
                "state", f"unknown state {unknown[0]!r}; known: {', '.join(OCCURRENCE_STATES)}"
            )
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.utcoffset() is None:
            raise invalid(name, "give an instant with its offset, e.g. 2026-12-01T00:00:00Z")
    chosen = OccurrenceFilter(states=states, priority=priority, since=since, until=until)
    async with context.store.read() as session:
        total = await count_occurrences(session, chosen)
        rows = await list_occurrences(
            session, limit=paging.limit, offset=paging.offset, chosen=chosen
        )
    return Page[OccurrenceOut](
        items=[occurrence_out(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


async def find_report(context: HttpContext, wanted: str) -> Report:
    """`occurrence_report`, an unknown id answered 404."""
    try:
        return await occurrence_report(context.store, wanted)
    except UnknownOccurrence as exc:
        raise Problem(404, str(exc), title="No such occurrence") from exc


async def status_of(context: HttpContext, report: Report) -> StatusOut:
    """The report with every targeted receiver named, those that missed it first."""
    async with context.store.read() as session:
        tree = GroupTree(await load_groups(session))
        registry = await load_receivers(session)
    try:
        targeted = resolve(report.detail.targets, list(registry.values()), tree)
    except TargetError:
        targeted = []  # a group was removed since; the deliveries still say who had it
    deliveries = {delivery.receiver: delivery for delivery in report.deliveries}
    ingest = context.ingest
    rows: list[ReceiverDeliveryOut] = []
    for receiver_id in dict.fromkeys([*deliveries, *(r.id for r in targeted)]):
        receiver = registry.get(receiver_id)
        village = tree.get(receiver.village_id) if receiver is not None else None
        delivery = deliveries.get(receiver_id)
        state = delivery.state if delivery is not None else "waiting"
        machine = ingest.health(receiver_id)
        online = ingest.is_online(receiver_id)
        ended = delivery is not None and is_terminal(delivery.state)
        rows.append(
            ReceiverDeliveryOut(
                receiver=receiver_id,
                name=receiver.name if receiver is not None else receiver_id,
                village=receiver.village_id if receiver is not None else None,
                village_name=village.name if village is not None else None,
                state=state,
                reason=delivery.reason if delivery is not None else None,
                updated_at=delivery.updated_at if delivery is not None else None,
                health=machine.state if machine is not None else None,
                online=online,
                missed=state in MISSED or (not ended and not online),
            )
        )
    rows.sort(key=_order)
    occurrence = report.occurrence
    bulletin = report.detail.bulletin
    counts = report.counts
    return StatusOut(
        occurrence=occurrence.id,
        bulletin=bulletin.id,
        title=bulletin.title,
        priority=bulletin.priority,
        state=occurrence.state,
        reason=occurrence.reason,
        schedule=occurrence.schedule_id,
        play_at=occurrence.play_at,
        expires_at=occurrence.expires_at,
        created_at=occurrence.created_at,
        counts=counts,
        total=len(rows),
        url=f"/bulletins/{occurrence.id}",
        finished=report.finished,
        waiting=sum(1 for row in rows if row.state == "waiting"),
        receivers=rows,
    )


def _order(row: ReceiverDeliveryOut) -> tuple[int, int, str, str]:
    first = 0 if row.state in MISSED else 1 if row.missed else 2
    rank = _RANK.get(row.state, -1)
    return first, rank, row.village_name or "", row.name


@router.get("/bulletins/{occurrence}", summary="An occurrence's delivery, receiver by receiver")
async def bulletin_status(occurrence: str, context: Ctx) -> StatusOut:
    return await status_of(context, await find_report(context, occurrence))


@router.post("/bulletins/{occurrence}/cancel", summary="Cancel an occurrence")
async def cancel(occurrence: str, context: Ctx) -> JSONResponse:
    report = await find_report(context, occurrence)
    try:
        occurrence_id, was = await cancel_occurrence(
            context.store, report.occurrence.id, context.clock.now()
        )
    except UnknownOccurrence as exc:
        raise Problem(409, str(exc)) from exc
    context.woken()
    body = CancelledOut(occurrence=occurrence_id, cancelled=True, was=was)
    return JSONResponse(body.model_dump(), status_code=200)
