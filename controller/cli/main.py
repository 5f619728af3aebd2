"""`loa`: the one command-line program of Loa.

Errors a person can fix (`LoaError`) print one line, `loa: error: ...`, and
exit with code 2; `--debug` adds the traceback. Every listing subcommand
takes `--json`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from controller.cli import (
    alerts_cmd,
    audio_cmd,
    bulletin_cmd,
    config_cmd,
    db_cmd,
    devices_cmd,
    keys_cmd,
    schedule_cmd,
    serve_cmd,
    sim_cmd,
    status_cmd,
    uptime_cmd,
)
from loa import __version__
from loa.errors import LoaError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help="config file (default: $LOA_CONFIG, else ./config.yaml)",
    )
    common.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser = argparse.ArgumentParser(
        prog="loa",
        description="Loa: the open controller for commune IP/4G loudspeaker clusters.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"loa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        config_cmd,
        db_cmd,
        devices_cmd,
        alerts_cmd,
        uptime_cmd,
        serve_cmd,
        status_cmd,
        sim_cmd,
        audio_cmd,
        keys_cmd,
        bulletin_cmd,
        schedule_cmd,
    ):
        module.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except LoaError as exc:
        return _fail(exc, args.debug)
    except BaseExceptionGroup as group:
        first = _first_loa_error(group)
        if first is None:
            raise
        return _fail(first, args.debug, group)
    return code


def _fail(exc: LoaError, debug: bool, raised: BaseException | None = None) -> int:
    if debug:
        traceback.print_exception(raised or exc)
    sys.stderr.write(f"loa: error: {exc}\n")
    return exc.exit_code


def _first_loa_error(group: BaseExceptionGroup[BaseException]) -> LoaError | None:
    for exc in group.exceptions:
        if isinstance(exc, LoaError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_loa_error(exc)
            if found is not None:
                return found
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
