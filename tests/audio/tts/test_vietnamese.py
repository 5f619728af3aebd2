"""Bulletin text made readable, and cut into sentences."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.tts import TextError, normalise, sentences
from loa.errors import LoaError


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("06:00", "sáu giờ"),
        ("17:30", "mười bảy giờ ba mươi phút"),
        ("6h30", "sáu giờ ba mươi phút"),
        ("6h", "sáu giờ"),
        ("lúc 7h05 sáng", "lúc bảy giờ năm phút sáng"),
        ("15/11/2026", "ngày mười lăm tháng mười một năm hai nghìn không trăm hai mươi sáu"),
        ("15/11", "ngày mười lăm tháng mười một"),
        ("ngày 1/4", "ngày một tháng tư"),
        ("tháng 4 năm 2026", "tháng tư năm hai nghìn không trăm hai mươi sáu"),
        ("1.500.000 đồng", "một triệu năm trăm nghìn đồng"),
        ("1.500", "một nghìn năm trăm"),
        ("2,5", "hai phẩy năm"),
        ("2,05", "hai phẩy không năm"),
        ("1.200,75", "một nghìn hai trăm phẩy bảy mươi lăm"),
        ("30%", "ba mươi phần trăm"),
        ("30 %", "ba mươi phần trăm"),
        ("12 km", "mười hai ki lô mét"),
        ("60km/h", "sáu mươi ki lô mét trên giờ"),
        ("50kg", "năm mươi ki lô gam"),
        ("mưa 80mm", "mưa tám mươi mi li mét"),
        ("35°C", "ba mươi lăm độ C"),
        ("UBND xã", "Ủy ban nhân dân xã"),
        ("TP. Hà Nội", "thành phố Hà Nội"),
        ("HTX Tân Lập", "hợp tác xã Tân Lập"),
        ("Trường THCS", "Trường trung học cơ sở"),
        ("gọi 0912345678", "gọi không chín một hai ba bốn năm sáu bảy tám"),
        ("có 5 hộ.", "có năm hộ."),
        ("phạt 50.000đ", "phạt năm mươi nghìn đồng"),
        ("1.500.000 VNĐ", "một triệu năm trăm nghìn đồng"),
        ("lúc 3 đi", "lúc ba đi"),
        ("gọi 0912.345.678", "gọi không chín một hai, ba bốn năm, sáu bảy tám"),
        ("gọi 0912 345 678 nhé", "gọi không chín một hai, ba bốn năm, sáu bảy tám nhé"),
        ("số 024-3825-1234", "số không hai bốn, ba tám hai năm, một hai ba bốn"),
        ("số 0912 và 345 hộ", "số không chín một hai và ba trăm bốn mươi lăm hộ"),
        ("từ 7h-9h", "từ bảy giờ đến chín giờ"),
        ("từ 7:00 \u2013 9:30", "từ bảy giờ đến chín giờ ba mươi phút"),
        ("2-3 ngày", "hai đến ba ngày"),
        ("nhiệt độ -5 độ", "nhiệt độ âm năm độ"),
        ("tháng 12/2026", "tháng mười hai năm hai nghìn không trăm hai mươi sáu"),
        ("4/2026", "tháng tư năm hai nghìn không trăm hai mươi sáu"),
        (
            "15/11 và 11/2026",
            "ngày mười lăm tháng mười một và tháng mười một năm hai nghìn không trăm hai mươi sáu",
        ),
        ("13/2026", "mười ba hai nghìn không trăm hai mươi sáu"),
        ("ngày 2026-11-15", "ngày mười lăm tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ],
)
def test_normalise_reads_times_dates_numbers_units(text: str, spoken: str) -> None:
    assert normalise(text) == spoken


def test_units_and_abbreviations_are_not_expanded_inside_words() -> None:
    assert normalise("kmh TPHCM UBNDX") == "kmh TPHCM UBNDX"


def test_diacritics_are_kept_and_composed() -> None:
    text = "Thông báo của Ủy ban: bà con chú ý phòng chống bão số 5!"
    decomposed = unicodedata.normalize("NFD", text)
    spoken = normalise(decomposed)
    assert spoken == "Thông báo của Ủy ban: bà con chú ý phòng chống bão số năm!"
    assert unicodedata.is_normalized("NFC", spoken)


def test_emoji_and_symbols_are_dropped_and_whitespace_tidied() -> None:
    text = "  Xin chào🎉 bà con 👍🏽 ★\t\tđến  họp \n\n\n  đúng giờ ❤️ ! "
    assert normalise(text) == "Xin chào bà con đến họp\nđúng giờ!"


@pytest.mark.parametrize("text", ["", "   ", "...!?", "🎉👍🏽❤️", "★ — ★", "\n\n"])
def test_nothing_to_read_is_a_text_error(text: str) -> None:
    with pytest.raises(TextError, match="nothing to read") as raised:
        normalise(text)
    assert isinstance(raised.value, LoaError)


def test_sentences_split_at_ends_but_not_inside_numbers_or_abbreviations() -> None:
    text = "Giá 1.500 đồng. TP. Hà Nội mưa 2,5 mm! Thật sao?Vâng…\nxong; hết"
    assert sentences(text) == [
        "Giá 1.500 đồng.",
        "TP. Hà Nội mưa 2,5 mm!",
        "Thật sao?",
        "Vâng…",
        "xong;",
        "hết",
    ]


def test_sentence_ending_keeps_its_closing_quote() -> None:
    assert sentences("Ông nói: “Đi họp.” Rồi về...") == ["Ông nói: “Đi họp.”", "Rồi về..."]


def test_long_sentences_are_cut_at_commas_then_spaces() -> None:
    text = "Sáng nay, mưa 2,5 mm ở xã, chiều nay nắng nóng gay gắt khắp vùng"
    assert sentences(text, max_chars=30) == [
        "Sáng nay, mưa 2,5 mm ở xã,",
        "chiều nay nắng nóng gay gắt",
        "khắp vùng",
    ]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        sentences("a", max_chars=0)


_ALPHABET = st.sampled_from(
    list("abcđêôơưăáàảãạếệữỹ ÂĐỨ0123456789") + list('.,!?…;\n "”') + ["TP.", "1.500", "2,5"]
)


def _letters(text: str) -> str:
    return "".join(char for char in text if char.isalpha())


@given(st.lists(_ALPHABET, max_size=200).map("".join), st.integers(min_value=1, max_value=60))
def test_sentences_keep_every_letter_in_short_pieces(text: str, max_chars: int) -> None:
    pieces = sentences(text, max_chars=max_chars)
    assert all(piece and piece == piece.strip() for piece in pieces)
    assert all(len(piece) <= max_chars for piece in pieces)
    assert _letters("".join(pieces)) == _letters(text)


@given(st.text(max_size=80))
def test_normalise_gives_text_or_a_text_error(text: str) -> None:
    try:
        spoken = normalise(text)
    except TextError:
        return
    assert any(char.isalpha() for char in spoken)
    assert spoken == spoken.strip()
