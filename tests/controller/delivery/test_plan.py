"""Targets to receivers, languages, and the fewest publishes that reach each once.

On the example commune (docs/examples/registry.yaml): 30 receivers in 6 villages,
Tày, Nùng, H'Mông and Vietnamese, with free groups across villages.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.delivery.plan import (
    TargetError,
    fan_out,
    language_for,
    memberships,
    parse_targets,
    resolve,
)
from controller.store.bulletins import Target
from devices.registry import GroupTree, Receiver, read_registry
from tests.devices.registry.support import EXAMPLE_YAML

REGISTRY = read_registry(EXAMPLE_YAML)
TREE = GroupTree(REGISTRY.groups)
RECEIVERS = list(REGISTRY.receivers)
IDS = [r.id for r in RECEIVERS]


def everyone_listens(receiver_id: str) -> frozenset[str]:
    receiver = next(r for r in RECEIVERS if r.id == receiver_id)
    return memberships(receiver, TREE)


def by_village(village: str) -> list[str]:
    return [r.id for r in RECEIVERS if r.village_id == village]


def test_memberships_are_the_village_the_tree_above_and_free_groups() -> None:
    school = next(r for r in RECEIVERS if "tl-truong-hoc" in r.groups)
    groups = memberships(school, TREE)
    assert {school.village_id, "tra-linh", "cao-bang", "tl-truong-hoc"} <= groups


def test_targets_are_parsed_against_the_registry() -> None:
    targets = parse_targets("na-vuong, tl-po-tau-1,all", TREE, IDS)
    assert targets == [
        Target("group", "na-vuong"),
        Target("receiver", "tl-po-tau-1"),
        Target("all"),
    ]
    with pytest.raises(TargetError, match="'xom-ma'"):
        parse_targets("na-vuong,xom-ma", TREE, IDS)
    with pytest.raises(TargetError, match="no target"):
        parse_targets(" , ", TREE, IDS)


def test_resolve_a_village_a_free_group_and_a_receiver_without_duplicates() -> None:
    targets = [Target("group", "na-vuong"), Target("group", "tl-truong-hoc"),
               Target("receiver", "tl-na-vuong-1")]  # fmt: skip
    got = [r.id for r in resolve(targets, RECEIVERS, TREE)]
    school = [r.id for r in RECEIVERS if "tl-truong-hoc" in r.groups]
    assert sorted(got) == sorted(set(by_village("na-vuong")) | set(school))
    assert len(got) == len(set(got))
    assert [r.id for r in resolve([Target("all")], RECEIVERS, TREE)] == IDS
    assert [r.id for r in resolve([Target("group", "tra-linh")], RECEIVERS, TREE)] == IDS


def test_unknown_targets_are_refused() -> None:
    with pytest.raises(TargetError, match="group 'nowhere'"):
        resolve([Target("group", "nowhere")], RECEIVERS, TREE)
    with pytest.raises(TargetError, match="receiver 'tl-ghost'"):
        resolve([Target("receiver", "tl-ghost")], RECEIVERS, TREE)


def test_a_village_hears_its_language_else_vietnamese_else_the_bulletin_s_own() -> None:
    tay = next(r for r in RECEIVERS if r.languages[0] == "tay")
    kinh = Receiver("tl-kinh", "Loa", "po-tau", languages=("vi",))
    assert language_for(tay, ["vi", "tay"]) == "tay"
    assert language_for(tay, ["vi", "nung"]) == "vi"
    assert language_for(kinh, ["tay", "nung"]) == "tay"
    # only the main language counts, as on the receiver (it is told only that one)
    tay_and_nung = Receiver("tl-2", "Loa", "po-tau", languages=("tay", "nung"))
    assert language_for(tay_and_nung, ["nung", "vi"]) == "vi"
    assert language_for(tay_and_nung, ["nung", "hmn"]) == "nung"


def test_everyone_in_one_language_is_one_publish_to_the_province() -> None:
    units = fan_out(RECEIVERS, RECEIVERS, TREE, {"vi": "c-vi"}, listening=everyone_listens)
    assert [(u.scope, u.id) for u in units] == [("group", "cao-bang")]
    assert sorted(units[0].receivers) == sorted(IDS)


def test_villages_in_their_own_languages_are_one_publish_each_where_they_agree() -> None:
    contents = {"vi": "c-vi", "tay": "c-tay", "nung": "c-nung"}
    units = fan_out(RECEIVERS, RECEIVERS, TREE, contents, listening=everyone_listens)
    reached = Counter(rx for u in units for rx in u.receivers)
    assert set(reached) == set(IDS)
    assert set(reached.values()) == {1}, "nobody is reached twice"
    for unit in units:
        langs = {language_for(r, list(contents)) for r in RECEIVERS if r.id in unit.receivers}
        assert len(langs) == 1
        assert unit.content == contents[langs.pop()]
    # Every village whose receivers share a language is one publish; Khau Lầy mixes
    # Vietnamese and Tày speakers, so its receivers go by the market group or alone.
    groups = {u.id for u in units if u.scope == "group"}
    assert {"na-vuong", "po-tau", "lung-nam", "na-doong", "coc-phay"} <= groups
    assert len(units) == 10


def test_a_group_with_untargeted_members_is_not_used() -> None:
    targeted = [r for r in RECEIVERS if r.id in by_village("na-vuong")[:2]]
    units = fan_out(targeted, RECEIVERS, TREE, {"vi": "c"}, listening=everyone_listens)
    assert {u.scope for u in units} == {"receiver"}
    assert [u.id for u in units] == [r.id for r in targeted]


def test_receivers_not_yet_listening_on_a_group_are_addressed_alone() -> None:
    late = by_village("po-tau")[0]

    def listening(receiver_id: str) -> frozenset[str]:
        return frozenset() if receiver_id == late else everyone_listens(receiver_id)

    targeted = [r for r in RECEIVERS if r.village_id == "po-tau"]
    units = fan_out(targeted, RECEIVERS, TREE, {"vi": "c"}, listening=listening)
    assert ("receiver", late) in [(u.scope, u.id) for u in units]
    reached = Counter(rx for u in units for rx in u.receivers)
    assert set(reached.values()) == {1}
    assert set(reached) == {r.id for r in targeted}


@settings(max_examples=200, deadline=None)
@given(
    chosen=st.sets(st.sampled_from(IDS), min_size=1),
    deaf=st.sets(st.sampled_from(IDS)),
    languages=st.lists(st.sampled_from(["vi", "tay", "nung", "hmn"]), min_size=1, unique=True),
)
def test_every_targeted_receiver_is_reached_exactly_once_and_nobody_else(
    chosen: set[str], deaf: set[str], languages: list[str]
) -> None:
    targeted = [r for r in RECEIVERS if r.id in chosen]
    contents = {language: f"c-{language}" for language in languages}

    def listening(receiver_id: str) -> frozenset[str]:
        return frozenset() if receiver_id in deaf else everyone_listens(receiver_id)

    units = fan_out(targeted, RECEIVERS, TREE, contents, listening=listening)
    reached = Counter(rx for u in units for rx in u.receivers)
    assert set(reached) == chosen
    assert set(reached.values()) == {1}
    for unit in units:
        if unit.scope == "group":
            whole = {r.id for r in RECEIVERS if unit.id in memberships(r, TREE)}
            assert whole == set(unit.receivers), "a group publish reaches only targeted receivers"
            assert not whole & deaf
        for rx in unit.receivers:
            receiver = next(r for r in RECEIVERS if r.id == rx)
            assert unit.content == contents[language_for(receiver, languages)]
