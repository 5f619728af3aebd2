"""Any registry written as a file reads back as the same registry (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from devices.registry import (
    Group,
    GroupKind,
    Receiver,
    Registry,
    format_registry,
    parse_registry,
    readable_name,
)
from devices.registry.model import clean_text

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True)
# Any printable text, Vietnamese included; the reader keeps text stripped and composed (NFC).
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=30)
names = text.map(clean_text).filter(bool)
notes = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"))
languages = st.lists(
    st.from_regex(r"[a-z]{2,8}", fullmatch=True), min_size=1, max_size=3, unique=True
)


@st.composite
def registries(draw: st.DrawFn, *, named: bool = True) -> Registry:
    """A valid registry; with `named` False, group names are what CSV makes of the ids."""
    group_ids = iter(draw(st.lists(ids, min_size=12, max_size=12, unique=True)))

    def group(kind: GroupKind, parent: str | None) -> Group:
        group_id = next(group_ids)
        return Group(group_id, draw(names) if named else readable_name(group_id), kind, parent)

    groups: list[Group] = []
    province = group("province", None) if draw(st.booleans()) else None
    groups += [province] if province else []
    for _ in range(draw(st.integers(1, 2))):
        commune = group("commune", province.id if province else None)
        groups.append(commune)
        groups += [group("village", commune.id) for _ in range(draw(st.integers(1, 3)))]
    parents = [None] + ([g.id for g in groups if g.kind != "village"] if named else [])
    groups += [
        group("free", draw(st.sampled_from(parents))) for _ in range(draw(st.integers(0, 2)))
    ]
    villages = [g.id for g in groups if g.kind == "village"]
    free = [g.id for g in groups if g.kind == "free"]
    receivers = [
        draw(receivers_in(receiver_id, villages, free))
        for receiver_id in draw(st.lists(ids, max_size=5, unique=True))
    ]
    return Registry(tuple(groups), tuple(receivers))


@st.composite
def receivers_in(
    draw: st.DrawFn, receiver_id: str, villages: list[str], free: list[str]
) -> Receiver:
    position: dict[str, Any] = {}
    if draw(st.booleans()):
        lat = draw(st.floats(-90, 90, allow_nan=False))
        lon = draw(st.floats(-180, 180, allow_nan=False).filter(lambda lon: lat != 0 or lon != 0))
        position = {"lat": lat, "lon": lon}
    return Receiver(
        id=receiver_id,
        name=draw(names),
        village_id=draw(st.sampled_from(villages)),
        groups=tuple(draw(st.lists(st.sampled_from(free), unique=True))) if free else (),
        languages=tuple(draw(languages)),
        speakers=draw(st.integers(1, 8)),
        installed=draw(st.none() | st.dates()),
        notes=clean_text(draw(notes)),
        heartbeat_s=draw(st.integers(10, 3600)),
        **position,
    )


@given(registries())
def test_yaml_round_trips(registry: Registry) -> None:
    assert parse_registry(format_registry(registry, "yaml"), "reg.yaml", "yaml") == registry


@given(registries(named=False))
def test_csv_round_trips_receivers_and_the_tree(registry: Registry) -> None:
    read = parse_registry(format_registry(registry, "csv"), "reg.csv", "csv")
    assert read.receivers == registry.receivers
    # CSV knows only the groups its rows name: the villages in use and their parents.
    used = {g for r in registry.receivers for g in (r.village_id, *r.groups)}
    used |= {a.id for g in used for a in registry.tree.ancestors(g)}
    assert set(read.groups) == {g for g in registry.groups if g.id in used}
