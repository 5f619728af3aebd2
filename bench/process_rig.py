"""What the benchmarks read of a process from /proc: CPU seconds, resident memory, and the
open-files limit a fleet of thousands of sockets needs. Not a benchmark itself (`make
bench` skips `*_rig.py`)."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft limit of open files towards `wanted`; the limit set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    return limit


def rss_kb(pid: int | str = "self") -> int:
    """The resident memory of `pid`, in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
