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
        (("--to", "all"), "exactly one of"),
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
