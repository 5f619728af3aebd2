"""`loa devices import | list | show | adopt`: the receiver registry;
`loa devices volume | restart | test-tone`: a technician's actions on one receiver, done
by the running `loa serve` (`controller.cli.server_api`), which signs the command and keeps
it for a receiver that is away.

Times shown to people are in the configured `time_zone`; `--json` gives UTC
instants (`2026-11-30T01:00:00.000Z`). A registry file with problems prints one
`FILE:LINE: problem` line per problem on stderr and imports nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from controller.cli.args import whole_number
from controller.cli.devices_view import (
    detail_json,
    detail_text,
    import_json,
    import_text,
    receiver_json,
    row_json,
    rows_text,
    unregistered_json,
)
from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import load_config

if TYPE_CHECKING:
    from controller.store import Store

T = TypeVar("T")

#: What `--status` accepts: the health states, and receivers heard but not registered.
STATUSES: Final = ("online", "offline", "silent", "unverified", "flapping", "unregistered")


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    devices = commands.add_parser("devices", help="the receiver registry")
    actions = devices.add_subparsers(dest="action", required=True, metavar="ACTION")

    imports = actions.add_parser(
        "import", parents=[common], help="add and update receivers from a registry file"
    )
    imports.add_argument("file", type=Path, metavar="FILE", help="a .yaml, .yml or .csv file")
    imports.add_argument(
        "--dry-run", action="store_true", help="show what would change, write nothing"
    )
    imports.add_argument("--json", action="store_true", help="print JSON")
    imports.set_defaults(run=run_import)

    listing = actions.add_parser("list", parents=[common], help="list receivers and their state")
    listing.add_argument("--group", metavar="G", help="only this group and the groups below it")
    listing.add_argument("--status", metavar="S", help=f"only this state: {', '.join(STATUSES)}")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", parents=[common], help="everything about one receiver")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)

    adopt = actions.add_parser(
        "adopt", parents=[common], help="register a receiver that was heard but not registered"
    )
    adopt.add_argument("id", metavar="ID")
    adopt.add_argument("--village", required=True, metavar="V", help="the village it stands in")
    adopt.add_argument("--name", metavar="N", help="its name (default: its id)")
    adopt.add_argument("--json", action="store_true", help="print JSON")
    adopt.set_defaults(run=run_adopt)

    volume = actions.add_parser(
        "volume", parents=[common], help="set a receiver's standing volume (through loa serve)"
    )
    volume.add_argument("id", metavar="ID")
    volume.add_argument("percent", type=whole_number(0, 100), metavar="PERCENT", help="0 to 100")
    volume.add_argument("--json", action="store_true", help="print JSON")
    volume.set_defaults(run=run_action, action_name="volume")

    restart = actions.add_parser(
        "restart", parents=[common], help="reboot a receiver (through loa serve)"
    )
    restart.add_argument("id", metavar="ID")
    restart.add_argument("--json", action="store_true", help="print JSON")
    restart.set_defaults(run=run_action, action_name="restart")

    tone = actions.add_parser(
        "test-tone", parents=[common], help="play the test tone on one receiver (through loa serve)"
    )
    tone.add_argument("id", metavar="ID")
    tone.add_argument("--json", action="store_true", help="print JSON")
    tone.set_defaults(run=run_action, action_name="test-tone")


def run_import(args: argparse.Namespace) -> int:
    from controller.store import import_registry
    from devices.registry import RegistryError, RegistryFileError, read_registry
    from loa.clock import SystemClock

    config = load_config(args.config)
    try:
        registry = read_registry(args.file)
    except RegistryFileError as exc:
        if args.json:
            errors = [{"line": line, "problem": problem} for line, problem in exc.errors]
            emit_json({"file": exc.source, "imported": False, "errors": errors})
        if len(exc.errors) == 1 and exc.errors[0][0] is None:
            raise  # about the whole file (not found, not UTF-8...): one line says it all
        sys.stderr.write("".join(f"{line}\n" for line in exc.lines()))
        count = len(exc.errors)
        raise RegistryError(
            f"{exc.source}: {count} problem{'s' if count > 1 else ''}, so nothing was imported; "
            "fix the lines above and import again"
        ) from exc

    async def work(store: Store) -> Any:
        return await import_registry(
            store,
            registry.groups,
            registry.receivers,
            dry_run=args.dry_run,
            at=SystemClock().now(),
        )

    result = with_store(config, work)
    if args.json:
        emit_json(import_json(str(args.file), result))
    else:
        emit_text(import_text(str(args.file), result))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from controller.store import list_receivers, list_unregistered
    from devices.registry import RegistryError

    config = load_config(args.config)
    if args.status is not None and args.status not in STATUSES:
        raise RegistryError(
            f"unknown status {args.status!r} (--status); expected one of {', '.join(STATUSES)}"
        )

    async def work(store: Store) -> tuple[list[Any], list[Any]]:
        registered = []
        if args.status != "unregistered":
            registered = await list_receivers(store, group=args.group, status=args.status)
        waiting = []
        if args.status in (None, "unregistered") and args.group is None:
            waiting = await list_unregistered(store)
        return registered, waiting

    registered, waiting = with_store(config, work)
    if args.json:
        emit_json([row_json(row) for row in registered] + [unregistered_json(u) for u in waiting])
    else:
        emit_text(rows_text(registered, waiting, config.time_zone))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from controller.store import get_receiver, list_unregistered
    from devices.registry import RegistryError

    config = load_config(args.config)

    async def work(store: Store) -> tuple[Any, Any]:
        detail = await get_receiver(store, args.id)
        waiting = None
        if detail is None:
            waiting = next((u for u in await list_unregistered(store) if u.id == args.id), None)
        return detail, waiting

    detail, waiting = with_store(config, work)
    if detail is None and waiting is None:
        raise RegistryError(
            f"no receiver {args.id!r} is registered or has been heard; `loa devices list` "
            "shows the receivers there are"
        )
    if args.json:
        emit_json(detail_json(detail) if detail else unregistered_json(waiting))
    elif detail is not None:
        emit_text(detail_text(detail, config.time_zone))
    else:
        emit_text(rows_text([], [waiting], config.time_zone))
    return 0


def run_adopt(args: argparse.Namespace) -> int:
    from controller.store import adopt
    from loa.clock import SystemClock

    config = load_config(args.config)

    async def work(store: Store) -> Any:
        return await adopt(
            store, args.id, village_id=args.village, name=args.name, at=SystemClock().now()
        )

    receiver = with_store(config, work)
    if args.json:
        emit_json(receiver_json(receiver))
    else:
        emit_text(
            f"adopted {receiver.id} as {receiver.name!r} in village {receiver.village_id}; "
            "add it to the registry file too, so that the file stays the whole list"
        )
    return 0


def run_action(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from controller.cli.server_api import call

    config = load_config(args.config)
    action: str = args.action_name
    body = {"volume": args.percent} if action == "volume" else None
    answer = call(config, "POST", f"/api/v1/receivers/{quote(args.id, safe='')}/{action}", body)
    if args.json:
        emit_json(answer)
    else:
        emit_text(action_text(answer, args.percent if action == "volume" else None))
    return 0


def action_text(answer: dict[str, Any], volume: int | None) -> str:
    """What was done, for a technician (the API's `ActionOut`)."""
    from controller.maintenance import RESTART_VALID, TEST_TONE_VALID, VOLUME_VALID

    receiver, command, online = answer["receiver"], answer["command"], answer["online"]
    if command == "test-tone":
        occurrence = answer["occurrence"]
        later = "" if online else (
            f"; it is not online, and plays if it is back within {_span(TEST_TONE_VALID)}"
        )  # fmt: skip
        return (
            f"{receiver}: test tone sent as occurrence {occurrence}{later}; "
            f"follow it with `loa bulletin status {occurrence}`"
        )
    what = f"volume {volume} %" if command == "volume" else "restart"
    if online:
        return f"{receiver}: {what} sent"
    valid = VOLUME_VALID if command == "volume" else RESTART_VALID
    return (
        f"{receiver} is not online: the {what} waits until it comes back "
        f"(for {_span(valid)}, across controller restarts)"
    )


def _span(length: Any) -> str:
    minutes = int(length.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes} min"
