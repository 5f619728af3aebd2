"""`load_config()`: the one place that reads `config.yaml` and the environment.

Resolution after the typed build:

- relative paths (`data_dir`, TLS files, a relative SQLite file) are taken
  from the folder of the config file, so `loa serve --config /etc/loa/x.yaml`
  works from any working directory;
- `store.url` defaults to an SQLite file in the data dir, and `sqlite://` and
  `postgresql://` URLs are given their async drivers (aiosqlite, asyncpg);
- the time zone must be known to the system's zone database;
- the topic prefix must fit every broker we support (`[a-z0-9_-]` levels).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.config.build import BuildContext, build
from controller.config.model import BrokerConfig, Config, StoreConfig, TlsConfig
from controller.config.yaml_source import read_yaml
from loa.redact import mask_url

#: Where `loa` looks for its config when neither --config nor LOA_CONFIG is given.
DEFAULT_CONFIG = Path("config.yaml")

_TOPIC_LEVEL = re.compile(r"^[a-z0-9_-]+$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,23}$")
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
MASK = "********"


def config_path(explicit: Path | None, environ: Mapping[str, str]) -> Path:
    """The config file to read: --config, else $LOA_CONFIG, else ./config.yaml."""
    if explicit is not None:
        return explicit
    if environ.get("LOA_CONFIG"):
        return Path(environ["LOA_CONFIG"])
    return DEFAULT_CONFIG


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load, validate and resolve the config; raise `ConfigError` naming what is wrong."""
    env = os.environ if environ is None else environ
    file = config_path(path, env)
    doc = read_yaml(file)
    ctx = BuildContext(source=doc.source, lines=doc.lines, environ=env)
    raw = build(Config, doc.data, ctx)
    base = file.resolve().parent
    data_dir = _absolute(raw.data_dir, base)
    return dataclasses.replace(
        raw,
        data_dir=data_dir,
        time_zone=_check_zone(raw.time_zone, ctx),
        topic_prefix=_check_prefix(raw.topic_prefix, ctx),
        broker=_resolve_broker(raw.broker, base, ctx),
        store=StoreConfig(url=_resolve_store_url(raw.store.url, data_dir, base, ctx)),
        source=file.resolve(),
        env_overrides=tuple(ctx.env_overrides),
    )


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def _check_zone(name: str, ctx: BuildContext) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ctx.error(
            "time_zone",
            f"{name!r} is not a known time zone; expected an IANA name like 'Asia/Ho_Chi_Minh'",
        ) from exc
    return name


def _check_prefix(prefix: str, ctx: BuildContext) -> str:
    levels = prefix.split("/")
    if not all(_TOPIC_LEVEL.match(level) for level in levels):
        raise ctx.error(
            "topic_prefix",
            f"{prefix!r} is not valid; expected topic levels of lower-case letters, digits, "
            "'_' and '-' separated by '/' (like 'loa' or 'caobang/loa'): clustered brokers "
            "drop or rewrite other characters",
        )
    return prefix


def _resolve_broker(broker: BrokerConfig, base: Path, ctx: BuildContext) -> BrokerConfig:
    if not _CLIENT_ID.match(broker.client_id):
        raise ctx.error(
            "broker.client_id",
            f"{broker.client_id!r} is not valid; expected 1 to 23 letters, digits, '_' or '-' "
            "(the length every MQTT 3.1.1 broker must accept)",
        )
    if (broker.username is None) != (broker.password is None):
        missing = "broker.password" if broker.password is None else "broker.username"
        raise ctx.error(missing, "set both broker.username and broker.password, or neither")
    if broker.username is not None and (":" in broker.username or not broker.username.strip()):
        raise ctx.error(
            "broker.username", f"{broker.username!r} is not valid; expected a name without ':'"
        )
    if (
        broker.mode == "embedded"
        and not broker.embedded.allow_anonymous
        and broker.username is None
    ):
        raise ctx.error(
            "broker.embedded.allow_anonymous",
            "is false but broker.username and broker.password are not set, so nobody could "
            "connect to the embedded Mosquitto; set them or allow anonymous clients",
        )
    if broker.reconnect.initial_delay > broker.reconnect.max_delay:
        raise ctx.error(
            "broker.reconnect.initial_delay",
            f"{broker.reconnect.initial_delay} is larger than broker.reconnect.max_delay "
            f"({broker.reconnect.max_delay}); expected initial_delay <= max_delay",
        )
    return dataclasses.replace(broker, tls=_resolve_tls(broker.tls, base, ctx))


def _resolve_tls(tls: TlsConfig, base: Path, ctx: BuildContext) -> TlsConfig:
    resolved: dict[str, Path | None] = {}
    for name in ("ca_file", "cert_file", "key_file"):
        value: Path | None = getattr(tls, name)
        if value is not None:
            value = _absolute(value, base)
            if tls.enabled and not value.is_file():
                raise ctx.error(f"broker.tls.{name}", f"file not found: {value}")
        resolved[name] = value
    if tls.enabled and (resolved["cert_file"] is None) != (resolved["key_file"] is None):
        raise ctx.error(
            "broker.tls.key_file",
            "a client certificate needs its key: set both broker.tls.cert_file and "
            "broker.tls.key_file, or neither",
        )
    return TlsConfig(enabled=tls.enabled, **resolved)


def _resolve_store_url(url: str, data_dir: Path, base: Path, ctx: BuildContext) -> str:
    if not url:
        return f"sqlite+aiosqlite:///{data_dir / 'loa.db'}"
    parts = urlsplit(url)
    driver = _DRIVERS.get(parts.scheme)
    if driver is None:
        raise ctx.error(
            "store.url",
            f"{mask_url(url)!r} has the scheme {parts.scheme!r}, which Loa cannot use; "
            "expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE",
        )
    if driver.startswith("sqlite"):
        # sqlite:///relative.db and sqlite:////absolute.db; ':memory:' has no file.
        raw_path = url.split(":///", 1)[1] if ":///" in url else ""
        if not raw_path:
            raise ctx.error(
                "store.url", f"{url!r} names no database file; expected sqlite:///PATH/loa.db"
            )
        if raw_path == ":memory:":
            raise ctx.error(
                "store.url",
                "an in-memory SQLite store forgets everything on restart; give a file path",
            )
        path = raw_path.split("?", 1)[0]
        query = raw_path[len(path) :]
        return f"{driver}:///{_absolute(Path(path), base)}{query}"
    if not parts.hostname and not parts.path.strip("/"):
        raise ctx.error(
            "store.url",
            f"{mask_url(url)!r} names no server or database; expected "
            "postgresql://USER:PASSWORD@HOST/DATABASE",
        )
    return urlunsplit(parts._replace(scheme=driver))


def masked(config: Config) -> dict[str, Any]:
    """The settings as plain data for people to read, with every secret masked."""
    return _masked_dataclass(config)


def _masked_dataclass(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        if "check" not in field.metadata:
            continue
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            out[field.name] = _masked_dataclass(value)
        elif field.metadata.get("secret") and value:
            out[field.name] = mask_url(value) if "://" in str(value) else MASK
        elif isinstance(value, Path):
            out[field.name] = str(value)
        else:
            out[field.name] = value
    return out
