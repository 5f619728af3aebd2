"""`loa alerts`: receivers that need a technician, and why."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from controller.cli.output import emit_json, emit_text
from controller.config import Config, load_config
from controller.live.sources import alert_policy
from devices.alerts import Alert, HealthSnapshot, alerts
from loa.clock import utc_iso


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "alerts", parents=[common], help="receivers that need a technician, and why"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    found = asyncio.run(current_alerts(config, datetime.now(UTC)))
    if args.json:
        emit_json(
            [
                {
                    "receiver": alert.receiver_id,
                    "kind": alert.kind,
                    "severity": alert.severity,
                    "message": alert.message,
                    "since": utc_iso(alert.since) if alert.since else None,
                }
                for alert in found
            ]
        )
        return 0
    if not found:
        emit_text("no alerts")
        return 0
    zone = ZoneInfo(config.time_zone)
    rows = [("SEVERITY", "RECEIVER", "SINCE", "ALERT")]
    for alert in found:
        since = alert.since.astimezone(zone).strftime("%Y-%m-%d %H:%M") if alert.since else "-"
        rows.append((alert.severity, alert.receiver_id, since, alert.message))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    emit_text(
        "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
            for row in rows
        )
    )
    return 0


async def current_alerts(config: Config, now: datetime) -> list[Alert]:
    """Every alert of every registered receiver, critical first, then by receiver."""
    from sqlalchemy import select

    from controller.store import Store
    from controller.store.health import load_health
    from controller.store.schema import receivers, unregistered_receivers

    policy = alert_policy(config.health)
    async with await Store.open(config.store.url) as store:
        health = await load_health(store)
        async with store.read() as session:
            ids: list[str] = list((await session.execute(select(receivers.c.id))).scalars())
            strangers: list[Any] = list(
                (await session.execute(select(unregistered_receivers))).all()
            )
    found: list[Alert] = []
    for receiver_id in sorted(ids):
        row = health.get(receiver_id)
        snapshot = (
            HealthSnapshot(receiver_id, "offline", None, "never heard from")
            if row is None
            else HealthSnapshot(receiver_id, row.state, row.since, row.cause, row.telemetry)
        )
        found += alerts(snapshot, policy, now)
    for stranger in strangers:
        found.append(
            Alert(
                stranger.id,
                "unregistered",
                "warning",
                f"connected but not registered (last seen on {stranger.last_topic}); "
                f"adopt it with `loa devices adopt {stranger.id} --village ...` if it is ours",
                stranger.first_seen,
            )
        )
    return sorted(found, key=lambda alert: (alert.severity != "critical", alert.receiver_id))
