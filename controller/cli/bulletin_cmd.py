"""`loa bulletin send | status | list | cancel`: bulletins to villages, and what was heard.

`send` prepares the sound (a recording, `--text` read aloud, or `--content` already
stored; several languages by giving `--content` once for each), writes the bulletin and
prints its occurrence id with who hears which language; the running `loa serve`
delivers it. `status ID` counts receivers per delivery state and lists them, with
`--watch` a live progress bar until every receiver is done. Ids may be shortened to
their first 6 or more characters.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import Config, load_config

if TYPE_CHECKING:
    from controller.store import Store

PRIORITY_CHOICES = ("emergency", "live", "priority", "normal", "background")


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    bulletin = commands.add_parser("bulletin", help="send bulletins and see what was heard")
    actions = bulletin.add_subparsers(dest="action", required=True, metavar="ACTION")

    send = actions.add_parser("send", parents=[common], help="send a bulletin to receivers")
    send.add_argument("file", nargs="?", metavar="FILE", help="a recording (any audio or video)")
    send.add_argument("--text", metavar="TEXT", help="text to read aloud instead of a FILE")
    send.add_argument(
        "--content",
        action="append",
        metavar="ID",
        help="a stored content (`loa audio list`), in the language it was prepared in; "
        "once per language (with a FILE or --text: the other languages)",
    )
    send.add_argument(
        "--lang",
        metavar="L",
        help="the language of the FILE or --text, or of one --content sent alone "
        "(default: audio.default_language)",
    )
    send.add_argument(
        "--to",
        required=True,
        metavar="TARGETS",
        help="receivers and groups, comma-separated, or all",
    )
    send.add_argument("--priority", choices=PRIORITY_CHOICES, default="normal")
    send.add_argument(
        "--at", metavar="TIME", help="when to play: 06:00, 2026-12-02 06:00 (local) or ISO 8601"
    )
    send.add_argument("--expires", metavar="DURATION", help="how long it may still play: 30m, 2h")
    send.add_argument("--volume", type=int, metavar="PCT", help="output volume, 0 to 100")
    send.add_argument("--repeat", type=int, default=1, metavar="N", help="times to play, 1 to 10")
    send.add_argument("--chime", choices=("none", "before", "after", "both"), default="none")
    send.add_argument("--title", metavar="T", help="a title for people")
    send.add_argument("--by", metavar="NAME", help="who sends it (default: your user name)")
    send.add_argument("--json", action="store_true", help="print JSON")
    send.set_defaults(run=run_send)

    status = actions.add_parser("status", parents=[common], help="receivers per delivery state")
    status.add_argument("id", metavar="ID", help="an occurrence id (or its first characters)")
    status.add_argument("--watch", action="store_true", help="follow it live until it ends")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=run_status)

    listing = actions.add_parser("list", parents=[common], help="the latest occurrences")
    listing.add_argument("--limit", type=int, default=30, metavar="N")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    cancel = actions.add_parser("cancel", parents=[common], help="cancel an occurrence")
    cancel.add_argument("id", metavar="ID")
    cancel.add_argument("--json", action="store_true", help="print JSON")
    cancel.set_defaults(run=run_cancel)


def run_send(args: argparse.Namespace) -> int:
    from controller.audio.settings import build_library
    from controller.cli.bulletin_view import sent_json, sent_text
    from controller.delivery.requests import (
        Audio,
        RequestError,
        SendRequest,
        parse_duration,
        parse_time,
        send_bulletin,
    )
    from loa.clock import SystemClock

    config = load_config(args.config)
    clock = SystemClock()
    text = sys.stdin.read() if args.text == "-" else args.text
    if args.repeat is not None and not 1 <= args.repeat <= 10:
        raise RequestError(f"--repeat {args.repeat} is not valid; expected 1 to 10")
    if args.volume is not None and not 0 <= args.volume <= 100:
        raise RequestError(f"--volume {args.volume} is not valid; expected 0 to 100")
    contents = tuple(args.content or ())
    if args.lang is not None and args.file is None and text is None and len(contents) > 1:
        raise RequestError(
            f"--lang {args.lang} names the language of a FILE or --text; each --content is in "
            "the language it was prepared in (`loa audio list` shows it)"
        )
    request = SendRequest(
        audio=Audio(
            file=None if args.file is None else Path(args.file), text=text, contents=contents
        ),
        language=args.lang or config.audio.default_language,
        targets=args.to,
        priority=args.priority,
        play_at=None if args.at is None else parse_time(args.at, config.time_zone, clock.now()),
        expires_after=None if args.expires is None else parse_duration(args.expires),
        volume=args.volume,
        repeat=args.repeat,
        chime=args.chime,
        title=args.title,
        created_by=args.by or _user(),
    )

    async def work(store: Store) -> Any:
        library = build_library(config, store)
        return await send_bulletin(store, library, config, request, clock)

    sent = with_store(config, work)
    if args.json:
        emit_json(sent_json(sent))
    else:
        emit_text(sent_text(sent, config.time_zone))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from controller.cli.bulletin_view import status_json, status_text

    config = load_config(args.config)
    if not args.watch:
        report = with_store(config, lambda store: _report(store, args.id))
        if args.json:
            emit_json(status_json(report))
        else:
            emit_text(status_text(report, config.time_zone))
        return 0
    return _watch(config, args.id, as_json=args.json)


def run_list(args: argparse.Namespace) -> int:
    from controller.cli.bulletin_view import list_json, list_text
    from controller.store.bulletins import list_occurrences

    config = load_config(args.config)

    async def work(store: Store) -> Any:
        async with store.read() as session:
            return await list_occurrences(session, limit=max(1, args.limit))

    rows = with_store(config, work)
    if args.json:
        emit_json(list_json(rows))
    else:
        emit_text(list_text(rows, config.time_zone))
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from controller.delivery.status import cancel_occurrence
    from loa.clock import SystemClock

    config = load_config(args.config)

    async def work(store: Store) -> Any:
        return await cancel_occurrence(store, args.id, SystemClock().now())

    occurrence_id, was = with_store(config, work)
    if args.json:
        emit_json({"occurrence": occurrence_id, "cancelled": True, "was": was})
    else:
        emit_text(
            f"cancelled {occurrence_id[:12]} (it was {was}); receivers that have it are told "
            "to drop it, or to stop if it is playing"
        )
    return 0


async def _report(store: Store, wanted: str) -> Any:
    from controller.delivery.status import occurrence_report

    return await occurrence_report(store, wanted)


def _watch(config: Config, wanted: str, *, as_json: bool) -> int:
    from controller.cli.bulletin_view import progress_line, status_json, status_text
    from controller.store import Store

    async def watch() -> Any:
        async with await Store.open(config.store.url) as store:
            report = await _report(store, wanted)
            while True:
                if not as_json:
                    sys.stdout.write("\r" + progress_line(report))
                    sys.stdout.flush()
                if report.finished:
                    break
                await asyncio.sleep(0.5)
                report = await _report(store, wanted)
            return report

    try:
        report = asyncio.run(watch())
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 130
    if as_json:
        emit_json(status_json(report))
    else:
        sys.stdout.write("\n")
        emit_text(status_text(report, config.time_zone))
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
