"""`/api/v1/contents`: audio to broadcast, uploaded or typed for text-to-speech.

`POST /contents` takes a recording as `multipart/form-data` (`file`, with `title` and
`language` beside it), streamed to disk under the size limit (`http.max_upload_mb`) and
prepared exactly as `loa audio prepare` does (`AudioLibrary.add_file`): a file ffmpeg
cannot use as audio is a 422 saying why, and leaves nothing stored. `POST
/contents/tts` reads text aloud (`loa audio tts`). `GET /contents/{id}/audio` is the
encoded file itself, for a player (HTTP Range requests work). Ids may be shortened to
their first 6 or more characters.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator

from audio.errors import AudioError, NotAudioError
from audio.store_errors import ContentNotFound
from audio.tts.vietnamese import TextError
from controller.audio.library import AudioLibrary, UnknownContent
from controller.config.model import language_check
from controller.http.api.fields import Language
from controller.http.api.paging import Page, PagingQuery, page_of
from controller.http.context import Ctx, HttpContext
from controller.http.problems import FieldError, Problem, not_found
from controller.http.uploads import Upload, receive_upload
from controller.store.bulletins import CHIMES
from controller.store.contents import ContentRow

router = APIRouter(prefix="/api/v1", tags=["contents"])

Chime = Literal["none", "before", "after", "both"]


class ContentOut(BaseModel):
    """A stored content: what it is, how it was made, and where to hear it."""

    id: str
    title: str
    language: str
    kind: str
    source_name: str
    source_text: str | None
    codec: str
    mime_type: str
    bitrate_kbps: int
    duration_s: float
    size_bytes: int
    loudness_after_lufs: float
    added_by: str
    added_at: datetime
    audio_url: str


class AddedOut(BaseModel):
    """The outcome of an add: the content, and whether this add made it (False: the same
    audio was stored already, and this is that content)."""

    created: bool
    content: ContentOut


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="the text to read aloud")
    language: Language | None = Field(
        None, description="its language (default audio.default_language)"
    )
    title: str | None = Field(None, max_length=200, description="a title for people")
    chime: Chime | None = Field(None, description="the attention chime (default: the config's)")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("write the text to read aloud")
        return value


def content_out(row: ContentRow) -> ContentOut:
    return ContentOut(
        id=row.id,
        title=row.title,
        language=row.language,
        kind=row.kind,
        source_name=row.source_name,
        source_text=row.source_text,
        codec=row.codec,
        mime_type=row.mime_type,
        bitrate_kbps=row.bitrate_kbps,
        duration_s=round(row.duration_s, 3),
        size_bytes=row.size_bytes,
        loudness_after_lufs=row.loudness_after_lufs,
        added_by=row.added_by,
        added_at=row.added_at,
        audio_url=f"/api/v1/contents/{row.id}/audio",
    )


def operator() -> str:
    """Who adds or sends, until the dashboard has accounts: the server's user."""
    try:
        return f"web:{getpass.getuser()}"
    except (KeyError, OSError):
        return "web"


async def find_content(library: AudioLibrary, wanted: str) -> ContentRow:
    """The content `wanted` names (an id or its first 6+ characters), or a 404."""
    try:
        return await library.get(wanted)
    except UnknownContent as exc:
        raise Problem(404, str(exc), title="No such content") from exc


@router.post(
    "/contents",
    status_code=201,
    summary="Upload a recording (multipart: file, title, language)",
    responses={413: {"description": "larger than http.max_upload_mb"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "title": {"type": "string"},
                            "language": {"type": "string"},
                            "chime": {"type": "string", "enum": list(CHIMES)},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload_content(request: Request, context: Ctx) -> JSONResponse:
    folder = Path(context.config.data_dir) / "uploads"
    async with receive_upload(request, folder, context.config.http.max_upload_mb) as upload:
        title, language, chime = _upload_fields(context, upload)
        library = context.library()
        try:
            added = await library.add_file(
                upload.path, title=title, language=language, added_by=operator(), chime=chime
            )
        except NotAudioError as exc:
            message = f"{upload.filename}: {exc.reason}"
            raise Problem(422, message, errors=(FieldError("file", message),)) from exc
        except AudioError as exc:
            message = str(exc).replace(str(upload.path), upload.filename)
            raise Problem(422, message, errors=(FieldError("file", message),)) from exc
    body = AddedOut(created=added.created, content=content_out(added.content))
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if added.created else 200)


def _upload_fields(context: HttpContext, upload: Upload) -> tuple[str | None, str, Chime | None]:
    fields = upload.fields
    errors: list[FieldError] = []
    title = fields.get("title", "").strip() or None
    if title is not None and len(title) > 200:
        errors.append(FieldError("title", "at most 200 characters"))
    language = fields.get("language", "").strip() or context.config.audio.default_language
    if (expected := language_check(language)) is not None:
        errors.append(FieldError("language", f"{language!r} is not valid; expected {expected}"))
    chime_text = fields.get("chime", "").strip() or None
    chime: Chime | None = None
    if chime_text is not None:
        if chime_text not in ("none", "before", "after", "both"):
            errors.append(FieldError("chime", "expected none, before, after or both"))
        else:
            chime = chime_text  # type: ignore[assignment]  # checked just above
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise Problem(422, detail, errors=tuple(errors))
    return title, language, chime


@router.post("/contents/tts", status_code=201, summary="Read text aloud and store it")
async def text_content(body: TextIn, context: Ctx) -> JSONResponse:
    library = context.library()
    try:
        added = await library.add_text(
            body.text,
            title=body.title,
            language=body.language or context.config.audio.default_language,
            added_by=operator(),
            chime=body.chime,
        )
    except TextError as exc:
        raise Problem(422, str(exc), errors=(FieldError("text", exc.problem),)) from exc
    out = AddedOut(created=added.created, content=content_out(added.content))
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if added.created else 200)


@router.get("/contents", summary="Stored contents, newest first")
async def list_contents(
    context: Ctx,
    paging: PagingQuery,
    language: Annotated[str | None, Query(description="only this language")] = None,
    q: Annotated[str | None, Query(description="words in the title, file name or text")] = None,
) -> Page[ContentOut]:
    rows = await context.library().contents()
    if language:
        rows = [row for row in rows if row.language == language]
    if q and q.strip():
        words = q.strip().casefold().split()
        rows = [row for row in rows if all(word in _haystack(row) for word in words)]
    return page_of([content_out(row) for row in rows], paging)


def _haystack(row: ContentRow) -> str:
    return " ".join((row.title, row.source_name, row.source_text or "", row.id)).casefold()


@router.get("/contents/{content_id}", summary="One stored content")
async def get_content(content_id: str, context: Ctx) -> ContentOut:
    return content_out(await find_content(context.library(), content_id))


@router.get(
    "/contents/{content_id}/audio",
    response_class=FileResponse,
    summary="The content's encoded audio, for a player",
    responses={200: {"content": {"audio/mpeg": {}, "audio/ogg": {}}}},
)
async def content_audio(content_id: str, context: Ctx) -> FileResponse:
    library = context.library()
    row = await find_content(library, content_id)
    try:
        path = library.files.path_of(row.id)
    except ContentNotFound as exc:
        raise not_found("audio file of content", row.id) from exc
    return FileResponse(
        path,
        media_type=row.mime_type,
        filename=f"{row.id[:12]}.{row.extension}",
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=86400"},
    )
