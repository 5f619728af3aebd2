"""The generated Mosquitto config: its lines, and that real Mosquitto accepts it."""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from controller.broker.mosquitto_conf import (
    MosquittoSettings,
    TlsListener,
    render,
    settings_from_config,
    write_password_file,
)
from controller.config.model import BrokerConfig, EmbeddedBrokerConfig
from loa.errors import ConfigError
from tests.support.mosquitto import (
    MOSQUITTO_PASSWD,
    PrivateMosquitto,
    TlsMaterial,
    free_port,
)
from tests.support.paho_client import PahoClient

DATA = Path("/srv/loa/mosquitto")
ALICE = ("alice", "wonder land")  # a user and a password with a space


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_defaults_raise_the_limits_that_drop_bursts() -> None:
    lines = directives(render(MosquittoSettings("127.0.0.1", 18830, DATA)))
    assert "max_queued_messages 1000000" in lines
    assert "max_queued_bytes 0" in lines
    assert "max_inflight_messages 0" in lines
    assert not [line for line in lines if line.startswith("max_packet_size")]
    assert lines[-1] == "listener 18830 127.0.0.1"


def test_every_directive_sits_under_a_comment() -> None:
    tls = TlsListener(8883, DATA / "ca.crt", DATA / "s.crt", DATA / "s.key")
    settings = MosquittoSettings(
        "0.0.0.0", 1884, DATA, password_file=DATA / "p", acl_file=DATA / "a", tls=tls
    )
    block_has_comment = False
    for line in render(settings).splitlines():
        if not line:
            block_has_comment = False
        elif line.startswith("#"):
            block_has_comment = True
        else:
            assert block_has_comment, f"{line!r} has no comment above it"


def test_user_line_names_the_effective_user() -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert f"user {me}" in directives(render(MosquittoSettings("127.0.0.1", 1884, DATA)))
    if os.geteuid() == 0:
        assert me == "root"
    no_user = MosquittoSettings("127.0.0.1", 1884, DATA, user=None)
    assert not [line for line in directives(render(no_user)) if line.startswith("user")]


def test_persistence_on_and_off() -> None:
    on = directives(render(MosquittoSettings("127.0.0.1", 1884, DATA, autosave_interval=7)))
    assert "persistence true" in on
    assert f"persistence_location {DATA}/" in on
    assert "autosave_interval 7" in on
    assert f"pid_file {DATA}/mosquitto.pid" in on
    off = directives(render(MosquittoSettings("127.0.0.1", 1884, DATA, persistence=False)))
    assert "persistence false" in off
    assert not [line for line in off if line.startswith(("persistence_", "autosave"))]


def test_password_acl_and_tls_lines_only_when_set() -> None:
    plain = directives(render(MosquittoSettings("127.0.0.1", 1884, DATA)))
    assert "allow_anonymous true" in plain
    assert not [line for line in plain if line.startswith(("password_file", "acl_file", "cafile"))]
    tls = TlsListener(8883, DATA / "ca.crt", DATA / "s.crt", DATA / "s.key", True)
    full = directives(
        render(
            MosquittoSettings(
                "127.0.0.1",
                1884,
                DATA,
                allow_anonymous=False,
                password_file=DATA / "passwd",
                acl_file=DATA / "acl",
                tls=tls,
                sys_interval=1,
            )
        )
    )
    assert "allow_anonymous false" in full
    assert f"password_file {DATA}/passwd" in full
    assert f"acl_file {DATA}/acl" in full
    assert "sys_interval 1" in full
    # Listener options bind to the listener above them: TLS files come after the TLS listener.
    tls_at = full.index("listener 8883 127.0.0.1")
    assert full.index("listener 1884 127.0.0.1") < tls_at
    assert full[tls_at + 1 :] == [
        f"cafile {DATA}/ca.crt",
        f"certfile {DATA}/s.crt",
        f"keyfile {DATA}/s.key",
        "require_certificate true",
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"data_dir": Path("relative")},
        {"host": "127.0.0.1\nlistener 1 0.0.0.0"},
        {"port": 0},
        {"max_queued_messages": -1},
        {"tls": TlsListener(1884, DATA / "c", DATA / "s", DATA / "k")},
    ],
)
def test_settings_refuse_values_that_would_break_the_config(change: dict[str, Any]) -> None:
    base = MosquittoSettings("127.0.0.1", 1884, DATA)
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        replace(base, **change)


def test_settings_from_config_writes_a_private_password_file(tmp_path: Path) -> None:
    broker = BrokerConfig(
        port=1999,
        username=ALICE[0],
        password=ALICE[1],
        embedded=EmbeddedBrokerConfig(allow_anonymous=False, max_queued_messages=5),
    )
    settings = settings_from_config(broker, tmp_path)
    assert settings.data_dir == tmp_path / "mosquitto"
    assert settings.port == 1999
    assert settings.max_queued_messages == 5
    assert not settings.allow_anonymous
    assert settings.password_file == tmp_path / "mosquitto" / "passwd"
    entry = settings.password_file.read_text()
    assert entry.startswith("alice:$7$101$")
    assert ALICE[1] not in entry
    assert stat.S_IMODE(settings.password_file.stat().st_mode) == 0o600


def test_settings_from_config_without_credentials(tmp_path: Path) -> None:
    settings = settings_from_config(BrokerConfig(), tmp_path)
    assert settings.password_file is None
    # Sessions of receivers taken out of service do not queue forever.
    assert "persistent_client_expiration 30d" in directives(render(settings))
    closed = BrokerConfig(embedded=EmbeddedBrokerConfig(allow_anonymous=False))
    with pytest.raises(ConfigError, match=r"broker\.embedded\.allow_anonymous"):
        settings_from_config(closed, tmp_path)


def test_usernames_with_a_colon_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"broker\.username"):
        write_password_file(tmp_path / "p", {"a:b": "x"}, passwd_binary=None)


def _variants(tmp: Path, tls: TlsMaterial) -> dict[str, MosquittoSettings]:
    base = MosquittoSettings("127.0.0.1", free_port(), tmp)
    listener = TlsListener(free_port(), tls.ca_file, tls.cert_file, tls.key_file)
    auth = replace(base, allow_anonymous=False, password_file=tmp / "passwd", acl_file=tmp / "acl")
    return {
        "embedded-defaults": settings_from_config(BrokerConfig(port=base.port), tmp),
        "no-persistence": replace(base, persistence=False, sys_interval=1, log_timestamp=True),
        "auth": auth,
        "auth-python-hash": auth,
        "tls": replace(base, tls=listener),
        "tls-client-certs": replace(base, tls=replace(listener, require_certificate=True)),
    }


@pytest.mark.broker
@pytest.mark.parametrize(
    "variant",
    ["embedded-defaults", "no-persistence", "auth", "auth-python-hash", "tls", "tls-client-certs"],
)
def test_real_mosquitto_accepts_each_variant(
    variant: str, tmp_path: Path, mosquitto_tls_material: TlsMaterial
) -> None:
    settings = _variants(tmp_path, mosquitto_tls_material)[variant]
    broker = PrivateMosquitto(
        settings,
        users=dict([ALICE]),
        acl_lines=["user alice", "topic #"],
        passwd_binary=None if variant == "auth-python-hash" else MOSQUITTO_PASSWD,
    )
    broker.start()
    try:
        client = PahoClient(broker.host, broker.port, username=ALICE[0], password=ALICE[1])
        with client:
            assert not client.connect().is_failure
        assert "Error" not in broker.log_text()
    finally:
        broker.stop()
