"""Finding and stopping a Mosquitto left running by a controller that was killed.

Such an orphan is recognised by the pid file in the broker's data folder and
by its command line, which must name our config file: a reused pid that now
belongs to another program is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from loa.errors import BrokerStartError

logger = logging.getLogger(__name__)

ORPHAN_TIMEOUT = 3.0


async def replace_orphan(pid_file: Path, config_path: Path) -> None:
    """Stop a Mosquitto left running on our config by a controller that was killed."""
    pid = _read_pid(pid_file)
    if pid is None or not _runs_our_config(pid, config_path):
        return
    logger.warning(
        "A Mosquitto from a previous controller (pid %d) still runs on %s; replacing it",
        pid,
        config_path,
    )
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise BrokerStartError(
                f"a Mosquitto from a previous run (pid {pid}, config {config_path}) still "
                "runs and this user may not stop it; stop it, then start again"
            ) from exc
        if await _wait_gone(pid, ORPHAN_TIMEOUT):
            return
        logger.warning("Mosquitto pid %d outlived SIGTERM for %.0f s", pid, ORPHAN_TIMEOUT)
    raise BrokerStartError(f"the old Mosquitto (pid {pid}) survived SIGKILL; check the machine")


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _runs_our_config(pid: int, config_path: Path) -> bool:
    """Whether process `pid` is alive and its command line names `config_path`."""
    if pid == os.getpid():
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    except OSError:
        return False
    alive = bool(state) and state[0] not in ("Z", "X")
    return alive and os.fsencode(config_path) in arguments


async def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until process `pid` (not our child) has exited; False on timeout."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(descriptor, readable)
    try:
        async with asyncio.timeout(timeout):
            await exited
    except TimeoutError:
        return False
    else:
        return True
    finally:
        loop.remove_reader(descriptor)
        os.close(descriptor)
