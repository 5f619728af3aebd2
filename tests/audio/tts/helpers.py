"""Helpers of the text-to-speech tests: reading WAV files, and a local TTS service."""

from __future__ import annotations

import json
import math
import threading
import wave
from array import array
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class WavInfo:
    rate: int
    channels: int
    sample_width: int
    duration_s: float
    rms: float  # of the 16-bit samples, 0-32767


def wav_info(path: Path) -> WavInfo:
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        info = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())
    samples = array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return WavInfo(info[0], info[1], info[2], info[3] / info[0], rms)


def write_tone(path: Path, seconds: float, *, rate: int = 16000, channels: int = 1) -> Path:
    """A 440 Hz tone as 16-bit PCM WAV, written with the standard library."""
    count = round(seconds * rate)
    samples = array(
        "h",
        (
            round(8000 * math.sin(2 * math.pi * 440 * (i // channels) / rate))
            for i in range(count * channels)
        ),
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


@dataclass
class Answer:
    """What the local service answers; `delay_s` holds the answer back (until teardown)."""

    body: bytes = b""
    content_type: str = "audio/wav"
    status: int = 200
    delay_s: float = 0.0
    drip_s: float = 0.0  # send the body a byte at a time, this far apart
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class TtsService:
    """A TTS service on 127.0.0.1 that answers `answer` and records every request."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.received: list[Received] = []
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="tts-service"
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/speak"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler(service: TtsService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            service.received.append(Received(self.path, dict(self.headers.items()), raw))
            answer = service.answer
            if answer.delay_s:
                service.release.wait(answer.delay_s)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                headers = {"Content-Length": str(len(answer.body)), **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not answer.drip_s:
                    self.wfile.write(answer.body)
                for byte in answer.body if answer.drip_s else b"":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if service.release.wait(answer.drip_s):
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as the timeout test means it to

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
            """Quiet: the tests read `service.received` instead."""

    return Handler
