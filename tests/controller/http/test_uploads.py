"""Streamed uploads (`controller.http.uploads`) on a bare app: what counts as the file,
and what is refused before it fills memory or disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from controller.http import problems
from controller.http.uploads import MAX_FIELDS, MEGABYTE, receive_upload


def app_for(folder: Path, limit_mb: int = 1) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/api/v1/up")
    async def up(request: Request) -> JSONResponse:
        async with receive_upload(request, folder, limit_mb) as upload:
            return JSONResponse(
                {"name": upload.filename, "size": upload.size, "fields": upload.fields}
            )

    return app


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "xyz") -> bytes:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data
        body += b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


async def post(app: FastAPI, body: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://loa") as client:
        return await client.post(
            "/api/v1/up",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=xyz"},
        )


async def test_the_first_file_is_kept_with_its_fields_and_others_are_dropped(
    tmp_path: Path,
) -> None:
    body = multipart(
        [
            ("title", None, "Bản tin sáng".encode()),
            ("file", "tin sáng.mp3", b"ID3" + b"\0" * 100),
            ("file", "second.mp3", b"x" * 50),
        ]
    )
    answer = await post(app_for(tmp_path), body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "name": "tin sáng.mp3",
        "size": 103,
        "fields": {"title": "Bản tin sáng"},
    }
    assert list(tmp_path.iterdir()) == []  # the temp folder is gone once handled


async def test_a_form_sent_without_choosing_a_file_says_so(tmp_path: Path) -> None:
    body = multipart([("title", None, b"x"), ("file", "", b"")])
    answer = await post(app_for(tmp_path), body)
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "file", "message": "no file was uploaded; choose an audio file"}
    ]


async def test_a_chunked_body_over_the_limit_is_refused_even_in_parts_not_kept(
    tmp_path: Path,
) -> None:
    """A small file, then 2 MB in another file part (dropped unread): still too large."""

    async def chunks() -> AsyncIterator[bytes]:
        yield multipart([("file", "a.mp3", b"ID3")])[: -len("--xyz--\r\n")]
        yield b'--xyz\r\nContent-Disposition: form-data; name="other"; filename="b.mp3"\r\n\r\n'
        for _ in range(2 * MEGABYTE // 65536):
            yield b"z" * 65536

    answer = await post(app_for(tmp_path, limit_mb=1), chunks())
    assert answer.status_code == 413
    assert list(tmp_path.iterdir()) == []


async def test_too_many_fields_are_refused(tmp_path: Path) -> None:
    body = multipart([(f"f{n}", None, b"1") for n in range(MAX_FIELDS + 1)])
    answer = await post(app_for(tmp_path), body)
    assert answer.status_code == 422
    assert f"more than {MAX_FIELDS} form fields" in answer.json()["detail"]
