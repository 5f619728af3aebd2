"""`loa schedule calendar --week`: a grid per commune, marks for what needs a look, clashes.

The store is real SQLite: two communes, schedules applied as `loa schedule apply` writes
them, occurrences recorded as the scheduler records its fires. The week shown is Monday
30 November to Sunday 6 December 2026 in Hanoi; "now" is Wednesday 2 December, 12:00.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.cli import main as cli_main
from controller.cli import schedule_calendar
from controller.config import load_config
from controller.scheduler.policy import Policy
from controller.store import Store, import_registry
from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    Target,
    create_bulletin,
    create_occurrence,
)
from controller.store.contents import save_content
from controller.store.fires import FireRow, record_fires
from controller.store.schedules import apply_schedules, list_schedules
from devices.registry import Group, Receiver
from schedules.file import parse_schedules
from tests.controller.store.test_contents import T0, row
from tests.support.controller import one_error_line, write_config

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=HANOI)
WIDTH = 160
CELL = (WIDTH - 5) // 7 - 2  # as `schedules.week` cuts the columns
CONTENT = row("calendar").id
DASH = "\u2013"  # an en dash, as `schedules.week` prints a date range

GROUPS = (
    Group("cao-bang", "Tỉnh Cao Bằng", "province"),
    Group("tra-linh", "Xã Trà Lĩnh", "commune", "cao-bang"),
    Group("na-vuong", "Bản Nà Vường", "village", "tra-linh"),
    Group("quang-han", "Xã Quang Hán", "commune", "cao-bang"),
    Group("ban-chang", "Bản Chang", "village", "quang-han"),
)
RECEIVERS = (
    Receiver("tl-1", "Loa đầu bản", "na-vuong"),
    Receiver("tl-2", "Loa nhà văn hoá", "na-vuong"),
    Receiver("qh-1", "Loa chợ", "ban-chang"),
)

CALENDAR = """\
schedules:
  - id: sang-chieu
    title: Chương trình
    when: {daily: ["06:00", "17:00"], from: 2026-11-01}
    targets: all
    text: {vi: Chương trình phát thanh}
    duration_s: 600
  - id: cho-phien
    title: Chợ phiên
    when: {weekly: {days: [t5], at: "07:00"}, from: 2026-11-01}
    targets: quang-han
    text: {vi: Chợ phiên thứ năm}
    duration_s: 300
  - id: hop-xom
    title: Họp xóm
    when: {once: "2026-12-02 17:05"}
    targets: tra-linh
    text: {vi: Họp xóm tối nay}
    duration_s: 300
  - id: tiem-chung
    title: Tiêm chủng
    when: {daily: "19:00", from: 2026-12-01, until: 2026-12-02}
    targets: all
    text: {vi: Tiêm chủng}
    enabled: false
  - id: the-duc
    title: Thể dục
    when: {daily: "06:30", from: 2026-11-01}
    targets: tra-linh
    text: {vi: Thể dục buổi sáng}
    duration_s: 600
"""
PENDING = """\
schedules:
  - id: ve-sinh
    title: Vệ sinh
    when: {weekly: {days: [t7], at: "08:00"}, from: 2026-11-01}
    targets: quang-han
    text: {vi: Tổng vệ sinh}
"""


def _at(month: int, day: int, hour: int) -> datetime:
    """A local time of the week in Hanoi, in UTC as the store keeps it."""
    return datetime(2026, month, day, hour, tzinfo=HANOI).astimezone(UTC)


async def _fill(config_path: Path) -> None:
    config = load_config(config_path)
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(store, GROUPS, RECEIVERS, dry_run=False, at=T0)
        async with store.write() as session:
            await save_content(session, row("calendar"))
        source = str(config_path.parent / "xa.yaml")
        schedules = parse_schedules([("xa.yaml", CALENDAR)])
        await apply_schedules(store, schedules, source=source, dry_run=False, at=T0)
        # quang-han asks for a second person's approval of the schedules that reach it
        asking = dataclasses.replace(
            config, schedules=dataclasses.replace(config.schedules, approval=("quang-han",))
        )
        await apply_schedules(
            store,
            parse_schedules([("ve-sinh.yaml", PENDING)]),
            source="ve-sinh.yaml",
            dry_run=False,
            at=T0,
            rules=Policy(asking, force=True),
        )
        stored = {item.schedule.id: item.schedule for item in await list_schedules(store)}
        async with store.write() as session:
            # Monday 17:00 went out; Tuesday 17:00 was missed (the controller was down)
            await record_fires(
                session,
                stored["sang-chieu"],
                schedule_revision="r1",
                contents={"vi": CONTENT},
                targets=[Target("all")],
                fires=[
                    FireRow(_at(11, 30, 17), "scheduled", _at(11, 30, 17), T0, _at(11, 30, 18)),
                    FireRow(
                        _at(12, 1, 17),
                        "missed",
                        None,
                        None,
                        _at(12, 1, 18),
                        reason="the controller was down",
                    ),
                ],
                now=T0,
            )
            # a one-off bulletin for tra-linh on Friday 09:00
            bulletin = "b" * 32
            await create_bulletin(
                session,
                BulletinRow(
                    id=bulletin,
                    title="Mất điện",
                    priority="priority",
                    volume=None,
                    repeat=1,
                    chime="none",
                    created_by="test",
                    created_at=T0,
                ),
                {"vi": CONTENT},
                [Target("group", "tra-linh")],
            )
            await create_occurrence(
                session,
                OccurrenceRow(
                    id="c" * 32,
                    bulletin_id=bulletin,
                    play_at=_at(12, 4, 9),
                    expires_at=_at(12, 4, 10),
                    created_at=T0,
                ),
            )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Two communes, the calendar above; quang-han is quiet 05:30-07:00."""
    path = write_config(
        tmp_path / "c", schedules={"quiet_hours_by_commune": {"quang-han": "05:30-07:00"}}
    )
    asyncio.run(_fill(path))
    return path


def _parser() -> argparse.ArgumentParser:
    """`loa schedule calendar` alone, as `schedule_cmd` registers it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path)
    common.add_argument("--debug", action="store_true")
    parser = argparse.ArgumentParser(prog="loa schedule")
    actions = parser.add_subparsers(dest="action", required=True)
    schedule_calendar.add_parser(actions, common)
    return parser


def calendar(
    capsys: pytest.CaptureFixture[str], config: Path, *argv: str, now: datetime = NOW
) -> str:
    """What `loa schedule calendar ARGV` prints at `now`."""
    capsys.readouterr()
    args = _parser().parse_args(["calendar", "--config", str(config), *argv])
    assert schedule_calendar.run_calendar(args, now=now) == 0
    out: str = capsys.readouterr().out
    return out


def grid(text: str, commune: str) -> dict[str, list[str]]:
    """The commune's block: local time -> the seven cells of its first line, Monday first."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"{commune}: "))
    rows: dict[str, list[str]] = {}
    for line in lines[first + 2 :]:
        if not line.strip():
            break
        if line[:5].strip():
            padded = line.ljust(WIDTH)
            rows[line[:5]] = [
                padded[5 + k * (CELL + 2) + 2 : 5 + (k + 1) * (CELL + 2)].strip() for k in range(7)
            ]
    return rows


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.fixture
def loa_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main()` with `calendar` registered under `schedule` (until schedule_cmd wires it)."""
    build = cli_main.build_parser

    def with_calendar() -> argparse.ArgumentParser:
        parser = build()
        actions = _subcommands(_subcommands(parser).choices["schedule"])
        if "calendar" not in actions.choices:
            common = argparse.ArgumentParser(add_help=False)
            common.add_argument("--config", type=Path)
            common.add_argument("--debug", action="store_true")
            schedule_calendar.add_parser(actions, common)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", with_calendar)


# --- The grid ----------------------------------------------------------------------------------


def test_air_times_land_in_their_day_columns_per_commune(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = calendar(capsys, config, "--start", "2026-12-02", "--width", str(WIDTH))
    assert f"Xã Quang Hán (quang-han): 30/11 {DASH} 06/12/2026 (Asia/Ho_Chi_Minh)" in text
    han = grid(text, "Xã Quang Hán (quang-han)")
    linh = grid(text, "Xã Trà Lĩnh (tra-linh)")
    # the weekly market notice is on Thursday, in the commune it is for only
    assert han["07:00"] == ["·", "·", "·", "Chợ phiên", "·", "·", "·"]
    assert "07:00" not in linh
    # the daily programme to all: every day at 17:00 in both communes
    assert han["17:00"][3:] == ["Chương trình"] * 4
    assert linh["17:00"][3:] == ["Chương trình"] * 4
    # the one-off bulletin (priority) on Friday in tra-linh only
    assert linh["09:00"] == ["·", "·", "·", "·", "▲Mất điện", "·", "·"]
    assert "09:00" not in han


def test_marks_paused_pending_quiet_and_past_fires(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = calendar(capsys, config, "--week", "--start", "2026-12-06", "--width", str(WIDTH))
    han = grid(text, "Xã Quang Hán (quang-han)")
    linh = grid(text, "Xã Trà Lĩnh (tra-linh)")
    # paused on Tuesday and Wednesday, in both communes
    for rows in (han, linh):
        assert rows["19:00"] == ["·", "‖Tiêm chủng", "‖Tiêm chủng", "·", "·", "·", "·"]
    # quang-han asks for approval: Saturday's notice waits for it
    assert han["08:00"][5] == "?Vệ sinh"
    # 06:00 is in quang-han's quiet hours: the scheduler misses it on all its receivers,
    # so tra-linh shows it too; 06:30 goes to tra-linh only, which is not quiet then
    assert han["06:00"][2:] == ["✗Chương trình"] * 5
    assert linh["06:00"][2:] == ["✗Chương trình"] * 5
    assert linh["06:30"][3:] == ["Thể dục"] * 4
    # Monday 17:00 fired, Tuesday 17:00 was missed (from the occurrences stored)
    assert linh["17:00"][:2] == ["✓Chương trình", "✗Chương trình"]
    assert han["17:00"][:2] == ["✓Chương trình", "✗Chương trình"]
    assert "✗ missed or refused (quiet hours, expired)" in text


def test_a_clash_is_marked_in_its_commune_and_listed(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = calendar(capsys, config, "--start", "2026-12-02", "--width", str(WIDTH))
    linh = grid(text, "Xã Trà Lĩnh (tra-linh)")
    han = grid(text, "Xã Quang Hán (quang-han)")
    assert linh["17:00"][2] == "!Chương trình"
    assert linh["17:05"][2] == "!Họp xóm"
    assert han["17:00"][2] == "Chương trình"  # its receiver is not shared with the meeting
    clashes = text.split("Clashes this week:\n")[1].splitlines()
    assert clashes == [
        '  2026-12-02 17:00-17:10 +07: "Chương trình" (normal) and "Họp xóm" (normal, 17:05) '
        'share 2 receivers (tl-1, tl-2): "Họp xóm" waits 5 min until 17:10'
    ]


def test_json_gives_every_air_time_with_its_state_and_the_clashes(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    data = json.loads(calendar(capsys, config, "--start", "2026-11-30", "--json"))
    assert (data["week_start"], data["zone"]) == ("2026-11-30", "Asia/Ho_Chi_Minh")
    assert [(c["id"], c["name"]) for c in data["communes"]] == [
        ("quang-han", "Xã Quang Hán"),
        ("tra-linh", "Xã Trà Lĩnh"),
    ]
    linh = data["communes"][1]["entries"]
    assert linh[0] == {
        "schedule": "sang-chieu",
        "title": "Chương trình",
        "priority": "normal",
        "local": "2026-11-30T06:00:00+07:00",
        "utc": "2026-11-29T23:00:00Z",
        "state": "quiet hours",
        "clash": False,
    }
    states = {(e["schedule"], e["local"][:16]): (e["state"], e["clash"]) for e in linh}
    assert states[("sang-chieu", "2026-11-30T17:00")] == ("fired", False)
    assert states[("sang-chieu", "2026-12-01T17:00")] == ("missed", False)
    assert states[("sang-chieu", "2026-12-02T17:00")] == ("planned", True)
    assert states[("hop-xom", "2026-12-02T17:05")] == ("planned", True)
    assert states[("the-duc", "2026-11-30T06:30")] == ("not fired", False)
    assert states[(None, "2026-12-04T09:00")] == ("planned", False)
    assert [e["title"] for e in linh if e["schedule"] is None] == ["Mất điện"]
    assert len(data["clashes"]) == 1
    assert "Họp xóm" in data["clashes"][0]


# --- Choosing what to show ---------------------------------------------------------------------


def test_commune_limits_the_grid_and_the_clashes(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = calendar(
        capsys, config, "--start", "2026-12-02", "--commune", "quang-han", "--width", str(WIDTH)
    )
    assert "Xã Quang Hán (quang-han): " in text
    assert "tra-linh" not in text
    assert "No clashes this week." in text
    data = json.loads(
        calendar(capsys, config, "--start", "2026-12-02", "--commune", "tra-linh", "--json")
    )
    assert [c["id"] for c in data["communes"]] == ["tra-linh"]
    assert len(data["clashes"]) == 1


def test_an_unknown_commune_exits_2_with_a_close_one(
    capsys: pytest.CaptureFixture[str], config: Path, loa_main: None
) -> None:
    code = cli_main.main(
        ["schedule", "calendar", "--week", "--commune", "tra-lin", "--config", str(config)]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert one_error_line(err) == (
        "loa: error: --commune 'tra-lin': no such commune in the registry; did you mean 'tra-linh'?"
    )


def test_the_issue_command_runs_through_main(
    capsys: pytest.CaptureFixture[str], config: Path, loa_main: None
) -> None:
    code = cli_main.main(
        ["schedule", "calendar", "--week", "--start", "2026-12-03", "--config", str(config)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"Xã Trà Lĩnh (tra-linh): 30/11 {DASH} 06/12/2026 (Asia/Ho_Chi_Minh)" in out
    assert "Clashes this week:" in out


def test_an_empty_week_says_so_and_how_to_add_schedules(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = calendar(capsys, config, "--start", "2026-10-07")
    assert text.splitlines() == [
        f"Nothing is planned in the week 05/10 {DASH} 11/10/2026 (Asia/Ho_Chi_Minh).",
        "`loa schedule apply FILE|DIR` or `loa schedule add ID ...` adds schedules.",
    ]
    data = json.loads(calendar(capsys, config, "--start", "2026-10-07", "--json"))
    assert data == {
        "week_start": "2026-10-05",
        "zone": "Asia/Ho_Chi_Minh",
        "communes": [],
        "clashes": [],
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--start", "2026-13-01"],
            "loa: error: --start '2026-13-01' is not a date; write YYYY-MM-DD, e.g. 2026-12-01",
        ),
        (
            ["--width", "40"],
            "loa: error: --width 40 is too narrow; give at least 75 columns",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    loa_main: None,
    argv: list[str],
    message: str,
) -> None:
    code = cli_main.main(["schedule", "calendar", *argv, "--config", str(config)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert one_error_line(err) == message
