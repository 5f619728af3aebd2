"""Field types the API's request bodies share."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from controller.config.model import language_check


def _language(value: str) -> str:
    expected = language_check(value)
    if expected is not None:
        raise ValueError(f"{value!r} is not valid; expected {expected}")
    return value


#: A language code ('vi', 'tay', 'hmn'), checked as the config checks one.
Language = Annotated[str, AfterValidator(_language)]
