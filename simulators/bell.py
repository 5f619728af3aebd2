"""`Bell`: how a simulated receiver's one task is woken, cheaper than `asyncio.Event`.

A receiver's session loop sleeps until its next heartbeat or until something
rings: a message to publish, a fault to act on, the end of its connection.
Thousands of receivers each hold one, so it keeps a flag and at most one future
instead of an event's deque of waiters.
"""

from __future__ import annotations

import asyncio


class Bell:
    """Wakes the one task of a receiver; lighter than `asyncio.Event` (no deque of waiters)."""

    __slots__ = ("_rung", "_waiter")

    def __init__(self) -> None:
        self._rung = False
        self._waiter: asyncio.Future[None] | None = None

    def ring(self) -> None:
        self._rung = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, deadline: float | None = None) -> bool:
        """Until rung (True) or the loop time `deadline` (False); a ring is used up once."""
        if not self._rung:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._waiter
            except TimeoutError:
                return False
            finally:
                self._waiter = None
        self._rung = False
        return True
