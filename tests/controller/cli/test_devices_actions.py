"""`loa devices volume | restart | test-tone` against a running `loa serve`: the command
line asks the server, which signs and sends (or keeps for a receiver that is away)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.controller import one_error_line, run_loa
from tests.support.dashboard import DashboardWorld, dashboard_world, reported_volume, wait_for
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def loa(world: DashboardWorld, *args: str, port: int | None = None) -> (
    subprocess.CompletedProcess[str]
):  # fmt: skip
    """`loa ARGS --config` the world's config, told the server's port (the config says 0)."""
    config = str(world.config.data_dir.parent / "config.yaml")
    env = {"LOA_HTTP_PORT": str(world.server.port if port is None else port)}
    return await asyncio.to_thread(run_loa, *args, "--config", config, env=env)


async def test_volume_restart_and_test_tone_from_the_command_line(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=2, villages=1, heartbeat_s=10) as world:
        ingest = world.server.controller.ingest
        assert ingest is not None
        rx, away = (r.id for r in world.receivers)

        done = await loa(world, "devices", "volume", rx, "30")
        assert (done.returncode, done.stdout.strip()) == (0, f"{rx}: volume 30 % sent"), done
        await wait_for(
            lambda: reported_volume(world.server.controller, rx) == 30,
            20,
            f"{rx} reporting volume 30",
        )

        tone = await loa(world, "devices", "test-tone", rx, "--json")
        assert tone.returncode == 0, tone.stderr
        answer = json.loads(tone.stdout)
        assert (answer["command"], answer["online"]) == ("test-tone", True)
        assert answer["occurrence"]

        # A receiver that is away: the restart waits for it.
        world.fleet[away].kill()
        await wait_for(lambda: not ingest.is_online(away), 10, f"{away} offline")
        waits = await loa(world, "devices", "restart", away)
        assert waits.returncode == 0, waits.stderr
        assert waits.stdout.strip() == (
            f"{away} is not online: the restart waits until it comes back "
            "(for 10 min, across controller restarts)"
        )

        # Mistakes: one line each, exit 2, nothing sent.
        unknown = await loa(world, "devices", "volume", "no-such-rx", "20")
        assert unknown.returncode == 2
        assert "no-such-rx" in one_error_line(unknown.stderr)
        loud = await loa(world, "devices", "volume", rx, "101")
        assert loud.returncode == 2
        assert "argument PERCENT: 101 is out of range; give 0 to 100" in loud.stderr
        nobody = await loa(world, "devices", "restart", rx, port=free_port())
        assert nobody.returncode == 2
        assert "cannot reach `loa serve` at http://127.0.0.1:" in one_error_line(nobody.stderr)
        config = str(world.config.data_dir.parent / "config.yaml")
        unknown_port = await asyncio.to_thread(
            run_loa, "devices", "restart", rx, "--config", config
        )
        assert unknown_port.returncode == 2
        assert "http.port is 0" in one_error_line(unknown_port.stderr)
