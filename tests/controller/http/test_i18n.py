"""The dashboard's words: every key in both languages, placeholders alike, no raw keys."""

from __future__ import annotations

import re

import pytest

from controller.http.i18n import LANGUAGES, Translator, catalogue


def test_every_key_has_vietnamese_and_english_with_the_same_placeholders() -> None:
    texts = catalogue()
    assert set(texts["vi"]) == set(texts["en"])
    for key in texts["vi"]:
        vi, en = texts["vi"][key], texts["en"][key]
        assert vi.strip(), f"{key} has no Vietnamese text"
        assert en.strip(), f"{key} has no English text"
        assert set(re.findall(r"{(\w+)}", vi)) == set(re.findall(r"{(\w+)}", en)), key


def test_translator_fills_placeholders_and_refuses_unknown_keys() -> None:
    assert Translator("vi")("common.ago_minutes", n=5) == "5 phút trước"
    assert Translator("en")("common.ago_minutes", n=5) == "5 min ago"
    with pytest.raises(KeyError, match=r"no dashboard text 'common\.nope'"):
        Translator("vi")("common.nope")


def test_languages_are_vietnamese_first() -> None:
    assert LANGUAGES[0] == "vi"
