"""The CSV registry file: one receiver per row, groups made from the id columns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from devices.registry import Group, parse_registry, read_registry
from tests.devices.registry.support import EXAMPLE_CSV, assert_problems, problems

HEADER = (
    "id,name,province,commune,village,lat,lon,groups,languages,speakers,installed,notes,"
    "heartbeat_s\n"
)


def test_the_example_file_makes_its_groups_from_the_id_columns() -> None:
    registry = read_registry(EXAMPLE_CSV)
    tree = registry.tree
    assert tree.get("cao-bang") == Group("cao-bang", "Cao Bang", "province")
    assert tree.get("tra-linh") == Group("tra-linh", "Tra Linh", "commune", "cao-bang")
    assert tree.get("lung-nam") == Group("lung-nam", "Lung Nam", "village", "tra-linh")
    assert tree.get("tl-bien-gioi") == Group("tl-bien-gioi", "Tl Bien Gioi", "free")
    assert len(registry.receivers) == 5
    lung_nam = next(r for r in registry.receivers if r.id == "tl-lung-nam-4")
    assert lung_nam.name == "Loa Lũng Nặm trên"
    assert lung_nam.notes == "Pin mặt trời; đường lên chỉ đi xe máy được."
    assert (lung_nam.languages, lung_nam.groups) == (("hmn", "vi"), ("tl-bien-gioi",))
    assert (lung_nam.speakers, lung_nam.installed, lung_nam.heartbeat_s) == (
        1,
        date(2025, 1, 21),
        300,
    )


def test_only_the_required_columns_are_needed_and_empty_cells_take_the_defaults() -> None:
    registry = parse_registry(
        "Village, Commune ,ID,name\n"
        "na-vuong,tra-linh,rx-1,Loa 1\n"
        "\n"
        "# a comment row\n"
        "po-tau,tra-linh,rx-2,Loa 2\n",
        "reg.csv",
        "csv",
    )
    assert [g.id for g in registry.groups] == ["tra-linh", "na-vuong", "po-tau"]
    assert registry.tree.get("tra-linh") == Group("tra-linh", "Tra Linh", "commune")
    rx = registry.receivers[1]
    assert (rx.id, rx.village_id, rx.lat, rx.languages, rx.heartbeat_s) == (
        "rx-2",
        "po-tau",
        None,
        ("vi",),
        60,
    )


def test_every_problem_is_reported_with_the_line_its_row_starts_on() -> None:
    found = problems(
        HEADER
        + 'rx-1,"Loa chợ, Trà Lĩnh",cao-bang,tra-linh,na-vuong,22.8,106.3,market,tay;vi,2,,"a\nb",'
        + "\n"
        + "rx-1,Loa 1b,cao-bang,tra-linh,na-vuong,,,,,,,,\n"
        + 'rx-3,Loa 3,cao-bang,tra-linh,na-vuong,"22,8",106.3,,Tày,nine,12/06/2025,,5\n'
        + "rx-4,Loa 4,cao-bang,xa-khac,na-vuong,0,0,,,,,,\n"
        + "rx-5,Loa 5,cao-bang,,po-tau,22.8,,,,,,,\n"
        + "rx-6,Loa 6,cao-bang,tra-linh,market,,,,,,,,\n"
        + "rx-7,Loa 7,cao-bang,tra-linh,na-vuong\n"
        + "Rx 8,,cao-bang,tra-linh,Nà Vường,,,Chợ;,,,,,\n",
        "csv",
    )
    assert_problems(
        found,
        [
            (4, "receiver id 'rx-1' appears twice (lines 2 and 4)"),
            (5, "lat must be a number of decimal degrees like 22.6834, not '22,8'"),
            (5, "language 'Tày' is not a language code"),
            (5, "speakers must be a whole number from 1 to 8, not 'nine'"),
            (5, "installed must be a date without a time, like 2025-06-12, not '12/06/2025'"),
            (5, "heartbeat_s must be a whole number from 10 to 3600, not 5"),
            (6, "village 'na-vuong' is under 'tra-linh' on line 2 but under 'xa-khac' here"),
            (6, "lat 0, lon 0 is what a GPS reports without a fix"),
            (7, "receiver 'rx-5' has no commune; fill the commune cell"),
            (7, "give both lat and lon, or neither"),
            (8, "group id 'market' is already the free group on line 2"),
            (8, "'market' is a free group, not a village"),
            (9, "this row has 5 cells but the header has 13"),
            (10, "receiver id 'Rx 8' is not valid"),
            (10, "village id 'Nà Vường' is not valid"),
            (10, "group id 'Chợ' is not valid"),
            (10, "receiver has no name; add `name`"),
        ],
    )


def test_header_problems_unknown_repeated_and_missing_columns() -> None:
    found = problems("id,nmae,village,lat,lat,colour\nrx-1,Loa,na-vuong,1,2,red\n", "csv")
    assert_problems(
        found,
        [
            (1, "unknown column 'nmae'; did you mean 'name'?"),
            (1, "column 'lat' appears twice in the header; keep one"),
            (1, "unknown column 'colour'; expected id, name, province"),
            (1, "the header has no name, commune column; add it"),
        ],
    )


def test_unknown_columns_are_reported_and_the_rows_still_checked() -> None:
    found = problems(
        HEADER.rstrip("\n") + ",colour\nrx-1,Loa,,tra-linh,na-vuong,95,1,,,,,,,red\n", "csv"
    )
    assert_problems(found, [(1, "unknown column 'colour'"), (2, "lat 95.0 is outside -90 to 90")])


def test_a_file_without_a_header_says_what_the_header_is() -> None:
    assert_problems(problems("\n# only comments\n", "csv"), [(None, "the file has no header row")])


def test_an_excel_file_with_a_byte_order_mark_and_crlf_reads(tmp_path: Path) -> None:
    path = tmp_path / "reg.CSV"
    row = 'rx-1,Loa Nà Vường,,tra-linh,na-vuong,22.8,106.3,,tay;vi,2,2025-06-12,"a\r\nb",60'
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER.replace("\n", "\r\n") + row + "\r\n").encode())
    [rx] = read_registry(path).receivers
    assert (rx.name, rx.languages, rx.notes) == ("Loa Nà Vường", ("tay", "vi"), "a\r\nb")
