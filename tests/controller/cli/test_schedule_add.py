"""`loa schedule add`: one schedule from flags, built as its file is, stored with apply's checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.cli.main import build_parser, main
from controller.cli.schedule_add import ScheduleAddError, schedule_from_flags
from schedules.file import parse_schedules
from schedules.model import Schedule
from tests.controller.cli.test_schedule_cli import CALENDAR, stored_config
from tests.support.controller import one_error_line, run_loa

CONTENT = "3fa2b1c9" + "0" * 56  # stored by `stored_config`
#: 2026-11-30 23:30 UTC is already 1 December in Hanoi (+07:00).
NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
BASE = ("--title", "Thông báo", "--to", "all")


def flags(*argv: str) -> Schedule:
    args = build_parser().parse_args(["schedule", "add", *argv])
    return schedule_from_flags(args, NOW)


def from_file(yaml_item: str) -> Schedule:
    [schedule] = parse_schedules([("x.yaml", "schedules:\n  - " + yaml_item)])
    return schedule


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A migrated store with the example registry (commune `tra-linh`) and CONTENT."""
    return asyncio.run(stored_config(tmp_path / "c"))


def loa(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`loa ARGV` in this process (fast; the store is real SQLite): code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(capsys: pytest.CaptureFixture[str], config: Path) -> list[dict[str, object]]:
    code, out, err = loa(capsys, "schedule", "list", "--json", "--config", str(config))
    assert code == 0, err
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def definition(
    capsys: pytest.CaptureFixture[str], config: Path, schedule_id: str
) -> dict[str, Any]:
    code, out, err = loa(capsys, "schedule", "show", schedule_id, "--json", "--config", str(config))
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)["definition"]
    return found


# --- The flags build what the file builds -----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "yaml_item"),
    [
        (
            ("x", *BASE, "--text", "Họp", "--daily", "17:00, 6:00", "--from", "2026-12-01"),
            "id: x\n    title: Thông báo\n    targets: all\n    text: {vi: Họp}\n"
            '    when: {daily: ["06:00", "17:00"], from: 2026-12-01}',
        ),
        (
            (
                "x",
                *BASE,
                "--text",
                "Họp",
                "--weekly",
                "T2,t5@07:30",
                "--from",
                "2026-12-01",
                "--until",
                "2026-12-31",
                "--except",
                "2026-12-03,2026-12-10",
                "--except",
                "2026-12-17",
                "--zone",
                "Europe/Prague",
            ),
            "id: x\n    title: Thông báo\n    targets: all\n    text: {vi: Họp}\n"
            "    when: {weekly: {days: [mon, thu], at: '07:30'}, from: 2026-12-01,"
            " until: 2026-12-31, except: [2026-12-03, 2026-12-10, 2026-12-17],"
            " zone: Europe/Prague}",
        ),
        (
            (
                "x",
                *BASE,
                "--content",
                "tay=3fa2b1c9",
                "--text",
                "vi=Họp",
                "--monthly",
                "last cn@19:30",
                "--from",
                "2026-12-01",
                "--priority",
                "priority",
                "--lead-s",
                "3600",
                "--expires-after-s",
                "1800",
                "--duration-s",
                "600",
                "--volume",
                "90",
                "--repeat",
                "2",
                "--chime",
                "before",
                "--paused",
            ),
            "id: x\n    title: Thông báo\n    targets: all\n    contents: {tay: 3fa2b1c9}\n"
            "    text: {vi: Họp}\n    when: {monthly: {nth: last, day: sun, at: '19:30'},"
            " from: 2026-12-01}\n    priority: priority\n    lead_s: 3600\n"
            "    expires_after_s: 1800\n    duration_s: 600\n    volume: 90\n    repeat: 2\n"
            "    chime: before\n    enabled: false",
        ),
        (
            ("x", *BASE, "--text", "Họp", "--once", "2026-12-03 19:00"),
            "id: x\n    title: Thông báo\n    targets: all\n    text: {vi: Họp}\n"
            "    when: {once: '2026-12-03 19:00'}",
        ),
        (
            ("x", *BASE, "--text", "Họp", "--cron", "30 6 * * 1-5", "--from", "2026-12-01"),
            "id: x\n    title: Thông báo\n    targets: all\n    text: {vi: Họp}\n"
            "    when: {cron: '30 6 * * 1-5', from: 2026-12-01}",
        ),
    ],
    ids=["daily", "weekly-vietnamese-days", "monthly-last-and-every-option", "once", "cron"],
)
def test_flags_build_the_same_schedule_as_the_file(argv: tuple[str, ...], yaml_item: str) -> None:
    assert flags(*argv) == from_file(yaml_item)


def test_from_defaults_to_today_in_the_schedules_zone() -> None:
    assert flags("x", *BASE, "--text", "a", "--daily", "06:00").when.start == date(2026, 12, 1)
    prague = flags("x", *BASE, "--text", "a", "--daily", "06:00", "--zone", "Europe/Prague")
    assert prague.when.start == date(2026, 12, 1)  # 00:30 in Prague
    samoa = flags("x", *BASE, "--text", "a", "--daily", "06:00", "--zone", "Pacific/Pago_Pago")
    assert samoa.when.start == date(2026, 11, 30)  # still the 30th, -11:00


def test_a_text_given_before_a_content_is_refused_as_it_could_not_be_the_default() -> None:
    with pytest.raises(ScheduleAddError, match=r"^--text: vi is given first, .*--content"):
        flags("x", *BASE, "--text", "a", "--content", "tay=3fa2b1c9", "--daily", "06:00")
    mixed = flags("x", *BASE, "--content", "tay=3fa2b1c9", "--text", "a", "--daily", "06:00")
    assert (mixed.default_language, mixed.languages) == ("tay", ("tay", "vi"))


# --- Stored in the real store -----------------------------------------------------------------


async def test_a_daily_schedule_added_by_the_real_loa_is_listed_and_shown(tmp_path: Path) -> None:
    config = await stored_config(tmp_path / "c")

    def run(*args: str) -> tuple[int, str, str]:
        done = run_loa("schedule", *args, "--config", str(config), timeout=60)
        return done.returncode, done.stdout, done.stderr

    code, out, err = run(
        "add", "sang", "--title", "Chương trình sáng", "--to", "tra-linh",
        "--content", "3fa2b1c9", "--text", "tay=Khảu slư", "--daily", "06:00,17:00",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:3] == [
        "added sang (source cli)",
        "sang  Chương trình sáng",
        "  daily, normal, to tra-linh, languages vi, tay, zone Asia/Ho_Chi_Minh",
    ]
    air_rows = lines[4:]
    assert len(air_rows) == 5, out
    assert all(row.split()[2] in ("06:00", "17:00") and "+0700" in row for row in air_rows)

    code, out, _ = run("list")
    assert code == 0
    [row] = [line for line in out.splitlines() if line.startswith("sang ")]
    assert row.split()[1:4] == ["daily", "normal", "on"]
    assert row.endswith("Chương trình sáng")
    shown = json.loads(run("show", "sang", "--json")[1])
    assert shown["source"] == "cli"
    assert shown["definition"]["contents"] == [["vi", CONTENT]], "the full content id is kept"
    assert shown["definition"]["text"] == [["tay", "Khảu slư"]]
    assert shown["definition"]["when"]["times"] == ["06:00", "17:00"]


@pytest.mark.parametrize(
    ("recurrence", "kind", "check"),
    [
        (("--weekly", "t2,t5@07:30"), "weekly", lambda d: d.weekday() in (0, 3)),
        (("--monthly", "1 mon@08:00"), "monthly_nth", lambda d: d.weekday() == 0 and d.day <= 7),
        (("--cron", "0 6 1 * *"), "cron", lambda d: d.day == 1),
    ],
    ids=["weekly-vietnamese", "monthly", "cron"],
)
def test_each_kind_is_stored_and_its_next_five_air_times_printed(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    recurrence: tuple[str, str],
    kind: str,
    check: Callable[[date], bool],
) -> None:
    code, out, err = loa(
        capsys, "schedule", "add", "k", *BASE, "--text", "a", *recurrence, "--json",
        "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    printed = json.loads(out)
    assert (printed["action"], printed["dry_run"], printed["source"]) == ("added", False, "cli")
    assert printed["definition"]["when"]["kind"] == kind
    days = [datetime.fromisoformat(o["air_local"]).date() for o in printed["occurrences"]]
    assert len(days) == 5
    assert all(check(day) for day in days), days
    assert [(r["id"], r["kind"]) for r in stored(capsys, config)] == [("k", kind)]


def test_once_is_stored_with_its_one_air_time_in_local_and_utc(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, err = loa(
        capsys, "schedule", "add", "hop", *BASE, "--text", "Họp dân", "--text", "tay=Họp",
        "--once", "2030-03-04 07:30", "--lead-s", "3600", "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[-2:] == [
        "  air time (local)            air time (UTC)        delivered from (local, 60 min before)",
        "  2030-03-04 Mon 07:30 +0700  2030-03-04T00:30:00Z  2030-03-04 06:30",
    ]
    saved = definition(capsys, config, "hop")
    assert saved["when"] == {
        "kind": "once", "on": "2030-03-04", "at": "07:30", "from": "2030-03-04",
        "until": None, "except": [], "zone": "Asia/Ho_Chi_Minh",
    }  # fmt: skip
    assert saved["text"] == [["vi", "Họp dân"], ["tay", "Họp"]]
    assert saved["lead_s"] == 3600


def test_dry_run_checks_against_the_store_and_stores_nothing(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    argv = ("schedule", "add", "thu", *BASE, "--content", "3fa2b1c9", "--daily", "06:00")
    code, out, err = loa(capsys, *argv, "--dry-run", "--config", str(config))
    assert code == 0, err
    assert out.splitlines()[0] == "would add thu"
    assert out.splitlines()[-1] == "--dry-run: nothing stored"
    code, out, _ = loa(capsys, *argv, "--dry-run", "--json", "--config", str(config))
    assert (json.loads(out)["action"], json.loads(out)["dry_run"]) == ("would add", True)
    assert stored(capsys, config) == []
    # a dry run still checks the store: an unknown content is refused
    code, _, err = loa(
        capsys, "schedule", "add", "thu", *BASE, "--content", "abcdef12", "--daily", "06:00",
        "--dry-run", "--config", str(config),
    )  # fmt: skip
    assert code == 2
    assert "contents.vi: no audio content has an id starting 'abcdef12'" in err


def test_an_id_already_stored_is_refused_and_left_unchanged(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    path = tmp_path / "xa.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    assert loa(capsys, "schedule", "apply", str(path), "--config", str(config))[0] == 0
    before = definition(capsys, config, "sang-chieu")
    code, out, err = loa(
        capsys, "schedule", "add", "sang-chieu", *BASE, "--text", "a", "--daily", "08:00",
        "--config", str(config),
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert one_error_line(err) == (
        f"loa: error: schedule 'sang-chieu' exists (from {path.resolve()}); delete it first "
        "(loa schedule delete sang-chieu) or edit its file"
    )
    assert definition(capsys, config, "sang-chieu") == before
    # one added on the command line says how to replace it
    assert loa(capsys, "schedule", "add", "cli-1", *BASE, "--text", "a", "--daily", "08:00",
               "--config", str(config))[0] == 0  # fmt: skip
    code, _, err = loa(capsys, "schedule", "add", "cli-1", *BASE, "--text", "b", "--daily",
                       "09:00", "--config", str(config))  # fmt: skip
    assert code == 2
    assert "delete it first (loa schedule delete cli-1) and add it again" in err


# --- Every bad input: one line naming the flag, exit 2, nothing stored ------------------------

TIME_RULE = "expected a time of day HH:MM between 00:00 and 23:59, e.g. 06:00"


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("--text", "a", "--daily", "25:00"), f"--daily: '25:00' is not valid; {TIME_RULE}"),
        (
            ("--text", "a", "--weekly", "thurs@07:00"),
            "--weekly: 'thurs' is not a weekday mon, tue, wed, thu, fri, sat, sun (or t2..t7, "
            "cn); did you mean 'thu'?",
        ),
        (
            ("--text", "a", "--weekly", "mon,thu"),
            "--weekly: 'mon,thu' is not DAYS@TIMES; write e.g. --weekly mon,thu@07:00 or "
            "t2,t5@07:00",
        ),
        (("--text", "a", "--monthly", "5 mon@08:00"), "--monthly: '5' is not 1, 2, 3, 4 or last"),
        (
            ("--text", "a", "--once", "2026-02-31 10:00"),
            "--once: '2026-02-31' is not valid; expected a real calendar date written "
            "YYYY-MM-DD, e.g. 2025-02-28",
        ),
        (
            ("--text", "a", "--once", "2030-01-01 10:00", "--from", "2030-02-01"),
            "--once: 2030-01-01 is outside --from 2030-02-01; move the date or the window",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--from", "2026-12-05", "--until", "2026-12-01"),
            "--until: '2026-12-01' is not valid; expected a date on or after start 2026-12-05",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--except", "2026-12-01,2026-13-01"),
            "--except: '2026-13-01' is not valid; expected a real calendar date written "
            "YYYY-MM-DD, e.g. 2025-02-28",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--zone", "Asia/Hanoi_City"),
            "--zone: 'Asia/Hanoi_City' is not a time zone; expected an IANA name such as "
            "Asia/Ho_Chi_Minh or Europe/Prague",
        ),
        (("--text", "a", "--cron", "61 6 * * *"), "--cron: '61 6 * * *' is not valid; expected"),
        (
            ("--text", "a", "--daily", "06:00", "--cron", "0 6 * * *"),
            "--daily, --weekly, --monthly, --once, --cron: give exactly one "
            "(found --daily, --cron)",
        ),
        (
            ("--text", "a"),
            "--daily, --weekly, --monthly, --once, --cron: give exactly one (found none)",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--daily", "17:00"),
            "--daily: given 2 times; give it once, e.g. --daily 06:00,17:00",
        ),
        (
            ("--daily", "06:00"),
            "--content/--text: nothing to play; give --content [LANG=]ID (stored audio) or "
            "--text [LANG=]TEXT (read aloud)",
        ),
        (
            ("--content", "vi=3fa2b1c9", "--text", "a", "--daily", "06:00"),
            "--text: language 'vi' is given twice (--content and --text); give each language once",
        ),
        (
            ("--content", "xyz", "--daily", "06:00"),
            "--content vi: 'xyz' is not 6 to 64 lower-case hex digits of a stored content id "
            "(loa audio list)",
        ),
        (
            ("--text", "Tay=a", "--daily", "06:00"),
            "--text: language 'Tay' is not a language code; expected 2 to 8 lower-case "
            "letters, like 'vi', 'tay', 'nung', 'hmn' or 'dao'",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--lead-s", "15m"),
            "--lead-s: '15m' is not a whole number; expected 0 to 604800 seconds",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--volume", "101"),
            "--volume: 101 is out of range; expected 0 to 100 percent",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--priority", "urgent"),
            "--priority: 'urgent' is not a priority; expected one of emergency, live, priority, "
            "normal, background",
        ),
        (
            ("--text", "a", "--daily", "06:00", "--chime", "twice"),
            "--chime: 'twice' is not a chime; expected one of none, before, after, both",
        ),
    ],
)
def test_a_bad_flag_is_one_error_line_naming_it_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], config: Path, argv: tuple[str, ...], error: str
) -> None:
    code, out, err = loa(capsys, "schedule", "add", "z", *BASE, *argv, "--config", str(config))
    assert (code, out) == (2, "")
    assert one_error_line(err).startswith(f"loa: error: {error}")
    assert err.count("\n") == 1
    assert stored(capsys, config) == []


def test_a_bad_id_title_or_targets_names_the_argument(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    for argv, error in (
        (("Sang", *BASE), "ID: 'Sang' is not a valid schedule id"),
        (("sang", "--title", " ", "--to", "all"), "--title: ' ' is not a title"),
        (("sang", "--title", "x", "--to", "all,xa"), "--to: 'all,xa' combines all with other"),
    ):
        code, _, err = loa(
            capsys, "schedule", "add", *argv, "--text", "a", "--daily", "06:00",
            "--config", str(config),
        )  # fmt: skip
        assert code == 2
        assert one_error_line(err).startswith(f"loa: error: {error}")
    assert stored(capsys, config) == []


def test_an_unknown_target_or_content_is_reported_by_the_store_check_and_nothing_stored(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, _, err = loa(
        capsys, "schedule", "add", "z", "--title", "x", "--to", "tra-linh,ban-khong",
        "--content", "abcdef12", "--daily", "06:00", "--config", str(config),
    )  # fmt: skip
    assert code == 2
    assert err.splitlines() == [
        "loa: error: schedule 'z': targets: target 'ban-khong' is neither a registered "
        "receiver nor a group; `loa devices list` shows both",
        "schedule 'z': contents.vi: no audio content has an id starting 'abcdef12'; "
        "see `loa audio list`",
        "nothing was applied",
    ]
    assert stored(capsys, config) == []


def test_air_times_are_shown_in_the_given_zone(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, err = loa(
        capsys, "schedule", "add", "p", *BASE, "--text", "a", "--once", "2030-07-01 02:30",
        "--zone", "Europe/Prague", "--json", "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    [row] = json.loads(out)["occurrences"]
    assert (row["air_local"], row["air_utc"]) == (
        "2030-07-01T02:30:00+02:00",
        "2030-07-01T00:30:00Z",
    )
