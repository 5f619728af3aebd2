"""`loa status`: is the controller online? Read from its retained presence on the broker."""

from __future__ import annotations

import argparse
import asyncio
from zoneinfo import ZoneInfo

from controller.cli.output import emit_json, emit_text
from controller.config import load_config
from devices.protocol import ControllerPresence, Topics


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "status",
        parents=[common],
        help="show the controller's presence on the broker (exit 0 online, 1 otherwise)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--wait",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for the retained presence (default 2)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from controller.mqtt import read_retained

    config = load_config(args.config)
    topics = Topics(config.topic_prefix)
    topic = topics.controller_status
    payload = asyncio.run(read_retained(config.broker, topic, wait=args.wait))
    presence = None if payload is None else ControllerPresence.decode(payload, topic)
    if args.json:
        emit_json(
            {
                "topic": topic,
                "state": "unknown" if presence is None else presence.state,
                "epoch": None if presence is None else presence.epoch,
                "since": None if presence is None else presence.since.isoformat(),
                "reason": None if presence is None else presence.reason,
                "version": None if presence is None else presence.version,
            }
        )
    elif presence is None:
        emit_text(f"controller: unknown (nothing retained on {topic})")
    else:
        since = presence.since.astimezone(ZoneInfo(config.time_zone))
        detail = f", {presence.reason}" if presence.reason else ""
        emit_text(
            f"controller: {presence.state}{detail} (epoch {presence.epoch}, Loa "
            f"{presence.version}, connected {since:%Y-%m-%d %H:%M:%S %z}) on {topic}"
        )
    return 0 if presence is not None and presence.state == "online" else 1
