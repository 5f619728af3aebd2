"""The `loa` program as a person runs it: exit codes, one-line errors, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.store import Store
from loa import __version__
from tests.support.controller import one_error_line, run_loa, write_config
from tests.support.mosquitto import PrivateMosquitto, free_port

ROOT = Path(__file__).resolve().parents[3]
HEAD = Store.head_revision()


def test_version() -> None:
    result = run_loa("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"loa {__version__}"


def test_config_check_prints_the_resolved_settings_with_secrets_masked() -> None:
    result = run_loa(
        "config",
        "check",
        "--config",
        str(ROOT / "config.yaml"),
        env={"LOA_BROKER_USERNAME": "loa", "LOA_BROKER_PASSWORD": "hunter2"},
    )
    assert result.returncode == 0, result.stderr
    assert f"# {ROOT / 'config.yaml'}: valid" in result.stdout
    assert "# broker.password is set by LOA_BROKER_PASSWORD" in result.stdout
    assert "password: '********'" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert "port: 18830" in result.stdout


def test_config_check_json() -> None:
    result = run_loa(
        "config",
        "check",
        "--json",
        "--config",
        str(ROOT / "config.yaml"),
        env={"LOA_BROKER_PORT": "18999"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["settings"]["broker"]["port"] == 18999
    assert data["env_overrides"] == {"broker.port": "LOA_BROKER_PORT"}


def test_a_config_typo_is_one_line_naming_file_line_and_key_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("broker:\n  mode: embedded\n  hots: 0.0.0.0\n")
    result = run_loa("config", "check", "--config", str(config))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, "one line and nothing else"
    line = one_error_line(result.stderr)
    assert line.startswith(
        f"loa: error: {config}:3: broker.hots: unknown key; did you mean 'host'?"
    )


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("broker:\n  port: many\n")
    result = run_loa("config", "check", "--debug", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("loa: error: ")


def test_config_check_json_reports_an_invalid_config_too(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("broker:\n  port: many\n")
    result = run_loa("config", "check", "--json", "--config", str(config))
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert (data["key"], data["line"]) == ("broker.port", 2)


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_loa("serve", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "config file not found" in one_error_line(result.stderr)


def test_a_store_url_with_a_bad_scheme_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, store={"url": "mongodb://loa:pw@db/loa"})
    result = run_loa("db", "upgrade", "--config", str(config))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "store.url" in line
    assert "scheme 'mongodb'" in line
    assert ":pw@" not in line


def test_db_upgrade_then_status_on_sqlite(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = run_loa("db", "upgrade", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert f"upgraded from empty to {HEAD}" in first.stdout
    again = run_loa("db", "upgrade", "--json", "--config", str(config))
    assert json.loads(again.stdout)["changed"] is False
    status = run_loa("db", "status", "--json", "--config", str(config))
    assert json.loads(status.stdout) | {"store": None} == {
        "store": None,
        "current": HEAD,
        "head": HEAD,
        "up_to_date": True,
    }
    assert (tmp_path / "data" / "loa.db").is_file()


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_with_the_url_from_the_environment(
    tmp_path: Path, postgres_url: str
) -> None:
    config = write_config(tmp_path)
    result = run_loa(
        "db", "upgrade", "--json", "--config", str(config), env={"LOA_STORE_URL": postgres_url}
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["from"], data["to"]) == (None, HEAD)
    assert data["store"].startswith("postgresql+asyncpg://")


def test_an_unreachable_postgresql_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, store={"url": f"postgresql://loa:secret@127.0.0.1:{port}/loa"})
    result = run_loa("db", "upgrade", "--config", str(config))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert f"127.0.0.1:{port}" in line
    assert "secret" not in line


def test_status_without_a_broker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, broker={"port": free_port(), "connect_timeout": 2})
    result = run_loa("status", "--config", str(config))
    assert result.returncode == 2
    assert "cannot reach the MQTT broker" in one_error_line(result.stderr)


@pytest.mark.broker
def test_status_with_no_controller_presence_says_unknown_and_exits_1(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    config = write_config(
        tmp_path, topic_prefix=topic_prefix, broker={"mode": "external", "port": mosquitto.port}
    )
    result = run_loa("status", "--json", "--wait", "0.5", "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["state"] == "unknown"
