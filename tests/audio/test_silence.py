"""Reading `silencedetect` and choosing what to keep."""

from __future__ import annotations

import pytest

from audio.silence import Silence, TrimPoints, parse_silences, trim_points

LOG = """\
[silencedetect @ 0x55fc] [info] silence_start: 0
[silencedetect @ 0x55fc] [info] silence_end: 3.00125 | silence_duration: 3.00125
[silencedetect @ 0x55fc] [info] silence_start: 5.5
[silencedetect @ 0x55fc] [info] silence_end: 6.25 | silence_duration: 0.75
[silencedetect @ 0x55fc] [info] silence_start: 8.0001
"""


def test_parse_silences() -> None:
    assert parse_silences(LOG) == [
        Silence(0.0, 3.00125),
        Silence(5.5, 6.25),
        Silence(8.0001, None),
    ]


def test_parse_reads_tiny_negative_and_exponent_times() -> None:
    log = "silence_start: -2.08333e-05\nsilence_end: 1.5e+00 | silence_duration: 1.5\n"
    assert parse_silences(log) == [Silence(0.0, 1.5)]


def test_trims_the_ends_keeping_some_silence_but_never_the_middle() -> None:
    keep = trim_points(parse_silences(LOG), 12.0, keep_s=0.2)
    assert keep == TrimPoints(pytest.approx(2.80125), pytest.approx(8.2001))  # type: ignore[arg-type]
    assert keep is not None
    assert keep.duration_s == pytest.approx(5.39885)


def test_the_silence_kept_never_reaches_past_the_file() -> None:
    keep = trim_points([Silence(0.0, 0.1), Silence(9.95, 10.0)], 10.0, keep_s=0.5)
    assert keep == TrimPoints(0.0, 10.0)


def test_a_silence_reported_as_ending_at_the_end_counts_as_trailing() -> None:
    assert trim_points([Silence(4.0, 6.0)], 6.0, keep_s=0.0) == TrimPoints(0.0, 4.0)


def test_no_silence_keeps_everything() -> None:
    assert trim_points([], 7.5, keep_s=0.2) == TrimPoints(0.0, 7.5)


@pytest.mark.parametrize(
    "silences", [[Silence(0.0, None)], [Silence(0.0, 12.0)], [Silence(0.004, 11.995)]]
)
def test_all_silence_is_none(silences: list[Silence]) -> None:
    assert trim_points(silences, 12.0, keep_s=0.2) is None
