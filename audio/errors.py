"""Errors of the `audio` package, all under `loa.errors.LoaError`.

    LoaError
    └── AudioError              ffmpeg is missing or failed, or a file is not usable audio
        ├── FfmpegNotFound          neither a system ffmpeg nor the imageio-ffmpeg one exists
        ├── FfmpegFailed            ffmpeg or ffprobe ran past its timeout or could not start
        ├── PrepareFailed           ffmpeg failed while converting a file that probed as good
        └── NotAudioError           a file is missing, empty, not audio, silent-length or corrupt
            ├── AudioTooLong            longer than the caller's limit (4 hours by default)
            ├── CodecUnavailable        audio this ffmpeg cannot decode (e.g. AMR without a decoder)
            └── SilentAudio             only silence (or under 0.4 s of sound): nothing to play

Every message names the file and says in plain words what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path

from loa.errors import LoaError


class AudioError(LoaError):
    """ffmpeg is unavailable or failed, or a file is not usable audio."""


class FfmpegNotFound(AudioError):
    """No ffmpeg binary: neither on PATH nor from the imageio-ffmpeg wheel."""


class FfmpegFailed(AudioError):
    """ffmpeg or ffprobe could not be started or did not finish within its timeout."""


class NotAudioError(AudioError):
    """`path` cannot be used as a bulletin's audio; `reason` says why in plain words."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AudioTooLong(NotAudioError):
    """The audio lasts longer than the limit the caller set."""

    def __init__(self, path: Path, duration_s: float, limit_s: float) -> None:
        self.duration_s = duration_s
        self.limit_s = limit_s
        super().__init__(
            path,
            f"the audio lasts {_hms(duration_s)}, longer than the limit of {_hms(limit_s)} "
            "for one bulletin; split it into shorter files",
        )


class CodecUnavailable(NotAudioError):
    """The file is audio, but this ffmpeg has no decoder for its codec."""


class SilentAudio(NotAudioError):
    """The audio holds only silence (or is too short to measure): there is nothing to broadcast."""


class PrepareFailed(AudioError):
    """ffmpeg failed during `step` on `path`; `detail` is the last thing ffmpeg said."""

    def __init__(self, path: Path, step: str, detail: str) -> None:
        self.path = path
        self.step = step
        self.detail = detail
        super().__init__(f"{path}: {step} failed ({detail})")


def _hms(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
