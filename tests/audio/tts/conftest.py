"""Fixtures of the text-to-speech tests: the real espeak-ng, and a local TTS service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audio.tts import EspeakEngine
from tests.audio.tts.helpers import TtsService


@pytest.fixture(scope="session")
def espeak() -> EspeakEngine:
    """The system espeak-ng (`apt-get install espeak-ng`); its voice list is read once."""
    engine = EspeakEngine()
    engine.voices()
    return engine


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[TtsService]:
    """A TTS service on 127.0.0.1, answering an empty WAV until a test sets `answer`."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    running = TtsService()
    running.start()
    yield running
    running.stop()
