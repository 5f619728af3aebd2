"""The one error tree of Loa.

Every error a person can cause or meet derives from `LoaError` and carries a
message that says what was wrong, where, and what to do. Library errors are
translated at the adapter that calls the library (`raise ... from exc`).

    LoaError
    ├── ConfigError          a config file, key or environment variable is wrong
    ├── HttpBindError        the dashboard's address cannot be listened on (port in use)
    ├── StoreError           the database cannot be opened, migrated or written
    ├── BrokerError          the MQTT broker cannot be started or reached
    │   ├── BrokerNotInstalled    the mosquitto binary is missing
    │   ├── BrokerPortInUse       the embedded broker's port is taken
    │   ├── BrokerStartError      mosquitto started but did not come up
    │   └── BrokerUnreachable     no connection to the broker within the startup timeout
    ├── ProtocolError        a message on the wire is not what the protocol says
    │   └── DecodeError           bytes that cannot be decoded into a message
    └── (defined where they are raised)
        ├── devices.registry.RegistryError      a registry import that cannot be done
        │   └── RegistryFileError                a registry file with problems, by line
        ├── loa.mqtt.MqttError                  Loa's MQTT client (a BrokerError)
        ├── schedules.errors.RecurrenceError    a schedule's "when" that is not valid
        ├── schedules.model.ScheduleError       a schedule field that is not valid
        └── schedules.file.ScheduleFileError    schedule files with problems, by line

The command line prints `str(error)` on one line and exits with `exit_code`
(2 for every error a person can fix); a traceback only with `--debug`.
"""

from __future__ import annotations

from typing import ClassVar


class LoaError(Exception):
    """Root of every error Loa raises on purpose."""

    exit_code: ClassVar[int] = 2


class ConfigError(LoaError):
    """A config value is wrong.

    `source` is the file (or the environment variable) it came from, `key` the
    dotted key path (`broker.port`), `line` the line in the file when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.key = key
        self.line = line
        where = source if line is None else f"{source}:{line}"
        if key:
            where = f"{where}: {key}"
        super().__init__(f"{where}: {problem}")


class HttpBindError(LoaError):
    """The HTTP server (dashboard and API) cannot listen on its address."""


class StoreError(LoaError):
    """The store (SQLite or PostgreSQL) cannot be opened, migrated or written."""


class BrokerError(LoaError):
    """The MQTT broker cannot be started, supervised or reached."""


class BrokerNotInstalled(BrokerError):
    """The embedded broker's binary is not on this machine."""


class BrokerPortInUse(BrokerError):
    """The embedded broker's port is already held by another process."""

    def __init__(self, host: str, port: int, key: str = "broker.port") -> None:
        self.host = host
        self.port = port
        super().__init__(
            f"port {port} on {host} is already in use, so the embedded Mosquitto cannot listen "
            f"there ({key}); stop what holds it (`ss -ltnp 'sport = :{port}'` shows it) "
            f"or choose another port in {key}"
        )


class BrokerStartError(BrokerError):
    """The embedded broker was started but did not come up."""


class BrokerUnreachable(BrokerError):
    """No connection to the broker could be made in time."""


class ProtocolError(LoaError):
    """A message on the wire breaks the protocol."""


class DecodeError(ProtocolError):
    """Bytes from the wire that cannot be decoded into a protocol message.

    `topic` says where the bytes came from, so a technician can find the sender;
    `reason` sorts problems for counting: `malformed`, `oversized` or `impersonation`
    (a sender using another receiver's id).
    """

    def __init__(
        self, problem: str, *, topic: str | None = None, reason: str = "malformed"
    ) -> None:
        self.problem = problem
        self.topic = topic
        self.reason = reason
        super().__init__(problem if topic is None else f"{topic}: {problem}")
