"""EBU R128 measurement: the summary parser and `measure_loudness` on signals of known level."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from audio.errors import PrepareFailed
from audio.ffmpeg import Tools
from audio.loudness import Loudness, measure_loudness, parse_summary
from tests.audio.conftest import Make

SUMMARY = """\
[Parsed_ebur128_0 @ 0x55d8fbe55880] [info] Summary:

  Integrated loudness:
    I:         -19.2 LUFS
    Threshold: -29.3 LUFS

  Loudness range:
    LRA:         2.6 LU
    Threshold: -39.4 LUFS
    LRA low:   -20.3 LUFS
    LRA high:  -18.6 LUFS

  True peak:
    Peak:        0.1 dBFS
[silencedetect @ 0x55fcbf499cc0] [info] silence_end: 8.9698 | silence_duration: 0.30
"""

WITHOUT_PEAK = """\
[Parsed_ebur128_3 @ 0x55d8fbe55880] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS
    LRA low:     0.0 LUFS
    LRA high:    0.0 LUFS
"""


def test_parse_a_summary_with_true_peak() -> None:
    assert parse_summary(SUMMARY) == [Loudness(-19.2, 0.1, 2.6)]


def test_a_summary_without_true_peak_does_not_borrow_the_next_ones() -> None:
    first, second = parse_summary(WITHOUT_PEAK + SUMMARY)
    assert first.integrated_lufs == -70.0
    assert first.silent
    assert math.isnan(first.true_peak_dbtp)
    assert second == Loudness(-19.2, 0.1, 2.6)


def test_digital_silence_has_a_true_peak_of_minus_infinity() -> None:
    text = SUMMARY.replace("0.1 dBFS", "-inf dBFS")
    assert parse_summary(text)[0].true_peak_dbtp == -math.inf


def test_no_summary() -> None:
    assert parse_summary("Conversion failed!\n") == []


@pytest.mark.parametrize(
    ("amplitude", "lufs", "dbtp"),
    [(0.1, -23.0, -20.0), (0.5, -9.0, -6.0)],
)
def test_a_1khz_sine_measures_as_bs1770_defines(
    make: Make, system_tools: Tools, amplitude: float, lufs: float, dbtp: float
) -> None:
    """A mono 1 kHz sine of peak A measures 20 log A - 3.01 LUFS (BS.1770's calibration)."""
    sine = make(
        "sine.wav",
        "-f", "lavfi", "-i", f"aevalsrc={amplitude}*sin(2*PI*1000*t):s=48000:d=5",
        "-c:a", "pcm_f32le",
    )  # fmt: skip
    measured = measure_loudness(sine, tools=system_tools)
    assert measured.integrated_lufs == pytest.approx(lufs, abs=0.15)
    assert measured.true_peak_dbtp == pytest.approx(dbtp, abs=0.15)
    assert measured.range_lu == pytest.approx(0.0, abs=0.1)


def test_stereo_counts_both_channels(make: Make, system_tools: Tools) -> None:
    """EBU Tech 3341 case 1: a 1 kHz sine at -23 dBFS in both channels is -23 LUFS."""
    stereo = make(
        "stereo.wav",
        "-f", "lavfi", "-i", "aevalsrc=0.0707946*sin(2*PI*1000*t):s=48000:d=5",
        "-af", "pan=stereo|c0=c0|c1=c0", "-c:a", "pcm_f32le",
    )  # fmt: skip
    assert measure_loudness(stereo, tools=system_tools).integrated_lufs == pytest.approx(
        -23.0, abs=0.15
    )


def test_not_audio_is_a_prepare_failure_naming_the_file(
    tmp_path: Path, system_tools: Tools
) -> None:
    text = tmp_path / "ghi chú.mp3"
    text.write_text("đây không phải âm thanh\n" * 50)
    with pytest.raises(PrepareFailed, match=r"ghi chú\.mp3: measuring the loudness failed"):
        measure_loudness(text, tools=system_tools)
