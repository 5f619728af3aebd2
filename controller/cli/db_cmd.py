"""`loa db upgrade` and `loa db status`: the store's schema."""

from __future__ import annotations

import argparse
import asyncio

from controller.cli.output import emit_json, emit_text
from controller.config import load_config
from loa.redact import mask_url


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    db = commands.add_parser("db", help="the store's schema (migrations)")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", parents=[common], help="apply the migrations")
    upgrade.add_argument("--json", action="store_true", help="print JSON")
    upgrade.set_defaults(run=run_upgrade)
    status = actions.add_parser("status", parents=[common], help="show the schema version")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=run_status)


def run_upgrade(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    before, after = asyncio.run(_upgrade(config.store.url))
    url = mask_url(config.store.url)
    if args.json:
        emit_json({"store": url, "from": before, "to": after, "changed": before != after})
    elif before == after:
        emit_text(f"store {url}: already at schema {after}")
    else:
        emit_text(f"store {url}: upgraded from {before or 'empty'} to {after}")
    return 0


async def _upgrade(url: str) -> tuple[str | None, str]:
    from controller.store import Store

    async with await Store.open(url) as store:
        return await store.upgrade()


def run_status(args: argparse.Namespace) -> int:
    from controller.store import Store

    config = load_config(args.config)
    current = asyncio.run(_current(config.store.url))
    head = Store.head_revision()
    url = mask_url(config.store.url)
    if args.json:
        emit_json({"store": url, "current": current, "head": head, "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "needs `loa db upgrade`"
        emit_text(f"store {url}: schema {current or 'empty'}, latest {head} ({state})")
    return 0


async def _current(url: str) -> str | None:
    from controller.store import Store

    async with await Store.open(url) as store:
        return await store.current_revision()
