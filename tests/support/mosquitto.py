"""Private Mosquitto brokers for tests (a pytest plugin).

Configs come from `controller.broker.mosquitto_conf.render`, the same code the
embedded broker uses. Each broker runs in its own temporary folder on a free
port and is stopped when its test ends, failed or not; its log is printed at
teardown, so pytest shows it for a failing test.

Fixtures: `mosquitto` (anonymous), `mosquitto_auth` (password file and ACL),
`mosquitto_tls` (plus a TLS listener on `tls_port`), `topic_prefix`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.broker.mosquitto_conf import (
    MosquittoSettings,
    TlsListener,
    render,
    write_password_file,
)
from loa import ports

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
HOST = "127.0.0.1"
READY_TIMEOUT = 10.0
_POLL = 0.01


def free_port(host: str = HOST) -> int:
    """A TCP port that nothing listens on right now, outside the ephemeral range
    (`loa.ports`: an outgoing connection of a test beside it cannot take it)."""
    return ports.free_port(host)


@dataclass(frozen=True)
class TlsMaterial:
    """A test CA and a server certificate for 127.0.0.1 and localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path


class PrivateMosquitto:
    """A Mosquitto child process on `settings`, with its config and log in `settings.data_dir`.

    `users` go into the password file (hashed by `passwd_binary`, or in Python
    when it is None) and `acl_lines` into the ACL file, when `settings` has them.
    """

    def __init__(
        self,
        settings: MosquittoSettings,
        *,
        users: Mapping[str, str] | None = None,
        acl_lines: Sequence[str] = (),
        ca_file: Path | None = None,
        passwd_binary: str | None = MOSQUITTO_PASSWD,
    ) -> None:
        self.settings = settings
        self.passwd_binary = passwd_binary
        self.users = dict(users or {})
        self.acl_lines = list(acl_lines)
        self.ca_file = ca_file
        self.log_file = settings.data_dir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def tls_port(self) -> int | None:
        return self.settings.tls.port if self.settings.tls else None

    @property
    def pid(self) -> int | None:
        """The running broker's process id, or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def username(self) -> str | None:
        """The first user of the password file (the fixture's own), if any."""
        return next(iter(self.users), None)

    @property
    def password(self) -> str | None:
        return self.users[self.username] if self.username else None

    @property
    def config_path(self) -> Path:
        return self.settings.config_file

    def start(self, port_wait: float = 3.0) -> None:
        """Write the files, start Mosquitto and wait until every listener accepts.

        While its port is still in use, it tries again for `port_wait` seconds.
        """
        if self.pid is not None:
            raise RuntimeError(f"mosquitto already runs (pid {self.pid})")
        self._write_files()
        deadline = time.monotonic() + READY_TIMEOUT
        port_deadline = time.monotonic() + port_wait
        while True:
            offset = len(self.log_text())
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(
                    [MOSQUITTO, "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if self._wait_ready(deadline):
                return
            self._process.wait()
            said = self.log_text()[offset:]
            if "Address already in use" not in said or time.monotonic() > port_deadline:
                raise RuntimeError(f"mosquitto did not come up on port {self.port}:\n{said}")
            time.sleep(0.05)  # restart() on the same port: the old process just let go

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM by pid, SIGKILL after `timeout`; does nothing when not running."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final persistence save."""
        process = self._process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self) -> None:
        """Stop (if running) and start again on the same ports."""
        self.stop()
        self.start()

    def add_user(self, username: str, password: str) -> None:
        """Add (or change) a user and make the running broker reload its password file."""
        if self.settings.password_file is None:
            raise RuntimeError("this broker has no password file (use `mosquitto_auth`)")
        self.users[username] = password
        self.reload()

    def add_acl(self, *lines: str) -> None:
        """Append ACL lines (`user NAME`, `topic readwrite T/#`, ...) and reload them."""
        if self.settings.acl_file is None:
            raise RuntimeError("this broker has no ACL file (use `mosquitto_auth`)")
        self.acl_lines.extend(lines)
        self.reload()

    def reload(self) -> None:
        """Rewrite the password and ACL files and SIGHUP the broker.

        Returns once Mosquitto logged "Reloading config.": it reloads in the
        same turn of its single-threaded loop, so later connections see the
        new files.
        """
        before = self.log_text().count("Reloading config.")
        self._write_files()
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + READY_TIMEOUT
        while self.log_text().count("Reloading config.") <= before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not reload:\n{self.log_tail()}")
            time.sleep(_POLL)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _write_files(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if s.password_file is not None:
            write_password_file(s.password_file, self.users, passwd_binary=self.passwd_binary)
        if s.acl_file is not None:
            s.acl_file.write_text("".join(f"{line}\n" for line in self.acl_lines))
        self.config_path.write_text(render(s), encoding="utf-8")

    def _wait_ready(self, deadline: float) -> bool:
        """True once every listener accepts; False if the process exited first."""
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        assert self._process is not None
        while self._process.poll() is None:
            if all(_accepts(self.host, port) for port in ports):
                return True
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not listen within {READY_TIMEOUT} s")
            time.sleep(_POLL)
        return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def launch_mosquitto(
    folder: Path,
    *,
    users: Mapping[str, str] | None = None,
    acl_lines: Sequence[str] | None = None,
    tls: TlsMaterial | None = None,
    persistence: bool = False,
    sys_interval: int | None = 1,
) -> PrivateMosquitto:
    """Start a private broker on free ports in `folder` (anonymous unless `users`)."""
    for attempt in range(3):
        tls_listener = None
        if tls is not None:
            tls_listener = TlsListener(free_port(), tls.ca_file, tls.cert_file, tls.key_file)
        settings = MosquittoSettings(
            host=HOST,
            port=free_port(),
            data_dir=folder.absolute(),
            persistence=persistence,
            allow_anonymous=users is None,
            password_file=folder.absolute() / "passwd" if users is not None else None,
            acl_file=folder.absolute() / "acl" if acl_lines is not None else None,
            tls=tls_listener,
            sys_interval=sys_interval,
            log_timestamp=True,
        )
        broker = PrivateMosquitto(
            settings,
            users=users,
            acl_lines=acl_lines or (),
            ca_file=tls.ca_file if tls else None,
        )
        try:
            broker.start(port_wait=0.0)
        except RuntimeError as exc:
            if attempt == 2 or "Address already in use" not in str(exc):
                raise
            continue  # another process took the free port in between
        return broker
    raise AssertionError("unreachable")


def make_tls_material(folder: Path) -> TlsMaterial:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loa test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    material = TlsMaterial(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    material.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    material.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    material.key_file.chmod(0o600)
    return material


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _running(broker: PrivateMosquitto) -> Iterator[PrivateMosquitto]:
    try:
        yield broker
    finally:
        broker.stop()
        print(f"--- mosquitto log ({broker.log_file}) ---\n{broker.log_tail(60)}")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A private anonymous Mosquitto (no persistence, `sys_interval 1`)."""
    yield from _running(launch_mosquitto(tmp_path / "mosquitto"))


@pytest.fixture
def mosquitto_auth(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A Mosquitto that needs a password: `.username`/`.password` may use every topic.

    `add_user(name, password)` and `add_acl(*lines)` change it while it runs.
    """
    username = "loa-test"
    broker = launch_mosquitto(
        tmp_path / "mosquitto-auth",
        users={username: secrets.token_urlsafe(12)},
        acl_lines=[f"user {username}", "topic readwrite #"],
    )
    yield from _running(broker)


@pytest.fixture(scope="session")
def mosquitto_tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """One test CA and server certificate for the whole session."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mosquitto_tls(
    tmp_path: Path, mosquitto_tls_material: TlsMaterial
) -> Iterator[PrivateMosquitto]:
    """An anonymous Mosquitto with plain MQTT on `.port` and TLS on `.tls_port`.

    Clients verify it with `.ca_file`; its certificate names 127.0.0.1 and localhost.
    """
    yield from _running(launch_mosquitto(tmp_path / "mosquitto-tls", tls=mosquitto_tls_material))


@pytest.fixture
def topic_prefix() -> str:
    """A topic level unique to this test, like `t-1a2b3c4d` (matches `[a-z0-9_-]+`)."""
    return f"t-{uuid.uuid4().hex[:8]}"
