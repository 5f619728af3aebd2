"""`loa bulletin` and `loa keys` as an operator runs them, without a running controller.

`send` only writes the bulletin (the running `loa serve` delivers it), so these tests
check what is written and what is printed; delivery itself is in
tests/integration/test_delivery.py.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

from audio.ffmpeg import find_tools
from controller.store import Store
from controller.store.bulletins import get_bulletin, get_occurrence
from controller.store.registry import import_registry
from devices.protocol.signing import VerifyKey
from devices.registry import parse_registry
from tests.integration.delivery_support import REGISTRY, now
from tests.support.controller import one_error_line, run_loa, write_config


async def ready(folder: Path) -> Path:
    config = write_config(folder)
    registry = parse_registry(REGISTRY, "test registry", "yaml")
    async with await Store.open(f"sqlite+aiosqlite:///{folder / 'data' / 'loa.db'}") as store:
        await store.upgrade()
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
    return config


def loa(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_loa(*args, "--config", str(config), timeout=60)


def loa_json(config: Path, *args: str) -> Any:
    result = loa(config, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_keys_show_makes_the_key_once_and_prints_the_public_half(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = loa_json(config, "keys", "show")
    assert first["created"] is True
    assert first["algorithm"] == "ed25519"
    VerifyKey.from_text(first["public_key"])
    private = Path(first["private_key_file"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert Path(first["public_key_file"]).read_text(encoding="utf-8").strip() == first["public_key"]
    again = loa_json(config, "keys", "show")
    assert again["created"] is False
    assert again["public_key"] == first["public_key"]
    text = loa(config, "keys", "show")
    assert first["fingerprint"] in text.stdout


async def test_send_text_then_list_status_and_cancel(tmp_path: Path) -> None:
    config = await ready(tmp_path)
    sent = loa_json(
        config, "bulletin", "send", "--text", "Lúc 06:00 mai, xã họp dân.", "--to", "ban-a,rx-b1",
        "--priority", "priority", "--at", "2099-01-01 06:00", "--title", "Họp dân",
    )  # fmt: skip
    assert sent["receivers"] == 4
    assert sent["priority"] == "priority"
    assert sent["play_at"] == "2098-12-31T23:00:00.000Z", "06:00 in Hà Nội is 23:00 UTC"
    occurrence = sent["occurrence"]

    listed = loa_json(config, "bulletin", "list")
    assert [row["occurrence"] for row in listed] == [occurrence]
    assert listed[0]["title"] == "Họp dân"
    status = loa_json(config, "bulletin", "status", occurrence[:8])
    assert status["state"] == "scheduled"
    assert status["receivers"] == [], "no delivery before dispatch"

    cancelled = loa(config, "bulletin", "cancel", occurrence[:10])
    assert cancelled.returncode == 0, cancelled.stderr
    assert "was scheduled" in cancelled.stdout
    again = loa(config, "bulletin", "cancel", occurrence)
    assert again.returncode == 2
    assert "nothing to cancel" in one_error_line(again.stderr)


async def test_send_a_recording_of_a_stored_content_and_bad_requests(tmp_path: Path) -> None:
    config = await ready(tmp_path)
    wav = tmp_path / "tin khẩn.wav"
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f",
         "lavfi", "-i", "sine=frequency=500:duration=2", str(wav)],
        check=True, timeout=30,
    )  # fmt: skip
    sent = loa_json(config, "bulletin", "send", str(wav), "--to", "all", "--priority", "emergency")
    assert sent["play_at"] is None, "an emergency plays as soon as it can"
    again = loa_json(config, "bulletin", "send", "--content", sent["content"][:8], "--to", "xa")
    assert again["content"] == sent["content"]
    for args, expected in [
        (("--to", "ban-z", "--text", "xin chào"), "'ban-z'"),
        (("--to", "all"), "no sound given"),
        (("--to", "all", str(wav), "--text", "xin chào"), "a FILE or --text, not both"),
        (("--to", "all", "--text", "xin chào", "--at", "yesterday"), "--at 'yesterday'"),
        (("--to", "all", "--text", "xin chào", "--at", "2001-01-01 06:00"), "in the past"),
        (("--to", "all", "--text", "xin chào", "--expires", "soon"), "--expires 'soon'"),
        (("--to", "all", "--text", "xin chào", "--repeat", "11"), "--repeat 11"),
        (("--to", "all", "--text", "🙂"), "nothing to read"),
        (("--to", "all", "--text", "a"), "less than half a second of speech"),
    ]:
        result = loa(config, "bulletin", "send", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in one_error_line(result.stderr), args
    unknown = loa(config, "bulletin", "status", "0123456789")
    assert unknown.returncode == 2
    assert "no occurrence" in one_error_line(unknown.stderr)


def prepare(config: Path, folder: Path, language: str, frequency: int) -> str:
    """A recording prepared in `language` with `loa audio prepare`: its content id."""
    source = folder / f"{language}.wav"
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f",
         "lavfi", "-i", f"sine=frequency={frequency}:duration=2", str(source)],
        check=True, timeout=30,
    )  # fmt: skip
    added = loa_json(config, "audio", "prepare", str(source), "--lang", language)
    content_id: str = added["content"]["id"]
    return content_id


async def stored_contents(folder: Path, occurrence_id: str) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{folder / 'data' / 'loa.db'}"
    async with await Store.open(url) as store, store.read() as session:
        occurrence = await get_occurrence(session, occurrence_id)
        assert occurrence is not None
        detail = await get_bulletin(session, occurrence.bulletin_id)
    assert detail is not None
    return detail.contents


async def test_send_in_several_languages(tmp_path: Path) -> None:
    config = await ready(tmp_path)
    tay = prepare(config, tmp_path, "tay", 300)
    hmn = prepare(config, tmp_path, "hmn", 500)

    two = loa_json(
        config, "bulletin", "send", "--text", "Lúc 06:00 mai, xã họp dân.", "--content", tay[:8],
        "--to", "ban-a,rx-b1",
    )  # fmt: skip
    assert [(x["language"], x["receivers"]) for x in two["languages"]] == [("vi", 1), ("tay", 3)]
    assert two["languages"][1]["content"] == tay
    assert two["content"] == two["languages"][0]["content"] != tay, "the text is the default"
    assert two["receivers"] == 4
    assert await stored_contents(tmp_path, two["occurrence"]) == {
        x["language"]: x["content"] for x in two["languages"]
    }

    three = loa(
        config, "bulletin", "send", "--content", hmn[:6], "--content", tay, "--content",
        two["content"][:10], "--to", "all", "--title", "Họp dân",
    )  # fmt: skip
    assert three.returncode == 0, three.stderr
    lines = three.stdout.splitlines()
    assert len(lines[0]) == 32, "the occurrence id alone on the first line"
    assert lines[1] == "  'Họp dân', normal, to 4 receivers"
    assert lines[2:5] == [
        f"  hmn  {hmn[:12]}  heard by 0 (the default)",
        f"  tay  {tay[:12]}  heard by 3",
        f"  vi   {two['content'][:12]}  heard by 1",
    ]
    assert await stored_contents(tmp_path, lines[0]) == {
        "hmn": hmn, "tay": tay, "vi": two["content"],
    }  # fmt: skip

    alone = loa(config, "bulletin", "send", "--content", hmn[:8], "--to", "xa")
    assert alone.returncode == 0, alone.stderr
    assert f"  vi  {hmn[:12]}  heard by 4" in alone.stdout.splitlines(), "as before: in --lang"

    # no Vietnamese: rx-b1 (vi only) hears the default, the first given
    fallback = loa(config, "bulletin", "send", "--content", tay, "--content", hmn, "--to", "all")
    assert fallback.returncode == 0, fallback.stderr
    assert fallback.stdout.splitlines()[2:4] == [
        f"  tay  {tay[:12]}  heard by 4 (the default)",
        f"  hmn  {hmn[:12]}  heard by 0",
    ]

    for args, expected in [
        (("--content", tay, "--content", "fedcba9876"), "id starting 'fedcba9876'"),
        (("--text", "xin chào", "--lang", "tay", "--content", tay[:7]),
         f"two contents in 'tay': the --text (--lang tay) and {tay[:12]} (--content {tay[:7]})"),
        (("--content", hmn[:6], "--content", hmn[:9]),
         f"content {hmn[:12]} is given twice (--content {hmn[:6]} and --content {hmn[:9]})"),
        ((str(tmp_path / "tay.wav"), "--text", "xin chào", "--content", hmn),
         "a FILE or --text, not both"),
        (("--content", tay, "--content", hmn, "--lang", "vi"), "--lang vi names the language"),
        ((str(tmp_path / "tay.wav"), "--content", tay), "the FILE is the same audio as content"),
    ]:  # fmt: skip
        result = loa(config, "bulletin", "send", *args, "--to", "all")
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in one_error_line(result.stderr), args
