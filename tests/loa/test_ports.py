"""`loa.ports.free_port`: a port nobody listens on, below the ephemeral range, never the
same one twice in a process."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from loa import ports


def ephemeral_start() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_free_below_the_ephemeral_range_and_never_repeated() -> None:
    given = [ports.free_port() for _ in range(50)]
    assert len(set(given)) == 50
    assert all(ports.LOWEST <= port < ephemeral_start() for port in given)
    with socket.socket() as server:  # free indeed: a server can listen there
        server.bind(("127.0.0.1", given[-1]))
        server.listen()


def bindable_ports(count: int) -> list[int]:
    """`count` ports in the range free_port looks in that can be bound now."""
    found: list[int] = []
    for port in range(ports.LOWEST + 5000, ports.LOWEST + 6000):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise AssertionError("no free ports to test with")


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    taken, free = bindable_ports(2)
    picks = iter([taken, free])
    monkeypatch.setattr(random, "randint", lambda low, high: next(picks))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        assert ports.free_port() == free


def test_without_room_below_the_ephemeral_range_the_os_picks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow = tmp_path / "ip_local_port_range"
    narrow.write_text("1024\t65000\n")
    monkeypatch.setattr(ports, "_RANGE_FILE", narrow)
    port = ports.free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
