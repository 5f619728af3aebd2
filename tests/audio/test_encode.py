"""Output formats: what each accepts, and the encoder options."""

from __future__ import annotations

import pytest

from audio.encode import EncodeFormat, encoder_options


def test_default_is_mp3_48k_24khz() -> None:
    fmt = EncodeFormat()
    assert (fmt.codec, fmt.bitrate_kbps, fmt.sample_rate) == ("mp3", 48, 24000)
    assert fmt.extension == "mp3"
    assert fmt.mime_type == "audio/mpeg"


def test_opus() -> None:
    fmt = EncodeFormat("opus", 32, 48000)
    assert fmt.extension == "opus"
    assert fmt.mime_type == "audio/ogg"


@pytest.mark.parametrize(
    ("codec", "kbps", "rate"),
    [("mp3", 8, 8000), ("mp3", 64, 12000), ("mp3", 160, 24000), ("mp3", 32, 44100),
     ("mp3", 320, 48000), ("opus", 6, 8000), ("opus", 256, 48000), ("opus", 24, 12000)],
)  # fmt: skip
def test_accepted(codec: str, kbps: int, rate: int) -> None:
    EncodeFormat(codec, kbps, rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("codec", "kbps", "rate", "message"),
    [
        ("mp3", 48, 96000, r"MP3 cannot use a sample rate of 96000 Hz; use 8000, 11025"),
        ("mp3", 320, 24000, r"MP3 at 24000 Hz cannot be 320 kbit/s; use one of 8, 16.*160"),
        ("mp3", 16, 44100, r"MP3 at 44100 Hz cannot be 16 kbit/s; use one of 32, 40"),
        ("mp3", 50, 24000, r"cannot be 50 kbit/s"),
        ("mp3", 96, 8000, r"MP3 at 8000 Hz cannot be 96 kbit/s; use one of 8.*64$"),
        ("opus", 48, 44100, r"Opus cannot use a sample rate of 44100 Hz; use 8000, 12000"),
        ("opus", 5, 24000, r"an Opus bit rate of 5 kbit/s is out of range; use 6 to 256"),
        ("opus", 320, 48000, r"out of range; use 6 to 256"),
        ("aac", 48, 24000, r"unknown codec 'aac': use 'mp3' or 'opus'"),
    ],
)
def test_refused_in_plain_words(codec: str, kbps: int, rate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EncodeFormat(codec, kbps, rate)  # type: ignore[arg-type]


def test_encoder_options_are_mono_bitexact_and_without_metadata() -> None:
    mp3 = encoder_options(EncodeFormat())
    assert mp3["format"] == "mp3"
    assert mp3["acodec"] == "libmp3lame"
    assert (mp3["audio_bitrate"], mp3["ar"], mp3["ac"]) == ("48k", 24000, 1)
    assert (mp3["fflags"], mp3["flags:a"], mp3["map_metadata"]) == ("+bitexact", "+bitexact", -1)
    opus = encoder_options(EncodeFormat("opus", 24, 16000))
    assert (opus["format"], opus["acodec"], opus["audio_bitrate"]) == ("ogg", "libopus", "24k")
