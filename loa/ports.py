"""A free TCP port for a server Loa starts itself (a private Mosquitto), chosen so that
nothing else is likely to take it before the server binds it.

Asking the OS for port 0 and closing the probe returns a port from the *ephemeral* range
(`/proc/sys/net/ipv4/ip_local_port_range`, usually 32768-60999), the range every outgoing
connection takes its source port from: on a busy machine (tests side by side, a fleet of
simulated receivers connecting) one of those connections can take the port in the moment
before the server binds it. `free_port()` instead picks at random below that range, checks
that nothing listens there, and never hands out the same port twice in one process.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path
from typing import Final

#: Where to look below the ephemeral range (above the usual fixed service ports).
LOWEST: Final = 20000
_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
_TRIES: Final = 200

_given: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on now, outside the ephemeral range."""
    highest = _ephemeral_start() - 1
    with _lock:
        if highest > LOWEST:
            for _ in range(_TRIES):
                port = random.randint(LOWEST, highest)  # noqa: S311 (not for security)
                if port not in _given and _bindable(host, port):
                    _given.add(port)
                    return port
        # No room below the ephemeral range on this machine: let the OS pick.
        with socket.socket(_family(host)) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        _given.add(port)
        return port


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bindable(host: str, port: int) -> bool:
    with socket.socket(_family(host)) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
