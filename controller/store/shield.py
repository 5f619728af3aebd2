"""Store writes that a cancelled caller does not cut in half.

Cancelling a task in the middle of an SQLAlchemy/aiosqlite transaction can leave
the connection mid-rollback while the store's one-writer lock is still held, and
the next writer (the final flush at shutdown) then waits on that lock. The long-
lived tasks of the controller are cancelled at shutdown at any point, so their
writes go through `complete()`: the write runs to its end in its own task, and
the caller's cancellation is delivered once it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: How long a cancelled caller waits for its write to finish before giving up on it.
FINISH_SECONDS = 2.0


async def complete(write: Coroutine[Any, Any, T]) -> T:
    """Await `write`; if the caller is cancelled meanwhile, let `write` finish, then re-raise."""
    task = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task}, timeout=FINISH_SECONDS)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the caller is gone, its cancellation wins
        raise
