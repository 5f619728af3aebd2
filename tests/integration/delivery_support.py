"""A scripted receiver and a small commune, for the controller's delivery tests.

The scripted receiver speaks protocol v1 through paho and does exactly what a test tells
it (the full simulated receiver lives in `simulators/`); it checks every command it gets
the way firmware must (`open_command`) and every chunk against the signed hashes.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.audio.settings import build_library
from controller.config import Config, load_config
from controller.delivery.requests import Audio, SendRequest, Sent, send_bulletin
from controller.keys import read_public_key
from controller.store import Store
from controller.store.registry import import_registry
from devices.protocol import ReceiverBirth, Topics
from devices.protocol.command_bodies import Play
from devices.protocol.commands import Command, Rejected, open_command
from devices.protocol.receipts import Proof, Receipt
from devices.protocol.signing import VerifyKey
from devices.registry import parse_registry
from loa.clock import SystemClock
from tests.support.controller import controller_running, write_config
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient

REGISTRY = """
province: {id: tinh, name: Tỉnh Thử}
communes:
  - id: xa
    name: Xã Thử
    villages:
      - {id: ban-a, name: Bản A}
      - {id: ban-b, name: Bản B}
receivers:
  - {id: rx-a1, name: Loa A1, village: ban-a, languages: [tay, vi]}
  - {id: rx-a2, name: Loa A2, village: ban-a, languages: [tay, vi]}
  - {id: rx-a3, name: Loa A3, village: ban-a, languages: [tay, vi]}
  - {id: rx-b1, name: Loa B1, village: ban-b}
"""
MEMBERSHIPS = {
    "rx-a1": ("ban-a", "tinh", "xa"),
    "rx-a2": ("ban-a", "tinh", "xa"),
    "rx-a3": ("ban-a", "tinh", "xa"),
    "rx-b1": ("ban-b", "tinh", "xa"),
}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ScriptedReceiver:
    """One receiver on its own paho connection; commands and chunks are kept as they come."""

    id: str
    topics: Topics
    key: VerifyKey
    client: PahoClient
    epoch: int = 1
    seq: int = 0
    commands: list[Command] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    chunks: dict[tuple[str, int], bytes] = field(default_factory=dict)
    chunk_topics: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, groups: tuple[str, ...] | None) -> None:
        self.client.client.on_message = self._on_message
        self.client.connect()
        self.client.subscribe(self.topics.receiver(self.id, "cmd"))
        self.client.subscribe(self.topics.receiver_chunks(self.id))
        for group in groups or ():
            self.client.subscribe(self.topics.group_commands(group))
            self.client.subscribe(self.topics.group_chunks(group))
        self.announce(groups)

    def announce(self, groups: tuple[str, ...] | None) -> None:
        birth = ReceiverBirth(self.id, self.epoch, now(), "scripted 1", ("mp3",), 60, groups=groups)
        self.client.publish(self.topics.receiver(self.id, "status"), [birth.encode()], retain=True)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        topic = message.topic
        payload = bytes(message.payload)
        chunk = self.topics.parse_chunk(topic)
        with self.lock:
            if chunk is not None:
                self.chunks[(chunk.content, chunk.chunk)] = payload
                self.chunk_topics.append(topic)
                return
            opened = open_command(
                payload,
                topic,
                topics=self.topics,
                receiver_id=self.id,
                groups=MEMBERSHIPS[self.id],
                key=self.key,
                now=now(),
                seen=lambda cid: cid in self.seen,
            )
            if isinstance(opened, Rejected):
                self.rejected.append(opened)
            else:
                self.seen.add(opened.id)
                self.commands.append(opened)

    def plays(self) -> list[Play]:
        with self.lock:
            return [c.body for c in self.commands if isinstance(c.body, Play)]

    def types(self) -> list[str]:
        with self.lock:
            return [c.type for c in self.commands]

    def verified_chunks(self, play: Play, language: str) -> int:
        ref = play.content_for(language)
        assert ref is not None
        with self.lock:
            return sum(
                1
                for index, digest in enumerate(ref.chunk_sha256)
                if (data := self.chunks.get((ref.content, index))) is not None
                and hashlib.sha256(data).hexdigest() == digest
            )

    def receipt(self, occurrence: str | None, state: str, **extra: Any) -> Receipt:
        receipt = Receipt(
            id=self.id, epoch=self.epoch, seq=self.seq, occurrence=occurrence,
            state=state, at=now(), **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        self.seq += 1
        self.send(receipt.encode())
        return receipt

    def send(self, payload: bytes, channel: str = "receipt") -> None:
        self.client.publish(self.topics.receiver(self.id, channel), [payload])  # type: ignore[arg-type]

    def play_through(self, play: Play, content: str) -> None:
        """accepted, downloading, armed, playing, played with proof."""
        for state in ("accepted", "downloading", "armed", "playing"):
            self.receipt(play.occurrence, state)
        started = now()
        proof = Proof(
            started_at=started, ended_at=started + timedelta(seconds=3), clock_offset_ms=4,
            content=content, played_ms=3000, level_db=None,
        )  # fmt: skip
        self.receipt(play.occurrence, "played", proof=proof)


@dataclass
class World:
    config: Config
    controller: Controller
    store: Store
    topics: Topics
    key: VerifyKey
    mosquitto: PrivateMosquitto
    folder: Path
    receivers: dict[str, ScriptedReceiver] = field(default_factory=dict)

    def receiver(self, receiver_id: str, *, groups: bool = True) -> ScriptedReceiver:
        client = PahoClient(self.mosquitto.host, self.mosquitto.port, client_id=receiver_id)
        scripted = ScriptedReceiver(receiver_id, self.topics, self.key, client)
        scripted.start(MEMBERSHIPS[receiver_id] if groups else None)
        self.receivers[receiver_id] = scripted
        return scripted

    def online(self, receiver_id: str) -> bool:
        ingest = self.controller.ingest
        return ingest is not None and ingest.is_online(receiver_id)

    async def until_online(self, *receiver_ids: str) -> None:
        await until("online", lambda: all(self.online(rx) for rx in receiver_ids))

    async def send(self, source: Path, to: str, **options: Any) -> Sent:
        library = build_library(self.config, self.store)
        request = SendRequest(
            audio=Audio(file=source), language="vi", targets=to, created_by="test", **options
        )
        return await send_bulletin(self.store, library, self.config, request, SystemClock())

    def close(self) -> None:
        for scripted in self.receivers.values():
            scripted.client.close()


async def until(what: str, condition: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        await asyncio.sleep(0.02)


def delivery_config(folder: Path, prefix: str, port: int) -> Config:
    return load_config(
        write_config(
            folder,
            topic_prefix=prefix,
            broker={"mode": "external", "port": port,
                    "reconnect": {"initial_delay": 0.1, "max_delay": 0.5}},
            delivery={"poll_s": 0.05, "lead_s": 600},
        ),
        environ={},
    )  # fmt: skip


@asynccontextmanager
async def world_running(
    folder: Path, prefix: str, mosquitto: PrivateMosquitto
) -> AsyncIterator[World]:
    config = delivery_config(folder, prefix, mosquitto.port)
    registry = parse_registry(REGISTRY, "test registry", "yaml")
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
        async with controller_running(config) as controller:
            world = World(
                config, controller, store, Topics(prefix),
                read_public_key(config.data_dir), mosquitto, folder,
            )  # fmt: skip
            try:
                yield world
            finally:
                world.close()
