"""`loa audio prepare | tts | list | show | play-to-wav | gc`: the audio library.

`prepare` and `tts` print the content id and what was done to the sound
(loudness before and after, silence trimmed); preparing the same audio again
reports the content already stored. An id may be shortened to its first
characters (at least 6) wherever one is asked for. `gc` only reports unless
given `--delete`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import Config, load_config

if TYPE_CHECKING:
    from controller.audio import AudioLibrary
    from controller.store import Store


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    audio = commands.add_parser("audio", help="recordings and text made into broadcast audio")
    actions = audio.add_subparsers(dest="action", required=True, metavar="ACTION")

    prepare = actions.add_parser(
        "prepare", parents=[common], help="normalise and store a recording (any audio or video)"
    )
    prepare.add_argument("file", type=Path, metavar="FILE")
    _add_metadata_options(prepare)
    prepare.set_defaults(run=run_prepare)

    tts = actions.add_parser("tts", parents=[common], help="read text aloud and store it")
    tts.add_argument("text", metavar="TEXT", help="the text to read; '-' reads it from stdin")
    tts.add_argument("--voice", metavar="V", help="the engine's voice (default: the language's)")
    _add_metadata_options(tts)
    tts.set_defaults(run=run_tts)

    listing = actions.add_parser("list", parents=[common], help="the stored contents")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", parents=[common], help="one content, checked on disk")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)

    wav = actions.add_parser(
        "play-to-wav", parents=[common], help="decode a content to a WAV file to listen to"
    )
    wav.add_argument("id", metavar="ID")
    wav.add_argument("out", type=Path, metavar="OUT.wav")
    wav.add_argument("--json", action="store_true", help="print JSON")
    wav.set_defaults(run=run_play_to_wav)

    gc = actions.add_parser(
        "gc", parents=[common], help="remove contents no bulletin uses (a dry run by default)"
    )
    gc.add_argument("--delete", action="store_true", help="really remove them")
    gc.add_argument(
        "--grace-hours",
        type=float,
        metavar="H",
        help="keep contents added within this many hours (default: audio.gc_grace_hours)",
    )
    gc.add_argument("--json", action="store_true", help="print JSON")
    gc.set_defaults(run=run_gc)


def _add_metadata_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--title", metavar="T", help="a title for people (default: from the input)")
    parser.add_argument(
        "--lang", metavar="L", help="its language code, e.g. vi (default: audio.default_language)"
    )
    parser.add_argument("--by", metavar="NAME", help="who adds it (default: your user name)")
    parser.add_argument(
        "--chime",
        choices=("none", "before", "after", "both"),
        help="the attention chime for this one (default: audio.chime in the config)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_prepare(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    language = _language(config, args.lang)

    async def work(library: AudioLibrary) -> Any:
        return await library.add_file(
            args.file,
            title=args.title,
            language=language,
            added_by=_who(args.by),
            chime=args.chime,
        )

    return _add(args, config, work)


def run_tts(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    language = _language(config, args.lang)
    text = sys.stdin.read() if args.text == "-" else args.text

    async def work(library: AudioLibrary) -> Any:
        return await library.add_text(
            text,
            title=args.title,
            language=language,
            added_by=_who(args.by),
            voice=args.voice,
            chime=args.chime,
        )

    return _add(args, config, work)


def run_list(args: argparse.Namespace) -> int:
    from controller.cli.audio_view import content_json, contents_text

    config = load_config(args.config)

    async def work(library: AudioLibrary) -> Any:
        return await library.contents()

    rows = _with_library(config, work)
    if args.json:
        emit_json([content_json(row) for row in rows])
    else:
        emit_text(contents_text(rows, config.time_zone))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from controller.cli.audio_view import detail_json, detail_text

    config = load_config(args.config)

    async def work(library: AudioLibrary) -> Any:
        from audio.store_errors import ContentNotFound

        row = await library.get(args.id)
        files = library.files
        try:
            path = files.path_of(row.id)
        except ContentNotFound:
            missing = f"its file is missing from {files.root}; prepare the audio again"
            return row, None, [missing], None
        problems = files.verify(row.id)
        manifest = None if problems else files.manifest(row.id)
        return row, path, problems, manifest

    row, path, problems, manifest = _with_library(config, work)
    if args.json:
        emit_json(detail_json(row, path, problems, manifest))
    else:
        emit_text(detail_text(row, path, problems, manifest, config.time_zone))
    return 1 if problems else 0


def run_play_to_wav(args: argparse.Namespace) -> int:
    from controller.cli.audio_view import content_json

    config = load_config(args.config)

    async def work(library: AudioLibrary) -> Any:
        return await library.export_wav(args.id, args.out)

    row = _with_library(config, work)
    if args.json:
        emit_json({"content": content_json(row), "wav": str(args.out)})
    else:
        emit_text(f"wrote {args.out}: {row.title!r}, {row.duration_s:.1f} s")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    from controller.cli.audio_view import gc_json, gc_text

    config = load_config(args.config)
    hours = config.audio.gc_grace_hours if args.grace_hours is None else args.grace_hours
    if hours < 0:
        from loa.errors import LoaError

        raise LoaError(f"--grace-hours {hours:g} is not valid; expected 0 or more hours")

    async def work(library: AudioLibrary) -> Any:
        return await library.gc(delete=args.delete, grace=timedelta(hours=hours))

    report = _with_library(config, work)
    if args.json:
        emit_json(gc_json(report))
    else:
        emit_text(gc_text(report, hours, config.time_zone))
    return 0


def _add(args: argparse.Namespace, config: Config, work: Any) -> int:
    """Run an add (`work`) and show what it stored."""
    from controller.cli.audio_view import added_json, added_text

    added = _with_library(config, work)
    if args.json:
        emit_json(added_json(added))
    else:
        emit_text(added_text(added, config.time_zone))
    return 0


def _with_library(config: Config, work: Any) -> Any:
    async def run(store: Store) -> Any:
        from controller.audio.settings import build_library

        return await work(build_library(config, store))

    return with_store(config, run)


def _language(config: Config, given: str | None) -> str:
    from controller.config.model import language_check
    from loa.errors import LoaError

    language = config.audio.default_language if given is None else given
    expected = language_check(language)
    if expected is not None:
        raise LoaError(f"--lang {language!r} is not valid; expected {expected}")
    return language


def _who(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
