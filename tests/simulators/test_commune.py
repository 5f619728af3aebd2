"""A generated Cao Bằng commune: plausible, reproducible, and valid for the registry."""

from __future__ import annotations

import re

import pytest

from simulators.commune import generate_commune, slug


def test_the_same_seed_gives_the_same_commune() -> None:
    assert generate_commune(4) == generate_commune(4)
    assert generate_commune(4) != generate_commune(5)


def test_a_commune_has_its_villages_and_receivers() -> None:
    commune = generate_commune(seed=1, receivers=30, villages=6)
    assert commune.province.kind == "province"
    assert commune.commune.parent_id == commune.province.id
    assert len(commune.villages) == 6
    assert len({v.name for v in commune.villages}) == 6
    assert all(v.parent_id == commune.commune.id for v in commune.villages)
    assert all(re.match(r"^(Bản|Xóm|Lũng) \w+ \w+$", v.name) for v in commune.villages)
    ids = [r.id for r in commune.receivers]
    assert len(set(ids)) == 30
    assert all(re.match(r"^cb-[a-z]{2}-\d{2}$", i) for i in ids)
    villages = {v.id for v in commune.villages}
    assert {r.village_id for r in commune.receivers} == villages  # each has one at least
    assert commune.registry.tree.problems(commune.receivers) == []


def test_receivers_stand_in_cao_bang_near_their_village() -> None:
    commune = generate_commune(seed=2, receivers=60, villages=8)
    for receiver in commune.receivers:
        assert receiver.lat is not None
        assert receiver.lon is not None
        assert 22.6 <= receiver.lat <= 22.9
        assert 106.0 <= receiver.lon <= 106.5
        neighbours = [r for r in commune.receivers if r.village_id == receiver.village_id]
        spread = max(abs(receiver.lat - n.lat) for n in neighbours if n.lat is not None)
        assert spread < 0.03  # a village is a few hundred metres across, not kilometres


def test_languages_mix_tay_nung_and_vietnamese() -> None:
    languages = {r.languages for seed in range(10) for r in generate_commune(seed, 30, 6).receivers}
    assert {("tay", "vi"), ("nung", "vi"), ("vi",)} <= languages


def test_specs_carry_the_heartbeat() -> None:
    commune = generate_commune(seed=3, receivers=4, villages=2, heartbeat_s=30)
    assert [(s.id, s.heartbeat_s) for s in commune.specs()] == [
        (r.id, 30) for r in commune.receivers
    ]


def test_slugs_drop_the_tones() -> None:
    assert slug("Bản Nà Vường") == "ban-na-vuong"
    assert slug("Xóm Pác Pó") == "xom-pac-po"
    assert slug("Đức Long") == "duc-long"


def test_every_village_needs_a_receiver() -> None:
    with pytest.raises(ValueError, match="receivers must be >= villages"):
        generate_commune(1, receivers=3, villages=4)
