"""Several `LinkHooks` on one MQTT link, in order.

The first hooks object gives the Last Will (the controller's presence); on a
connection the others subscribe first and the first announces last, so nothing
answering the announcement (receivers re-announcing themselves) is missed.
Every incoming message goes to every hooks object, each keeping its own topics.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.mqtt.link import Incoming, LinkHooks, MqttLink, Outgoing


class HookChain:
    def __init__(self, announcer: LinkHooks, others: Sequence[LinkHooks]) -> None:
        self._announcer = announcer
        self._others = list(others)

    async def prepare(self) -> Outgoing | None:
        for hooks in self._others:
            await hooks.prepare()
        return await self._announcer.prepare()

    async def connected(self, link: MqttLink) -> None:
        for hooks in self._others:
            await hooks.connected(link)
        await self._announcer.connected(link)

    async def message(self, message: Incoming) -> None:
        await self._announcer.message(message)
        for hooks in self._others:
            await hooks.message(message)

    async def disconnected(self, reason: str) -> None:
        for hooks in (self._announcer, *self._others):
            await hooks.disconnected(reason)
