"""A file uploaded as `multipart/form-data`, streamed to disk with a size limit.

FastAPI's `UploadFile` reads the whole body before the handler runs, with no limit.
`receive_upload()` instead reads the body as it arrives, writes the file part to a temp
folder under the data dir (`<data_dir>/uploads/<random>/<name>`, so the file keeps the
name it was sent with, for titles and messages) and counts its bytes:

- a body whose `Content-Length` already says it is too large is refused before a byte
  is read, and one that grows past the limit (chunked) is refused as soon as it does:
  413, and the temp folder is removed;
- a client that goes away mid-upload, or a body that ends before its closing boundary,
  leaves nothing behind either (400);
- the temp folder is removed when the `async with` block ends, whatever happens in it.

The parser (and so the writing to disk) runs in a worker thread, 256 KB at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from controller.http.problems import FieldError, Problem

#: Room for the multipart framing and the small text fields beside the file.
FRAMING_SLACK = 64 * 1024
#: The most a text field beside the file may hold.
MAX_FIELD_BYTES = 16 * 1024
#: The most text fields beside the file.
MAX_FIELDS = 32
MEGABYTE = 1024 * 1024
#: Bytes gathered from the request before they go to the parser (and the disk) at once.
WRITE_BATCH = 256 * 1024
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


@dataclass
class Upload:
    """The file received (`path`, as sent: `filename`, `size` bytes) and the text fields."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def safe_name(filename: str) -> str:
    """The uploaded file's name without folders or characters a file system dislikes."""
    name = _UNSAFE.sub("_", Path(filename.replace("\\", "/")).name).strip(" .")
    return name[-120:] or "upload"


@contextlib.asynccontextmanager
async def receive_upload(
    request: Request, folder: Path, limit_mb: int, file_field: str = "file"
) -> AsyncIterator[Upload]:
    """Receive the request's `file_field` into `folder`; removed again on the way out."""
    limit = limit_mb * MEGABYTE
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Problem(
            415,
            "send the audio as multipart/form-data with the file in the field "
            f"{file_field!r} (an HTML form with enctype=multipart/form-data does)",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + FRAMING_SLACK:
        raise _too_large(limit_mb, file_field, int(declared))
    temp = folder / secrets.token_hex(8)
    temp.mkdir(parents=True)
    try:
        receiver = _Receiver(temp, file_field, limit, limit_mb)
        await receiver.run(request, boundary)
        if receiver.upload is None:
            raise Problem(
                422,
                f"{file_field}: no file was uploaded; choose an audio file",
                errors=(FieldError(file_field, "no file was uploaded; choose an audio file"),),
            )
        yield receiver.upload
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _too_large(limit_mb: int, file_field: str, size: int) -> Problem:
    message = (
        f"the file is larger than the limit of {limit_mb} MB "
        f"({size / MEGABYTE:.1f} MB or more sent); shorten it or lower its bitrate "
        "(http.max_upload_mb sets the limit)"
    )
    return Problem(413, f"{file_field}: {message}", errors=(FieldError(file_field, message),))


class _Receiver:
    """The parser's callbacks: headers of each part, its data to a file or a field."""

    def __init__(self, temp: Path, file_field: str, limit: int, limit_mb: int) -> None:
        self._temp = temp
        self._file_field = file_field
        self._limit = limit
        self._limit_mb = limit_mb
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._out: BinaryIO | None = None
        self._value = bytearray()
        self._size = 0
        self._ended = False
        self._problem: Problem | None = None
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None

    async def run(self, request: Request, boundary: bytes) -> None:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_end": self._end,
            },
        )
        try:
            received = 0
            pending = bytearray()
            async for chunk in request.stream():
                received += len(chunk)
                if received > self._limit + FRAMING_SLACK:  # the whole body, fields included
                    raise _too_large(self._limit_mb, self._file_field, received)
                pending += chunk
                if len(pending) >= WRITE_BATCH:
                    await self._parse(parser, pending)
                    pending = bytearray()
            await self._parse(parser, pending)
            await asyncio.to_thread(parser.finalize)
            if self._problem is not None:
                raise self._problem
        except ClientDisconnect as exc:
            raise Problem(400, "the upload was interrupted before the file arrived whole") from exc
        except MultipartParseError as exc:
            raise Problem(400, f"the upload is not valid multipart/form-data ({exc})") from exc
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None
        if not self._ended:
            raise Problem(400, "the upload ended before the file arrived whole; send it again")
        if self.upload is not None:
            self.upload.fields = self.fields

    async def _parse(self, parser: MultipartParser, data: bytearray) -> None:
        """Feed `data` to the parser in a worker thread: its callbacks write the file, and a
        slow disk (an SD card) must not hold up the event loop."""
        if data:
            await asyncio.to_thread(parser.write, bytes(data))
        if self._problem is not None:
            raise self._problem

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = ""
        self._filename = None
        self._value = bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value)
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            return  # a text field
        # A file part. Only the first non-empty one in `file_field` is kept; a form sent
        # with no file chosen has `filename=""`, and other files are dropped unread.
        self._filename = filename.decode("utf-8", "replace")
        if self._filename and self._name == self._file_field and self.upload is None:
            path = self._temp / safe_name(self._filename)
            self._out = path.open("wb")
            self.upload = Upload(path, self._filename, 0)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._problem is not None:
            return
        if self._out is not None:
            self._size += end - start
            if self._size > self._limit:
                self._problem = _too_large(self._limit_mb, self._file_field, self._size)
                return
            self._out.write(data[start:end])
        elif self._filename is None:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                message = f"longer than {MAX_FIELD_BYTES // 1024} KB"
                self._problem = Problem(
                    422, f"{self._name}: {message}", errors=(FieldError(self._name, message),)
                )

    def _part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
            if self.upload is not None:
                self.upload.size = self._size
        elif self._filename is None and self._name:
            if len(self.fields) >= MAX_FIELDS and self._name not in self.fields:
                self._problem = Problem(422, f"more than {MAX_FIELDS} form fields beside the file")
                return
            self.fields[self._name] = self._value.decode("utf-8", "replace")

    def _end(self) -> None:
        self._ended = True
