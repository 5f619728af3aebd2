"""Bulletin text to one WAV file: cleaned, cut into sentences, spoken, joined with pauses.

Vietnamese text (`vi`, `vi-VN`, ...) goes through `audio.tts.vietnamese.normalise`
("06:00" is read "sáu giờ", dates, numbers, units, abbreviations). Other languages
are only tidied: emoji and other pictographs dropped, whitespace collapsed; their
digits are left for the engine, which reads them in its own language. Both are then
cut by `sentences` into pieces of at most `SENTENCE_MAX_CHARS`.

Every sentence is spoken by the engine into its own file, and the pieces are joined
with `pause_s` of silence between them into one mono 16-bit PCM WAV. Pieces that are
already mono 16-bit WAV at the rate of the first (espeak-ng's always are) are copied
by the standard `wave` module; anything else (an HTTP service's MP3, a stereo or
float WAV) is decoded by ffmpeg to that format first. pydub is not used: importing it
warns that `audioop` goes away in Python 3.13, and it adds nothing here.

The work happens in a hidden temporary folder inside `out_dir`, and the result is
moved into `out_dir` under a fresh name (`speech-<random>.wav`) by one rename: a crash
or an error never leaves a half-written file there, and the folder is removed either way.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

from audio.ffmpeg import Tools, find_tools, run
from audio.tts.engine import TtsEngine, language_tags
from audio.tts.errors import TtsFailed
from audio.tts.vietnamese import TextError, normalise, sentences

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_PAUSE_S",
    "SENTENCE_MAX_CHARS",
    "Speech",
    "speakable_sentences",
    "synthesise_text",
]

log = logging.getLogger(__name__)

DEFAULT_PAUSE_S = 0.35
MAX_PAUSE_S = 5.0
DEFAULT_MAX_CHARS = 5000
"""About eight minutes of espeak-ng speech at 150 words a minute: longer text is nearly
always a document pasted by mistake."""
SENTENCE_MAX_CHARS = 300
"""The longest piece given to an engine at once (HTTP services often limit their input)."""
DECODE_TIMEOUT_S = 60.0

_SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,!?…;:)])")
_KEPT_SYMBOLS = frozenset("°")
_INVISIBLE_MARKS = frozenset(
    (*map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0xE0100, 0xE01F0)), "\u20e3")
)
"""Variation selectors and the keycap mark: parts of emoji, though they are marks."""


@dataclass(frozen=True, slots=True)
class Speech:
    """The WAV written (mono 16-bit PCM, in `out_dir`), what it says, and how long it lasts."""

    path: Path
    sentences: tuple[str, ...]
    duration_s: float


def speakable_sentences(
    text: str, language: str, *, max_chars: int = DEFAULT_MAX_CHARS
) -> list[str]:
    """The sentences `synthesise_text` would speak, without speaking them.

    Raises `TextError` for text longer than `max_chars` characters, or with nothing
    to read in it (empty, only punctuation, only emoji).
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    if len(text) > max_chars:
        raise TextError(
            text,
            f"the text has {len(text):,} characters, more than the {max_chars:,} one bulletin "
            "may have; split it into several bulletins (văn bản quá dài: hãy chia thành "
            "nhiều bản tin)",
        )
    tags = language_tags(language)
    spoken = normalise(text) if tags and tags[-1] == "vi" else _tidy(text)
    return sentences(spoken, max_chars=SENTENCE_MAX_CHARS)


def synthesise_text(
    text: str,
    language: str,
    engine: TtsEngine,
    out_dir: Path,
    *,
    voice: str | None = None,
    pause_s: float = DEFAULT_PAUSE_S,
    max_chars: int = DEFAULT_MAX_CHARS,
    tools: Tools | None = None,
) -> Speech:
    """Speak `text` in `language` with `engine` into one new WAV file in `out_dir`.

    The text is checked (`speakable_sentences`) before the engine is called. `tools`
    is the ffmpeg to decode pieces that are not plain WAV (default: `find_tools()`,
    looked up only when needed). Raises `TextError` for the text, `VoiceNotFound` or
    `TtsFailed` from the engine, `TtsFailed` when a piece cannot be decoded; nothing
    is left in `out_dir` when it raises.
    """
    if not 0 <= pause_s <= MAX_PAUSE_S:
        raise ValueError(f"pause_s must be 0-{MAX_PAUSE_S:g} seconds, not {pause_s}")
    spoken = speakable_sentences(text, language, max_chars=max_chars)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tts-", dir=out_dir))
    try:
        pieces: list[Path] = []
        for number, sentence in enumerate(spoken, start=1):
            piece = work / f"sentence-{number:04d}.wav"
            engine.synthesise(sentence, language, piece, voice=voice)
            if not piece.is_file() or piece.stat().st_size == 0:
                raise TtsFailed(
                    engine.name, f"it wrote no audio for sentence {number} ({sentence!r})"
                )
            pieces.append(piece)
        joined = work / "speech.wav"
        duration_s = _Joiner(engine.name, tools, work).join(pieces, pause_s, joined)
        final = out_dir / f"speech-{secrets.token_hex(8)}.wav"
        joined.replace(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info(
        "%s spoke %d sentences (%.1f s of audio) into %s",
        engine.name,
        len(spoken),
        duration_s,
        final,
    )
    return Speech(final, tuple(spoken), duration_s)


def _tidy(text: str) -> str:
    """Text in a language other than Vietnamese, with emoji dropped and spaces collapsed."""
    kept = []
    for char in unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")):
        if char == "\n":
            kept.append(char)
        elif char.isspace():
            kept.append(" ")
        elif _readable(char):
            kept.append(char)
        else:
            kept.append(" ")
    lines = (
        _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(line.split())) for line in "".join(kept).split("\n")
    )
    tidy = "\n".join(line for line in lines if line)
    if not any(char.isalnum() for char in tidy):
        raise TextError(
            text,
            "the text has nothing to read (only punctuation, symbols or emoji); "
            "write the bulletin in words (hãy viết nội dung bằng chữ)",
        )
    return tidy


def _readable(char: str) -> bool:
    """Letters, marks, digits, punctuation, math and currency signs; not pictographs."""
    if char in _KEPT_SYMBOLS:
        return True
    if char in _INVISIBLE_MARKS:
        return False
    return unicodedata.category(char)[0] in "LMNP" or unicodedata.category(char) in ("Sm", "Sc")


class _Joiner:
    """Joins spoken pieces into one mono 16-bit WAV at the first piece's sample rate."""

    def __init__(self, engine: str, tools: Tools | None, work: Path) -> None:
        self.engine = engine
        self.tools = tools
        self.work = work
        self.rate: int | None = None

    def join(self, pieces: list[Path], pause_s: float, out: Path) -> float:
        """Write `out` and return its duration in seconds."""
        if not pieces:
            raise ValueError("there are no spoken pieces to join")
        first = self._plain_wav(pieces[0], 1)
        with wave.open(str(first), "rb") as source:
            self.rate = rate = source.getframerate()
        silence = b"\0" * _SAMPLE_WIDTH * round(pause_s * rate)
        frames = 0
        with wave.open(str(out), "wb") as joined:
            joined.setnchannels(1)
            joined.setsampwidth(_SAMPLE_WIDTH)
            joined.setframerate(rate)
            for number, piece in enumerate(pieces, start=1):
                plain = first if number == 1 else self._plain_wav(piece, number)
                if number > 1:
                    joined.writeframes(silence)
                    frames += len(silence) // _SAMPLE_WIDTH
                with wave.open(str(plain), "rb") as source:
                    while chunk := source.readframes(65536):
                        joined.writeframes(chunk)
                        frames += len(chunk) // _SAMPLE_WIDTH
        return frames / rate

    def _plain_wav(self, piece: Path, number: int) -> Path:
        """`piece` itself if it is mono 16-bit WAV at the rate, else a decoded copy."""
        if _is_plain_wav(piece, self.rate):
            return piece
        tools = self.tools or find_tools()
        self.tools = tools
        decoded = self.work / f"decoded-{number:04d}.wav"
        rate = [] if self.rate is None else ["-ar", str(self.rate)]
        done = run(
            [tools.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", piece,
             "-map", "0:a:0", "-ac", "1", *rate, "-c:a", "pcm_s16le", "-f", "wav", decoded],
            timeout=DECODE_TIMEOUT_S,
        )  # fmt: skip
        if done.returncode != 0 or not _is_plain_wav(decoded, self.rate):
            reason = done.stderr.strip().splitlines()[-1:] or ["no audio in it"]
            raise TtsFailed(
                self.engine,
                f"the audio it gave for sentence {number} cannot be decoded ({reason[0]}); "
                "check that the engine answers real audio",
            )
        return decoded


def _is_plain_wav(path: Path, rate: int | None) -> bool:
    """Whether `path` is a PCM WAV, mono, 16-bit, at `rate` (any rate if `None`)."""
    try:
        with wave.open(str(path), "rb") as source:
            return (
                source.getnchannels() == 1
                and source.getsampwidth() == _SAMPLE_WIDTH
                and rate in (None, source.getframerate())
                and source.getnframes() > 0
            )
    except (OSError, EOFError, wave.Error):
        return False
