"""The format bulletins are sent in: codec, bit rate and sample rate, always mono.

MP3 (libmp3lame, constant bit rate) is the default: every receiver's decoder plays it.
Opus in Ogg is the option for receivers that take it: it sounds better at the same
bit rate, which matters over a weak 4G link.

The encoder runs in bit-exact mode with the metadata dropped (`-map_metadata -1`,
`-fflags +bitexact`, `-flags:a +bitexact`; in Ogg that also fixes the stream serial), so
the same audio and settings give the same bytes and the content store can deduplicate by
sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EncodeFormat", "encoder_options"]

_MP3_RATES = {
    # MPEG-1, MPEG-2 and MPEG-2.5 layer III: the sample rates each allows, and its bit rates.
    (32000, 44100, 48000): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (16000, 22050, 24000): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (8000, 11025, 12000): (8, 16, 24, 32, 40, 48, 56, 64),
}
MP3_SAMPLE_RATES = tuple(sorted(r for rates in _MP3_RATES for r in rates))
OPUS_SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_BITRATES_KBPS = (6, 256)


@dataclass(frozen=True, slots=True)
class EncodeFormat:
    """Mono audio as `codec` at `bitrate_kbps` and `sample_rate` Hz.

    MP3 is constant bit rate: its bit rate must be one MPEG allows at that sample rate
    (libmp3lame would otherwise pick another one silently). Opus is variable bit rate
    around `bitrate_kbps` (6-256); its decoders play at 48 kHz whatever the rate given.
    """

    codec: Literal["mp3", "opus"] = "mp3"
    bitrate_kbps: int = 48
    sample_rate: int = 24000

    def __post_init__(self) -> None:
        if self.codec == "mp3":
            self._check_mp3()
        elif self.codec == "opus":
            self._check_opus()
        else:
            raise ValueError(f"unknown codec {self.codec!r}: use 'mp3' or 'opus'")

    def _check_mp3(self) -> None:
        for rates, bitrates in _MP3_RATES.items():
            if self.sample_rate in rates:
                if self.bitrate_kbps not in bitrates:
                    allowed = ", ".join(str(b) for b in bitrates)
                    raise ValueError(
                        f"MP3 at {self.sample_rate} Hz cannot be {self.bitrate_kbps} kbit/s; "
                        f"use one of {allowed}"
                    )
                return
        allowed = ", ".join(str(r) for r in MP3_SAMPLE_RATES)
        raise ValueError(f"MP3 cannot use a sample rate of {self.sample_rate} Hz; use {allowed}")

    def _check_opus(self) -> None:
        if self.sample_rate not in OPUS_SAMPLE_RATES:
            allowed = ", ".join(str(r) for r in OPUS_SAMPLE_RATES)
            raise ValueError(
                f"Opus cannot use a sample rate of {self.sample_rate} Hz; use {allowed}"
            )
        low, high = OPUS_BITRATES_KBPS
        if not low <= self.bitrate_kbps <= high:
            raise ValueError(
                f"an Opus bit rate of {self.bitrate_kbps} kbit/s is out of range; "
                f"use {low} to {high}"
            )

    @property
    def extension(self) -> str:
        """The file name extension: `mp3` or `opus`."""
        return self.codec

    @property
    def mime_type(self) -> str:
        """`audio/mpeg` for MP3, `audio/ogg` for Opus (in an Ogg container)."""
        return "audio/mpeg" if self.codec == "mp3" else "audio/ogg"


def encoder_options(fmt: EncodeFormat) -> dict[str, object]:
    """ffmpeg-python `output(...)` keywords: container, encoder, rates and bit-exact output."""
    common: dict[str, object] = {
        "audio_bitrate": f"{fmt.bitrate_kbps}k",
        "ar": fmt.sample_rate,
        "ac": 1,
        "map_metadata": -1,
        "fflags": "+bitexact",
        "flags:a": "+bitexact",
    }
    if fmt.codec == "mp3":
        return {"format": "mp3", "acodec": "libmp3lame", **common}
    return {"format": "ogg", "acodec": "libopus", **common}
