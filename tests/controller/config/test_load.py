"""load_config(): the documented default, typos, wrong types, the environment, resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config, masked
from controller.config.model import HttpConfig
from loa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return caught.value


def test_the_documented_default_config_is_valid_and_matches_the_built_in_defaults(
    tmp_path: Path,
) -> None:
    config = load_config(ROOT / "config.yaml", {})
    assert config.broker.mode == "embedded"
    assert config.broker.port == 18830
    assert config.time_zone == "Asia/Ho_Chi_Minh"
    assert config.data_dir == ROOT / "data"
    assert config.store.url == f"sqlite+aiosqlite:///{ROOT / 'data' / 'loa.db'}"
    # An empty file gives the same settings: the documented file states the defaults.
    empty = load_config(write(tmp_path, ""), {})
    paths = {"data_dir": None, "store": None}
    assert masked(empty) | paths == masked(config) | paths


def test_a_typo_names_the_file_line_key_and_suggests_the_right_key(tmp_path: Path) -> None:
    path = write(tmp_path, "broker:\n  mode: embedded\n  prot: 1884\n")
    error = error_of(path)
    assert error.key == "broker.prot"
    assert error.line == 3
    assert str(error).startswith(f"{path}:3: broker.prot: unknown key; did you mean 'port'?")


def test_an_unknown_top_level_section_is_an_error(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "brokr:\n  port: 1\n"))
    assert error.key == "brokr"
    assert "did you mean 'broker'" in str(error)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("broker:\n  port: '18830'\n", "broker.port", "expected a whole number"),
        ("broker:\n  port: 70000\n", "broker.port", "expected a TCP port from 1 to 65535"),
        ("broker:\n  mode: cloud\n", "broker.mode", "expected one of 'embedded', 'external'"),
        ("broker:\n  keepalive: true\n", "broker.keepalive", "expected a whole number"),
        ("broker:\n  tls:\n    enabled: 'yes'\n", "broker.tls.enabled", "true or false"),
        ("broker:\n  host: null\n", "broker.host", "a value is required"),
        ("broker:\n  host: 12\n", "broker.host", "(put it in quotes)"),
        ("broker: 5\n", "broker", "expected a mapping of keys"),
        ("logging:\n  level: LOUD\n", "logging.level", "'DEBUG', 'INFO', 'WARNING', 'ERROR'"),
        ("time_zone: Asia/Hanoi_City\n", "time_zone", "not a known time zone"),
        ("topic_prefix: Loa.v1\n", "topic_prefix", "lower-case letters, digits"),
        (
            "broker:\n  client_id: a-very-long-controller-identifier\n",
            "broker.client_id",
            "1 to 23",
        ),
        ("broker:\n  username: loa\n", "broker.password", "set both"),
        ("broker:\n  reconnect:\n    initial_delay: 60\n", "broker.reconnect.initial_delay", "<="),
        ("store:\n  url: mysql://u:pw@db/loa\n", "store.url", "scheme 'mysql'"),
        ("store:\n  url: 'sqlite:///:memory:'\n", "store.url", "forgets everything"),
    ],
)
def test_a_wrong_value_names_the_key_the_value_and_what_is_expected(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    error = error_of(write(tmp_path, text))
    assert error.key == key
    assert expected in str(error)
    assert str(write(tmp_path, text)) in str(error)


def test_a_store_url_error_never_shows_the_password(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "store:\n  url: mysql://u:hunter2@db/loa\n"))
    assert "hunter2" not in str(error)
    assert "mysql://u:***@db/loa" in str(error)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nope.yaml")
    assert "config file not found" in str(error)
    assert str(tmp_path / "nope.yaml") in str(error)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "broker:\n  port: 1\n  host: [unclosed\n"))
    assert "not valid YAML" in str(error)
    assert error.line is not None


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "broker:\n  port: 1\n  port: 2\n"))
    assert error.key == "broker.port"
    assert "lines 2 and 3" in str(error)


def test_a_top_level_list_is_refused(tmp_path: Path) -> None:
    assert "mapping of keys" in str(error_of(write(tmp_path, "- a\n- b\n")))


def test_the_environment_overrides_host_port_and_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "broker:\n  host: 10.0.0.1\n  port: 1883\n")
    config = load_config(
        path,
        {
            "LOA_BROKER_HOST": "broker.lan",
            "LOA_BROKER_PORT": "8883",
            "LOA_BROKER_USERNAME": "loa",
            "LOA_BROKER_PASSWORD": "s3cret",
            "LOA_STORE_URL": "postgres://loa:pw@db:5432/loa",
        },
    )
    assert (config.broker.host, config.broker.port) == ("broker.lan", 8883)
    assert (config.broker.username, config.broker.password) == ("loa", "s3cret")
    assert config.store.url == "postgresql+asyncpg://loa:pw@db:5432/loa"
    assert dict(config.env_overrides)["broker.port"] == "LOA_BROKER_PORT"


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, ""), {"LOA_BROKER_PORT": "eighteen"})
    assert str(error) == (
        "environment: LOA_BROKER_PORT (overrides broker.port): 'eighteen' is not valid; "
        "expected a whole number"
    )
    error = error_of(write(tmp_path, ""), {"LOA_BROKER_PORT": "0"})
    assert "LOA_BROKER_PORT (overrides broker.port): 0 is not valid" in str(error)


def test_secrets_are_masked_when_shown(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "broker:\n  username: loa\n  password: s3cret\n"),
        {"LOA_STORE_URL": "postgresql://loa:dbpass@db/loa"},
    )
    shown = masked(config)
    assert shown["broker"]["password"] == "********"
    assert shown["store"]["url"] == "postgresql+asyncpg://loa:***@db/loa"
    assert "s3cret" not in repr(shown)
    assert "dbpass" not in repr(shown)


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("x")
    config = load_config(
        write(
            tmp_path,
            "data_dir: var/loa\nstore:\n  url: sqlite:///db/loa.db\n"
            "broker:\n  tls:\n    enabled: true\n    ca_file: certs/ca.pem\n",
        ),
        {},
    )
    assert config.data_dir == tmp_path / "var" / "loa"
    assert config.store.url == f"sqlite+aiosqlite:///{tmp_path / 'db' / 'loa.db'}"
    assert config.broker.tls.ca_file == tmp_path / "certs" / "ca.pem"


def test_a_missing_tls_file_is_an_error_when_tls_is_enabled(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "broker:\n  tls:\n    enabled: true\n    ca_file: ca.pem\n"))
    assert error.key == "broker.tls.ca_file"
    assert "file not found" in str(error)


def test_the_config_path_comes_from_loa_config_when_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, "topic_prefix: caobang/loa\n")
    config = load_config(None, {"LOA_CONFIG": str(path)})
    assert config.topic_prefix == "caobang/loa"
    assert config.source == path


def test_an_embedded_broker_closed_to_anonymous_clients_needs_credentials(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "broker:\n  embedded:\n    allow_anonymous: false\n"))
    assert error.key == "broker.embedded.allow_anonymous"
    assert error.line == 3
    assert "nobody could connect" in str(error)


def test_a_bad_session_expiry_is_refused(tmp_path: Path) -> None:
    error = error_of(
        write(tmp_path, "broker:\n  embedded:\n    persistent_client_expiration: 30 days\n")
    )
    assert error.key == "broker.embedded.persistent_client_expiration"
    assert "'30d'" in str(error)


@pytest.mark.parametrize(
    ("host", "port", "bound", "url"),
    [
        ("127.0.0.1", 8080, None, "http://127.0.0.1:8080"),
        ("0.0.0.0", 8080, None, "http://127.0.0.1:8080"),
        ("::", 0, 41234, "http://127.0.0.1:41234"),
        ("::1", 9000, None, "http://[::1]:9000"),
        ("192.168.1.5", 0, 8081, "http://192.168.1.5:8081"),
    ],
)
def test_the_dashboard_is_reached_at_its_local_url(
    host: str, port: int, bound: int | None, url: str
) -> None:
    assert HttpConfig(host=host, port=port).local_url(bound) == url
