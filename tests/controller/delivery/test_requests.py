"""`send_bulletin` with one content per language: what is stored, who hears which, errors.

A real SQLite store, real ffmpeg (recordings of different tones are different contents)
and espeak-ng for text, on the small commune of the delivery tests: Bản A's three
receivers speak Tày (then Vietnamese), Bản B's one speaks Vietnamese.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from audio.ffmpeg import find_tools
from controller.audio import AudioLibrary, UnknownContent
from controller.audio.settings import build_library
from controller.config import Config, load_config
from controller.config.model import SchedulesConfig
from controller.delivery.requests import Audio, RequestError, SendRequest, Sent, send_bulletin
from controller.store import Store
from controller.store.bulletins import get_bulletin
from controller.store.contents import list_contents
from controller.store.registry import import_registry
from devices.registry import parse_registry
from loa.clock import SystemClock
from tests.integration.delivery_support import REGISTRY, now
from tests.support.controller import write_config

TEXT = "Lúc 06:00 mai, xã họp dân ở nhà văn hoá."


@dataclass
class World:
    store: Store
    library: AudioLibrary
    config: Config
    folder: Path
    #: language -> id of a stored content prepared in it
    stored: dict[str, str]

    async def send(self, audio: Audio, to: str = "ban-a,rx-b1", **options: Any) -> Sent:
        options.setdefault("language", "vi")
        request = SendRequest(audio=audio, targets=to, created_by="test", **options)
        return await send_bulletin(self.store, self.library, self.config, request, SystemClock())

    async def content_count(self) -> int:
        async with self.store.read() as session:
            return len(await list_contents(session))


def tone(path: Path, frequency: int) -> Path:
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f",
         "lavfi", "-i", f"sine=frequency={frequency}:duration=2", str(path)],
        check=True, timeout=30,
    )  # fmt: skip
    return path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    config = load_config(write_config(tmp_path))
    store = await Store.open(config.store.url)
    try:
        await store.upgrade()
        registry = parse_registry(REGISTRY, "test registry", "yaml")
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
        library = build_library(config, store)
        stored = {}
        for language, frequency in (("tay", 300), ("hmn", 500), ("vi", 700)):
            source = tone(tmp_path / f"{language}.wav", frequency)
            added = await library.add_file(
                source, title=f"tin {language}", language=language, added_by="test"
            )
            stored[language] = added.content.id
        yield World(store, library, config, tmp_path, stored)
    finally:
        await store.close()


async def stored_contents(world: World, sent: Sent) -> dict[str, str]:
    async with world.store.read() as session:
        detail = await get_bulletin(session, sent.bulletin.id)
    assert detail is not None
    return detail.contents


async def test_text_and_a_stored_content_make_two_languages_the_text_first(world: World) -> None:
    sent = await world.send(Audio(text=TEXT, contents=(world.stored["tay"][:8],)))
    assert list(sent.contents) == ["vi", "tay"], "the text (in --lang) is the default"
    assert sent.contents["tay"] == world.stored["tay"]
    assert sent.content_id == sent.contents["vi"] != world.stored["vi"], "a new content"
    assert sent.created_content is True
    assert sent.hearing == {"vi": 1, "tay": 3}, "rx-b1 in Vietnamese, Bản A in Tày"
    assert sent.receivers == 4
    assert sent.bulletin.title == TEXT, "the text is its title"
    assert await stored_contents(world, sent) == sent.contents


async def test_three_stored_contents_the_first_given_is_the_default(world: World) -> None:
    ids = world.stored
    sent = await world.send(
        Audio(contents=(ids["hmn"], ids["tay"][:10], ids["vi"][:6])), title="Họp dân"
    )
    assert sent.contents == {"hmn": ids["hmn"], "tay": ids["tay"], "vi": ids["vi"]}
    assert list(sent.contents) == ["hmn", "tay", "vi"]
    assert sent.content_id == ids["hmn"]
    assert sent.created_content is False
    assert list(sent.hearing.items()) == [("hmn", 0), ("tay", 3), ("vi", 1)]
    assert sent.bulletin.title == "Họp dân"
    assert await stored_contents(world, sent) == sent.contents

    # Without Vietnamese, every targeted receiver must have its own language.
    village_a = await world.send(Audio(contents=(ids["tay"], ids["hmn"])), to="ban-a")
    assert village_a.hearing == {"tay": 3, "hmn": 0}
    assert village_a.bulletin.title == "tin tay", "the default content's title"


async def test_a_recording_with_two_stored_contents(world: World) -> None:
    recording = tone(world.folder / "bản tin.wav", 900)
    sent = await world.send(
        Audio(file=recording, contents=(world.stored["hmn"], world.stored["tay"])),
        language="vi",
        to="all",
    )
    assert list(sent.contents) == ["vi", "hmn", "tay"]
    assert sent.hearing == {"vi": 1, "hmn": 0, "tay": 3}
    assert sent.bulletin.title == "bản tin"
    assert await stored_contents(world, sent) == sent.contents


async def test_the_stored_bulletin_keeps_the_default_first(world: World) -> None:
    sent = await world.send(Audio(contents=(world.stored["tay"], world.stored["hmn"])), to="ban-a")
    assert list(await stored_contents(world, sent)) == ["tay", "hmn"]
    again = await world.send(Audio(contents=(world.stored["hmn"], world.stored["tay"])))
    assert list(await stored_contents(world, again)) == ["hmn", "tay"]


async def test_a_receiver_without_its_language_or_vietnamese_hears_the_default(
    world: World,
) -> None:
    # rx-b1 speaks Vietnamese only; the bulletin has Tày (the default, first) and H'Mông
    sent = await world.send(Audio(contents=(world.stored["tay"], world.stored["hmn"])))
    assert sent.hearing == {"tay": 4, "hmn": 0}


async def test_the_single_source_forms_are_as_before(world: World) -> None:
    alone = await world.send(Audio(content=world.stored["tay"][:8]))
    assert alone.contents == {"vi": world.stored["tay"]}, "alone: in --lang, as it always was"
    assert (alone.content_id, alone.hearing, alone.created_content) == (
        world.stored["tay"], {"vi": 4}, False,
    )  # fmt: skip
    assert await stored_contents(world, alone) == {"vi": world.stored["tay"]}
    in_tay = await world.send(Audio(contents=(world.stored["hmn"],)), language="tay")
    assert in_tay.contents == {"tay": world.stored["hmn"]}
    assert in_tay.hearing == {"tay": 4}, "the only content: every receiver plays it"

    recording = await world.send(Audio(file=tone(world.folder / "một.wav", 1100)), to="xa")
    assert list(recording.contents) == ["vi"]
    assert recording.created_content is True
    assert recording.hearing == {"vi": 4}
    spoken = await world.send(Audio(text=TEXT), language="vi", to="rx-a1")
    assert list(spoken.contents) == ["vi"]
    assert spoken.hearing == {"vi": 1}


async def test_mistakes_are_named_and_cost_no_audio(world: World) -> None:
    ids = world.stored
    before = await world.content_count()
    cases: list[tuple[Audio, dict[str, Any], type[Exception], list[str]]] = [
        (Audio(text=TEXT, contents=(ids["tay"][:8], ids["hmn"])), {"language": "tay"},
         RequestError, ["two contents in 'tay'", "the --text (--lang tay)", ids["tay"][:12],
                        f"--content {ids['tay'][:8]}"]),
        (Audio(contents=(ids["hmn"][:7], ids["tay"], ids["hmn"][:9])), {},
         RequestError, [f"content {ids['hmn'][:12]} is given twice",
                        f"--content {ids['hmn'][:7]}", f"--content {ids['hmn'][:9]}"]),
        (Audio(text=TEXT, contents=("0123456789abcdef",)), {},
         UnknownContent, ["'0123456789abcdef'", "loa audio list"]),
        (Audio(), {}, RequestError, ["no sound given"]),
        (Audio(file=world.folder / "tay.wav", text=TEXT), {},
         RequestError, ["a FILE or --text, not both", "--content"]),
    ]  # fmt: skip
    for audio, options, error, words in cases:
        with pytest.raises(error) as raised:
            await world.send(audio, **options)
        for word in words:
            assert word in str(raised.value), (audio, str(raised.value))
    assert await world.content_count() == before, "no text was read aloud for a bad request"

    with pytest.raises(
        RequestError, match=rf"the FILE is the same audio as content {ids['tay'][:12]}"
    ):
        await world.send(
            Audio(file=world.folder / "tay.wav", contents=(ids["tay"],)), language="vi"
        )


async def test_quiet_hours_refuse_all_but_emergencies(world: World) -> None:
    """22:00-05:00 by default: a bulletin planned at 23:00 (Hà Nội) is refused, an
    emergency is not; a commune's own quiet hours replace the default."""
    zone = ZoneInfo(world.config.time_zone)
    local = (now() + timedelta(days=1)).astimezone(zone)
    night = local.replace(hour=23, minute=0, second=0, microsecond=0)
    quiet = dataclasses.replace(world.config, schedules=SchedulesConfig(quiet_hours="22:00-05:00"))
    audio = Audio(contents=(world.stored["vi"],))
    request = SendRequest(
        audio=audio, targets="ban-a", created_by="test", play_at=night, language="vi"
    )
    with pytest.raises(RequestError) as refused:
        await send_bulletin(world.store, world.library, quiet, request, SystemClock())
    assert str(refused.value) == (
        "23:00 is in the quiet hours of Xã Thử (xa) (22:00-05:00): only emergencies may sound "
        "then; send it --at a later time, or with --priority emergency"
    )
    own = dataclasses.replace(
        quiet, schedules=SchedulesConfig(quiet_hours_by_commune={"xa": "23:30-05:00"})
    )
    await send_bulletin(world.store, world.library, own, request, SystemClock())
    urgent = dataclasses.replace(request, priority="emergency")
    await send_bulletin(world.store, world.library, quiet, urgent, SystemClock())
