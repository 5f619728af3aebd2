"""Open the configured store for one command, refusing a schema older than this Loa."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from controller.config import Config

if TYPE_CHECKING:
    from controller.store import Store

T = TypeVar("T")


def with_store(config: Config, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` on the configured store, whose schema must be up to date."""

    async def run() -> T:
        from controller.store import Store
        from loa.errors import StoreError

        async with await Store.open(config.store.url) as store:
            current, head = await store.current_revision(), Store.head_revision()
            if current != head:
                raise StoreError(
                    f"the store at {store.display_url} has schema {current or 'empty'} and this "
                    f"Loa needs {head}; run `loa db upgrade` first"
                )
            return await work(store)

    return asyncio.run(run())
