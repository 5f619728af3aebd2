"""Errors of text-to-speech engines, under `audio.errors.AudioError`.

    LoaError
    ├── AudioError                  (audio.errors)
    │   └── TtsError                    an engine cannot turn text into speech
    │       ├── TtsUnavailable              the engine is not installed (espeak-ng missing)
    │       ├── VoiceNotFound               no voice for the language, or no such voice
    │       └── TtsFailed                   the engine ran (or was called) and gave no audio
    └── TextError                   (audio.tts.vietnamese) text with nothing to read, or too long

Text problems are the writer's to fix (`TextError`); these are the deployment's: each
message names the engine and, where there is one, the binary or the service URL.
"""

from __future__ import annotations

from collections.abc import Sequence

from audio.errors import AudioError


class TtsError(AudioError):
    """A text-to-speech engine cannot turn text into speech."""


class TtsUnavailable(TtsError):
    """The engine is not installed or cannot be found; the message says how to install it."""


class VoiceNotFound(TtsError):
    """The engine has no voice for `language`, or none named `voice`.

    `available` lists the voices the engine has, so the message can say what to use.
    """

    def __init__(
        self,
        engine: str,
        language: str,
        available: Sequence[str],
        *,
        voice: str | None = None,
    ) -> None:
        self.engine = engine
        self.language = language
        self.voice = voice
        self.available = tuple(available)
        wanted = (
            f"no {engine} voice for language {language!r}"
            if voice is None
            else f"no {engine} voice named {voice!r} (asked for language {language!r})"
        )
        listed = ", ".join(self.available) if self.available else "none"
        super().__init__(f"{wanted}; voices: {listed}")


class TtsFailed(TtsError):
    """The engine was asked for speech and gave none; `problem` says why, naming where."""

    def __init__(self, engine: str, problem: str) -> None:
        self.engine = engine
        self.problem = problem
        super().__init__(f"text-to-speech with {engine} failed: {problem}")
