"""Prepare a bulletin for broadcast: mono, silence trimmed, loudness-normalised, chimed, encoded.

`prepare(source, out_dir)` runs, after `probe` has accepted the file:

1. **Analysis** (one decode): the first audio stream mixed to mono (`audio.decode.mono`)
   goes through `silencedetect` and `ebur128` (EBU R128 / BS.1770, true peak), giving
   `Prepared.before`, the leading and trailing silence and the decoded length; a second
   meter on the same mix resampled to the output rate gives the loudness the gain must
   lift to the target (a 44.1 kHz source loses its top octave's share at 24 kHz).
2. **Gain**: target minus that loudness, plus what the encoder is expected to take off
   (`ENCODER_OFFSET_LU`). If the gained peaks would pass the ceiling, a true-peak limiter
   goes in: `alimiter` at 4x the output rate (so peaks between samples count), its
   ceiling `PEAK_MARGIN_DB` under the requested true peak to leave room for the encoder.
   A limiter lowers loudness, so a **search** (one decode, three branches in one graph)
   measures the limited loudness at the gain and 2 and 4 dB above it; `audio.gain` turns
   the three points into the gain that meets the target.
3. **Encode** (one decode): trim, mono, resample to the output rate, gain, chimes,
   limiter, encoder; written to a temporary name in `out_dir`.
4. **Check**: the encoded file is measured on its own (`audio.loudness.measure`: cheap at
   24 kHz mono). Further than `AIM_LU` from the target, or over the true-peak ceiling, it
   is encoded again with what was learnt (the encoder's real offset; a ceiling lowered by
   the overshoot), at most `MAX_ENCODES` times. The attempt closest to the target within
   `TOLERANCE_LU` and under the ceiling is renamed into place as `<sha256>.<ext>`; if none
   is, `PrepareFailed` says why. Every failure path deletes the temporary files.

Why not ffmpeg's `loudnorm`: its first pass measures the same BS.1770 figures as `ebur128`
but runs its whole dynamic processor at 192 kHz to do it (5x slower here), and its linear
second pass refuses a gain that would lift the true peak over the ceiling, falling back
to its dynamic mode. Measured here, target -16 LUFS / -1 dBTP, MP3 48 kbit/s mono 24 kHz,
every output measured again on its own (integrated LUFS / true peak dBTP; "dynamic":
loudnorm fell back to its dynamic mode):

| input (mono: LUFS / dBTP) | two-pass loudnorm | gain + 4x limiter at -1.5 | this module |
|---|---|---|---|
| espeak-ng Vietnamese (-19.2 / 0.0) | -17.3 / -0.9 (dynamic) | -17.6 / -1.5 | -16.0 / -1.7 |
| quiet phone speech (-46.6 / -27.4) | -17.5 / -1.0 (dynamic) | -17.9 / -1.6 | -16.0 / -2.0 |
| music with dynamics (-16.9 / -3.1) | -16.4 / -3.0 (dynamic) | -16.4 / -2.7 | -16.0 / -2.4 |
| clipped loud speech (-5.9 / +4.0) | -16.3 / -3.9 (linear) | -16.4 / -4.0 | -16.0 / -4.0 |

On 10 minutes of espeak-ng speech, two-pass loudnorm gave -17.1 LUFS and -0.2 dBTP: low,
and over the ceiling. A limiter alone lands 1.6-1.9 LU low on speech (limiting 5-6 dB of
peaks takes that much loudness). Each input above took one encode here. MP3 at 48 kbit/s
overshoots the limiter's ceiling by 0.3-0.8 dB at the default target, more when limiting
is deep (1.4 dB with 10 dB of limiting); band-limiting before the limiter did not help, so
the margin is 1 dB and a larger overshoot lowers the ceiling for the next encode. Speech
whose peaks stand far above its loudness cannot be made loud under a low ceiling without
wrecking it (espeak-ng at -12 LUFS under -1 dBTP reaches -13.5): that is refused.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from audio.chime import ChimeSettings, chime_gain_db, unit_loudness
from audio.chime import source as chime_source
from audio.command import ffmpeg_says, input_url, quiet_args, run_timeout
from audio.decode import decode_to_wav, layout_known, mono
from audio.encode import EncodeFormat, encoder_options
from audio.errors import PrepareFailed, SilentAudio
from audio.ffmpeg import Tools, find_tools, run
from audio.gain import GainPlan, LimiterCurve
from audio.loudness import Loudness, decoded_seconds, measure, parse_summary
from audio.probe import DEFAULT_MAX_DURATION_S, Probe, probe
from audio.silence import TrimPoints, parse_silences, trim_points

__all__ = [
    "DEFAULT_TARGET_LUFS",
    "DEFAULT_TRUE_PEAK_DBTP",
    "PrepareSettings",
    "Prepared",
    "decode_to_wav",
    "prepare",
]

log = logging.getLogger(__name__)

DEFAULT_TARGET_LUFS = -16.0
DEFAULT_TRUE_PEAK_DBTP = -1.0
PEAK_MARGIN_DB = 1.0
"""The limiter's ceiling sits this far under the requested true peak (encoder overshoot)."""
OVERSAMPLE = 4
"""The limiter runs at 4x the output rate, so that it sees the peaks between samples."""
SEARCH_OVERSAMPLE = 1
"""The search's limiters run at the output rate: they pick the same gain (to 0.01 dB) in
40 % of the time, since only the loudness they leave matters there."""
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0
SEARCH_STEPS_DB = (0.0, 2.0, 4.0)
LIGHT_LIMITING_DB = 1.0
"""Peaks at most this far over the ceiling are limited without a search: taking 1 dB off
a few peaks moves the integrated loudness by hundredths of a LU."""
MAX_EXTRA_GAIN_DB = 12.0
"""Never push more than this above the plain gain into the limiter."""
OVERSHOOT_EXTRA_DB = 0.2
"""When the encoder overshoots the ceiling, the limiter goes down by that much plus this."""
ENCODER_OFFSET_LU = {"mp3": -0.4, "opus": -0.2}
"""What encoding does to loudness, expected before the first encode measures it: MP3 at
48 kbit/s measured 0.4 LU under its input on speech, phone-band speech, music and clipped
speech alike; Opus 0.1-0.2 LU."""
AIM_LU = 0.5
TOLERANCE_LU = 1.0
MAX_ENCODES = 3
LENGTH_SLACK_S = 0.1


@dataclass(frozen=True, slots=True)
class PrepareSettings:
    """How to prepare a bulletin; every value is checked (`ValueError`, in plain words)."""

    target_lufs: float = DEFAULT_TARGET_LUFS
    true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP
    trim_silence: bool = True
    silence_threshold_db: float = -50.0
    silence_keep_s: float = 0.2
    format: EncodeFormat = field(default_factory=EncodeFormat)
    chime: ChimeSettings = field(default_factory=ChimeSettings)
    max_duration_s: float = DEFAULT_MAX_DURATION_S

    def __post_init__(self) -> None:
        _within("the target loudness", self.target_lufs, -40, -5, "LUFS")
        _within("the true-peak ceiling", self.true_peak_dbtp, -9, 0, "dBTP")
        _within("the silence threshold", self.silence_threshold_db, -90, -20, "dBFS")
        _within("the silence kept at each end", self.silence_keep_s, 0, 2, "s")
        if not self.max_duration_s > 0:
            raise ValueError(
                f"the longest allowed audio must be positive, not {self.max_duration_s}"
            )


def _within(what: str, value: float, low: float, high: float, unit: str) -> None:
    if not low <= value <= high:  # also refuses NaN
        raise ValueError(f"{what} of {value:g} {unit} is out of range; use {low} to {high} {unit}")


@dataclass(frozen=True, slots=True)
class Prepared:
    """The encoded bulletin at `path` (inside `out_dir`; the caller moves or deletes it)."""

    path: Path
    format: EncodeFormat
    duration_s: float
    size_bytes: int
    before: Loudness
    after: Loudness
    trimmed_start_s: float
    trimmed_end_s: float
    source: Probe


@dataclass(frozen=True, slots=True)
class _Analysis:
    before: Loudness
    resampled_lufs: float
    """The mono mix's loudness at the output sample rate."""
    duration_s: float
    keep: TrimPoints


class _Job:
    """One `prepare` call: the source, its settings and how to reach it with ffmpeg."""

    def __init__(self, path: Path, info: Probe, settings: PrepareSettings, tools: Tools) -> None:
        self.path = path
        self.info = info
        self.settings = settings
        self.tools = tools
        self.channels = info.audio[0].channels
        self.known_layout = layout_known(path, tools, self.channels)
        self.timeout = run_timeout(info.duration_s)

    def run(self, stream_spec: Any, step: str, *, overwrite: bool = False) -> tuple[str, str]:
        """Run the compiled graph; `PrepareFailed` naming `step` when ffmpeg fails."""
        args = stream_spec.compile(cmd=quiet_args(self.tools), overwrite_output=overwrite)
        done = run([*args, "-progress", "pipe:1"], timeout=self.timeout)
        if done.returncode != 0:
            log.debug("%s of %s failed: %s", step, self.path, done.stderr)
            raise PrepareFailed(self.path, step, ffmpeg_says(done.stderr, self.path))
        return done.stdout, done.stderr

    def speech(self, keep: TrimPoints | None, rate: int | None) -> Any:
        """The source's first audio stream: trimmed to `keep`, mono, at `rate` Hz."""
        stream = ffmpeg.input(input_url(self.path))["a:0"]
        if keep is not None:
            stream = stream.filter("atrim", start=f"{keep.start_s:.6f}", end=f"{keep.end_s:.6f}")
            stream = stream.filter("asetpts", "N/SR/TB")
        stream = mono(stream, self.channels, known_layout=self.known_layout)
        if rate is not None:
            stream = stream.filter("aresample", osr=rate).filter("aformat", sample_fmts="flt")
        return stream

    def analyse(self) -> _Analysis:
        """Pass 1: loudness before, silences and the decoded length, from one decode."""
        s = self.settings
        detect = max(s.silence_keep_s, 0.05)
        split = self.speech(None, None).filter_multi_output("asplit", 2)
        metered = (
            split[0]
            .filter("silencedetect", n=f"{s.silence_threshold_db:g}dB", d=f"{detect:g}")
            .filter("ebur128", peak="true", framelog="verbose")
        )
        # The same mix at the output rate: what the gain must bring to the target (a
        # 44.1 kHz source loses its top octave's share of the loudness at 24 kHz).
        resampled = (
            split[1]
            .filter("aresample", osr=s.format.sample_rate)
            .filter("aformat", sample_fmts="flt")
            .filter("ebur128", framelog="verbose")
        )
        output = ffmpeg.output(metered, resampled, "-", format="null")
        stdout, stderr = self.run(output, "analysing the audio")
        summaries = parse_summary(stderr)
        # Only the source's meter measures true peaks; the last of each kind is the real one.
        with_peak = [x for x in summaries if not math.isnan(x.true_peak_dbtp)]
        without = [x for x in summaries if math.isnan(x.true_peak_dbtp)]
        if not with_peak or not without:
            raise PrepareFailed(self.path, "analysing the audio", "no loudness summary")
        before = with_peak[-1]
        silences = parse_silences(stderr)
        duration = max([decoded_seconds(stdout)] + [x.end_s or 0.0 for x in silences])
        if before.silent:
            raise SilentAudio(
                self.path,
                "the audio is silent, or has under 0.4 s of sound: there is nothing to broadcast",
            )
        keep = TrimPoints(0.0, duration)
        if s.trim_silence:
            found = trim_points(silences, duration, s.silence_keep_s)
            if found is None:
                raise SilentAudio(
                    self.path,
                    f"nothing in the audio is louder than {s.silence_threshold_db:g} dBFS: "
                    "there is nothing to broadcast (for a very quiet recording, lower the "
                    "silence threshold or turn trimming off)",
                )
            keep = found
        return _Analysis(before, without[-1].integrated_lufs, duration, keep)

    def limiter(self, stream: Any, ceiling_db: float, oversample: int = OVERSAMPLE) -> Any:
        rate = self.settings.format.sample_rate
        if oversample > 1:
            stream = stream.filter("aresample", osr=rate * oversample)
        stream = stream.filter(
            "alimiter",
            limit=f"{10 ** (ceiling_db / 20):.6f}",
            attack=f"{LIMITER_ATTACK_MS:g}",
            release=f"{LIMITER_RELEASE_MS:g}",
            level="false",
            latency="true",
        )
        if oversample > 1:
            stream = stream.filter("aresample", osr=rate)
        return stream.filter("aformat", sample_fmts="flt")

    def search(self, first: _Analysis, gain_db: float, ceiling_db: float) -> LimiterCurve:
        """Pass 2a: the limited loudness at a few gains from `gain_db` up, in one decode."""
        rate = self.settings.format.sample_rate
        split = self.speech(first.keep, rate).filter_multi_output("asplit", len(SEARCH_STEPS_DB))
        gains = [gain_db + step for step in SEARCH_STEPS_DB]
        branches = [
            self.limiter(
                split[i].filter("volume", f"{gain:.4f}dB"), ceiling_db, SEARCH_OVERSAMPLE
            ).filter("ebur128", framelog="verbose")
            for i, gain in enumerate(gains)
        ]
        _, stderr = self.run(ffmpeg.output(*branches, "-", format="null"), "measuring the limiter")
        # ffmpeg 5 may configure a graph twice and print the first one's empty summaries:
        # the last ones are the real ones.
        summaries = parse_summary(stderr)[-len(gains) :]
        if len(summaries) != len(gains):
            raise PrepareFailed(self.path, "measuring the limiter", "missing loudness summaries")
        return LimiterCurve.measured(ceiling_db, gains, [x.integrated_lufs for x in summaries])

    def encode(self, first: _Analysis, plan: GainPlan, out: Path) -> None:
        """Pass 2: trim, mono, resample, gain, chimes, limiter, encode into `out`."""
        s = self.settings
        rate = s.format.sample_rate
        parts = [self.speech(first.keep, rate).filter("volume", f"{plan.gain_db:.4f}dB")]
        if s.chime.enabled:
            # As loud as the speech once encoded: the encoder takes as much off both.
            gain = chime_gain_db(s.chime, s.target_lufs - plan.offset_lu, rate, self.tools)

            def chime(lead: float, tail: float) -> Any:
                src = chime_source(s.chime, rate, lead_s=lead, tail_s=tail)
                return (
                    ffmpeg.input(src, f="lavfi")
                    .filter("volume", f"{gain:.4f}dB")
                    .filter("aformat", sample_fmts="flt", channel_layouts="mono")
                )

            if s.chime.before:
                parts.insert(0, chime(0.0, s.chime.gap_s))
            if s.chime.after:
                parts.append(chime(s.chime.gap_s, 0.0))
        stream = parts[0] if len(parts) == 1 else ffmpeg.concat(*parts, v=0, a=1)
        if plan.ceiling_db is not None:
            stream = self.limiter(stream, plan.ceiling_db)
        output = ffmpeg.output(stream, str(out), **encoder_options(s.format))
        self.run(output, "encoding", overwrite=True)

    def expected_length(self, first: _Analysis) -> float:
        chime = self.settings.chime
        one = chime.chime_s + chime.gap_s
        return first.keep.duration_s + one * (int(chime.before) + int(chime.after))


def prepare(
    source: Path,
    out_dir: Path,
    settings: PrepareSettings | None = None,
    *,
    tools: Tools | None = None,
) -> Prepared:
    """Make `source` ready for broadcast; the encoded file is written inside `out_dir`.

    Raises `NotAudioError` (and its subclasses, `SilentAudio` among them) for a file that
    cannot be a bulletin, `PrepareFailed` when ffmpeg fails on a file that probed as good
    or the result cannot meet the loudness target. Nothing is left in `out_dir` on failure.
    """
    settings = settings or PrepareSettings()
    tools = tools or find_tools()
    info = probe(source, tools=tools, max_duration_s=settings.max_duration_s)
    job = _Job(source, info, settings, tools)
    first = job.analyse()
    plan = _first_plan(job, first)
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = settings.format.extension
    scratch: list[Path] = []

    def new_file() -> Path:
        fd, name = tempfile.mkstemp(dir=out_dir, prefix=".loa-prepare-", suffix=f".{ext}.part")
        os.close(fd)
        scratch.append(Path(name))
        return scratch[-1]

    try:
        result = _encode_until_on_target(job, first, plan, new_file)
        expected = job.expected_length(first)
        if abs(result.duration_s - expected) > LENGTH_SLACK_S + 0.01 * expected:
            raise PrepareFailed(
                source,
                "checking the result",
                f"it lasts {result.duration_s:.2f} s, not {expected:.2f} s",
            )
        final = out_dir / f"{_sha256(result.path)}.{ext}"
        result.path.replace(final)
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)
    return Prepared(
        path=final,
        format=settings.format,
        duration_s=result.duration_s,
        size_bytes=final.stat().st_size,
        before=first.before,
        after=result.after,
        trimmed_start_s=first.keep.start_s,
        trimmed_end_s=max(0.0, first.duration_s - first.keep.end_s),
        source=info,
    )


def _first_plan(job: _Job, first: _Analysis) -> GainPlan:
    """The plain gain to the target, with a limiter (and a search) if the peaks need one."""
    s = job.settings
    plan = GainPlan(first.resampled_lufs, 0.0, offset_lu=ENCODER_OFFSET_LU[s.format.codec])
    plan.aim(s.target_lufs, max_gain_db=s.target_lufs - first.resampled_lufs + MAX_EXTRA_GAIN_DB)
    ceiling = s.true_peak_dbtp - PEAK_MARGIN_DB
    if first.before.true_peak_dbtp + plan.gain_db > ceiling:
        _limit(job, first, plan, ceiling)
    elif s.chime.enabled:
        unit = unit_loudness(s.chime, s.format.sample_rate, job.tools.ffmpeg)
        if unit.true_peak_dbtp + s.target_lufs - plan.offset_lu - unit.integrated_lufs > ceiling:
            plan.ceiling_db = ceiling  # the chime's peaks only: the speech stays one for one
    return plan


def _limit(job: _Job, first: _Analysis, plan: GainPlan, ceiling_db: float) -> None:
    """Put the limiter at `ceiling_db`; measure its curve first if it will limit more than
    lightly and none was measured yet (light limiting leaves the loudness as it was)."""
    s = job.settings
    excess = first.before.true_peak_dbtp + plan.gain_db - ceiling_db
    if plan.curve is None and excess > LIGHT_LIMITING_DB:
        plan.curve = job.search(first, plan.gain_db, ceiling_db)
    plan.ceiling_db = ceiling_db
    plan.aim(s.target_lufs, max_gain_db=s.target_lufs - first.resampled_lufs + MAX_EXTRA_GAIN_DB)


@dataclass(frozen=True, slots=True)
class _Encoded:
    path: Path
    after: Loudness
    duration_s: float
    miss_lu: float


def _encode_until_on_target(
    job: _Job, first: _Analysis, plan: GainPlan, new_file: Callable[[], Path]
) -> _Encoded:
    """Encode, measure, correct: the attempt closest to the target within the tolerance."""
    s = job.settings
    max_gain = s.target_lufs - first.resampled_lufs + MAX_EXTRA_GAIN_DB
    best: _Encoded | None = None
    for attempt in range(1, MAX_ENCODES + 1):
        out = new_file()
        job.encode(first, plan, out)
        after, duration = measure(out, tools=job.tools, expected_s=job.info.duration_s)
        miss = s.target_lufs - after.integrated_lufs
        over = after.true_peak_dbtp - s.true_peak_dbtp
        log.debug(
            "%s: encode %d at %+.2f dB, limiter at %s dBFS: %.2f LUFS (%.2f predicted), %.2f dBTP",
            job.path, attempt, plan.gain_db, plan.ceiling_db, after.integrated_lufs,
            plan.predict() + plan.offset_lu, after.true_peak_dbtp,
        )  # fmt: skip
        if over <= 0 and abs(miss) <= TOLERANCE_LU and (best is None or abs(miss) < best.miss_lu):
            best = _Encoded(out, after, duration, abs(miss))
        if (over <= 0 and abs(miss) <= AIM_LU) or attempt == MAX_ENCODES:
            break
        plan.learn(after.integrated_lufs)
        if over > 0:  # the encoder overshot: lower the ceiling by as much, and a little more
            base = plan.ceiling_db if plan.ceiling_db is not None else s.true_peak_dbtp
            _limit(job, first, plan, base - over - OVERSHOOT_EXTRA_DB)
        else:
            plan.aim(s.target_lufs, max_gain_db=max_gain)
            ceiling = s.true_peak_dbtp - PEAK_MARGIN_DB
            if plan.ceiling_db is not None:
                ceiling = plan.ceiling_db
            if plan.curve is None and first.before.true_peak_dbtp + plan.gain_db > ceiling:
                _limit(job, first, plan, ceiling)
    if best is not None:
        return best
    crest = first.before.true_peak_dbtp - first.before.integrated_lufs
    raise PrepareFailed(
        job.path,
        "normalising the loudness",
        f"after {MAX_ENCODES} tries it measures {after.integrated_lufs:.1f} LUFS and "
        f"{after.true_peak_dbtp:.1f} dBTP, for a target of {s.target_lufs:g} LUFS under "
        f"{s.true_peak_dbtp:g} dBTP; its peaks stand {crest:.0f} dB above its loudness, too "
        "far to limit cleanly: lower the target loudness or raise the true-peak ceiling",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
