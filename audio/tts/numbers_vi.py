"""Vietnamese words for integers, as a bulletin reader says them.

Northern (Hà Nội) forms are used: "nghìn" for a thousand (the South says
"ngàn") and "linh" for a zero tens digit (the South says "lẻ").

The reading rules:

- "mười" for the ten itself (10-19), "mươi" after a tens digit of 2-9;
- "mốt" for 1 after "mươi" (21 "hai mươi mốt"), "một" elsewhere (11 "mười một");
- "lăm" for 5 after any tens (15 "mười lăm", 25 "hai mươi lăm"), "năm" elsewhere;
- "tư" for 4 after "mươi" (24 "hai mươi tư"), "bốn" elsewhere (14 "mười bốn");
- "linh" for a zero tens digit after hundreds (105 "một trăm linh năm");
- "không trăm" for a zero hundreds digit inside a larger number
  (1005 "một nghìn không trăm linh năm");
- groups of three digits carry "nghìn", "triệu", "tỷ"; an all-zero group is not
  read (1000005 "một triệu không trăm linh năm"); above 999 tỷ the count of tỷ
  is read as a number ("một nghìn tỷ").
"""

from __future__ import annotations

__all__ = ["NUMBER_WORDS", "read_digits", "read_number"]

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu")
_BILLION = 1_000_000_000

#: Every word `read_number` can produce.
NUMBER_WORDS = frozenset(
    (*_DIGITS, "mười", "mươi", "mốt", "tư", "lăm", "linh", "trăm", "nghìn", "triệu", "tỷ", "âm")
)


def _tens_and_units(tens: int, units: int) -> list[str]:
    """Words for the last two digits of a group, when tens is not zero."""
    words = ["mười"] if tens == 1 else [_DIGITS[tens], "mươi"]
    if units == 0:
        return words
    if units == 5:
        words.append("lăm")
    elif units == 1 and tens > 1:
        words.append("mốt")
    elif units == 4 and tens > 1:
        words.append("tư")
    else:
        words.append(_DIGITS[units])
    return words


def _group(value: int, *, inner: bool) -> list[str]:
    """Words for a group of three digits (1-999).

    `inner` is true when a higher group was read before this one, so a zero
    hundreds digit is said ("không trăm") and a lone unit takes "linh".
    """
    hundreds, rest = divmod(value, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or inner:
        words += [_DIGITS[hundreds], "trăm"]
        if tens == 0 and units:
            words += ["linh", _DIGITS[units]]
    if tens:
        words += _tens_and_units(tens, units)
    elif not words and units:
        words.append(_DIGITS[units])
    return words


def _below_billion(n: int, *, inner: bool) -> list[str]:
    """Words for 1 <= n < 10**9; `inner` as for `_group`."""
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for scale in range(len(groups) - 1, -1, -1):
        group = groups[scale]
        if group == 0:
            continue
        words += _group(group, inner=inner or bool(words))
        if _SCALES[scale]:
            words.append(_SCALES[scale])
    return words


def _words(n: int, *, inner: bool) -> list[str]:
    if n < _BILLION:
        return _below_billion(n, inner=inner)
    billions, rest = divmod(n, _BILLION)
    words = [*_words(billions, inner=inner), "tỷ"]
    if rest:
        words += _below_billion(rest, inner=True)
    return words


def read_number(n: int) -> str:
    """Read an integer in Vietnamese words (northern forms: "nghìn", "linh").

    >>> read_number(21)
    'hai mươi mốt'
    >>> read_number(1005)
    'một nghìn không trăm linh năm'
    >>> read_number(-15)
    'âm mười lăm'

    Any int is accepted; numbers of 10**12 and more are read as a count of "tỷ".
    """
    if n == 0:
        return _DIGITS[0]
    if n < 0:
        return "âm " + read_number(-n)
    return " ".join(_words(n, inner=False))


def read_digits(digits: str) -> str:
    """Read a string of ASCII digits one by one ("0912" -> "không chín một hai")."""
    return " ".join(_DIGITS[int(d)] for d in digits)
