"""`loa serve`: run the controller until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from controller.cli.logs import setup_logging
from controller.config import load_config


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "serve",
        parents=[common],
        help="run the controller, its dashboard and API (and its embedded broker)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from controller.http.server import serve

    config = load_config(args.config)
    setup_logging("DEBUG" if args.debug else config.logging.level, config.time_zone)
    asyncio.run(serve(config))
    return 0
