"""A text-to-speech service behind a URL, as an engine: for a commune that buys a better voice.

The contract a service must keep to be plugged in:

- **Request**: `POST <url>` with the headers `Content-Type: application/json; charset=utf-8`
  and `Accept: audio/*`, and the UTF-8 body
  `{"text": "...", "language": "vi", "voice": "name-or-null"}`. `text` is one sentence,
  already normalised (Vietnamese numbers, dates and times written out in words, emoji
  dropped), at most 300 characters; `language` is the code the operator chose;
  `voice` is the voice asked for, or the deployment's voice for the language, or
  `null` when the deployment declares no voices (the service then picks one).
- **Authentication**: any headers from the configuration are added (an API key:
  `Authorization: Bearer ...`); a user and password written in the URL
  (`https://user:secret@tts.example/speak`) are sent as HTTP Basic authentication.
  Messages and logs show the URL with the password masked (`loa.redact.mask_url`).
- **Answer**: a 2xx status, `Content-Type: audio/...` (`audio/wav`, `audio/mpeg`,
  `audio/ogg`, ...) and the audio as the body, at most `MAX_BODY_BYTES`. Any format
  ffmpeg decodes will do; WAV (16-bit PCM) is joined without a decoder.
- **Everything else is `TtsFailed`**, naming the URL and what went wrong: another
  status (redirects are not followed: configure the final URL), another content type,
  an empty body, a connection refused or reset, or no answer within `timeout_s`.
  `timeout_s` bounds the connection and each wait for data, and the whole body must
  arrive within `timeout_s` of the request.

Only the standard library is used (`urllib.request`): one short POST per sentence
needs no client library. Proxies come from the usual `http_proxy`/`https_proxy`/
`no_proxy` environment variables; HTTPS certificates are checked.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from audio.tts.engine import Voice, language_tags
from audio.tts.errors import TtsFailed, VoiceNotFound
from loa.redact import mask_url

__all__ = ["MAX_BODY_BYTES", "HttpTtsEngine"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest answer read: a 300-character sentence is about 20 s, 2 MB as 48 kHz WAV."""
_CHUNK_BYTES = 64 * 1024
_EXCERPT_BYTES = 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn the POST into a GET without its body."""

    def redirect_request(  # noqa: PLR0917 (urllib calls it with these six)
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: object,
        newurl: str,
    ) -> None:
        return None


class HttpTtsEngine:
    """Speech from an HTTP service keeping the contract in the module docstring.

    `voices` are the voices the deployment says the service has; with none, any
    language is passed on and the service picks the voice. Raises `ValueError` for a
    URL that is not http(s) with a host, or a timeout that is not positive.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30,
        headers: Mapping[str, str] | None = None,
        voices: Sequence[Voice] = (),
    ) -> None:
        shown = mask_url(url)
        parts = urllib.parse.urlsplit(url)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(
                f"text-to-speech URL {shown!r}: give an http:// or https:// URL with a host "
                "(for example https://tts.example/speak)"
            )
        if timeout_s <= 0:
            raise ValueError(f"text-to-speech timeout must be positive, not {timeout_s}")
        self.url = url
        self.shown_url = shown
        self.timeout_s = timeout_s
        host = parts.netloc.rpartition("@")[2]
        self._request_url = urllib.parse.urlunsplit(parts._replace(netloc=host))
        self._headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "audio/*",
            "User-Agent": "loa-tts",
        }
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._headers.update(headers or {})
        self._voices = tuple(voices)
        self._opener = urllib.request.build_opener(_NoRedirect())

    def voices(self) -> list[Voice]:
        """The voices declared for this service (none: the service chooses)."""
        return list(self._voices)

    def voice_for(self, language: str, voice: str | None = None) -> str | None:
        """The voice name sent for `language`: `voice` if declared, else the first declared
        voice whose language fits, most specific first ("vi-VN" prefers a "vi-VN" voice to
        a "vi" one; "vi" takes a "vi-VN" voice); `None` when no voices are declared.

        Raises `VoiceNotFound` when voices are declared and none fits.
        """
        if not self._voices:
            return voice
        available = [f"{known.name} ({known.language})" for known in self._voices]
        if voice is not None:
            if any(known.name == voice for known in self._voices):
                return voice
            raise VoiceNotFound(self.name, language, available, voice=voice)
        for tag in language_tags(language):
            for known in self._voices:
                if tag in language_tags(known.language):
                    return known.name
        raise VoiceNotFound(self.name, language, available)

    def synthesise(self, text: str, language: str, out: Path, *, voice: str | None = None) -> None:
        """POST `text` to the service and write the audio it answers to `out`."""
        chosen = self.voice_for(language, voice)
        body = json.dumps(
            {"text": text, "language": language, "voice": chosen}, ensure_ascii=False
        ).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            self._request_url, data=body, headers=self._headers, method="POST"
        )
        started = time.monotonic()
        audio, content_type = self._post(request, deadline=started + self.timeout_s)
        try:
            out.write_bytes(audio)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        log.info(
            "%s read %d characters: %d bytes of %s in %.2f s",
            self.shown_url,
            len(text),
            len(audio),
            content_type,
            time.monotonic() - started,
        )

    def _post(self, request: urllib.request.Request, *, deadline: float) -> tuple[bytes, str]:
        """The audio bytes and content type of the answer, or `TtsFailed`."""
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                content_type = response.headers.get_content_type()
                if not content_type.startswith("audio/"):
                    raise self._failed(
                        f"answered with {content_type!r}, not audio{_excerpt(response)}; "
                        "the service must answer audio/wav, audio/mpeg or another audio type"
                    )
                return self._read(response, deadline), content_type
        except urllib.error.HTTPError as exc:
            with exc:
                raise self._failed(
                    f"answered {exc.code} {exc.reason}{_excerpt(exc)}; check the service's "
                    "log, the URL and any API key in the headers"
                ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timed_out() from exc
            raise self._failed(
                f"could not be reached ({exc.reason}); check the URL and that the service runs"
            ) from exc
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except (http.client.HTTPException, OSError) as exc:
            raise self._failed(f"broke off the answer ({exc!r}); try again") from exc

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise self._failed(f"announced {int(declared):,} bytes, over {MAX_BODY_BYTES:,}")
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(_CHUNK_BYTES):  # what has come, so the deadline holds
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise self._failed(f"sent more than {MAX_BODY_BYTES:,} bytes of audio")
            if time.monotonic() > deadline:
                raise self._timed_out()
            chunks.append(chunk)
        if not size:
            raise self._failed("answered with an empty body instead of audio")
        return b"".join(chunks)

    def _failed(self, problem: str) -> TtsFailed:
        return TtsFailed(self.name, f"the service at {self.shown_url} {problem}")

    def _timed_out(self) -> TtsFailed:
        return self._failed(
            f"did not answer within {self.timeout_s:g} s; check that it runs, or raise the timeout"
        )


def _excerpt(answer: http.client.HTTPResponse | urllib.error.HTTPError) -> str:
    """The start of an answer's body, on one line, for a message ('' when there is none)."""
    try:
        start = answer.read(_EXCERPT_BYTES)
    except (http.client.HTTPException, OSError):
        return ""
    text = " ".join(start.decode("utf-8", "replace").split())
    return f": {text!r}" if text else ""
