"""Schedule YAML files: a good calendar read whole; every bad input named with FILE:LINE."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from schedules.file import ScheduleFileError, read_schedules
from schedules.recurrence import Cron, Daily, MonthlyNth, Once, Weekly
from schedules.when import occurrences

COMMUNE = """\
schedules:
  - id: sang-chieu
    title: Chương trình phát thanh sáng và chiều
    when:
      daily: ["06:00", "17:00"]
      from: 2026-12-01
    targets: tra-linh
    contents: {vi: 3fa2b1c9d0e1, tay: 77aa01bc}
    duration_s: 1800
  - id: cho-phien
    title: Thông báo chợ phiên
    when:
      weekly: {days: [T2, thu], at: "7:30"}
      from: 2026-12-01
      except: [2026-12-31]
    targets: tl-na-vuong, tl-po-tau
    text: {vi: "Chợ phiên họp sáng mai."}
    priority: priority
    lead_s: 3600
    expires_after_s: 1800
    enabled: false
    volume: 80
    repeat: 2
    chime: before
  - id: tiem-chung
    title: Chiến dịch tiêm chủng
    when:
      daily: "19:00"
      from: 2026-12-01
      until: 2026-12-14
      except: [2026-12-07]
      zone: Asia/Ho_Chi_Minh
    targets: all
    text: {vi: "Tiêm chủng tại trạm y tế xã."}
  - id: hop-thang
    title: Họp dân tháng
    when: {monthly: {nth: last, day: cn, at: ["08:00"]}, from: 2026-12-01}
    targets: tra-linh
    contents: {vi: "123456"}
  - id: ca-nhac
    title: Ca nhạc cuối tuần
    when: {cron: "30 6 * * 6,0", from: 2026-12-01}
    targets: tra-linh
    contents: {vi: abcdef}
    priority: background
  - id: le-khanh-thanh
    title: Lễ khánh thành
    when: {once: "2026-12-03 19:00"}
    targets: tra-linh
    text: {vi: "Mời bà con dự lễ."}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScheduleFileError) as caught:
        read_schedules(path)
    return str(caught.value).splitlines()


def test_a_commune_calendar_is_read_with_every_kind_and_field(tmp_path: Path) -> None:
    schedules = {s.id: s for s in read_schedules(write(tmp_path, "xa.yaml", COMMUNE))}
    assert list(schedules) == [
        "sang-chieu",
        "cho-phien",
        "tiem-chung",
        "hop-thang",
        "ca-nhac",
        "le-khanh-thanh",
    ]
    daily = schedules["sang-chieu"]
    assert daily.when.recurrence == Daily((time(6), time(17)))
    assert daily.contents == (("vi", "3fa2b1c9d0e1"), ("tay", "77aa01bc"))
    assert (daily.duration_s, daily.lead_s, daily.enabled) == (1800, 900, True)
    weekly = schedules["cho-phien"]
    assert weekly.when.recurrence == Weekly((0, 3), (time(7, 30),))
    assert weekly.when.exceptions == frozenset({date(2026, 12, 31)})
    assert weekly.targets == "tl-na-vuong,tl-po-tau"
    assert (weekly.priority, weekly.lead_s, weekly.expires_after_s) == ("priority", 3600, 1800)
    assert (weekly.enabled, weekly.volume, weekly.repeat, weekly.chime) == (False, 80, 2, "before")
    campaign = schedules["tiem-chung"].when
    assert (campaign.start, campaign.until) == (date(2026, 12, 1), date(2026, 12, 14))
    after = datetime(2026, 11, 30, tzinfo=UTC)
    assert len(occurrences(campaign, after, 100)) == 13  # 14 evenings but the 7th
    assert schedules["hop-thang"].when.recurrence == MonthlyNth(-1, 6, (time(8),))
    assert schedules["hop-thang"].contents == (("vi", "123456"),)  # text, not the number
    assert schedules["ca-nhac"].when.recurrence == Cron("30 6 * * 6,0")
    once = schedules["le-khanh-thanh"].when
    assert once.recurrence == Once(date(2026, 12, 3), time(19))
    assert occurrences(once, after, 5) == [datetime(2026, 12, 3, 12, tzinfo=UTC)]


def test_a_folder_is_one_calendar_read_file_by_file(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", COMMUNE.split("  - id: tiem-chung", maxsplit=1)[0])
    write(
        tmp_path, "a.yml", "schedules:\n  - id: tiem-chung" + COMMUNE.split("- id: tiem-chung")[1]
    )
    write(tmp_path, "notes.txt", "not a schedule file")
    ids = [s.id for s in read_schedules(tmp_path)]
    assert ids == [
        "tiem-chung",
        "hop-thang",
        "ca-nhac",
        "le-khanh-thanh",
        "sang-chieu",
        "cho-phien",
    ]


def test_an_id_used_in_two_files_of_a_folder_is_refused_naming_both(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", COMMUNE)
    second = write(tmp_path, "b.yaml", "\n" + COMMUNE.split("  - id: cho-phien", maxsplit=1)[0])
    assert problems(tmp_path) == [
        f"{second}:3: schedule id 'sang-chieu' is already used at {tmp_path / 'a.yaml'}:2; "
        "give each schedule its own id"
    ]


GOOD = """\
schedules:
  - id: sang
    title: Sáng
    when:
      daily: ["06:00"]
      from: 2026-12-01
    targets: all
    text: {vi: Xin chào}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    targets: all",
            "    tagrets: all",
            [
                ":2: schedule 'sang' has no targets; add `targets:`",
                ":7: unknown key 'tagrets' in a schedule; did you mean 'targets'?",
            ],
        ),
        (
            "      from: 2026-12-01",
            "      from: 2026-02-31",
            [
                ":6: when.from: '2026-02-31' is not valid; expected a real calendar date "
                "written YYYY-MM-DD, e.g. 2025-02-28"
            ],
        ),
        (
            "      from: 2026-12-01",
            "      from: 2026-12-10\n      until: 2026-12-01",
            [
                ":7: when: when.until: '2026-12-01' is not valid; expected a date on or after "
                "start 2026-12-10"
            ],
        ),
        (
            "      from: 2026-12-01",
            "      from: 2026-12-01\n      zone: Asia/Hanoi_City",
            [
                ":7: when.zone: 'Asia/Hanoi_City' is not a time zone; expected an IANA name "
                "such as Asia/Ho_Chi_Minh or Europe/Prague"
            ],
        ),
        (
            '      daily: ["06:00"]',
            '      cron: "0 6 * * mon-fry"',
            [
                ":5: when.cron: '0 6 * * mon-fry' is not valid; expected a day-of-week of 0-7 "
                "(0 and 7 are Sunday) or sun..sat, not 'fry'"
            ],
        ),
        (
            "    targets: all",
            "    targets: all\n    volume: [80]",
            [":8: schedule 'sang': volume: [80] is not a whole number; expected 0 to 100 percent"],
        ),
        (
            '      daily: ["06:00"]',
            '      weekly: {days: [mon, thurs], at: ["07:30"]}',
            [
                ":5: when.weekly.days: 'thurs' is not a weekday mon, tue, wed, thu, fri, sat, "
                "sun (or t2..t7, cn); did you mean 'thu'?"
            ],
        ),
        (
            '      daily: ["06:00"]',
            '      daily: ["06:00", "24:00"]',
            [
                ":5: when.daily: '24:00' is not valid; expected a time of day HH:MM between "
                "00:00 and 23:59, e.g. 06:00"
            ],
        ),
        (
            "    title: Sáng",
            "    title: Sáng\n    title: Chiều",
            [":4: key 'title' appears twice in a schedule (lines 3 and 4); keep one"],
        ),
        (
            "    text: {vi: Xin chào}",
            "    text: {vi: Xin chào}\n    contents: {vi: abcdef}",
            [
                ":9: schedule 'sang': text: language 'vi' is given twice (in contents and "
                "text, or twice); give each language once"
            ],
        ),
        (
            '      daily: ["06:00"]',
            '      daily: ["06:00"]\n      once: "2026-12-03 19:00"',
            [
                ":5: when needs exactly one of daily, weekly, monthly, once, cron "
                "(found daily, once)"
            ],
        ),
        (
            "      from: 2026-12-01",
            "      except: [2026-12-07]",
            [":5: when has no from; add `from: YYYY-MM-DD`, the first day it plays"],
        ),
        (
            "    targets: all",
            "    targets: all\n    enabled: maybe",
            [":8: schedule 'sang': enabled: 'maybe' is not true or false"],
        ),
    ],
)
def test_each_bad_input_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in GOOD
    path = write(tmp_path, "xa.yaml", GOOD.replace(old, new))
    assert problems(path) == [f"{path}{line}" for line in expected]


def test_every_problem_of_a_file_is_reported_and_nothing_is_returned(tmp_path: Path) -> None:
    again = GOOD.removeprefix("schedules:\n").replace("Xin chào", "Chào")  # id 'sang' again
    third = (
        "  - id: Chieu\n    title: Chiều\n    when: {daily: '17:00', from: 2026-12-01}\n"
        "    targets: all\n    text: {vi: Chào}\n    priority: high\n"
    )
    path = write(tmp_path, "xa.yaml", GOOD + again + third)
    assert problems(path) == [
        f"{path}:9: schedule id 'sang' is already used at line 2; give each schedule its own id",
        f"{path}:16: schedule 'Chieu': id: 'Chieu' is not a valid schedule id; expected 1 to 40 "
        "lower-case letters, digits, '_' or '-', starting with a letter or digit",
        f"{path}:21: schedule 'Chieu': priority: 'high' is not a priority; expected one of "
        "emergency, live, priority, normal, background",
    ]


def test_files_that_are_not_calendars_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path / "nowhere.yaml") == [
        f"{tmp_path / 'nowhere.yaml'}: not found; check the path"
    ]
    assert problems(tmp_path) == [f"{tmp_path}: holds no *.yaml schedule files"]
    empty = write(tmp_path, "empty.yaml", "")
    assert problems(empty) == [f"{empty}: the file is empty; start it with `schedules:` and a list"]
    typo = write(tmp_path, "empty.yaml", "schedule:\n  - id: x\n")
    assert problems(typo) == [
        f"{typo}:1: unknown key 'schedule' in a schedule file; did you mean 'schedules'?",
        f"{typo}:1: the file has no `schedules:` list",
    ]
    broken = write(tmp_path, "empty.yaml", "schedules:\n  - id: [x\n")
    assert problems(broken)[0].startswith(f"{broken}:3: not valid YAML")
    assert read_schedules(write(tmp_path, "empty.yaml", "schedules: []\n")) == []


def test_the_example_in_the_docs_is_a_valid_calendar(tmp_path: Path) -> None:
    docs = Path(__file__).parents[2] / "docs" / "schedules.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    schedules = read_schedules(write(tmp_path, "tra-linh.yaml", example))
    assert [s.id for s in schedules] == ["tl-sang-chieu", "tl-cho-phien", "tl-tiem-chung"]
    campaign = schedules[2].when
    assert len(occurrences(campaign, datetime(2026, 11, 30, tzinfo=UTC), 30)) == 13
