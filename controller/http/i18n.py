"""The dashboard's words in Vietnamese (the default) and English.

Each area of the dashboard keeps its words in `locales/<area>.yaml`, one entry per key
with both languages: `key: {vi: "...", en: "..."}`. Placeholders are `{name}`
(`str.format`). A key missing in a language, or defined in two files, is an error when
the catalogue loads, so a page can never show a raw key to a commune operator.

The language of a request: `?lang=vi|en` (remembered in a cookie), else the cookie, else
`http.language` in the config.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request

LANGUAGES = ("vi", "en")
COOKIE = "loa_lang"
_FOLDER = Path(__file__).parent / "locales"


class CatalogueError(Exception):
    """A locale file is wrong (raised at start, never while serving)."""


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every key, by language: `{"vi": {key: text}, "en": {...}}`."""
    found: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    origin: dict[str, str] = {}
    for path in sorted(_FOLDER.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise CatalogueError(f"{path}: expected a mapping of keys")
        for key, texts in data.items():
            if key in origin:
                raise CatalogueError(f"{path}: key {key!r} is already in {origin[key]}")
            origin[key] = path.name
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise CatalogueError(f"{path}: {key!r} needs exactly vi and en texts")
            for language in LANGUAGES:
                found[language][key] = str(texts[language])
    return found


@dataclass(frozen=True)
class Translator:
    language: str

    def __call__(self, key: str, **values: Any) -> str:
        text = catalogue()[self.language].get(key)
        if text is None:
            raise KeyError(f"no dashboard text {key!r}; add it to controller/http/locales/")
        return text.format(**values) if values else text

    def strings(self, *prefixes: str) -> dict[str, str]:
        """The texts whose keys start with one of `prefixes` (for the page's JavaScript)."""
        texts = catalogue()[self.language]
        return {key: text for key, text in texts.items() if key.startswith(prefixes)}


def request_language(request: Request, default: str) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return default if default in LANGUAGES else LANGUAGES[0]
