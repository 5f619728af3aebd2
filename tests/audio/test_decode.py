"""Decoding to WAV (for `loa audio play-to-wav`) and the mono mix of unusual layouts."""

from __future__ import annotations

import array
import subprocess
import wave
from pathlib import Path

import pytest

from audio.decode import decode_to_wav, layout_known
from audio.errors import NotAudioError
from audio.ffmpeg import Tools
from tests.audio.conftest import Make, stream_info

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]


def test_decode_mulaw_to_16_bit_wav(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    src = make("điện thoại.wav", *SINE, "-ar", "8000", "-c:a", "pcm_mulaw")
    out = tmp_path / "ra loa.wav"
    decode_to_wav(src, out, tools=system_tools)
    assert system_tools.ffprobe is not None
    info = stream_info(system_tools.ffprobe, out)
    assert (info["codec_name"], info["sample_rate"], info["channels"]) == ("pcm_s16le", "8000", "1")
    assert float(info["duration"]) == pytest.approx(2.0, abs=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ra loa.wav", "điện thoại.wav"]


def test_decode_a_video_keeps_the_sound(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    src = make(
        "clip.mp4",
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", *SINE,
        "-c:v", "libx264", "-c:a", "aac", "-shortest",
    )  # fmt: skip
    out = tmp_path / "clip.wav"
    decode_to_wav(src, out, tools=system_tools)
    assert system_tools.ffprobe is not None
    assert stream_info(system_tools.ffprobe, out)["codec_name"] == "pcm_s16le"


def test_not_audio_leaves_nothing(tmp_path: Path, system_tools: Tools) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("không phải âm thanh")
    with pytest.raises(NotAudioError, match=r"notes\.txt: this is not an audio"):
        decode_to_wav(src, tmp_path / "out.wav", tools=system_tools)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def _unlabelled_8ch(ffmpeg: Path, out: Path) -> Path:
    """An 8-channel WAV with no channel mask (as multitrack recorders write)."""
    raw = out.with_suffix(".pcm")
    subprocess.run(
        [str(ffmpeg), "-v", "error", "-f", "lavfi", "-i", "anoisesrc=d=2:r=48000",
         "-ac", "8", "-f", "s16le", str(raw)],
        check=True, timeout=30,
    )  # fmt: skip
    subprocess.run(
        [str(ffmpeg), "-v", "error", "-guess_layout_max", "0", "-f", "s16le", "-ar", "48000",
         "-ac", "8", "-i", str(raw), str(out)],
        check=True, timeout=30,
    )  # fmt: skip
    raw.unlink()
    return out


def test_layout_known(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    surround = make("5.1.flac", "-f", "lavfi", "-i", "anoisesrc=d=1", "-ac", "6")
    assert layout_known(surround, system_tools, 6)
    unlabelled = _unlabelled_8ch(system_tools.ffmpeg, tmp_path / "8.wav")
    assert not layout_known(unlabelled, system_tools, 8)
    assert layout_known(unlabelled, system_tools, 2)  # 1-2 channels are never asked about
    bare = Tools(system_tools.ffmpeg, None)
    assert not layout_known(unlabelled, bare, 8)


def test_gain_scales_the_samples(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    src = make("tone.wav", *SINE, "-ar", "8000", "-c:a", "pcm_s16le")
    peaks = []
    for gain in (1.0, 0.5, 0.0):
        out = tmp_path / f"at-{gain}.wav"
        decode_to_wav(src, out, tools=system_tools, gain=gain)
        with wave.open(str(out)) as wav:
            samples = array.array("h", wav.readframes(wav.getnframes()))
        peaks.append(max(abs(s) for s in samples))
    assert peaks[1] / peaks[0] == pytest.approx(0.5, abs=0.001)
    assert peaks[2] == 0


def test_a_gain_out_of_range_is_refused_before_ffmpeg(system_tools: Tools, tmp_path: Path) -> None:
    for gain in (-0.1, 4.5):
        with pytest.raises(ValueError, match="gain must be from 0 to 4"):
            decode_to_wav(tmp_path / "missing.mp3", tmp_path / "out.wav", gain=gain)
    assert list(tmp_path.iterdir()) == []
