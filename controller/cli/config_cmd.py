"""`loa config check`: load, validate and show the resolved settings, secrets masked."""

from __future__ import annotations

import argparse

from controller.cli.output import as_yaml, emit_json, emit_text
from controller.config import load_config, masked
from loa.errors import ConfigError


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    config = commands.add_parser("config", help="check the configuration")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        parents=[common],
        help="validate the config and print the resolved settings (secrets masked)",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        if args.json:
            emit_json(
                {
                    "valid": False,
                    "error": str(exc),
                    "source": exc.source,
                    "key": exc.key,
                    "line": exc.line,
                }
            )
        raise
    overrides = dict(config.env_overrides)
    if args.json:
        emit_json(
            {
                "valid": True,
                "source": str(config.source),
                "env_overrides": overrides,
                "settings": masked(config),
            }
        )
        return 0
    lines = [f"# {config.source}: valid"]
    lines += [f"# {key} is set by {env}" for key, env in overrides.items()]
    emit_text("\n".join(lines) + "\n" + as_yaml(masked(config)))
    return 0
