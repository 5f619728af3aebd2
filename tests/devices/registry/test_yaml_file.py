"""The YAML registry file: the example, and every problem reported at its line at once."""

from __future__ import annotations

import textwrap
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from devices.registry import Group, RegistryFileError, parse_registry, read_registry
from tests.devices.registry.support import EXAMPLE_YAML, assert_problems, problems

HEAD = """\
province: {id: cao-bang, name: Tỉnh Cao Bằng}
communes:
  - id: tra-linh
    name: Xã Trà Lĩnh
    villages:
      - {id: na-vuong, name: Bản Nà Vường}
      - {id: po-tau, name: Xóm Pò Tấu}
groups:
  - {id: market, name: Khu vực chợ, parent: tra-linh}
receivers:
"""


def yaml_problems(receivers: str, head: str = HEAD) -> list[tuple[int | None, str]]:
    return problems(head + textwrap.dedent(receivers), "yaml")


def test_the_example_file_reads_as_one_commune_of_six_villages() -> None:
    registry = read_registry(EXAMPLE_YAML)
    tree = registry.tree
    kinds = [g.kind for g in registry.groups]
    assert kinds.count("province") == 1
    assert kinds.count("commune") == 1
    assert kinds.count("village") == 6
    assert kinds.count("free") == 3
    assert len(registry.receivers) == 30
    for receiver in registry.receivers:
        commune = tree.commune_of(receiver)
        assert commune is not None
        assert commune.name == "Xã Trà Lĩnh"
        assert receiver.lat is not None
        assert receiver.lon is not None
        assert 22.6 <= receiver.lat <= 22.9
        assert 106.0 <= receiver.lon <= 106.5
    assert {r.language for r in registry.receivers} == {"tay", "nung", "hmn", "vi"}
    first = registry.receivers[0]
    assert first.name == "Loa đầu bản Nà Vường"
    assert first.installed == date(2024, 9, 16)
    assert tree.get("na-vuong") == Group("na-vuong", "Bản Nà Vường", "village", "tra-linh")


def test_a_minimal_receiver_gets_the_defaults_and_gps_or_lat_lon_give_the_position() -> None:
    registry = parse_registry(
        HEAD
        + "  - {id: rx-1, name: Loa 1, village: na-vuong}\n"
        + "  - {id: rx-2, name: Loa 2, village: na-vuong, gps: '22.8, 106.3'}\n"
        + "  - {id: rx-3, name: Loa 3, village: na-vuong, gps: [22.8, 106.3]}\n"
        + "  - {id: rx-4, name: Loa 4, village: na-vuong, lat: 22.8, lon: 106.3}\n"
        + "  - {id: rx-5, name: Loa 5, village: na-vuong, languages: tay, groups: market}\n",
        "reg",
        "yaml",
    )
    rx = registry.receivers
    assert (rx[0].lat, rx[0].languages, rx[0].speakers, rx[0].heartbeat_s) == (None, ("vi",), 1, 60)
    assert {(r.lat, r.lon) for r in rx[1:4]} == {(22.8, 106.3)}
    assert (rx[4].languages, rx[4].groups) == (("tay",), ("market",))


def test_text_is_taken_as_written_not_as_yaml_1_1_guesses() -> None:
    registry = parse_registry(
        HEAD + "  - {id: 0123, name: yes, village: na-vuong, languages: [no, on], notes: 1e3}\n",
        "reg",
        "yaml",
    )
    [rx] = registry.receivers
    assert (rx.id, rx.name, rx.languages, rx.notes) == ("0123", "yes", ("no", "on"), "1e3")


def test_decomposed_vietnamese_is_stored_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Loa Nà Đoỏng")
    assert decomposed != "Loa Nà Đoỏng"
    registry = parse_registry(
        HEAD + f"  - {{id: rx-1, name: {decomposed}, village: na-vuong}}\n", "reg", "yaml"
    )
    assert registry.receivers[0].name == "Loa Nà Đoỏng"


def test_every_problem_is_reported_with_its_line_in_one_go() -> None:
    found = yaml_problems(
        """\
          - id: rx-1
            name: Loa 1
            village: na-vuong
          - id: rx-1
            name: Loa 1 again
            village: po-tau
          - id: Loa Hai
            name: Loa 2
            village: na-vuong
          - id: rx-3
            name: Loa 3
            village: na-vuongg
            lat: 95
            lon: 106.3
            speakers: two
            heartbeat_s: 5
            installed: 2025-02-30
            groups: [market, tra-linh, nope]
          - id: rx-4
            village: pac-bo
            gps: 0, 0
            vilage: na-vuong
          - id: rx-5
            name: Loa 5
            village: po-tau
            gps: 22.8
            languages: {main: tay}
        """
    )
    assert_problems(
        found,
        [
            (14, "receiver id 'rx-1' appears twice (lines 11 and 14)"),
            (17, "receiver id 'Loa Hai' is not valid"),
            (22, "village 'na-vuongg' is no known village; did you mean 'na-vuong'?"),
            (23, "lat 95 is outside -90 to 90"),
            (25, "speakers must be a whole number from 1 to 8, not 'two'"),
            (26, "heartbeat_s must be a whole number from 10 to 3600, not 5"),
            (27, "installed must be a date without a time, like 2025-06-12, not '2025-02-30'"),
            (28, "'tra-linh' is a commune, and `groups` lists free groups only"),
            (28, "group 'nope' is no known group"),
            (29, "receiver 'rx-4' has no name; add `name`"),
            (30, "village 'pac-bo' is no known village"),
            (31, "lat 0, lon 0 is what a GPS reports without a fix"),
            (32, "unknown key 'vilage' in a receiver; did you mean 'village'?"),
            (36, "gps 22.8 is not a position; write gps as 'LAT, LON'"),
            (37, "languages must be a list of codes"),
        ],
    )


def test_each_group_item_on_its_own_line_is_named_by_its_line() -> None:
    found = yaml_problems(
        """\
          - id: rx-1
            name: Loa 1
            village: na-vuong
            groups:
              - market
              - markt
        """
    )
    assert_problems(found, [(16, "group 'markt' is no known group; did you mean 'market'?")])


def test_group_problems_duplicates_bad_ids_and_misplaced_parents() -> None:
    head = """\
province: {id: cao-bang, name: Tỉnh Cao Bằng}
communes:
  - id: tra-linh
    name: Xã Trà Lĩnh
    villages:
      - {id: na-vuong, name: Bản Nà Vường}
      - {id: na-vuong, name: Bản Nà Vường 2}
      - {id: tra-linh}
      - {id: Pò Tấu, name: Xóm Pò Tấu}
      - {name: Xóm không id}
      - {id: coc-phay, name: ''}
groups:
  - {id: market, name: Chợ, parent: na-vuong}
  - {id: school, name: Trường, parent: nowhere}
  - {id: border, name: Biên giới, parnt: tra-linh}
receivers:
"""
    found = problems(head, "yaml")
    assert_problems(
        found,
        [
            (7, "group id 'na-vuong' is already the village on line 6"),
            (8, "group id 'tra-linh' is already the commune on line 3"),
            (9, "village id 'Pò Tấu' is not valid"),
            (10, "a village has no id; add `id:`"),
            (11, "name of village 'coc-phay' is empty"),
            (13, "free group 'market' is under village 'na-vuong'; a free group belongs under "),
            (14, "free group 'school' is under 'nowhere', which is no known group"),
            (15, "unknown key 'parnt' in a free group; did you mean 'parent'?"),
        ],
    )


def test_a_name_that_is_not_text_is_named_at_its_own_line() -> None:
    found = problems("communes:\n  - id: tra-linh\n    name: [Xã, Trà Lĩnh]\n", "yaml")
    assert found == [(3, "name of commune 'tra-linh' must be text, not ['Xã', 'Trà Lĩnh']")]


def test_structure_problems_name_the_key_and_line() -> None:
    found = problems(
        """\
province: [cao-bang]
communes:
  id: tra-linh
groups: market
receivers:
  - just text
recievers: []
""",
        "yaml",
    )
    assert_problems(
        found,
        [
            (1, "a province must be a mapping of keys (id, name)"),
            (3, "`communes` must be a list"),
            (4, "`groups` must be a list"),
            (6, "a receiver must be a mapping of keys"),
            (7, "unknown key 'recievers' in the registry file; did you mean 'receivers'?"),
        ],
    )


def test_a_key_given_twice_is_an_error_not_a_silent_overwrite() -> None:
    found = yaml_problems(
        """\
          - id: rx-1
            name: Loa 1
            village: na-vuong
            name: Loa một
        """
    )
    assert_problems(found, [(14, "key 'name' appears twice in a receiver (lines 12 and 14)")])


def test_gps_and_lat_lon_together_is_an_error() -> None:
    found = yaml_problems(
        "  - {id: rx-1, name: Loa, village: na-vuong, gps: '22.8, 106.3', lat: 1}\n"
    )
    assert_problems(found, [(11, "give the position as gps or as lat and lon, not both")])


def test_lat_without_lon_is_an_error() -> None:
    found = yaml_problems("  - {id: rx-1, name: Loa, village: na-vuong, lat: 22.8}\n")
    assert_problems(found, [(11, "give both lat and lon, or neither")])


def test_a_yaml_syntax_error_names_its_line() -> None:
    found = problems("receivers:\n  - id: rx-1\n    name: [Loa\n", "yaml")
    assert len(found) == 1
    line, text = found[0]
    assert line is not None
    assert line >= 3
    assert text.startswith("not valid YAML")


def test_an_empty_file_says_where_to_start() -> None:
    assert problems("# nothing yet\n", "yaml") == [
        (None, "the file is empty; start from docs/examples/registry.yaml")
    ]


def test_the_error_lists_each_problem_as_file_colon_line() -> None:
    with pytest.raises(RegistryFileError) as caught:
        parse_registry(
            HEAD + "  - {id: rx-1, name: Loa, village: nope}\n  - {}\n", "reg.yaml", "yaml"
        )
    assert str(caught.value).splitlines() == [
        "reg.yaml:11: receiver 'rx-1': village 'nope' is no known village; check the spelling, "
        "or declare the village in the file",
        "reg.yaml:12: a receiver has no id; add `id` (like `id: tl-na-vuong-1`)",
        "reg.yaml:12: receiver has no name; add `name`",
        "reg.yaml:12: receiver has no village; add `village`",
    ]


def test_a_file_is_read_as_utf8_with_or_without_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "reg.yml"
    path.write_bytes(
        b"\xef\xbb\xbf" + (HEAD + "  - {id: rx-1, name: Loa Nà, village: na-vuong}\n").encode()
    )
    assert read_registry(path).receivers[0].name == "Loa Nà"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "reg.yaml"
    path.write_bytes((HEAD + "  - {id: rx-1, name: Loa ").encode() + "Nà".encode("cp1258") + b"}\n")
    with pytest.raises(RegistryFileError) as caught:
        read_registry(path)
    assert caught.value.errors == [
        (11, 'not UTF-8 text; save the file as UTF-8 ("CSV UTF-8" in Excel)')
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("reg.txt", "cannot tell the format from '.txt'"),
        ("missing.yaml", "file not found"),
    ],
)
def test_files_that_cannot_be_read(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "reg.txt").write_text("x")
    with pytest.raises(RegistryFileError, match=message) as caught:
        read_registry(tmp_path / name)
    assert str(caught.value).startswith(str(tmp_path / name) + ": ")


def test_a_folder_is_not_a_registry_file(tmp_path: Path) -> None:
    folder = tmp_path / "reg.yaml"
    folder.mkdir()
    with pytest.raises(RegistryFileError, match="is a folder"):
        read_registry(folder)
