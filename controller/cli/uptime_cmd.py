"""`loa uptime`: how much of a period each receiver was online, from its stored transitions."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from controller.cli.output import emit_json, emit_text
from controller.config import Config, load_config
from loa.clock import utc_iso
from loa.errors import LoaError

if TYPE_CHECKING:
    from controller.reports.uptime import Uptime


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "uptime", parents=[common], help="how much of a period each receiver was online"
    )
    parser.add_argument("ids", nargs="*", metavar="ID", help="receivers (default: all)")
    parser.add_argument("--group", metavar="G", help="the receivers of this group and below")
    parser.add_argument("--days", type=float, default=7.0, help="the last N days (default 7)")
    parser.add_argument(
        "--since", type=date.fromisoformat, metavar="DATE", help="from this day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--until", type=date.fromisoformat, metavar="DATE", help="to the end of this day"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def period(args: argparse.Namespace, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC: days are the operator's days, in the configured zone."""
    end = now
    if args.until is not None:
        end = min(now, datetime.combine(args.until + timedelta(days=1), time(), zone))
    if args.since is not None:
        start = datetime.combine(args.since, time(), zone)
    else:
        if args.days <= 0:
            raise LoaError(f"--days must be more than 0, not {args.days:g}")
        start = end - timedelta(days=args.days)
    if start >= end:
        raise LoaError(f"the period from {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty")
    return start.astimezone(UTC), end.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    zone = ZoneInfo(config.time_zone)
    start, end = period(args, zone, datetime.now(UTC))
    found = asyncio.run(uptimes(config, args.ids, args.group, start, end))
    if args.json:
        emit_json(
            {
                "from": utc_iso(start),
                "to": utc_iso(end),
                "receivers": [
                    {"id": u.receiver_id, "uptime": round(u.fraction, 5), "changes": u.changes}
                    for u in found
                ],
            }
        )
        return 0
    emit_text(
        f"uptime from {start.astimezone(zone):%Y-%m-%d %H:%M} to "
        f"{end.astimezone(zone):%Y-%m-%d %H:%M} ({config.time_zone})"
    )
    width = max([len("RECEIVER"), *(len(u.receiver_id) for u in found)])
    lines = [f"{'RECEIVER'.ljust(width)}  UPTIME  CHANGES"]
    lines += [f"{u.receiver_id.ljust(width)}  {u.fraction:6.1%}  {u.changes:7d}" for u in found]
    emit_text("\n".join(lines))
    return 0


async def uptimes(
    config: Config, ids: list[str], group: str | None, start: datetime, end: datetime
) -> list[Uptime]:
    from controller.reports.uptime import receiver_uptimes
    from controller.store import Store

    async with await Store.open(config.store.url) as store:
        return await receiver_uptimes(store, start, end, ids=ids, group=group)
