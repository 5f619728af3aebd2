"""A test-side controller for simulated receivers: contents, signed commands, a fake clock."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audio.ffmpeg import find_tools
from audio.manifest import manifest_of
from devices.protocol.command_bodies import Assign, Cancel, Play, TimeReply
from devices.protocol.commands import Body, Command, new_command_id, new_occurrence_id, target
from devices.protocol.content_ref import ContentRef
from devices.protocol.priority import Priority
from devices.protocol.signing import SigningKey
from devices.protocol.topics import Topics

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Time that moves only when told (`advance`)."""

    at: datetime = START
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass(frozen=True)
class Content:
    """Audio bytes (random: receivers never decode them unless writing a WAV) and their ref."""

    data: bytes
    ref: ContentRef

    @classmethod
    def make(
        cls, size: int = 10 * 1024, chunk_size: int = 1024, duration_ms: int = 2000
    ) -> Content:
        data = os.urandom(size)
        manifest = manifest_of(data, chunk_size)
        ref = ContentRef.from_manifest_fields(
            manifest.to_json(), codec="mp3", duration_ms=duration_ms
        )
        return cls(data, ref)

    @classmethod
    def mp3(cls, folder: Path, seconds: float = 1.0) -> Content:
        """A real MP3 (a 440 Hz tone made by ffmpeg), for receivers that decode what they play."""
        path = folder / "tone.mp3"
        tools = find_tools()
        subprocess.run(
            [str(tools.ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
             "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
             "-c:a", "libmp3lame", "-b:a", "64k", str(path)],
            check=True,
            timeout=30,
            capture_output=True,
        )  # fmt: skip
        data = path.read_bytes()
        manifest = manifest_of(data, 1024)
        ref = ContentRef.from_manifest_fields(
            manifest.to_json(), codec="mp3", duration_ms=round(seconds * 1000)
        )
        return cls(data, ref)

    @property
    def id(self) -> str:
        return self.ref.content

    def chunk(self, index: int) -> bytes:
        size = self.ref.chunk_size
        return self.data[index * size : (index + 1) * size]

    @property
    def count(self) -> int:
        return self.ref.chunk_count


@dataclass
class Controller:
    """Signs commands the way the controller does; `clock` gives `issued`."""

    topics: Topics
    clock: FakeClock | None = None
    key: SigningKey = field(default_factory=SigningKey.generate)

    def now(self) -> datetime:
        return datetime.now(UTC) if self.clock is None else self.clock.now()

    def command(
        self,
        to: str,
        body: Body,
        *,
        scope: str = "rx",
        lifetime: float = 600.0,
        issued: datetime | None = None,
        key: SigningKey | None = None,
        command_id: str | None = None,
    ) -> tuple[str, bytes]:
        """(topic, signed payload) of a command for `rx:<to>` or `grp:<to>`."""
        issued = issued or self.now()
        command = Command(
            id=command_id or new_command_id(),
            to=target("rx" if scope == "rx" else "grp", to),
            issued=issued,
            expires=issued + timedelta(seconds=lifetime),
            body=body,
        )
        return command.topic(self.topics), command.encode(key or self.key)

    def play(
        self,
        content: Content | dict[str, Content],
        *,
        play_at: datetime | None,
        priority: Priority = "normal",
        expires_in: float = 600.0,
        repeat: int = 1,
        occurrence: str | None = None,
        volume: int | None = None,
    ) -> Play:
        contents = content if isinstance(content, dict) else {"vi": content}
        base = play_at or self.now()
        return Play(
            occurrence=occurrence or new_occurrence_id(),
            bulletin=new_occurrence_id(),
            title="Thông báo lịch tiêm phòng",
            priority=priority,
            play_at=play_at,
            expires_at=base + timedelta(seconds=expires_in),
            volume=volume,
            repeat=repeat,
            contents={lang: c.ref for lang, c in contents.items()},
        )

    @staticmethod
    def assign(*groups: str, language: str = "vi") -> Assign:
        return Assign(tuple(groups), language)

    @staticmethod
    def cancel(occurrence: str) -> Cancel:
        return Cancel(occurrence)

    @staticmethod
    def time(request: int, received: datetime, sent: datetime) -> TimeReply:
        return TimeReply(request, received, sent)
