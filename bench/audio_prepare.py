"""Benchmark: preparing a 10-minute bulletin, against ffmpeg's own two-pass loudnorm.

Two 10-minute recordings are made in a temporary folder: Vietnamese speech from espeak-ng
(its 22.05 kHz mono WAV, sentences looped: the text-to-speech path, which peaks at full
scale and so needs the limiter and its search) and a music-like mix (a swelling chord
and pink-noise hits, 44.1 kHz stereo MP3 at 128 kbit/s: an uploaded recording).

For each, in the same run, ROUNDS times (median):

- baseline: the bare ffmpeg command line doing what a careful operator would type: pass 1
  `loudnorm=I=-16:TP=-1:LRA=11:print_format=json` to measure, pass 2 `loudnorm` linear
  with the measured values, encoding MP3 48 kbit/s, 24 kHz, mono;
- Loa: `audio.prepare.prepare()` with its defaults (the same target and format, plus
  probe, silence trimming, the limiter, and an independent measurement of the result).

Prints both times, realtime factors and the ratio; the ratio must be at most MAX_RATIO
(PASS, else FAIL and exit status 1). Also prints the exact size of a 60 s bulletin at the
default format. Run with `make bench` or `.venv/bin/python bench/audio_prepare.py`.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.ffmpeg import Tools, find_tools
from audio.loudness import measure_loudness
from audio.prepare import PrepareSettings, prepare

ROUNDS = 3
DURATION_S = 600
MAX_RATIO = 1.2
TARGET, CEILING = -16.0, -1.0
SPEECH = (
    "Xin chào bà con. Đây là bản tin sáng của xã Hòa Bình. Hôm nay trời nắng, nhiệt độ từ "
    "hai mươi đến hai mươi tám độ. Ủy ban nhân dân xã thông báo lịch tiêm phòng cho gia "
    "súc, gia cầm vào sáng thứ bảy tại nhà văn hóa thôn. Bà con chú ý đưa con em đi học "
    "đúng giờ và giữ gìn vệ sinh chung."
)
MUSIC = (
    "aevalsrc='(0.3*sin(2*PI*220*t)+0.2*sin(2*PI*277*t)+0.2*sin(2*PI*330*t))"
    "*(0.5+0.5*sin(2*PI*0.25*t))*(0.3+0.7*gt(mod(t,8),4))':s=44100:d={d}"
)
NOISE = "anoisesrc=c=pink:a=0.3:d={d}:r=44100,volume='0.2+0.8*lt(mod(t,2),0.1)':eval=frame"


def ffmpeg(tools: Tools, *args: str) -> str:
    done = subprocess.run(
        [str(tools.ffmpeg), "-hide_banner", "-nostdin", "-nostats", "-y", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return done.stderr


def make_speech(tools: Tools, folder: Path) -> Path:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is needed (apt-get install espeak-ng)")
    one = folder / "one.wav"
    subprocess.run([espeak, "-v", "vi", "-w", str(one), SPEECH], check=True, timeout=60)
    out = folder / "speech-10min.wav"
    ffmpeg(
        tools, "-stream_loop", "-1", "-i", str(one), "-t", str(DURATION_S), "-c", "copy", str(out)
    )
    return out


def make_music(tools: Tools, folder: Path) -> Path:
    out = folder / "music-10min.mp3"
    ffmpeg(
        tools,
        "-f", "lavfi", "-i", MUSIC.format(d=DURATION_S),
        "-f", "lavfi", "-i", NOISE.format(d=DURATION_S),
        "-filter_complex", "[0][1]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo",
        "-c:a", "libmp3lame", "-b:a", "128k", str(out),
    )  # fmt: skip
    return out


def baseline(tools: Tools, source: Path, out: Path) -> float:
    """Two-pass loudnorm and an MP3 48k 24 kHz mono encode, with the bare ffmpeg CLI."""
    started = time.perf_counter()
    target = f"I={TARGET}:TP={CEILING}:LRA=11"
    said = ffmpeg(tools, "-i", str(source), "-af", f"loudnorm={target}:print_format=json",
                  "-f", "null", "-")  # fmt: skip
    m = json.loads(said[said.rindex("{") : said.rindex("}") + 1])
    measured = (
        f"measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}"
        f":measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true"
    )
    ffmpeg(tools, "-i", str(source), "-af", f"loudnorm={target}:{measured}",
           "-c:a", "libmp3lame", "-b:a", "48k", "-ar", "24000", "-ac", "1", str(out))  # fmt: skip
    return time.perf_counter() - started


def loa(tools: Tools, source: Path, out_dir: Path) -> float:
    started = time.perf_counter()
    prepared = prepare(source, out_dir, tools=tools)
    elapsed = time.perf_counter() - started
    prepared.path.unlink()
    return elapsed


def compare(tools: Tools, name: str, source: Path, folder: Path) -> bool:
    base_out = folder / "baseline.mp3"
    base = statistics.median(baseline(tools, source, base_out) for _ in range(ROUNDS))
    ours = statistics.median(loa(tools, source, folder / "out") for _ in range(ROUNDS))
    prepared = prepare(source, folder / "out", tools=tools)
    theirs = measure_loudness(base_out, tools=tools)
    ratio = ours / base
    verdict = "PASS" if ratio <= MAX_RATIO else "FAIL"
    print(f"{name}: {DURATION_S / 60:.0f} min, median of {ROUNDS}")
    print(f"  {'baseline: ffmpeg two-pass loudnorm + MP3':44} {base:7.2f} s  "
          f"{DURATION_S / base:5.0f}x realtime  -> {theirs.integrated_lufs:6.1f} LUFS "
          f"{theirs.true_peak_dbtp:5.1f} dBTP")  # fmt: skip
    print(f"  {'Loa: prepare()':44} {ours:7.2f} s  {DURATION_S / ours:5.0f}x realtime  "
          f"-> {prepared.after.integrated_lufs:6.1f} LUFS {prepared.after.true_peak_dbtp:5.1f} "
          f"dBTP")  # fmt: skip
    print(f"  ratio {ratio:.2f}x (limit {MAX_RATIO}x): {verdict}")
    prepared.path.unlink()
    return verdict == "PASS"


def minute_size(tools: Tools, speech: Path, folder: Path) -> None:
    minute = folder / "minute.wav"
    ffmpeg(tools, "-i", str(speech), "-t", "60", str(minute))
    prepared = prepare(minute, folder / "out", PrepareSettings(trim_silence=False), tools=tools)
    print(
        f"a 60 s bulletin at the default format (MP3 48 kbit/s, 24 kHz, mono): "
        f"{prepared.size_bytes:,} bytes, {prepared.duration_s:.3f} s, "
        f"{prepared.after.integrated_lufs:.1f} LUFS"
    )


def main() -> None:
    tools = find_tools()
    print(f"ffmpeg: {tools.ffmpeg}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        speech = make_speech(tools, folder)
        music = make_music(tools, folder)
        ok = compare(tools, "speech (espeak-ng, 22.05 kHz mono WAV)", speech, folder)
        ok = compare(tools, "music-like (44.1 kHz stereo MP3)", music, folder) and ok
        minute_size(tools, speech, folder)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
