"""The receiver registry in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import Connection, make_url

from controller.store import (
    Store,
    adopt,
    get_receiver,
    import_registry,
    list_receivers,
    list_unregistered,
    record_unregistered,
)
from controller.store import registry as store_registry
from controller.store.engine import create_engine
from controller.store.registry_rows import receivers_signature
from controller.store.schema import groups as groups_table
from controller.store.schema import receiver_health, receiver_transitions, receivers
from controller.store.store import MIGRATIONS
from devices.registry import Group, Receiver, Registry, RegistryError, read_registry
from tests.devices.registry.support import EXAMPLE_YAML

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


@pytest.fixture(scope="module")
def example() -> Registry:
    return read_registry(EXAMPLE_YAML)


async def load(store: Store, registry: Registry, *, dry_run: bool = False) -> Any:
    return await import_registry(
        store, registry.groups, registry.receivers, dry_run=dry_run, at=NOW
    )


async def count(store: Store, table: Any) -> int:
    async with store.read() as session:
        found: int = (await session.execute(select(func.count()).select_from(table))).scalar_one()
    return found


async def set_health(store: Store, receiver_id: str, state: str, **extra: Any) -> None:
    """A health row as the health code writes it."""
    row = {
        "receiver_id": receiver_id,
        "state": state,
        "link_state": "online" if state == "flapping" else state,
        "since": NOW,
        "cause": f"test: {state}",
        "updated_at": NOW,
    }
    async with store.write() as session:
        await session.execute(insert(receiver_health).values(row | extra))


async def test_an_import_adds_everything_and_a_second_changes_nothing(
    store: Store, example: Registry
) -> None:
    first = await load(store, example)
    assert (first.count("group", "added"), first.count("receiver", "added")) == (11, 30)
    assert (first.groups_unchanged, first.receivers_unchanged) == (0, 0)
    assert first.changed

    again = await import_registry(store, example.groups, example.receivers, dry_run=False, at=LATER)
    assert again.changes == ()
    assert (again.groups_unchanged, again.receivers_unchanged) == (11, 30)
    assert not again.changed
    detail = await get_receiver(store, "tl-na-vuong-1")
    assert detail is not None
    assert detail.updated_at == NOW, "an unchanged receiver is not touched"
    assert [row.receiver for row in await list_receivers(store)] == sorted(
        example.receivers, key=lambda r: (r.village_id, r.id)
    )


async def test_what_comes_back_is_what_went_in_vietnamese_and_all(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    detail = await get_receiver(store, "tl-lung-nam-3")
    assert detail is not None
    assert detail.receiver == next(r for r in example.receivers if r.id == "tl-lung-nam-3")
    assert detail.receiver.groups == ("tl-bien-gioi", "tl-truong-hoc")
    assert (detail.village.name, detail.province) == ("Xóm Lũng Nặm", example.tree.get("cao-bang"))
    assert detail.commune is not None
    assert detail.commune.name == "Xã Trà Lĩnh"
    assert [g.name for g in detail.groups] == ["Khu vực biên giới", "Khu vực trường học"]
    assert (detail.registered_at, detail.updated_at) == (NOW, NOW)
    assert detail.registered_at.tzinfo is not None


async def test_a_dry_run_reports_the_changes_and_writes_nothing(
    store: Store, example: Registry
) -> None:
    result = await load(store, example, dry_run=True)
    assert result.dry_run
    assert (result.count("group", "added"), result.count("receiver", "added")) == (11, 30)
    assert await list_receivers(store) == []
    assert await count(store, groups_table) == 0


async def test_an_update_names_the_fields_that_changed(store: Store, example: Registry) -> None:
    await load(store, example)
    rx = {r.id: r for r in example.receivers}
    moved = dataclasses.replace(
        rx["tl-na-vuong-1"], lat=22.9, lon=106.4, groups=("tl-cho",), notes="Đã dời cột"
    )
    reordered = dataclasses.replace(
        rx["tl-lung-nam-3"], groups=tuple(reversed(rx["tl-lung-nam-3"].groups))
    )
    renamed = Group("na-vuong", "Bản Nà Vường mới", "village", "tra-linh")
    result = await import_registry(store, [renamed], [moved, reordered], dry_run=False, at=LATER)
    assert [(c.kind, c.id, c.action, c.fields) for c in result.changes] == [
        ("group", "na-vuong", "updated", ("name",)),
        ("receiver", "tl-na-vuong-1", "updated", ("lat", "lon", "groups", "notes")),
    ]
    assert result.receivers_unchanged == 1, "the order of free groups does not matter"
    assert len(result.not_in_file) == 28
    detail = await get_receiver(store, "tl-na-vuong-1")
    assert detail is not None
    assert detail.receiver == moved
    assert (detail.registered_at, detail.updated_at) == (NOW, LATER)
    assert detail.village.name == "Bản Nà Vường mới"


async def test_receivers_left_out_are_reported_and_kept(store: Store, example: Registry) -> None:
    await load(store, example)
    some = [r for r in example.receivers if r.village_id == "po-tau"]
    result = await import_registry(store, example.groups, some, dry_run=False, at=LATER)
    assert result.changes == ()
    assert len(result.not_in_file) == 25
    assert "tl-na-vuong-1" in result.not_in_file
    assert len(await list_receivers(store)) == 30


async def test_broken_references_import_nothing(store: Store, example: Registry) -> None:
    stray = Receiver("rx-stray", "Loa lạc", "pac-bo")
    with pytest.raises(RegistryError, match="village 'pac-bo' is no known village") as caught:
        await import_registry(
            store, example.groups, [*example.receivers, stray], dry_run=False, at=NOW
        )
    assert "nothing was changed" in str(caught.value)
    assert await count(store, groups_table) == 0
    assert await count(store, receivers) == 0


async def test_a_later_file_may_use_groups_already_in_the_store(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    extra = Receiver("tl-po-tau-9", "Loa mới", "po-tau", groups=("tl-cho",))
    result = await import_registry(store, [], [extra], dry_run=False, at=LATER)
    assert [(c.id, c.action) for c in result.changes] == [("tl-po-tau-9", "added")]
    # ... but may not turn a village that holds receivers into something else.
    with pytest.raises(RegistryError, match="'po-tau' is a free group, not a village"):
        await import_registry(
            store, [Group("po-tau", "Pò Tấu", "free")], [], dry_run=False, at=LATER
        )


async def test_repeated_ids_are_refused(store: Store, example: Registry) -> None:
    twice = [example.receivers[0], example.receivers[0]]
    with pytest.raises(RegistryError, match=r"receiver ids \['tl-na-vuong-1'\] appear more"):
        await import_registry(store, example.groups, twice, dry_run=False, at=NOW)


async def test_a_failure_half_way_leaves_nothing_behind(
    store: Store, example: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_registry, "_write_receivers", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        await load(store, example)
    assert await count(store, groups_table) == 0, "the groups were written, then rolled back"


async def test_a_group_lists_its_own_and_its_descendants_receivers(
    store: Store, example: Registry
) -> None:
    await load(store, example)

    async def ids(group: str) -> list[str]:
        return [row.receiver.id for row in await list_receivers(store, group=group)]

    assert len(await ids("cao-bang")) == 30
    assert len(await ids("tra-linh")) == 30
    assert await ids("po-tau") == [f"tl-po-tau-{n}" for n in range(1, 6)]
    in_order = sorted(example.receivers, key=lambda r: (r.village_id, r.id))
    schools = [r.id for r in in_order if "tl-truong-hoc" in r.groups]
    assert len(schools) == 5
    assert await ids("tl-truong-hoc") == schools
    with pytest.raises(RegistryError, match="no group 'nowhere'"):
        await ids("nowhere")


async def test_rows_carry_the_village_and_commune(store: Store, example: Registry) -> None:
    await load(store, example)
    [row, *_] = await list_receivers(store, group="coc-phay")
    assert (row.village.name, row.commune.name if row.commune else None) == (
        "Xóm Cốc Phầy",
        "Xã Trà Lĩnh",
    )


async def test_a_receiver_never_heard_from_is_offline_since_it_was_registered(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    health = (await list_receivers(store))[0].health
    assert (health.state, health.cause, health.since, health.last_heard) == (
        "offline",
        "never heard from",
        NOW,
        None,
    )


async def test_status_filters_on_the_health_state(store: Store, example: Registry) -> None:
    await load(store, example)
    telemetry = {"net": {"type": "4g", "rsrp_dbm": -97}, "power": {"source": "solar"}}
    await set_health(store, "tl-po-tau-1", "online", last_heard=LATER, telemetry=telemetry)
    await set_health(store, "tl-khau-lay-1", "online")
    await set_health(store, "tl-na-vuong-1", "silent")
    await set_health(store, "tl-coc-phay-1", "offline")
    await set_health(store, "tl-coc-phay-2", "flapping")

    async def ids(status: str, group: str | None = None) -> list[str]:
        rows = await list_receivers(store, status=status, group=group)
        return [row.receiver.id for row in rows]

    assert await ids("online") == ["tl-khau-lay-1", "tl-po-tau-1"]
    assert await ids("silent") == ["tl-na-vuong-1"]
    assert await ids("flapping") == ["tl-coc-phay-2"]
    assert await ids("unverified") == []
    offline = await ids("offline")
    assert len(offline) == 26
    assert "tl-coc-phay-1" in offline
    assert await ids("online", group="na-vuong") == []
    [online] = await list_receivers(store, status="online", group="po-tau")
    assert online.health.last_heard == LATER
    assert online.health.telemetry == telemetry
    with pytest.raises(RegistryError, match="unknown status 'down'; expected one of online, "):
        await list_receivers(store, status="down")


async def test_a_receiver_shows_its_health_and_its_last_20_transitions(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    await set_health(store, "tl-po-tau-1", "online", epoch=7, firmware="loa-fw 1.2")
    rows = [
        {
            "receiver_id": "tl-po-tau-1",
            "at": NOW + timedelta(minutes=n),
            "from_state": "offline" if n % 2 else "online",
            "to_state": "online" if n % 2 else "offline",
            "cause": f"change {n}",
            "epoch": 7,
        }
        for n in range(25)
    ]
    async with store.write() as session:
        await session.execute(insert(receiver_transitions), rows)
    detail = await get_receiver(store, "tl-po-tau-1")
    assert detail is not None
    assert (detail.health.state, detail.health.epoch, detail.health.firmware) == (
        "online",
        7,
        "loa-fw 1.2",
    )
    assert [t.cause for t in detail.transitions] == [f"change {n}" for n in range(24, 4, -1)]
    assert detail.transitions[0].at == NOW + timedelta(minutes=24)
    assert await get_receiver(store, "nobody") is None


async def test_unregistered_receivers_are_upserted(store: Store) -> None:
    assert await record_unregistered(
        store, "rx-new", at=NOW, epoch=3, firmware="fw 1", topic="loa/v1/rx/rx-new/status"
    )
    await record_unregistered(
        store, "rx-new", at=LATER, epoch=4, firmware=None, topic="loa/v1/rx/rx-new/heartbeat"
    )
    await record_unregistered(store, "rx-other", at=NOW, epoch=None, firmware=None, topic=None)
    [new, other] = await list_unregistered(store)
    assert (new.id, new.first_seen, new.last_seen, new.messages) == ("rx-new", NOW, LATER, 2)
    assert (new.epoch, new.firmware, new.last_topic) == (4, "fw 1", "loa/v1/rx/rx-new/heartbeat")
    assert (other.id, other.messages, other.epoch) == ("rx-other", 1, None)


async def test_a_late_message_does_not_move_last_seen_back(store: Store) -> None:
    await record_unregistered(store, "rx-new", at=LATER, epoch=1, firmware=None, topic=None)
    await record_unregistered(store, "rx-new", at=NOW, epoch=1, firmware=None, topic=None)
    [new] = await list_unregistered(store)
    assert (new.first_seen, new.last_seen) == (LATER, LATER)


async def test_a_registered_receiver_is_not_recorded_as_unregistered(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    recorded = await record_unregistered(
        store, "tl-po-tau-1", at=NOW, epoch=1, firmware=None, topic=None
    )
    assert not recorded
    assert await list_unregistered(store) == []


async def test_an_import_adopts_the_unregistered_receivers_it_lists(
    store: Store, example: Registry
) -> None:
    for receiver_id in ("tl-po-tau-1", "rx-unknown"):
        await record_unregistered(store, receiver_id, at=NOW, epoch=1, firmware=None, topic=None)
    dry = await load(store, example, dry_run=True)
    assert dry.adopted == ("tl-po-tau-1",)
    assert len(await list_unregistered(store)) == 2
    result = await load(store, example)
    assert result.adopted == ("tl-po-tau-1",)
    assert [u.id for u in await list_unregistered(store)] == ["rx-unknown"]


async def test_adopt_moves_an_unregistered_receiver_into_a_village(
    store: Store, example: Registry
) -> None:
    await load(store, example)
    await record_unregistered(store, "rx-new", at=NOW, epoch=2, firmware="fw", topic=None)
    receiver = await adopt(
        store,
        "rx-new",
        village_id="na-vuong",
        name="Loa mới Nà Vường",
        groups=["tl-cho"],
        languages=["tay", "vi"],
        installed=date(2026, 11, 29),
        at=LATER,
    )
    assert receiver == Receiver(
        "rx-new",
        "Loa mới Nà Vường",
        "na-vuong",
        groups=("tl-cho",),
        languages=("tay", "vi"),
        installed=date(2026, 11, 29),
    )
    detail = await get_receiver(store, "rx-new")
    assert detail is not None
    assert (detail.receiver, detail.registered_at) == (receiver, LATER)
    assert await list_unregistered(store) == []
    with pytest.raises(RegistryError, match="'rx-new' is registered already"):
        await adopt(store, "rx-new", village_id="na-vuong", at=LATER)


async def test_adopt_without_a_name_uses_the_id(store: Store, example: Registry) -> None:
    await load(store, example)
    await record_unregistered(store, "rx-new", at=NOW, epoch=2, firmware=None, topic=None)
    assert (await adopt(store, "rx-new", village_id="po-tau", at=NOW)).name == "rx-new"


@pytest.mark.parametrize(
    ("receiver_id", "village", "groups", "message"),
    [
        ("rx-never", "na-vuong", [], "no unregistered receiver 'rx-never': Loa has not heard"),
        ("rx-new", "pac-bo", [], "village 'pac-bo' is no known village"),
        ("rx-new", "tra-linh", [], "'tra-linh' is a commune, not a village"),
        ("rx-new", "na-vuong", ["po-tau"], "'po-tau' is a village, and `groups` lists free"),
        ("rx-new", "Nà Vường", [], "village id 'Nà Vường' is not valid"),
    ],
)
async def test_adopt_refuses_and_changes_nothing(
    store: Store,
    example: Registry,
    *,
    receiver_id: str,
    village: str,
    groups: list[str],
    message: str,
) -> None:
    await load(store, example)
    await record_unregistered(store, "rx-new", at=NOW, epoch=2, firmware=None, topic=None)
    with pytest.raises(RegistryError, match=message):
        await adopt(store, receiver_id, village_id=village, groups=groups, at=NOW)
    assert [u.id for u in await list_unregistered(store)] == ["rx-new"]
    assert await count(store, receivers) == 30


async def test_naive_instants_are_refused(store: Store, example: Registry) -> None:
    naive = datetime(2026, 11, 30)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        await import_registry(store, example.groups, (), dry_run=False, at=naive)
    with pytest.raises(ValueError, match="naive"):
        await record_unregistered(store, "rx-1", at=naive, epoch=None, firmware=None, topic=None)


async def test_the_registry_migration_downgrades_cleanly_and_upgrades_again(
    store_url: str,
) -> None:
    def downgrade(conn: Connection) -> list[str]:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        return sorted(inspect(conn).get_table_names())

    async with await Store.open(store_url) as store:
        await store.upgrade()
        engine = create_engine(make_url(store_url))
        try:
            async with engine.begin() as conn:
                tables = await conn.run_sync(downgrade)
        finally:
            await engine.dispose()
        assert tables == ["alembic_version", "controller_events", "controller_state"]
        assert await store.current_revision() == "0001"
        assert await store.upgrade() == ("0001", Store.head_revision())


async def signature(store: Store) -> Any:
    async with store.read() as session:
        return await receivers_signature(session)


async def test_the_receivers_signature_moves_with_every_change_and_only_then(
    store: Store, example: Registry
) -> None:
    empty = await signature(store)
    assert empty == (0, None, 0)
    await load(store, example)
    imported = await signature(store)
    assert imported[0] == 30
    await load(store, example)  # the same file again: nothing changes
    assert await signature(store) == imported
    rx = {r.id: r for r in example.receivers}
    regrouped = dataclasses.replace(rx["tl-na-vuong-1"], groups=("tl-cho",))
    await import_registry(store, [], [regrouped], dry_run=False, at=LATER)
    updated = await signature(store)
    assert updated != imported
    await record_unregistered(store, "rx-new", at=NOW, epoch=2, firmware="fw", topic=None)
    assert await signature(store) == updated  # heard, not registered
    await adopt(store, "rx-new", village_id="na-vuong", at=LATER + timedelta(minutes=1))
    adopted = await signature(store)
    assert adopted[0] == 31
    assert adopted != updated
