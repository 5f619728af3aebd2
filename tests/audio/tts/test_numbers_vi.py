"""Vietnamese number readings: a table of known readings and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.tts import read_number
from audio.tts.numbers_vi import NUMBER_WORDS

KNOWN = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (7, "bảy"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (19, "mười chín"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (31, "ba mươi mốt"),
    (44, "bốn mươi tư"),
    (55, "năm mươi lăm"),
    (91, "chín mươi mốt"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (111, "một trăm mười một"),
    (114, "một trăm mười bốn"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (124, "một trăm hai mươi tư"),
    (205, "hai trăm linh năm"),
    (999, "chín trăm chín mươi chín"),
    (1000, "một nghìn"),
    (1001, "một nghìn không trăm linh một"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm"),
    (1021, "một nghìn không trăm hai mươi mốt"),
    (1100, "một nghìn một trăm"),
    (2026, "hai nghìn không trăm hai mươi sáu"),
    (10_000, "mười nghìn"),
    (15_000, "mười lăm nghìn"),
    (21_000, "hai mươi mốt nghìn"),
    (100_000, "một trăm nghìn"),
    (105_000, "một trăm linh năm nghìn"),
    (1_000_000, "một triệu"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_500_000, "một triệu năm trăm nghìn"),
    (2_040_000, "hai triệu không trăm bốn mươi nghìn"),
    (1_000_000_000, "một tỷ"),
    (3_000_001_000, "ba tỷ không trăm linh một nghìn"),
    (
        999_999_999_999,
        "chín trăm chín mươi chín tỷ chín trăm chín mươi chín triệu "
        "chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
    ),
    (1_000_000_000_000, "một nghìn tỷ"),
    (-1, "âm một"),
    (-25, "âm hai mươi lăm"),
]


@pytest.mark.parametrize(("number", "words"), KNOWN)
def test_known_readings(number: int, words: str) -> None:
    assert read_number(number) == words


BOUND = 999_999_999_999


@given(st.integers(min_value=-BOUND, max_value=BOUND))
def test_reading_uses_only_number_words(number: int) -> None:
    words = read_number(number).split(" ")
    assert words
    assert set(words) <= NUMBER_WORDS
    assert (words[0] == "âm") == (number < 0)


def test_readings_up_to_ten_thousand_are_all_different() -> None:
    readings = {read_number(n) for n in range(10_001)}
    assert len(readings) == 10_001
