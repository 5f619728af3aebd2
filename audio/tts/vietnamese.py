"""Vietnamese bulletin text made ready for espeak-ng's Vietnamese voice.

`normalise` writes out what the voice would misread or skip: times, dates,
numbers, percentages, a few units and official abbreviations. `sentences`
cuts the result into pieces short enough to synthesise one at a time.

Readings follow the northern forms ("nghìn", "linh"; see `numbers_vi`).
Conventions a reader of this module should know:

- numbers use the Vietnamese separators: "." groups thousands (`1.500.000`) and
  "," marks decimals (`2,5` -> "hai phẩy năm"); `2.5` is not a decimal;
- a digit run with a leading zero (`0912345678`, a phone number) is read digit by digit,
  also when written in groups (`0912.345.678`, `0912 345 678`, `024-3825-1234`: 10 or
  11 digits in all), with a pause (",") between the groups;
- a dash between numbers is a range (`7h-9h`, `2-3 ngày`: "đến"), and a dash right
  before a number that follows no word is a minus (`-5 độ`: "âm năm độ");
- `12/2026` (month and year) is read "tháng mười hai năm ...", and an ISO date
  (`2026-11-15`) as a date;
- "tháng 4" is read "tháng tư", as Vietnamese say it;
- only the units and abbreviations in `_UNITS` and `_ABBREVIATIONS` are expanded
  (units only right after a number), plus "%" after a number, "°C", "°" and "&";
- emoji and symbols with no reading are dropped; letters keep their diacritics (NFC).
"""

from __future__ import annotations

import re
import unicodedata

from audio.tts.numbers_vi import read_digits, read_number
from loa.errors import LoaError

__all__ = ["TextError", "normalise", "sentences"]


class TextError(LoaError):
    """Bulletin text that cannot be read aloud."""

    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        self.problem = problem
        shown = text if len(text) <= 40 else text[:40] + "…"
        super().__init__(f"bulletin text {shown!r}: {problem}")


#: Units read after a number, longest first so "km/h" wins over "km".
_UNITS: dict[str, str] = {
    "km/h": "ki lô mét trên giờ",
    "km": "ki lô mét",
    "kg": "ki lô gam",
    "mm": "mi li mét",  # rainfall
    "ha": "héc ta",
    "VNĐ": "đồng",
    "VND": "đồng",
    "đ": "đồng",  # 50.000đ
}

#: Abbreviations of bulletins, matched as whole words (case-sensitive).
_ABBREVIATIONS: dict[str, str] = {
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "HTX": "hợp tác xã",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "TP.": "thành phố",
    "TP": "thành phố",
}

#: Punctuation kept for the voice's pauses and for `sentences`; other symbols are dropped.
_KEPT_PUNCTUATION = frozenset(".,!?…;:()\"'-\u2013\u2014«»\u201c\u201d\u2018\u2019")

_TIME_COLON = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_TIME_H = re.compile(r"\b(\d{1,2})[hH](\d{2})?\b")
_DATE = re.compile(r"(?:\bngày\s+)?\b(\d{1,2})/(\d{1,2})(?:/(\d{4}))?\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(r"(?:\btháng\s+)?(?<![\d/])(\d{1,2})/(\d{4})\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_PHONE = re.compile(r"(?<![\d.,])0\d{2,4}(?:[ .-]\d{2,4}){1,3}(?![\d]|[.,]\d)")
_PHONE_DIGITS = (10, 11)
_RANGE = re.compile(r"(?:(?<=\d)|(?<=\d[hH]))\s*[-\u2013]\s*(?=\d)")
_MINUS = re.compile(r"(?<![\w.,])-(?=\d)")
_APRIL = re.compile(r"(?<![^\W\d_])(tháng\s+)0?4(?!\d)", re.IGNORECASE)
_LONGEST_READ = 15  # digits; longer runs (ids, account numbers) are read digit by digit
_NUMBER = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,!?…;:)])")
_UNIT = re.compile(r"(?<=\d)\s*(" + "|".join(map(re.escape, _UNITS)) + r")(?![^\W\d_])")
_ABBREVIATION = re.compile(
    r"(?<![^\W\d_])(" + "|".join(map(re.escape, _ABBREVIATIONS)) + r")(?![^\W\d_])"
)


def _time(hour: str, minute: str | None) -> str | None:
    h, m = int(hour), int(minute or 0)
    if h > 24 or m > 59:
        return None
    spoken = f" {read_number(h)} giờ"
    return spoken + (f" {read_number(m)} phút " if m else " ")


def _month(month: int) -> str:
    return "tư" if month == 4 else read_number(month)


def _date(match: re.Match[str]) -> str:
    day, month, year = int(match[1]), int(match[2]), match[3]
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match[0]
    spoken = f" ngày {read_number(day)} tháng {_month(month)}"
    return spoken + (f" năm {read_number(int(year))} " if year else " ")


def _month_year(match: re.Match[str]) -> str:
    month = int(match[1])
    if not 1 <= month <= 12:
        return match[0]
    return f" tháng {_month(month)} năm {read_number(int(match[2]))} "


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = match[1], match[2], match[3]
    return f"{int(day)}/{int(month)}/{year}"


def _phone(match: re.Match[str]) -> str:
    groups = re.split(r"[ .-]", match[0])
    if sum(map(len, groups)) not in _PHONE_DIGITS:
        return match[0]
    return " " + ", ".join(read_digits(group) for group in groups) + " "


def _integer(digits: str) -> str:
    if len(digits) > _LONGEST_READ or (len(digits) > 1 and digits.startswith("0")):
        return read_digits(digits)
    return read_number(int(digits))


def _number(match: re.Match[str]) -> str:
    whole, _, fraction = match[0].partition(",")
    spoken = _integer(whole.replace(".", ""))
    if fraction:
        rest = fraction.lstrip("0")
        zeros = read_digits(fraction[: len(fraction) - len(rest)])
        spoken = " ".join(w for w in (spoken, "phẩy", zeros, rest and _integer(rest)) if w)
    return f" {spoken} "


def _keep(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or char in _KEPT_PUNCTUATION or char in " \n"


def normalise(text: str) -> str:
    """Rewrite bulletin text so that espeak-ng's Vietnamese voice reads it right.

    >>> normalise("Họp lúc 17:30 ngày 15/11, tại UBND xã 🎉")
    'Họp lúc mười bảy giờ ba mươi phút ngày mười lăm tháng mười một, tại Ủy ban nhân dân xã'

    Raises `TextError` when nothing readable is left (only punctuation, emoji).
    """
    out = unicodedata.normalize("NFC", text)
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    out = _ABBREVIATION.sub(lambda m: f" {_ABBREVIATIONS[m[1]]} ", out)
    out = re.sub(r"(?<=\d)\s*%", " phần trăm ", out)
    out = re.sub(r"\s*°\s*C\b", " độ C ", out)
    out = out.replace("°", " độ ").replace("&", " và ")
    out = _UNIT.sub(lambda m: f" {_UNITS[m[1]]} ", out)
    out = _ISO_DATE.sub(_iso_date, out)
    out = _PHONE.sub(_phone, out)
    out = _RANGE.sub(" đến ", out)
    out = _MINUS.sub("âm ", out)
    out = _TIME_COLON.sub(lambda m: _time(m[1], m[2]) or m[0], out)
    out = _TIME_H.sub(lambda m: _time(m[1], m[2]) or m[0], out)
    out = _MONTH_YEAR.sub(_month_year, out)
    out = _DATE.sub(_date, out)
    out = _APRIL.sub(r"\1tư", out)
    out = _NUMBER.sub(_number, out)
    out = "".join(char if _keep(char) else " " for char in out)
    out = _SPACES.sub(" ", out)
    out = _SPACE_BEFORE_PUNCT.sub(r"\1", out)
    lines = (line.strip() for line in out.split("\n"))
    out = "\n".join(line for line in lines if line)
    if not any(char.isalpha() for char in out):
        raise TextError(
            text,
            "the text has nothing to read (only punctuation, symbols or emoji); "
            "write the bulletin in words",
        )
    return out


#: Abbreviations whose "." does not end a sentence (TP. thành phố, TX. thị xã, ...).
_NO_STOP_AFTER = frozenset({"TP", "Tp", "TX", "TT", "Q", "P"})
_STOP = re.compile("[.!?…;]+[\"'\u201d\u2019)»]*|\n")


def _is_stop(text: str, match: re.Match[str]) -> bool:
    start, end = match.span()
    if match[0] != ".":
        return True
    if start > 0 and end < len(text) and text[start - 1].isdigit() and text[end].isdigit():
        return False
    word_start = start
    while word_start > 0 and text[word_start - 1].isalnum():
        word_start -= 1
    return text[word_start:start] not in _NO_STOP_AFTER


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive parts with a space while they fit in max_chars."""
    pieces: list[str] = []
    for part in parts:
        if pieces and len(pieces[-1]) + 1 + len(part) <= max_chars:
            pieces[-1] += " " + part
        else:
            pieces.append(part)
    return pieces


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    clauses = [c.strip() for c in re.split(r"(?<=,)(?!\d)", sentence) if c.strip()]
    pieces: list[str] = []
    for clause in _pack(clauses, max_chars):
        if len(clause) <= max_chars:
            pieces.append(clause)
            continue
        words: list[str] = []
        for word in clause.split():
            words += [word[i : i + max_chars] for i in range(0, len(word), max_chars)]
        pieces += _pack(words, max_chars)
    return pieces


def sentences(text: str, max_chars: int = 300) -> list[str]:
    """Split text into sentences of at most `max_chars` characters.

    Sentences end at ".", "!", "?", "…", ";" and newlines, but not at the "." of
    `1.500` or of `TP.`; a sentence that is too long is cut at commas (not the
    one in `2,5`), then at spaces, then, for a single over-long word, anywhere.
    Pieces are stripped; pieces with no letter or digit are left out.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    raw: list[str] = []
    start = 0
    for match in _STOP.finditer(text):
        if _is_stop(text, match):
            raw.append(text[start : match.end()])
            start = match.end()
    raw.append(text[start:])
    pieces: list[str] = []
    for sentence in raw:
        stripped = sentence.strip()
        if any(char.isalnum() for char in stripped):
            pieces += _split_long(stripped, max_chars)
    return pieces
