"""The attention chime: settings, loudness equal to the bulletin's, no clicks."""

from __future__ import annotations

import array
import subprocess
from pathlib import Path

import pytest

from audio.chime import ChimeSettings, render_chime
from audio.ffmpeg import Tools
from audio.loudness import measure_loudness


def test_defaults_are_off_with_three_falling_notes() -> None:
    chime = ChimeSettings()
    assert not chime.enabled
    assert len(chime.tones_hz) == 3
    assert list(chime.tones_hz) == sorted(chime.tones_hz, reverse=True)
    assert chime.chime_s == pytest.approx(3 * chime.tone_s)
    assert ChimeSettings(after=True).enabled


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tones_hz": ()}, r"a chime has 1 to 8 notes, not 0"),
        ({"tones_hz": (440.0,) * 9}, r"a chime has 1 to 8 notes, not 9"),
        ({"tones_hz": (440.0, 50.0)}, r"a chime note of 50 Hz is out of range; use 100 to 4000"),
        ({"tones_hz": (4400.0,)}, r"a chime note of 4400 Hz is out of range"),
        ({"tone_s": 0.05}, r"a chime note of 0.05 s is out of range; use 0.1 to 2"),
        ({"tone_s": 2.5}, r"a chime note of 2.5 s is out of range"),
        ({"gap_s": -1.0}, r"a gap of -1 s after the chime is out of range; use 0 to 5"),
        ({"gap_s": 6.0}, r"a gap of 6 s after the chime is out of range"),
    ],
)
def test_bad_settings_are_refused_in_plain_words(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChimeSettings(**changes)  # type: ignore[arg-type]


def _samples(ffmpeg: Path, wav: Path) -> array.array[int]:
    raw = subprocess.run(
        [str(ffmpeg), "-v", "error", "-i", str(wav), "-f", "s16le", "-ac", "1", "-"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return array.array("h", raw)


@pytest.mark.parametrize("target", [-16.0, -23.0])
@pytest.mark.parametrize(
    "chime", [ChimeSettings(before=True), ChimeSettings(tones_hz=(1200.0, 900.0), tone_s=0.15)]
)
def test_the_chime_alone_is_at_the_target_loudness(
    tmp_path: Path, system_tools: Tools, target: float, chime: ChimeSettings
) -> None:
    """Measured on its own; a chime shorter than R128's 400 ms blocks (here 0.3 s) is
    measured played ten times over, as a listener hears it against the speech."""
    out = tmp_path / "chime.wav"
    render_chime(chime, out, target_lufs=target, tools=system_tools)
    looped = tmp_path / "looped.wav"
    subprocess.run(
        [str(system_tools.ffmpeg), "-v", "error", "-stream_loop", "9", "-i", str(out), str(looped)],
        check=True,
        timeout=30,
    )
    measured = measure_loudness(out if chime.chime_s >= 1 else looped, tools=system_tools)
    assert measured.integrated_lufs == pytest.approx(target, abs=0.5)
    assert measured.true_peak_dbtp < -1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chime.wav", "looped.wav"]


@pytest.mark.parametrize(
    "chime",
    [
        ChimeSettings(),
        ChimeSettings(tones_hz=(3000.0, 2000.0), tone_s=0.1),
        ChimeSettings(tones_hz=(110.0,), tone_s=2.0),
    ],
)
def test_no_click_where_the_notes_start_and_end(
    tmp_path: Path, system_tools: Tools, chime: ChimeSettings
) -> None:
    """The chime starts and ends at zero, and rises over ~10 ms rather than at once."""
    out = tmp_path / "chime.wav"
    render_chime(chime, out, sample_rate=24000, tools=system_tools)
    samples = _samples(system_tools.ffmpeg, out)
    peak = max(abs(s) for s in samples)
    assert len(samples) == pytest.approx(24000 * chime.chime_s, abs=2)
    assert abs(samples[0]) <= 1
    assert abs(samples[-1]) <= 0.01 * peak
    assert max(abs(s) for s in samples[:24]) < 0.1 * peak  # the first millisecond
    for note in range(1, len(chime.tones_hz)):  # each note fades out before the next starts
        boundary = round(note * chime.tone_s * 24000)
        assert max(abs(s) for s in samples[boundary - 3 : boundary + 3]) < 0.05 * peak
