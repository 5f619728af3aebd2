"""`prepare` end to end with the real ffmpeg: loudness, formats, trimming, chimes, failures.

Every output is measured again on its own with `measure_loudness` (a separate decode of
the encoded file), which is what the loudspeakers will play.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from audio.chime import ChimeSettings
from audio.encode import EncodeFormat
from audio.errors import FfmpegFailed, NotAudioError, PrepareFailed, SilentAudio
from audio.ffmpeg import Tools
from audio.loudness import measure_loudness
from audio.prepare import (
    DEFAULT_TARGET_LUFS,
    DEFAULT_TRUE_PEAK_DBTP,
    Prepared,
    PrepareSettings,
    decode_to_wav,
    prepare,
)
from tests.audio.conftest import Make, bundled_ffmpeg, stream_info

TONE_BURST = "'0.3*sin(2*PI*440*t)*between(t,3,8)'"
"""3 s of silence, 5 s of a 440 Hz tone, 4 s of silence (with d=12)."""
MUSIC = [
    "-f", "lavfi", "-i",
    "aevalsrc='(0.3*sin(2*PI*220*t)+0.2*sin(2*PI*277*t)+0.2*sin(2*PI*330*t))"
    "*(0.5+0.5*sin(2*PI*0.25*t))*(0.3+0.7*gt(mod(t,8),4))':s=44100:d=25",
    "-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.3:d=25:r=44100",
    "-filter_complex",
    "[1]volume='0.2+0.8*lt(mod(t,2),0.1)':eval=frame[n];[0][n]amix=inputs=2:normalize=0,"
    "aformat=channel_layouts=stereo",
]  # fmt: skip
"""25 s of stereo "music": a chord swelling and falling back, and pink-noise drum hits."""


def _check_on_target(prepared: Prepared, tools: Tools, target: float = DEFAULT_TARGET_LUFS) -> None:
    """Measured on its own, the output is within 1 LU of `target` and under -1 dBTP."""
    measured = measure_loudness(prepared.path, tools=tools)
    assert measured.integrated_lufs == pytest.approx(target, abs=1.0)
    assert measured.true_peak_dbtp <= DEFAULT_TRUE_PEAK_DBTP
    assert prepared.after == measured


def _only(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []


# --- loudness ---------------------------------------------------------------------------


def test_espeak_speech_that_peaks_at_full_scale(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    """espeak-ng peaks at 0 dBFS ~19 LU over its loudness: plain gain would clip."""
    prepared = prepare(speech_wav, tmp_path, tools=system_tools)
    assert prepared.before.true_peak_dbtp > -0.5
    assert prepared.before.integrated_lufs < -18
    _check_on_target(prepared, system_tools)


def test_music_with_dynamics(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    music = make("nhạc.wav", *MUSIC)
    prepared = prepare(music, tmp_path / "out", tools=system_tools)
    assert prepared.before.range_lu > 5
    _check_on_target(prepared, system_tools)


def test_very_quiet_phone_recording(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    """Speech at about -45 LUFS in the 300-3400 Hz band of a phone, 8 kHz."""
    phone = make(
        "điện thoại.wav",
        "-i", str(speech_wav), "-af", "highpass=f=300,lowpass=f=3400,volume=-26dB",
        "-ar", "8000",
    )  # fmt: skip
    prepared = prepare(phone, tmp_path / "out", tools=system_tools)
    assert prepared.before.integrated_lufs == pytest.approx(-46, abs=2)
    _check_on_target(prepared, system_tools)


def test_clipped_loud_recording(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    clipped = make("to quá.wav", "-i", str(speech_wav), "-af", "volume=20dB", "-c:a", "pcm_s16le")
    prepared = prepare(clipped, tmp_path / "out", tools=system_tools)
    assert prepared.before.integrated_lufs > -8
    assert prepared.before.true_peak_dbtp > 0
    _check_on_target(prepared, system_tools)


@pytest.mark.parametrize(("target", "ceiling"), [(-23.0, -1.0), (-14.0, -2.0), (-30.0, -9.0)])
def test_another_target_and_ceiling_are_honoured(
    speech_wav: Path, system_tools: Tools, tmp_path: Path, target: float, ceiling: float
) -> None:
    settings = PrepareSettings(target_lufs=target, true_peak_dbtp=ceiling)
    prepared = prepare(speech_wav, tmp_path, settings, tools=system_tools)
    measured = measure_loudness(prepared.path, tools=system_tools)
    assert measured.integrated_lufs == pytest.approx(target, abs=1.0)
    assert measured.true_peak_dbtp <= ceiling


# --- formats ----------------------------------------------------------------------------


def test_default_format_is_mono_24khz_48kbps_mp3(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    prepared = prepare(speech_wav, tmp_path, tools=system_tools)
    assert system_tools.ffprobe is not None
    info = stream_info(system_tools.ffprobe, prepared.path)
    assert info["format.format_name"] == "mp3"
    assert (info["codec_name"], info["channels"], info["sample_rate"]) == ("mp3", "1", "24000")
    assert info["bit_rate"] == "48000"
    assert info.get("format.tags") is None  # no metadata carried over
    assert prepared.path.parent == tmp_path
    assert prepared.path.name == f"{hashlib.sha256(prepared.path.read_bytes()).hexdigest()}.mp3"
    assert prepared.size_bytes == prepared.path.stat().st_size
    assert prepared.format == EncodeFormat()
    # ffprobe counts whole MP3 frames; the decoder drops the encoder's delay and padding.
    kept = prepared.source.duration_s - prepared.trimmed_start_s - prepared.trimmed_end_s
    assert prepared.duration_s == pytest.approx(kept, abs=0.01)
    assert float(info["duration"]) == pytest.approx(kept, abs=0.1)
    assert prepared.source.path == speech_wav


def test_opus_option(speech_wav: Path, system_tools: Tools, tmp_path: Path) -> None:
    fmt = EncodeFormat("opus", 32, 24000)
    prepared = prepare(speech_wav, tmp_path, PrepareSettings(format=fmt), tools=system_tools)
    assert system_tools.ffprobe is not None
    info = stream_info(system_tools.ffprobe, prepared.path)
    assert info["format.format_name"] == "ogg"
    assert (info["codec_name"], info["channels"]) == ("opus", "1")
    assert prepared.path.suffix == ".opus"
    assert prepared.size_bytes < 32000 / 8 * prepared.duration_s * 1.25
    _check_on_target(prepared, system_tools)


SPEECH_AS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-ac", "2"],
    "m4a": ["-c:a", "aac", "-b:a", "96k", "-ac", "2"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000"],
    "flac": ["-ar", "44100"],
    "wav": ["-ar", "48000", "-c:a", "pcm_s24le"],
}


@pytest.mark.parametrize("ext", sorted(SPEECH_AS))
def test_inputs_in_common_formats(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path, ext: str
) -> None:
    src = make(f"bản tin.{ext}", "-i", str(speech_wav), *SPEECH_AS[ext])
    prepared = prepare(src, tmp_path / "out", tools=system_tools)
    _check_on_target(prepared, system_tools)
    assert prepared.duration_s == pytest.approx(12.2, abs=0.5)


def test_video_with_sound(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    video = make(
        "họp dân.mp4",
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=12", "-i", str(speech_wav),
        "-c:v", "libx264", "-c:a", "aac", "-shortest",
    )  # fmt: skip
    prepared = prepare(video, tmp_path / "out", tools=system_tools)
    assert prepared.source.has_video
    _check_on_target(prepared, system_tools)


def test_8khz_mulaw_is_resampled_up(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    src = make("tổng đài.wav", "-i", str(speech_wav), "-ar", "8000", "-c:a", "pcm_mulaw")
    prepared = prepare(src, tmp_path / "out", tools=system_tools)
    assert prepared.source.audio[0].sample_rate == 8000
    assert system_tools.ffprobe is not None
    assert stream_info(system_tools.ffprobe, prepared.path)["sample_rate"] == "24000"
    _check_on_target(prepared, system_tools)


def test_5_1_surround(make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path) -> None:
    """Speech in the centre channel of a 5.1 file; the standard downmix keeps it."""
    src = make(
        "5.1.flac",
        "-i", str(speech_wav), "-af", "pan=5.1|FC=c0|FL=0.1*c0|FR=0.1*c0",
    )  # fmt: skip
    prepared = prepare(src, tmp_path / "out", tools=system_tools)
    assert prepared.source.audio[0].channels == 6
    _check_on_target(prepared, system_tools)


def test_8_channels_without_a_layout_are_averaged(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    """Speech on track 4 only of an unlabelled 8-track WAV: ffmpeg's guessed 7.1 layout
    would take that track for LFE and drop it, leaving silence."""
    raw = tmp_path / "tracks.pcm"
    src = tmp_path / "8 rãnh.wav"
    ffmpeg = str(system_tools.ffmpeg)
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(speech_wav), "-af", "pan=7.1|c3=c0",
         "-f", "s16le", str(raw)],
        check=True, timeout=30,
    )  # fmt: skip
    subprocess.run(
        [ffmpeg, "-v", "error", "-guess_layout_max", "0", "-f", "s16le", "-ar", "22050",
         "-ac", "8", "-i", str(raw), str(src)],
        check=True, timeout=30,
    )  # fmt: skip
    prepared = prepare(src, tmp_path / "out", tools=system_tools)
    assert prepared.source.audio[0].channels == 8
    _check_on_target(prepared, system_tools)


def test_vietnamese_file_name_with_spaces(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    src = tmp_path / "bản tin sáng 06h.wav"
    src.write_bytes(speech_wav.read_bytes())
    out_dir = tmp_path / "đầu ra"
    prepared = prepare(src, out_dir, tools=system_tools)
    _check_on_target(prepared, system_tools)
    assert _only(out_dir) == [prepared.path.name]


def test_bundled_ffmpeg_without_ffprobe(speech_wav: Path, tmp_path: Path) -> None:
    bundled = bundled_ffmpeg()
    if bundled is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)")
    tools = Tools(bundled, None, bundled=True)
    prepared = prepare(speech_wav, tmp_path, tools=tools)
    _check_on_target(prepared, tools)


# --- silence ----------------------------------------------------------------------------


def test_leading_and_trailing_silence_is_trimmed(
    make: Make, system_tools: Tools, tmp_path: Path
) -> None:
    src = make("im lặng.wav", "-f", "lavfi", "-i", f"aevalsrc={TONE_BURST}:s=16000:d=12")
    prepared = prepare(src, tmp_path / "out", tools=system_tools)
    assert prepared.duration_s == pytest.approx(5.0 + 2 * 0.2, abs=0.05)
    assert prepared.trimmed_start_s == pytest.approx(3.0 - 0.2, abs=0.05)
    assert prepared.trimmed_end_s == pytest.approx(4.0 - 0.2, abs=0.05)
    _check_on_target(prepared, system_tools)


def test_keep_more_silence(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    src = make("im lặng.wav", "-f", "lavfi", "-i", f"aevalsrc={TONE_BURST}:s=16000:d=12")
    settings = PrepareSettings(silence_keep_s=1.0)
    prepared = prepare(src, tmp_path / "out", settings, tools=system_tools)
    assert prepared.duration_s == pytest.approx(7.0, abs=0.05)


def test_trimming_off_keeps_the_length(make: Make, system_tools: Tools, tmp_path: Path) -> None:
    src = make("im lặng.wav", "-f", "lavfi", "-i", f"aevalsrc={TONE_BURST}:s=16000:d=12")
    settings = PrepareSettings(trim_silence=False)
    prepared = prepare(src, tmp_path / "out", settings, tools=system_tools)
    assert prepared.duration_s == pytest.approx(12.0, abs=0.05)
    assert (prepared.trimmed_start_s, prepared.trimmed_end_s) == (0.0, 0.0)


@pytest.mark.parametrize("trim", [True, False])
def test_all_silent_is_refused(make: Make, system_tools: Tools, tmp_path: Path, trim: bool) -> None:
    src = make("trống.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(SilentAudio, match=r"trống\.wav: .*nothing to broadcast"):
        prepare(src, out_dir, PrepareSettings(trim_silence=trim), tools=system_tools)
    assert _only(out_dir) == []


def test_only_faint_hiss_is_silence_when_trimming(
    make: Make, system_tools: Tools, tmp_path: Path
) -> None:
    src = make("rè.wav", "-f", "lavfi", "-i", "anoisesrc=a=0.001:d=4:r=16000")
    with pytest.raises(SilentAudio, match=r"nothing in the audio is louder than -50 dBFS"):
        prepare(src, tmp_path / "out", tools=system_tools)


# --- chimes -----------------------------------------------------------------------------


def test_chimes_before_and_after_at_the_speech_loudness(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    chime = ChimeSettings(before=True, after=True, gap_s=0.5)
    plain = prepare(speech_wav, tmp_path / "plain", tools=system_tools)
    chimed = prepare(
        speech_wav, tmp_path / "chimed", PrepareSettings(chime=chime), tools=system_tools
    )
    assert chimed.duration_s == pytest.approx(
        plain.duration_s + 2 * (chime.chime_s + chime.gap_s), abs=0.1
    )
    _check_on_target(chimed, system_tools)
    head = tmp_path / "head.wav"
    subprocess.run(
        [str(system_tools.ffmpeg), "-v", "error", "-i", str(chimed.path), "-t", f"{chime.chime_s}",
         str(head)],
        check=True, timeout=30,
    )  # fmt: skip
    alone = measure_loudness(head, tools=system_tools)
    assert alone.integrated_lufs == pytest.approx(DEFAULT_TARGET_LUFS, abs=1.0)


def test_chime_after_only_with_no_gap(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    chime = ChimeSettings(after=True, gap_s=0.0, tones_hz=(660.0, 550.0), tone_s=0.4)
    plain = prepare(speech_wav, tmp_path / "plain", tools=system_tools)
    chimed = prepare(
        speech_wav, tmp_path / "chimed", PrepareSettings(chime=chime), tools=system_tools
    )
    assert chimed.duration_s == pytest.approx(plain.duration_s + 0.8, abs=0.1)
    _check_on_target(chimed, system_tools)


# --- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [EncodeFormat(), EncodeFormat("opus", 24, 16000)])
def test_same_input_same_bytes(
    speech_wav: Path, system_tools: Tools, tmp_path: Path, fmt: EncodeFormat
) -> None:
    """The content store deduplicates by sha256: the same input must give the same bytes."""
    settings = PrepareSettings(format=fmt, chime=ChimeSettings(before=True))
    first = prepare(speech_wav, tmp_path / "a", settings, tools=system_tools)
    second = prepare(speech_wav, tmp_path / "b", settings, tools=system_tools)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == second.path.name


# --- size -------------------------------------------------------------------------------


def test_a_60_s_bulletin_at_the_default_format_is_about_360_kb(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    """48 kbit/s is 6,000 bytes a second: 360,000 for a minute, plus an empty ID3 header,
    the encoder's info frame and padding (360,500 bytes measured here)."""
    minute = make("một phút.wav", "-stream_loop", "5", "-i", str(speech_wav), "-t", "60")
    settings = PrepareSettings(trim_silence=False)
    prepared = prepare(minute, tmp_path / "out", settings, tools=system_tools)
    assert prepared.duration_s == pytest.approx(60.0, abs=0.05)
    assert prepared.size_bytes == pytest.approx(360_000, rel=0.005)
    _check_on_target(prepared, system_tools)


# --- failures ---------------------------------------------------------------------------


def test_corrupt_file_is_refused_and_leaves_nothing(
    make: Make, speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    src = make("hỏng.mp3", "-i", str(speech_wav), "-c:a", "libmp3lame", "-b:a", "64k")
    data = bytearray(src.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 4000] = os.urandom(4000)
    src.write_bytes(bytes(data[: len(data) * 2 // 3]))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(NotAudioError, match=r"hỏng\.mp3"):
        prepare(src, out_dir, tools=system_tools)
    assert _only(out_dir) == []


def test_not_audio_is_refused(tmp_path: Path, system_tools: Tools) -> None:
    src = tmp_path / "bản tin.mp3"
    src.write_text("Đây là văn bản, không phải âm thanh.\n")
    out_dir = tmp_path / "out"
    with pytest.raises(NotAudioError, match=r"bản tin\.mp3: this is not an audio"):
        prepare(src, out_dir, tools=system_tools)
    assert _only(out_dir) == []


def _wrapper(tmp_path: Path, real: Path, on: str, then: str) -> Tools:
    """A `ffmpeg` that behaves like `real` except when `on` is among its arguments."""
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do if [ "$a" = "{on}" ]; then {then}; fi; done\n'
        f'exec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Tools(script, None)


def test_an_encoder_failure_names_the_file_and_what_ffmpeg_said(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    tools = _wrapper(
        tmp_path, system_tools.ffmpeg, "libmp3lame",
        'echo "[libmp3lame @ 0x5] [error] lame: out of cheese" >&2; '
        'echo "[info] Conversion failed!" >&2; exit 1',
    )  # fmt: skip
    out_dir = tmp_path / "out"
    with pytest.raises(PrepareFailed) as caught:
        prepare(speech_wav, out_dir, tools=tools)
    assert str(caught.value) == (
        f"{speech_wav}: encoding failed (ffmpeg says: lame: out of cheese)"
    )
    assert _only(out_dir) == []


def test_an_encoder_past_its_timeout_leaves_nothing(
    speech_wav: Path, system_tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = _wrapper(tmp_path, system_tools.ffmpeg, "libmp3lame", "exec sleep 30")
    monkeypatch.setattr("audio.command.TIMEOUT_BASE_S", 1.5)
    monkeypatch.setattr("audio.command.TIMEOUT_PER_AUDIO_S", 0.0)
    out_dir = tmp_path / "out"
    with pytest.raises(FfmpegFailed, match=r"did not finish within"):
        prepare(speech_wav, out_dir, tools=tools)
    assert _only(out_dir) == []


def test_interrupted_after_encoding_leaves_nothing(
    speech_wav: Path, system_tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("audio.prepare.measure", interrupted)
    out_dir = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prepare(speech_wav, out_dir, tools=system_tools)
    assert _only(out_dir) == []


def test_too_long_for_the_limit(speech_wav: Path, system_tools: Tools, tmp_path: Path) -> None:
    settings = PrepareSettings(max_duration_s=5.0)
    with pytest.raises(NotAudioError, match=r"longer than the limit of 0:00:05"):
        prepare(speech_wav, tmp_path / "out", settings, tools=system_tools)


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target_lufs": -50.0}, r"the target loudness of -50 LUFS is out of range; use -40 to -5"),
        ({"target_lufs": -3.0}, r"the target loudness of -3 LUFS is out of range"),
        ({"target_lufs": float("nan")}, r"the target loudness of nan LUFS is out of range"),
        ({"true_peak_dbtp": 1.0}, r"the true-peak ceiling of 1 dBTP is out of range; use -9 to 0"),
        ({"true_peak_dbtp": -12.0}, r"the true-peak ceiling of -12 dBTP is out of range"),
        ({"silence_threshold_db": -10.0}, r"the silence threshold of -10 dBFS is out of range"),
        ({"silence_threshold_db": -95.0}, r"use -90 to -20 dBFS"),
        ({"silence_keep_s": -0.1}, r"the silence kept at each end of -0.1 s is out of range"),
        ({"silence_keep_s": 3.0}, r"use 0 to 2 s"),
        ({"max_duration_s": 0.0}, r"the longest allowed audio must be positive"),
    ],
)
def test_bad_settings_are_refused_in_plain_words(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrepareSettings(**changes)  # type: ignore[arg-type]


def test_decode_to_wav_is_reexported() -> None:
    from audio.decode import decode_to_wav as original  # noqa: PLC0415

    assert decode_to_wav is original


def test_a_target_too_loud_for_the_ceiling_is_refused_in_plain_words(
    speech_wav: Path, system_tools: Tools, tmp_path: Path
) -> None:
    """espeak-ng's peaks stand ~19 dB above its loudness: -10 LUFS under -3 dBTP would
    need over 12 dB of limiting, past what a limiter can do without wrecking speech."""
    out_dir = tmp_path / "out"
    settings = PrepareSettings(target_lufs=-10.0, true_peak_dbtp=-3.0)
    with pytest.raises(PrepareFailed) as caught:
        prepare(speech_wav, out_dir, settings, tools=system_tools)
    message = str(caught.value)
    assert message.startswith(f"{speech_wav}: normalising the loudness failed (after 3 tries")
    assert "for a target of -10 LUFS under -3 dBTP" in message
    assert message.endswith("lower the target loudness or raise the true-peak ceiling)")
    assert _only(out_dir) == []
