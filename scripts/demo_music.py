"""Write the demo's music clip: a pentatonic tune on a plucked string, over a drone.

`make demo` prepares this file into the content store like an operator's upload:
stereo 44.1 kHz WAV in, mono MP3 at -16 LUFS out. It is generated (not a binary in
the repository) and the same every time, so the demo's second run finds the content
already stored. Usage: `python scripts/demo_music.py OUT.wav`.
"""

from __future__ import annotations

import math
import random
import struct
import sys
import wave
from pathlib import Path

RATE = 44_100
BEAT_S = 0.32
#: The notes of a folk-like tune in the Vietnamese "Bắc" pentatonic (do re fa sol la),
#: as semitones above D4; None is a rest.
TUNE = [0, 2, 5, 7, 9, 7, 5, 2, 0, None, 7, 9, 12, 9, 7, 5, 7, None,
        5, 7, 9, 12, 14, 12, 9, 7, 5, 2, 0, None, 0, 2, 5, 2, 0, None]  # fmt: skip
D4_HZ = 293.66


def pluck(frequency: float, seconds: float, rng: random.Random) -> list[float]:
    """A plucked string (Karplus-Strong): noise in a delay line that loses its highs."""
    period = max(2, round(RATE / frequency))
    line = [rng.uniform(-1.0, 1.0) for _ in range(period)]
    out = []
    for i in range(round(seconds * RATE)):
        sample = line[i % period]
        line[i % period] = 0.996 * 0.5 * (sample + line[(i + 1) % period])
        out.append(sample)
    return out


def tune() -> tuple[list[float], list[float]]:
    rng = random.Random(1945)  # noqa: S311 - fixed seed: the same bytes on every run
    length = round(len(TUNE) * BEAT_S * RATE) + RATE
    left = [0.0] * length
    right = [0.0] * length
    for beat, step in enumerate(TUNE):
        if step is None:
            continue
        note = pluck(D4_HZ * 2 ** (step / 12), BEAT_S * 3, rng)
        start = round(beat * BEAT_S * RATE)
        pan = 0.35 + 0.3 * ((step % 12) / 12)
        for i, sample in enumerate(note[: length - start]):
            left[start + i] += sample * (1 - pan)
            right[start + i] += sample * pan
    for i in range(length):  # a soft drone on D3 and A3, centred
        t = i / RATE
        drone = 0.05 * math.sin(2 * math.pi * D4_HZ / 2 * t) + 0.03 * math.sin(
            2 * math.pi * D4_HZ * 0.75 * t
        )
        left[i] += drone
        right[i] += drone
    return left, right


def main() -> None:
    out = Path(sys.argv[1])
    left, right = tune()
    peak = max(*map(abs, left), *map(abs, right))
    scale = 0.5 * 32767 / peak  # well below full scale, as a phone recording would be
    frames = b"".join(
        struct.pack("<hh", round(a * scale), round(b * scale))
        for a, b in zip(left, right, strict=True)
    )
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(frames)


if __name__ == "__main__":
    main()
