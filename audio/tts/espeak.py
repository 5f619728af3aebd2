"""espeak-ng, the default text-to-speech engine: offline, free, and in every Debian.

Its Vietnamese voices are `vi` (northern, the default for "vi"), `vi-vn-x-central`
and `vi-vn-x-south`; it has voices for about a hundred other languages, listed by
`espeak-ng --voices`. A language is matched, most specific tag first
(`language_tags`), against the voice map (defaults `vi` -> `vi`, `en` -> `en`, plus
the caller's), then against the language codes espeak-ng lists, then against the
"other languages" column (so "fr" finds `fr-fr`, "zh" finds `cmn`), lowest
espeak-ng priority first. A voice may carry a variant, as in `vi+f3` (a female
voice); the variants are those `espeak-ng --voices=variant` lists.

Each sentence runs `espeak-ng -v VOICE -s WPM -z -b 1 -w OUT --stdin` with the text on
stdin in UTF-8, so a text starting with "-" is never read as an option and no text
is too long for a command line. `-z` drops espeak-ng's own pause after the last
sentence (about 0.4 s): the caller decides the pauses between sentences. The WAV
is mono 16-bit PCM at 22,050 Hz and peaks near 0 dBFS.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from audio.tts.engine import Voice, language_tags
from audio.tts.errors import TtsFailed, TtsUnavailable, VoiceNotFound

__all__ = ["DEFAULT_VOICES", "INSTALL_HINT", "EspeakEngine"]

log = logging.getLogger(__name__)

INSTALL_HINT = "install espeak-ng (`apt-get install espeak-ng` on Debian/Ubuntu)"
DEFAULT_VOICES: Mapping[str, str] = {"vi": "vi", "en": "en"}
MIN_SPEED_WPM = 80
MAX_SPEED_WPM = 450
"""The speeds espeak-ng accepts with `-s`; a bulletin reads well at 130-160."""
LISTING_TIMEOUT_S = 30.0

_OTHER_LANGUAGE = re.compile(r"\(([A-Za-z0-9-]+) (\d+)\)")
_VARIANT_PREFIX = "!v/"


@dataclass(frozen=True, slots=True)
class _Listed:
    """One line of `espeak-ng --voices`: a voice code and the languages it speaks."""

    code: str
    languages: tuple[tuple[str, int], ...]  # (language tag, priority: lower is preferred)


class EspeakEngine:
    """Speech from the espeak-ng binary; see the module docstring for voice matching.

    Raises `TtsUnavailable` at once when `binary` (default: `espeak-ng` on PATH)
    cannot be found, and `ValueError` for a speed or timeout out of range.
    """

    name = "espeak-ng"

    def __init__(
        self,
        binary: str | Path | None = None,
        *,
        voices: Mapping[str, str] | None = None,
        speed_wpm: int = 150,
        timeout_s: float = 60,
    ) -> None:
        if not MIN_SPEED_WPM <= speed_wpm <= MAX_SPEED_WPM:
            raise ValueError(
                f"espeak-ng speed must be {MIN_SPEED_WPM}-{MAX_SPEED_WPM} words per minute, "
                f"not {speed_wpm}"
            )
        if timeout_s <= 0:
            raise ValueError(f"espeak-ng timeout must be positive, not {timeout_s}")
        wanted = "espeak-ng" if binary is None else str(binary)
        found = shutil.which(wanted)
        if found is None:
            raise TtsUnavailable(f"espeak-ng was not found ({wanted}); {INSTALL_HINT}")
        self.binary = Path(found)
        self.speed_wpm = speed_wpm
        self.timeout_s = timeout_s
        self._voice_map: dict[str, str] = {}
        for language, voice in {**DEFAULT_VOICES, **(voices or {})}.items():
            tags = language_tags(language)
            if not tags or not voice.strip():
                raise ValueError(f"espeak-ng voice map entry {language!r}: {voice!r} is empty")
            self._voice_map[tags[0]] = voice.strip()
        self._listed: tuple[_Listed, ...] | None = None
        self._variants: tuple[str, ...] | None = None

    def voices(self) -> list[Voice]:
        """Every voice espeak-ng lists, with its primary language subtag ("vi-vn-x-south": vi)."""
        return [Voice(listed.code.split("-")[0], listed.code) for listed in self._listing()]

    def voice_for(self, language: str, voice: str | None = None) -> str:
        """The espeak-ng voice that `synthesise` uses for `language` (or `voice`, checked).

        Raises `VoiceNotFound`, listing the voices there are, when there is none.
        """
        if voice is not None:
            return self._checked(voice, language)
        for tag in language_tags(language):
            mapped = self._voice_map.get(tag)
            if mapped is not None:
                return self._checked(mapped, language)
            matches = [
                (priority, index, listed.code)
                for index, listed in enumerate(self._listing())
                for spoken, priority in listed.languages
                if spoken == tag
            ]
            if matches:
                return min(matches)[2]
        raise VoiceNotFound(self.name, language, self._codes())

    def synthesise(self, text: str, language: str, out: Path, *, voice: str | None = None) -> None:
        """Speak `text` in `language` into the WAV file `out` (see `TtsEngine.synthesise`)."""
        chosen = self.voice_for(language, voice)
        argv = [
            str(self.binary),
            *("-v", chosen, "-s", str(self.speed_wpm)),
            *("-z", "-b", "1", "-w", str(out), "--stdin"),
        ]
        shown = text if len(text) <= 60 else text[:60] + "…"
        try:
            done = subprocess.run(
                argv,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out.unlink(missing_ok=True)
            raise TtsFailed(
                self.name,
                f"{self.binary} did not finish within {self.timeout_s:g} s "
                f"reading {shown!r} with voice {chosen!r}",
            ) from exc
        except OSError as exc:
            out.unlink(missing_ok=True)
            raise TtsUnavailable(
                f"{self.binary} could not be started ({exc}); {INSTALL_HINT}"
            ) from exc
        stderr = done.stderr.decode("utf-8", "replace").strip() or "no message"
        if done.returncode != 0:
            out.unlink(missing_ok=True)
            raise TtsFailed(
                self.name,
                f"{self.binary} exited with status {done.returncode} reading {shown!r} "
                f"with voice {chosen!r}: {stderr}",
            )
        if not _has_frames(out):
            out.unlink(missing_ok=True)
            raise TtsFailed(
                self.name,
                f"{self.binary} wrote no audio for {shown!r} with voice {chosen!r} ({stderr}); "
                "is there anything to read in the text?",
            )
        log.debug("espeak-ng voice %s read %d characters into %s", chosen, len(text), out)

    def _checked(self, voice: str, language: str) -> str:
        """`voice` (with an optional `+variant`) if espeak-ng has it, else `VoiceNotFound`."""
        base, plus, variant = voice.strip().partition("+")
        known = {
            tag for listed in self._listing() for tag in (listed.code, *dict(listed.languages))
        }
        if base.lower() not in known:
            raise VoiceNotFound(self.name, language, self._codes(), voice=voice)
        if plus and variant not in self._variant_names():
            variants = [f"{base}+{name}" for name in self._variant_names()]
            raise VoiceNotFound(self.name, language, variants, voice=voice)
        return voice.strip()

    def _codes(self) -> list[str]:
        return list(dict.fromkeys(listed.code for listed in self._listing()))

    def _listing(self) -> tuple[_Listed, ...]:
        if self._listed is None:
            self._listed = tuple(_parse_voices(self._list("--voices")))
        return self._listed

    def _variant_names(self) -> tuple[str, ...]:
        if self._variants is None:
            files = (fields[4] for fields in _rows(self._list("--voices=variant")))
            self._variants = tuple(
                file.removeprefix(_VARIANT_PREFIX)
                for file in files
                if file.startswith(_VARIANT_PREFIX)
            )
        return self._variants

    def _list(self, option: str) -> str:
        argv = [str(self.binary), option]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=LISTING_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise TtsFailed(
                self.name, f"`{self.binary} {option}` did not finish within {LISTING_TIMEOUT_S:g} s"
            ) from exc
        except OSError as exc:
            raise TtsUnavailable(
                f"{self.binary} could not be started ({exc}); {INSTALL_HINT}"
            ) from exc
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip() or "no message"
            raise TtsFailed(
                self.name,
                f"`{self.binary} {option}` exited with status {done.returncode}: {stderr}",
            )
        return done.stdout.decode("utf-8", "replace")


def _rows(listing: str) -> list[list[str]]:
    """The fields of each voice line of a `--voices` listing (the header is skipped)."""
    rows = [line.split() for line in listing.splitlines()]
    return [fields for fields in rows if len(fields) >= 5 and fields[0].isdigit()]


def _parse_voices(listing: str) -> list[_Listed]:
    """Columns: Pty, Language, Age/Gender, VoiceName, File, then "(tag priority)" pairs."""
    voices: list[_Listed] = []
    for fields in _rows(listing):
        code = fields[1].lower()
        others = _OTHER_LANGUAGE.findall(" ".join(fields[5:]))
        languages = ((code, int(fields[0])), *((tag.lower(), int(p)) for tag, p in others))
        voices.append(_Listed(code, languages))
    return voices


def _has_frames(path: Path) -> bool:
    """Whether `path` is a WAV file holding at least one sample."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() > 0
    except (OSError, EOFError, wave.Error):
        return False
