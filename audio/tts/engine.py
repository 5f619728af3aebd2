"""The seam between bulletin text and a speech synthesiser: `TtsEngine` and `Voice`.

An engine speaks one sentence that is already normalised (digits written out for
Vietnamese, emoji dropped) into one audio file; cutting text into sentences and
joining the pieces is `audio.tts.synthesise`'s job, so an engine stays small:
`audio.tts.espeak.EspeakEngine` (offline, the default) and
`audio.tts.http_engine.HttpTtsEngine` (a bought voice behind a URL) are the two.

Languages are BCP-47-ish codes as an operator types them ("vi", "vi-VN", "en");
`language_tags` gives the forms to look up, most specific first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["TtsEngine", "Voice", "language_tags"]


@dataclass(frozen=True, slots=True)
class Voice:
    """One voice of an engine: `language` as the operator says it, `name` as the engine does.

    >>> Voice("vi", "vi-vn-x-south")
    Voice(language='vi', name='vi-vn-x-south')
    """

    language: str
    name: str

    def __post_init__(self) -> None:
        if not self.language.strip() or not self.name.strip():
            raise ValueError(f"a voice needs a language and a name, not {self!r}")


class TtsEngine(Protocol):
    """A speech synthesiser. Implementations need no base class."""

    @property
    def name(self) -> str:
        """Short engine name for messages and records: "espeak-ng", "http"."""
        ...

    def voices(self) -> list[Voice]:
        """The voices this engine can use."""
        ...

    def synthesise(self, text: str, language: str, out: Path, *, voice: str | None = None) -> None:
        """Speak one normalised sentence in `language` into an audio file at `out`.

        `voice` picks a voice by name; `None` lets the engine choose one for the
        language. The file is usually a WAV, but any format ffmpeg decodes is
        allowed. Raises `VoiceNotFound` or `TtsFailed` (see `audio.tts.errors`);
        nothing is left at `out` when it raises.
        """
        ...


def language_tags(language: str) -> tuple[str, ...]:
    """The lookup forms of a language code, most specific first, lower case.

    >>> language_tags("vi_VN")
    ('vi-vn', 'vi')
    >>> language_tags(" EN ")
    ('en',)
    """
    parts = [part for part in language.strip().lower().replace("_", "-").split("-") if part]
    return tuple("-".join(parts[:end]) for end in range(len(parts), 0, -1))
