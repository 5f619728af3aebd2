"""`loa devices` as a technician runs it: import, list, show, adopt; bad files and statuses.

Each `loa` run costs most of a second, so the store is prepared in this process
(migrated, and the example imported where a test needs it) and the program is run
only for what the test is about.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from controller.store import Store, import_registry, list_receivers, record_unregistered
from controller.store.schema import receiver_health
from devices.registry import read_registry
from tests.devices.registry.support import EXAMPLE_CSV, EXAMPLE_YAML
from tests.support.controller import one_error_line, run_loa, write_config

AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


async def prepared(folder: Path, *, example: bool) -> Path:
    """A config whose SQLite store is migrated (and holds the example registry if asked)."""
    config = write_config(folder)
    async with await Store.open(store_url(config)) as store:
        await store.upgrade()
        if example:
            registry = read_registry(EXAMPLE_YAML)
            await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=AT)
    return config


def store_url(config: Path) -> str:
    return f"sqlite+aiosqlite:///{config.parent / 'data' / 'loa.db'}"


def loa_json(config: Path, *args: str) -> Any:
    result = run_loa("devices", *args, "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_import_is_previewed_then_done_then_changes_nothing(tmp_path: Path) -> None:
    config = await prepared(tmp_path, example=False)
    preview = loa_json(config, "import", str(EXAMPLE_YAML), "--dry-run")
    assert (preview["dry_run"], preview["imported"]) == (True, False)
    assert preview["receivers"] == {"added": 30, "updated": 0, "unchanged": 0}
    assert loa_json(config, "list") == []

    done = run_loa("devices", "import", str(EXAMPLE_YAML), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        f"{EXAMPLE_YAML}: imported",
        "  groups: 11 added, 0 updated, 0 unchanged",
        "  receivers: 30 added, 0 updated, 0 unchanged",
    ]
    assert "  + receiver tl-na-vuong-1" in done.stdout

    again = loa_json(config, "import", str(EXAMPLE_YAML))
    assert again["receivers"] == {"added": 0, "updated": 0, "unchanged": 30}
    assert again["changes"] == []

    listed = loa_json(config, "list")
    assert len(listed) == 30
    assert (listed[0]["state"], listed[0]["cause"]) == ("offline", "never heard from")
    assert listed[0]["since"].endswith("Z")
    assert [r["id"] for r in loa_json(config, "list", "--group", "po-tau")] == [
        f"tl-po-tau-{n}" for n in range(1, 6)
    ]
    shown = loa_json(config, "show", "tl-lung-nam-3")
    assert shown["name"] == "Loa điểm trường Lũng Nặm"
    assert shown["village"] == {"id": "lung-nam", "name": "Xóm Lũng Nặm"}
    assert shown["commune"] == {"id": "tra-linh", "name": "Xã Trà Lĩnh"}
    assert shown["province"] == {"id": "cao-bang", "name": "Tỉnh Cao Bằng"}
    assert [g["id"] for g in shown["groups"]] == ["tl-bien-gioi", "tl-truong-hoc"]
    assert (shown["languages"], shown["installed"]) == (["hmn", "vi"], "2025-01-21")
    assert (shown["health"]["state"], shown["transitions"]) == ("offline", [])


async def test_the_table_shows_local_times_signal_power_and_the_unregistered_to_adopt(
    tmp_path: Path,
) -> None:
    config = await prepared(tmp_path, example=True)
    telemetry = {
        "net": {"type": "4g", "rsrp_dbm": -97},
        "power": {"source": "solar", "battery_v": 12.6},
    }
    async with await Store.open(store_url(config)) as store:
        async with store.write() as session:
            row = {
                "receiver_id": "tl-po-tau-1",
                "state": "online",
                "link_state": "online",
                "since": AT,
                "cause": "birth, session epoch 3",
                "last_heard": AT,
                "telemetry": telemetry,
                "updated_at": AT,
            }
            await session.execute(insert(receiver_health).values(row))
        await record_unregistered(
            store, "rx-moi", at=AT, epoch=3, firmware="fw 2.1", topic="loa/v1/rx/rx-moi/status"
        )

    table = run_loa("devices", "list", "--config", str(config))
    assert table.returncode == 0, table.stderr
    header, *rows, hint = table.stdout.splitlines()
    assert header.split() == [
        "ID", "NAME", "VILLAGE", "COMMUNE", "STATE", "SINCE", "LAST", "HEARD", "SIGNAL", "POWER"
    ]  # fmt: skip
    cells = {row.split()[0]: re.split(r"\s{2,}", row) for row in rows}
    # 01:00 UTC is 08:00 in Asia/Ho_Chi_Minh, the default time zone.
    assert cells["tl-po-tau-1"] == [
        "tl-po-tau-1",
        "Loa đầu xóm Pò Tấu",
        "Xóm Pò Tấu",
        "Xã Trà Lĩnh",
        "online",
        "2026-11-30 08:00",
        "2026-11-30 08:00",
        "-97 dBm RSRP",
        "solar 12.6 V",
    ]
    heard = "2026-11-30 08:00"
    assert cells["rx-moi"] == ["rx-moi", "-", "-", "-", "unregistered", heard, heard, "-", "-"]
    assert rows[-1].startswith("rx-moi "), "unregistered receivers come last"
    assert "`loa devices adopt ID --village VILLAGE`" in hint

    [listed] = loa_json(config, "list", "--status", "online")
    assert (listed["since"], listed["signal"]) == ("2026-11-30T01:00:00.000Z", "-97 dBm RSRP")

    adopted = loa_json(config, "adopt", "rx-moi", "--village", "na-vuong", "--name", "Loa mới")
    assert (adopted["id"], adopted["name"], adopted["village"]) == ("rx-moi", "Loa mới", "na-vuong")
    shown = run_loa("devices", "show", "rx-moi", "--config", str(config))
    assert shown.stdout.splitlines()[:2] == [
        "rx-moi  Loa mới",
        "  where      Bản Nà Vường (na-vuong), Xã Trà Lĩnh (tra-linh), Tỉnh Cao Bằng (cao-bang)",
    ]
    again = run_loa("devices", "adopt", "rx-moi", "--village", "na-vuong", "--config", str(config))
    assert again.returncode == 2
    assert "'rx-moi' is registered already" in one_error_line(again.stderr)


async def test_a_bad_file_prints_every_problem_with_its_line_and_imports_nothing(
    tmp_path: Path,
) -> None:
    config = await prepared(tmp_path, example=False)
    bad = tmp_path / "registry.yaml"
    text = EXAMPLE_YAML.read_text(encoding="utf-8")
    text = text.replace("village: po-tau\n    gps: 22.81327", "village: po-tauu\n    gps: 22.81327")
    text = text.replace("gps: 22.8207, 106.37954", "gps: 122.8207, 106.37954")
    bad.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    village_line = lines.index("    village: po-tauu") + 1
    gps_line = lines.index("    gps: 122.8207, 106.37954") + 1

    result = run_loa("devices", "import", str(bad), "--config", str(config))
    assert result.returncode == 2
    assert result.stdout == ""
    *problems, last = result.stderr.splitlines()
    assert problems == [
        f"{bad}:{village_line}: receiver 'tl-po-tau-1': village 'po-tauu' is no known village; "
        "did you mean 'po-tau'?",
        f"{bad}:{gps_line}: receiver 'tl-coc-phay-1': lat 122.8207 is outside -90 to 90; "
        "expected decimal degrees like 22.6834",
    ]
    assert last == one_error_line(result.stderr)
    assert "2 problems, so nothing was imported" in last

    as_json = run_loa("devices", "import", str(bad), "--json", "--config", str(config))
    assert as_json.returncode == 2
    assert [e["line"] for e in json.loads(as_json.stdout)["errors"]] == [village_line, gps_line]
    async with await Store.open(store_url(config)) as store:
        assert await list_receivers(store) == []


async def test_the_csv_example_imports(tmp_path: Path) -> None:
    config = await prepared(tmp_path, example=False)
    done = loa_json(config, "import", str(EXAMPLE_CSV))
    assert done["receivers"]["added"] == 5
    async with await Store.open(store_url(config)) as store:
        [row] = await list_receivers(store, group="coc-phay")
    assert row.receiver.name == "Loa đồn biên phòng Cốc Phầy"
    assert row.commune is not None
    assert row.commune.name == "Tra Linh"


async def test_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = await prepared(tmp_path, example=True)
    mistakes = [
        (
            ("list", "--status", "down"),
            "unknown status 'down' (--status); expected one of online, offline, silent, "
            "unverified, flapping, unregistered",
        ),
        (("list", "--group", "po-ta"), "no group 'po-ta'; did you mean 'po-tau'?"),
        (("show", "nobody"), "no receiver 'nobody' is registered or has been heard"),
        (("import", "registry.txt"), "registry.txt: cannot tell the format from '.txt'"),
    ]
    for args, message in mistakes:
        result = run_loa("devices", *args, "--config", str(config))
        assert result.returncode == 2, args
        assert message in one_error_line(result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr


def test_a_store_without_the_registry_schema_says_to_upgrade(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_loa("devices", "list", "--config", str(config))
    assert result.returncode == 2
    assert "has schema empty and this Loa needs" in one_error_line(result.stderr)
    assert "run `loa db upgrade` first" in result.stderr
