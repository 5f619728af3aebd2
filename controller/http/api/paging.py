"""Pagination of the API's lists: `?limit=&offset=`, answered with `total` beside `items`."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

#: The most items one page of a list may hold.
MAX_LIMIT = 5000


class Paging(BaseModel):
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingQuery = Annotated[Paging, Depends(paging)]


class Page(BaseModel, Generic[T]):
    """One page of a list: `items`, and `total` items matching the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


def page_of(items: list[T], paging: Paging) -> Page[T]:
    """The page `paging` asks for out of `items` (already filtered and sorted)."""
    chosen = items[paging.offset : paging.offset + paging.limit]
    return Page[T](items=chosen, total=len(items), limit=paging.limit, offset=paging.offset)
