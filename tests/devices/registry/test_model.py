"""Groups and receivers: what the model accepts and refuses, and the ways through the tree."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pytest

from devices.registry import Group, GroupTree, Receiver, readable_name

TRA_LINH = [
    Group("cao-bang", "Tỉnh Cao Bằng", "province"),
    Group("tra-linh", "Xã Trà Lĩnh", "commune", "cao-bang"),
    Group("na-vuong", "Bản Nà Vường", "village", "tra-linh"),
    Group("po-tau", "Xóm Pò Tấu", "village", "tra-linh"),
    Group("market", "Khu vực chợ", "free", "tra-linh"),
    Group("schools", "Trường học", "free"),
]


def receiver(**changes: Any) -> Receiver:
    fields: dict[str, Any] = {
        "id": "tl-na-vuong-1",
        "name": "Loa đầu bản Nà Vường",
        "village_id": "na-vuong",
        "lat": 22.82663,
        "lon": 106.30273,
    }
    return Receiver(**(fields | changes))


def test_a_receiver_has_sensible_defaults() -> None:
    rx = Receiver("rx-1", "Loa 1", "na-vuong")
    assert (rx.lat, rx.lon, rx.groups, rx.languages) == (None, None, (), ("vi",))
    assert (rx.speakers, rx.installed, rx.notes, rx.heartbeat_s) == (1, None, "", 60)
    assert rx.language == "vi"


def test_the_first_language_is_the_main_one() -> None:
    assert receiver(languages=("tay", "vi")).language == "tay"


def test_free_groups_have_no_order() -> None:
    assert receiver(groups=("schools", "market")) == receiver(groups=("market", "schools"))
    assert receiver(groups=("schools", "market")).groups == ("market", "schools")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Loa 1"}, "receiver id 'Loa 1' is not valid"),
        ({"id": "a" * 41}, "is not valid"),
        ({"name": ""}, "is empty"),
        ({"name": "   "}, "is empty"),
        ({"name": " Loa"}, "spaces around it"),
        ({"name": "Loa\n1"}, "control characters"),
        ({"name": "x" * 201}, "at most 200"),
        ({"village_id": "Nà Vường"}, "village id"),
        ({"lat": 90.5}, "lat 90.5 is outside -90 to 90"),
        ({"lon": -180.01}, "lon -180.01 is outside -180 to 180"),
        ({"lat": math.nan}, "lat nan is not a number of degrees"),
        ({"lon": math.inf}, "lon inf is not a number of degrees"),
        ({"lat": 0.0, "lon": 0.0}, "without a fix"),
        ({"lat": 0, "lon": 0}, "without a fix"),
        ({"lat": None}, "give both lat and lon, or neither"),
        ({"lat": True}, "must be a number"),
        ({"lat": "22.8"}, "must be a number"),
        ({"groups": ("market", "market")}, "name a group twice"),
        ({"groups": ("Chợ",)}, "group id 'Chợ' is not valid"),
        ({"languages": ()}, "languages is empty"),
        ({"languages": "vi"}, "languages must be a list"),
        ({"languages": ("Tày",)}, "language 'Tày' is not a language code"),
        ({"languages": ("vi", "vi")}, "name a language twice"),
        ({"speakers": 0}, "speakers must be a whole number from 1 to 8, not 0"),
        ({"speakers": 9}, "not 9"),
        ({"speakers": True}, "not True"),
        ({"heartbeat_s": 9}, "heartbeat_s must be a whole number from 10 to 3600"),
        ({"heartbeat_s": 3601}, "not 3601"),
        ({"installed": datetime(2025, 6, 12, 10, 0)}, "a date without a time"),  # noqa: DTZ001
        ({"installed": "2025-06-12"}, "a date without a time"),
        ({"notes": "a\x00b"}, "NUL"),
    ],
)
def test_a_bad_receiver_is_refused_saying_what_is_wrong(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(")):
        receiver(**changes)


def test_a_position_anywhere_on_earth_is_accepted_but_not_the_no_fix_origin() -> None:
    assert receiver(lat=-33.9, lon=151.2).lat == -33.9
    assert receiver(lat=0.0, lon=106.3).lat == 0.0
    assert receiver(lat=90, lon=-180).lon == -180


def test_vietnamese_names_are_kept_as_written() -> None:
    assert receiver(name="Loa nhà văn hoá Nà Đoỏng").name == "Loa nhà văn hoá Nà Đoỏng"
    assert receiver(installed=date(2025, 6, 12)).installed == date(2025, 6, 12)


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (("Trà Lĩnh", "Xã Trà Lĩnh", "commune", None), "group id 'Trà Lĩnh' is not valid"),
        (("tra-linh", "", "commune", None), "is empty"),
        (("tra-linh", "Xã Trà Lĩnh", "district", None), "kind 'district'"),
        (("na-vuong", "Bản Nà Vường", "village", None), "village 'na-vuong' needs a parent"),
        (("cao-bang", "Tỉnh Cao Bằng", "province", "vn"), "cannot have a parent"),
        (("market", "Chợ", "free", "market"), "its own parent"),
    ],
)
def test_a_bad_group_is_refused(group: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Group(*group)


def test_the_tree_gives_a_receivers_commune_and_province() -> None:
    tree = GroupTree(TRA_LINH)
    rx = receiver(groups=("market",))
    commune, province = tree.commune_of(rx), tree.province_of(rx)
    assert commune is not None
    assert province is not None
    assert (commune.name, province.name) == ("Xã Trà Lĩnh", "Tỉnh Cao Bằng")
    assert [g.id for g in tree.ancestors("na-vuong")] == ["tra-linh", "cao-bang"]


def test_a_commune_without_a_province_has_none() -> None:
    tree = GroupTree(
        [
            Group("tra-linh", "Xã Trà Lĩnh", "commune"),
            Group("na-vuong", "Nà Vường", "village", "tra-linh"),
        ]
    )
    assert tree.province_of(receiver()) is None
    commune = tree.commune_of(receiver())
    assert commune is not None
    assert commune.id == "tra-linh"


def test_descendants_go_all_the_way_down() -> None:
    tree = GroupTree(TRA_LINH)
    assert tree.descendants("cao-bang") == {"cao-bang", "tra-linh", "na-vuong", "po-tau", "market"}
    assert tree.descendants("na-vuong") == {"na-vuong"}
    assert tree.includes("tra-linh", receiver())
    assert tree.includes("schools", receiver(groups=("schools",)))
    assert not tree.includes("schools", receiver())
    assert not tree.includes("po-tau", receiver())


def test_a_cycle_in_stored_data_does_not_hang_the_tree() -> None:
    # The model's kind rules make cycles impossible; the walk must end even so.
    a = Group("a", "A", "free", "b")
    b = Group("b", "B", "free", "a")
    tree = GroupTree([a, b])
    assert [g.id for g in tree.ancestors("a")] == ["b"]
    assert tree.descendants("a") == {"a", "b"}


def test_problems_name_every_broken_reference() -> None:
    tree = GroupTree([*TRA_LINH, Group("lost", "Lost", "village", "nowhere")])
    problems = tree.problems(
        [
            receiver(id="rx-1", village_id="tra-linh"),
            receiver(id="rx-2", village_id="pac-bo"),
            receiver(id="rx-3", groups=("po-tau", "nope")),
        ]
    )
    assert problems == [
        "village 'lost' is under 'nowhere', which is no known group",
        "receiver 'rx-1': 'tra-linh' is a commune, not a village; a receiver stands in a village",
        "receiver 'rx-2': village 'pac-bo' is no known village",
        "receiver 'rx-3': group 'nope' is no known group",
        "receiver 'rx-3': 'po-tau' is a village, and `groups` lists free groups only "
        "(the village, commune and province follow from `village`)",
    ]


def test_a_village_under_a_village_is_a_problem() -> None:
    tree = GroupTree([*TRA_LINH, Group("sub", "Sub", "village", "na-vuong")])
    assert tree.problems() == [
        "village 'sub' is under village 'na-vuong'; a village belongs under a commune"
    ]


@pytest.mark.parametrize(
    ("group_id", "name"),
    [("tra-linh", "Tra Linh"), ("na_vuong", "Na Vuong"), ("xa-1", "Xa 1"), ("a--b", "A B")],
)
def test_readable_names_from_ids(group_id: str, name: str) -> None:
    assert readable_name(group_id) == name
