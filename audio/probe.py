"""Probe an audio file: what it holds, and whether it can be played as a bulletin.

`probe(path)` reads the container and streams with `ffprobe -of json`, then decodes
the audio once (`ffmpeg -v error ... -f null -`) so that a corrupt or cut file is
refused at upload, not on the loudspeakers. Limits applied:

- the file must exist, be a regular file and not be empty;
- it must hold at least one audio stream (a video without sound is refused);
- it must last at least `MIN_DURATION_S` (a 0-second file plays nothing);
- it must last at most `max_duration_s`, 4 hours by default: a bulletin or a
  recorded meeting is well under that, while a longer file is nearly always a
  recorder left running; the caller may raise it (a whole day of music, say);
- a WAV must hold the bytes its header announces (a copy cut short decodes
  "cleanly" to a shorter sound, so ffmpeg alone cannot tell);
- the decoder must get through the audio without reporting an error, and what it
  decodes must last as long as announced (less 0.25 s or 5 %): FLAC and MP3
  decoders skip damaged frames silently, so a short decode is how damage shows.

Without ffprobe (the imageio-ffmpeg wheel ships ffmpeg alone) the metadata comes
from the text of `ffmpeg -i`: the same fields, but the duration is rounded to
1/100 s, a stream's bit rate may be missing, and an unusual channel layout (not
mono, stereo, N.M or "N channels") is reported as 0 channels.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.errors import AudioTooLong, CodecUnavailable, NotAudioError
from audio.ffmpeg import Tools, find_tools, run

log = logging.getLogger(__name__)

DEFAULT_MAX_DURATION_S = 4 * 3600.0
MIN_DURATION_S = 0.05
METADATA_TIMEOUT_S = 30.0
DECODE_SPEED = 20.0
"""Decoding must run at least this many times faster than real time (MP3 runs ~100x)."""
MISSING_ALLOWED_S = 0.25
MISSING_ALLOWED_FRACTION = 0.05
"""A decode this much shorter than the announced duration means frames were skipped."""


@dataclass(frozen=True, slots=True)
class AudioStream:
    """One audio stream; `bit_rate` is `None` when the container does not say."""

    codec: str
    channels: int
    sample_rate: int
    bit_rate: int | None

    def __post_init__(self) -> None:
        if self.channels < 0 or self.sample_rate < 0:
            raise ValueError(f"impossible audio stream {self!r}")


@dataclass(frozen=True, slots=True)
class Probe:
    """What a file holds: `format_name` is ffmpeg's demuxer name (`wav`, `mp3`, `ogg`...).

    `duration_s` is the longest audio stream's (with ffprobe) or the container's (with
    ffmpeg alone, where a video's picture may outlast its sound).
    """

    path: Path
    format_name: str
    duration_s: float
    size_bytes: int
    audio: tuple[AudioStream, ...]
    has_video: bool

    def __post_init__(self) -> None:
        if not self.audio:
            raise ValueError(f"{self.path}: a Probe needs at least one audio stream")


def probe(
    path: Path,
    *,
    tools: Tools | None = None,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    decode: bool = True,
) -> Probe:
    """Describe `path`, or raise a `NotAudioError` naming the file and the reason.

    `decode=False` skips the full decode (a quick look, e.g. for listing files);
    corrupt audio is then found only when it is converted.
    """
    _check_file(path)
    tools = tools or find_tools()
    if tools.ffprobe is not None:
        result = _read_ffprobe(path, tools.ffprobe)
    else:
        result = _read_ffmpeg_banner(path, tools.ffmpeg)
    if result.duration_s < MIN_DURATION_S:
        raise NotAudioError(
            path, f"the audio lasts {result.duration_s:.3g} seconds; there is nothing to play"
        )
    if result.duration_s > max_duration_s:
        raise AudioTooLong(path, result.duration_s, max_duration_s)
    if result.format_name == "wav":
        _check_wav_length(path, result.size_bytes)
    if decode:
        # Without ffprobe a video's duration is the container's, perhaps longer than its sound.
        compare = tools.ffprobe is not None or not result.has_video
        _check_decodes(path, tools, result.duration_s, compare_length=compare)
    return result


def _check_file(path: Path) -> None:
    if not path.exists():
        raise NotAudioError(path, "no such file; check the name and the folder")
    if not path.is_file():
        raise NotAudioError(path, "this is a folder or a device, not a file")
    if path.stat().st_size == 0:
        raise NotAudioError(path, "the file is empty (0 bytes); the upload or copy failed")


def _input(path: Path) -> str:
    # `file:` keeps ffmpeg from reading a name such as `tin: sáng.mp3` as a protocol.
    return f"file:{path.resolve()}"


_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")


def _said(path: Path, stderr: str) -> list[str]:
    """ffmpeg's message lines, without its `[flac @ 0x55...]` and `file:/...:` prefixes."""
    prefix = f"{_input(path)}: "
    lines = (_CONTEXT.sub("", line.strip()) for line in stderr.splitlines())
    return [line.removeprefix(prefix) for line in lines if line]


def _unreadable(path: Path, stderr: str) -> NotAudioError:
    said = _said(path, stderr)
    detail = f" (ffmpeg says: {said[-1]})" if said else ""
    return NotAudioError(path, f"this is not an audio or video file that ffmpeg can read{detail}")


def _read_ffprobe(path: Path, ffprobe: Path) -> Probe:
    done = run(
        [ffprobe, "-v", "error", "-of", "json", "-show_format", "-show_streams", _input(path)],
        timeout=METADATA_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise _unreadable(path, done.stderr)
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise _unreadable(path, done.stderr) from exc
    fmt: dict[str, Any] = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    audio = tuple(
        AudioStream(
            codec=str(s.get("codec_name", "unknown")),
            channels=int(s.get("channels", 0)),
            sample_rate=int(s.get("sample_rate", 0)),
            bit_rate=_int_or_none(s.get("bit_rate")),
        )
        for s in streams
        if s.get("codec_type") == "audio"
    )
    has_video = any(
        s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        for s in streams
    )
    # The audio's own duration: a video's picture may run on after the sound ends.
    audio_durations = [
        d
        for s in streams
        if s.get("codec_type") == "audio" and (d := _float_or_none(s.get("duration"))) is not None
    ]
    duration = max(audio_durations) if audio_durations else fmt.get("duration")
    return _build(path, str(fmt.get("format_name", "unknown")), duration, audio, has_video)


def _build(
    path: Path, format_name: str, duration: object, audio: tuple[AudioStream, ...], video: bool
) -> Probe:
    """A `Probe`, or a `NotAudioError` when there is no audio stream."""
    seconds = _float_or_none(duration) or 0.0
    if not audio:
        if video:
            raise NotAudioError(path, "this is a video with no sound track; nothing to play")
        raise NotAudioError(path, "the file holds no audio stream")
    return Probe(path, format_name, seconds, path.stat().st_size, audio, video)


_INPUT = re.compile(r"^Input #0, (?P<fmt>\S+?), from ", re.MULTILINE)
_DURATION = re.compile(r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)|N/A)", re.M)
_AUDIO = re.compile(
    r"^\s*Stream #0:\d+\S*: Audio: (?P<codec>\w+)[^,\n]*, (?P<rate>\d+) Hz, (?P<layout>[^,\n]+)"
    r"(?:, [^,\n]+)?(?:, (?P<kbps>\d+) kb/s)?",
    re.MULTILINE,
)
_VIDEO = re.compile(r"^\s*Stream #0:\d+\S*: Video: (?P<rest>.*)$", re.MULTILINE)
_LAYOUTS = {"mono": 1, "stereo": 2, "quad": 4, "hexagonal": 6, "octagonal": 8, "downmix": 2}


def _read_ffmpeg_banner(path: Path, ffmpeg: Path) -> Probe:
    """Read what `ffmpeg -i FILE` prints (it exits 1: no output file was given)."""
    done = run([ffmpeg, "-hide_banner", "-nostdin", "-i", _input(path)], timeout=METADATA_TIMEOUT_S)
    text = done.stderr
    found = _INPUT.search(text)
    if found is None:
        raise _unreadable(path, text)
    duration: float | None = None
    dm = _DURATION.search(text)
    if dm is not None and dm["h"] is not None:
        duration = int(dm["h"]) * 3600 + int(dm["m"]) * 60 + float(dm["s"])
    audio = tuple(
        AudioStream(
            codec=m["codec"],
            channels=_channels(m["layout"]),
            sample_rate=int(m["rate"]),
            bit_rate=None if m["kbps"] is None else int(m["kbps"]) * 1000,
        )
        for m in _AUDIO.finditer(text)
    )
    video = any("(attached pic)" not in m["rest"] for m in _VIDEO.finditer(text))
    return _build(path, found["fmt"], duration, audio, video)


def _channels(layout: str) -> int:
    layout = layout.strip()
    if m := re.fullmatch(r"(\d+) channels.*", layout):
        return int(m[1])
    if m := re.fullmatch(r"(\d+)\.(\d+)(?:\(\w+\))?", layout):
        return int(m[1]) + int(m[2])
    return _LAYOUTS.get(layout.split("(")[0], 0)


def _check_wav_length(path: Path, size: int) -> None:
    with path.open("rb") as f:
        header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return
    announced = int.from_bytes(header[4:8], "little") + 8
    # 0 and 0xFFFFFFFF are what writers to a pipe leave: size unknown, nothing to compare.
    if header[4:8] in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"):
        return
    if announced > size:
        raise NotAudioError(
            path,
            f"the WAV file is cut short: its header announces {announced} bytes but the file "
            f"has {size}; copy it again from the original",
        )


def _check_decodes(path: Path, tools: Tools, duration_s: float, *, compare_length: bool) -> None:
    timeout = METADATA_TIMEOUT_S + duration_s / DECODE_SPEED
    done = run(
        [tools.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "error",
         "-i", _input(path), "-map", "0:a", "-f", "null", "-", "-progress", "pipe:1"],
        timeout=timeout,
    )  # fmt: skip
    errors = _said(path, done.stderr)
    # ffmpeg 5/6: "Decoder (codec X) not found"; ffmpeg 7+: "... but no decoder found for: X".
    if any(("Decoder" in e and "not found" in e) or "no decoder found" in e for e in errors):
        raise CodecUnavailable(
            path,
            f"this ffmpeg ({tools.ffmpeg}) has no decoder for this audio codec "
            f"(ffmpeg says: {errors[0]}); install a full ffmpeg (`apt-get install ffmpeg`) "
            "or convert the file to MP3 first",
        )
    decoded = _decoded_seconds(done.stdout)
    short = decoded is not None and duration_s - decoded > _missing_allowed(duration_s)
    if not errors and compare_length and short:
        errors = [f"only {decoded:.2f} s of the {duration_s:.2f} s could be decoded"]
    if done.returncode != 0 or errors:
        detail = errors[0] if errors else f"exit status {done.returncode}"
        log.debug("decoding %s: %s", path, done.stderr)
        raise NotAudioError(
            path,
            f"the audio is damaged: decoding it failed (ffmpeg says: {detail}); "
            "copy it again from the original",
        )


def _missing_allowed(duration_s: float) -> float:
    """How much shorter the decoded audio may be than announced (codec padding, rounding)."""
    return max(MISSING_ALLOWED_S, duration_s * MISSING_ALLOWED_FRACTION)


def _decoded_seconds(progress: str) -> float | None:
    """The last `out_time_us` that `ffmpeg -progress` wrote, in seconds."""
    times = re.findall(r"^out_time_us=(\d+)$", progress, re.MULTILINE)
    return int(times[-1]) / 1e6 if times else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _float_or_none(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None
