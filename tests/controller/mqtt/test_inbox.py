"""The link's inbox: messages in order, the socket paused when the hooks fall behind."""

from __future__ import annotations

import asyncio

from controller.mqtt.link import INBOX_HIGH, INBOX_LOW, Inbox
from loa.mqtt import Message


class Reading:
    """Stands in for the client's reading switch (a seam the link owns)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


def inbox_with(reading: Reading) -> Inbox:
    return Inbox(reading)


def message(n: int) -> Message:
    return Message(f"loa/v1/rx/r{n}/receipt", str(n).encode(), 1)


async def test_messages_come_out_in_order_and_the_end_after_the_last() -> None:
    inbox = inbox_with(Reading())
    for n in range(3):
        inbox.put(message(n))
    inbox.end()
    got = [await inbox.next() for _ in range(3)]
    assert [m.payload for m in got if m is not None] == [b"0", b"1", b"2"]
    assert await inbox.next() is None


async def test_a_waiting_consumer_is_woken_by_a_message_and_by_the_end() -> None:
    inbox = inbox_with(Reading())
    waiting = asyncio.create_task(inbox.next())
    await asyncio.sleep(0)
    inbox.put(message(7))
    assert await asyncio.wait_for(waiting, 1) == message(7)
    ending = asyncio.create_task(inbox.next())
    await asyncio.sleep(0)
    inbox.end()
    assert await asyncio.wait_for(ending, 1) is None


async def test_reading_pauses_above_the_high_mark_and_resumes_at_the_low_one() -> None:
    reading = Reading()
    inbox = inbox_with(reading)
    for n in range(INBOX_HIGH - 1):
        inbox.put(message(n))
    assert reading.calls == []
    inbox.put(message(INBOX_HIGH))
    assert reading.calls == ["pause"]
    while len(reading.calls) == 1:
        await inbox.next()
    assert reading.calls == ["pause", "resume"]
    left = 0
    inbox.end()
    while await inbox.next() is not None:
        left += 1
    assert left == INBOX_LOW - 1
