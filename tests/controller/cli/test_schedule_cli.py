"""`loa schedule preview` as an operator runs it: air times, UTC beside, pre-delivery, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from controller.store import Store, import_registry
from controller.store.contents import save_content
from devices.registry import read_registry
from tests.controller.store.test_contents import T0, row
from tests.devices.registry.support import EXAMPLE_YAML
from tests.support.controller import one_error_line, run_loa, write_config

CALENDAR = """\
schedules:
  - id: sang-chieu
    title: Chương trình sáng và chiều
    when: {daily: ["06:00", "17:00"], from: 2026-12-01}
    targets: tra-linh
    contents: {vi: 3fa2b1c9}
  - id: tiem-chung
    title: Chiến dịch tiêm chủng
    when: {daily: "19:00", from: 2026-12-01, until: 2026-12-02}
    targets: all
    text: {vi: Tiêm chủng tại trạm y tế xã}
    lead_s: 3600
    enabled: false
  - id: hop-prague
    title: DST check
    when: {weekly: {days: [cn], at: "02:30"}, from: 2026-03-01, zone: Europe/Prague}
    targets: all
    text: {vi: Thử}
"""


def calendar(tmp_path: Path) -> Path:
    path = tmp_path / "xa.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return path


def test_text_preview_shows_local_and_utc_air_times_and_the_pre_delivery(tmp_path: Path) -> None:
    result = run_loa(
        "schedule", "preview", str(calendar(tmp_path)), "--count", "3", "--after", "2026-12-01"
    )
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.strip().split("\n\n")
    assert blocks[0].splitlines() == [
        "sang-chieu  Chương trình sáng và chiều",
        "  daily, normal, to tra-linh, languages vi, zone Asia/Ho_Chi_Minh",
        "  air time (local)            air time (UTC)        delivered from (local, 15 min before)",
        "  2026-12-01 Tue 06:00 +0700  2026-11-30T23:00:00Z  2026-12-01 05:45",
        "  2026-12-01 Tue 17:00 +0700  2026-12-01T10:00:00Z  2026-12-01 16:45",
        "  2026-12-02 Wed 06:00 +0700  2026-12-01T23:00:00Z  2026-12-02 05:45",
    ]
    # the two-day campaign ends: two air times although three were asked; paused is shown
    assert (
        blocks[1].splitlines()[0] == "tiem-chung  Chiến dịch tiêm chủng  [paused: enabled: false]"
    )
    assert blocks[1].splitlines()[3:] == [
        "  2026-12-01 Tue 19:00 +0700  2026-12-01T12:00:00Z  2026-12-01 18:00",
        "  2026-12-02 Wed 19:00 +0700  2026-12-02T12:00:00Z  2026-12-02 18:00",
    ]


def test_json_preview_of_one_schedule_moves_a_skipped_hour_forward(tmp_path: Path) -> None:
    result = run_loa(
        "schedule",
        "preview",
        str(calendar(tmp_path)),
        "--id",
        "hop-prague",
        "--count",
        "6",
        "--after",
        "2027-03-20T00:00+01:00",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    [preview] = json.loads(result.stdout)
    assert (preview["id"], preview["zone"], preview["after"]) == (
        "hop-prague",
        "Europe/Prague",
        "2027-03-19T23:00:00Z",
    )
    rows = preview["occurrences"]
    assert len(rows) == 6
    # 28 March 2027: clocks jump 02:00 -> 03:00, so 02:30 plays at 03:30 summer time
    assert rows[0] == {
        "air_local": "2027-03-21T02:30:00+01:00",
        "air_utc": "2027-03-21T01:30:00Z",
        "deliver_local": "2027-03-21T02:15:00+01:00",
        "deliver_utc": "2027-03-21T01:15:00Z",
    }
    assert (rows[1]["air_local"], rows[1]["air_utc"]) == (
        "2027-03-28T03:30:00+02:00",
        "2027-03-28T01:30:00Z",
    )
    assert rows[2]["air_local"] == "2027-04-04T02:30:00+02:00"


def test_a_bad_file_exits_2_with_every_problem_at_its_line(tmp_path: Path) -> None:
    path = calendar(tmp_path)
    path.write_text(
        CALENDAR.replace('"02:30"', '["02:30", "25:00"]').replace("targets: tra-linh", "target: x"),
        encoding="utf-8",
    )
    result = run_loa("schedule", "preview", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"loa: error: {path}:2: schedule 'sang-chieu' has no targets; add `targets:`",
        f"{path}:5: unknown key 'target' in a schedule; did you mean 'targets'?",
        f"{path}:16: when.weekly.at: '25:00' is not valid; expected a time of day HH:MM "
        "between 00:00 and 23:59, e.g. 06:00",
    ]


def test_an_unknown_id_exits_2_and_names_the_close_one(tmp_path: Path) -> None:
    result = run_loa("schedule", "preview", str(calendar(tmp_path)), "--id", "sang-chiu")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"loa: error: no schedule 'sang-chiu' in {tmp_path / 'xa.yaml'}; did you mean 'sang-chieu'?"
    )


async def stored_config(folder: Path) -> Path:
    """A config whose store is migrated (the store commands refuse an old schema), with the
    example registry (commune `tra-linh`) and the content `3fa2b1c9...` that CALENDAR names.

    Tày text is read with the Vietnamese voice (espeak-ng has no Tày one; Tày is written in
    Latin letters), as a commune may configure it; without that, text in Tày is refused."""
    config = write_config(folder, audio={"tts": {"voices": {"vi": "vi", "tay": "vi"}}})
    async with await Store.open(f"sqlite+aiosqlite:///{folder / 'data' / 'loa.db'}") as store:
        await store.upgrade()
        registry = read_registry(EXAMPLE_YAML)
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=T0)
        async with store.write() as session:
            await save_content(session, row(id="3fa2b1c9" + "0" * 56))
    return config


async def test_apply_dry_run_twice_edit_prune_then_list_show_pause_delete(tmp_path: Path) -> None:
    config = await stored_config(tmp_path / "c")
    path = calendar(tmp_path)

    def loa(*args: str) -> subprocess.CompletedProcess[str]:
        return run_loa("schedule", *args, "--config", str(config), timeout=60)

    dry = loa("apply", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "  added    sang-chieu" in dry.stdout
    assert dry.stdout.strip().endswith("--dry-run: nothing applied")
    assert json.loads(loa("list", "--json").stdout) == [], "a dry run writes nothing"

    first = json.loads(loa("apply", str(path), "--json").stdout)
    assert [c["action"] for c in first["changes"]] == ["added"] * 3
    second = loa("apply", str(path))
    assert second.stdout.splitlines() == ["0 added, 0 updated, 0 removed, 3 unchanged"]
    # `preview ID` reads a stored schedule (no file or folder of that name is here)
    stored_preview = loa(
        "preview", "sang-chieu", "--count", "20", "--after", "2026-12-01", "--json"
    )
    assert stored_preview.returncode == 0, stored_preview.stderr
    [one] = json.loads(stored_preview.stdout)
    assert one["id"] == "sang-chieu"
    assert len(one["occurrences"]) == 20
    assert one["occurrences"][0]["air_utc"] == "2026-11-30T23:00:00Z"

    path.write_text(
        CALENDAR.replace('"06:00", "17:00"', '"06:30"').split("  - id: hop-prague")[0],
        encoding="utf-8",
    )
    edited = json.loads(loa("apply", str(path), "--prune", "--json").stdout)
    assert edited["changes"] == [
        {"id": "sang-chieu", "action": "updated", "fields": ["when"]},
        {"id": "hop-prague", "action": "removed", "fields": []},
    ]

    listed = json.loads(loa("list", "--json").stdout)
    assert [(r["id"], r["kind"], r["enabled"]) for r in listed] == [
        ("sang-chieu", "daily", True),
        ("tiem-chung", "daily", False),
    ]
    assert listed[0]["next_air_local"].endswith("06:30:00+07:00")
    assert "sang-chieu" in loa("list").stdout

    shown = loa("show", "sang-chieu")
    assert shown.returncode == 0, shown.stderr
    assert "  targets: tra-linh" in shown.stdout
    assert shown.stdout.count(" 06:30 +0700  ") == 5, "the next five air times"

    assert loa("pause", "sang-chieu").stdout.strip() == "sang-chieu paused"
    assert json.loads(loa("show", "sang-chieu", "--json").stdout)["definition"]["enabled"] is False
    assert loa("resume", "sang-chieu").stdout.strip() == "sang-chieu resumed"
    assert loa("delete", "tiem-chung").returncode == 0
    assert [r["id"] for r in json.loads(loa("list", "--json").stdout)] == ["sang-chieu"]

    for action in ("show", "pause", "resume", "delete"):
        unknown = loa(action, "sang-cheiu")
        assert unknown.returncode == 2
        assert one_error_line(unknown.stderr) == (
            "loa: error: no schedule 'sang-cheiu'; did you mean 'sang-chieu'?"
        )


async def test_apply_with_a_bad_file_applies_nothing(tmp_path: Path) -> None:
    config = await stored_config(tmp_path / "c")
    path = tmp_path / "bad.yaml"
    path.write_text(CALENDAR.replace("lead_s", "lead"), encoding="utf-8")
    bad = run_loa("schedule", "apply", str(path), "--config", str(config))
    assert bad.returncode == 2
    assert "did you mean 'lead_s'" in bad.stderr
    listed = run_loa("schedule", "list", "--json", "--config", str(config))
    assert json.loads(listed.stdout) == []


async def test_apply_lists_an_unknown_target_and_an_unknown_content_and_applies_nothing(
    tmp_path: Path,
) -> None:
    config = await stored_config(tmp_path / "c")
    path = tmp_path / "xa.yaml"
    path.write_text(
        CALENDAR.replace("targets: tra-linh", "targets: tra-linh, ban-khong").replace(
            "text: {vi: Thử}", "contents: {vi: abcdef12}"
        ),
        encoding="utf-8",
    )
    bad = run_loa("schedule", "apply", str(path), "--config", str(config))
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "loa: error: schedule 'sang-chieu': targets: target 'ban-khong' is neither a "
        "registered receiver nor a group; `loa devices list` shows both",
        "schedule 'hop-prague': contents.vi: no audio content has an id starting "
        "'abcdef12'; see `loa audio list`",
        "nothing was applied",
    ]
    listed = run_loa("schedule", "list", "--json", "--config", str(config))
    assert json.loads(listed.stdout) == []
