"""`loa schedule add ID ...`: one schedule from command-line flags, without writing a file.

Schedules are usually kept as YAML files (`loa schedule apply`), but an operator sometimes
needs one bulletin planned at once (a meeting tomorrow evening) from a terminal. The flags
build the same `When` and `Schedule` the file reader builds for the same values: times,
dates, weekday names (mon..sun, t2..t7, cn) and crontab are read by the functions the file
reader uses (`schedules.file_when.parse_time` and `WEEKDAYS`, `schedules.recurrence.parse_date`,
the recurrence classes), and every field is checked by `Schedule` itself. This module only
splits the flags' text and names the flag in every error.

Differences from a file, on purpose:

- `--from` defaults to today in the schedule's zone (a file must say it): a command typed
  now means "from now on", and a past start would change nothing anyway.
- The first problem stops it, as one line `loa: error: --FLAG: problem` with exit code 2,
  like argparse's own errors; nothing is stored.
- An id that is already stored is refused, never updated: `add` must not silently replace a
  schedule that a file (or an earlier `add`) made.

The schedule is stored by `apply_schedules(source=CLI_SOURCE)`, which checks targets and
contents against the store in the writing transaction (its `ScheduleCheckError` lists what
is unknown and nothing is stored), so `add` and `apply` can never disagree on what is valid.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import load_config
from loa.errors import LoaError
from schedules.errors import RecurrenceError
from schedules.file_when import KINDS, WEEKDAYS, parse_time
from schedules.model import Schedule, ScheduleError
from schedules.recurrence import Cron, Daily, MonthlyNth, Once, Recurrence, Weekly, parse_date
from schedules.when import DEFAULT_ZONE, When

if TYPE_CHECKING:
    from controller.store import Store

__all__ = ["ScheduleAddError", "add_parser", "run_add", "schedule_from_flags"]

#: The language of a `--content`/`--text` value given without `LANG=`.
DEFAULT_LANGUAGE: Final = "vi"
#: `ScheduleError.field` (before any `.language`) -> the flag an operator typed.
FIELD_FLAGS: Final[dict[str, str]] = {
    "id": "ID",
    "title": "--title",
    "when": "--daily/--weekly/--monthly/--once/--cron",
    "targets": "--to",
    "contents": "--content",
    "text": "--text",
    "priority": "--priority",
    "duration_s": "--duration-s",
    "lead_s": "--lead-s",
    "expires_after_s": "--expires-after-s",
    "enabled": "--paused",
    "volume": "--volume",
    "repeat": "--repeat",
    "chime": "--chime",
}
#: The optional fields given as flags, by field name (their defaults are `Schedule`'s).
_OPTIONAL: Final = ("priority", "duration_s", "lead_s", "expires_after_s", "volume", "repeat")
_NUMBERS: Final = frozenset({"duration_s", "lead_s", "expires_after_s", "volume", "repeat"})
#: The nth of `--monthly`, as `schedules.file_when` reads `monthly.nth`.
_NTH: Final[dict[str, int]] = {"1": 1, "2": 2, "3": 3, "4": 4, "last": -1, "-1": -1}
#: `LANG=` before a value: a short word, so that a text such as "1+1=2" stays text.
_LANGUAGE_PREFIX: Final = re.compile(r"^([A-Za-z][A-Za-z_-]{0,11})=(.*)$", re.DOTALL)
_WHOLE: Final = re.compile(r"^[+-]?\d+$")
_DAY_RULE: Final = "a weekday mon, tue, wed, thu, fri, sat, sun (or t2..t7, cn)"
_RECURRENCE_FLAGS: Final = ", ".join(f"--{kind}" for kind in KINDS)
_METAVARS: Final[dict[str, str]] = {
    "daily": "HH:MM[,HH:MM]",
    "weekly": "DAYS@HH:MM[,HH:MM]",
    "monthly": "'N DAY@HH:MM'",
    "once": "'DATE HH:MM'",
    "cron": "'EXPR'",
}
_EXAMPLES: Final[dict[str, str]] = {
    "daily": "06:00,17:00",
    "weekly": "mon,thu@07:00 or t2,t5@07:00",
    "monthly": "'1 mon@08:00' or 'last sun@19:30'",
    "once": "'2026-12-03 19:00'",
    "cron": "'30 6 * * 1-5'",
}


class ScheduleAddError(LoaError):
    """A flag of `loa schedule add` that is not valid, or an id already stored."""


def add_parser(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register `loa schedule add` under `loa schedule`."""
    add = actions.add_parser(
        "add",
        parents=[common],
        help="store one schedule given as flags (no file)",
        description="Store one schedule given as flags; the same values as a schedule file "
        "(docs/schedules.md). Give exactly one of --daily, --weekly, --monthly, --once, --cron.",
    )
    add.add_argument("id", metavar="ID", help="the schedule id: 1-40 of a-z 0-9 _ -")
    add.add_argument("--title", required=True, metavar="TEXT", help="for people")
    add.add_argument(
        "--to", required=True, metavar="TARGETS", help="all, or receiver and group ids, a,b,c"
    )
    for flag, kind, what in (
        ("--content", "contents", "[LANG=]ID: stored audio (its id or first 6+ characters)"),
        ("--text", "text", "[LANG=]TEXT: text read aloud"),
    ):
        add.add_argument(
            flag,
            dest="plays",
            action="append",
            type=_tagged(kind),
            metavar="[LANG=]VALUE",
            help=f"{what}; LANG defaults to {DEFAULT_LANGUAGE}; repeat for more languages, "
            "the first given is the default",
        )
    for kind in KINDS:
        add.add_argument(
            f"--{kind}", action="append", metavar=_METAVARS[kind], help=f"e.g. {_EXAMPLES[kind]}"
        )
    add.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="first day, YYYY-MM-DD (default: today; for --once its date)",
    )
    add.add_argument("--until", metavar="DATE", help="last day, inclusive")
    add.add_argument(
        "--except", dest="exceptions", action="append", metavar="DATE[,DATE...]", help="skip"
    )
    add.add_argument("--zone", metavar="ZONE", help=f"IANA time zone (default {DEFAULT_ZONE})")
    add.add_argument("--priority", metavar="P", help="emergency, live, priority, normal (default)")
    add.add_argument("--duration-s", metavar="N", help="how long it plays, seconds")
    add.add_argument("--lead-s", metavar="N", help="pre-delivery before air time (900)")
    add.add_argument("--expires-after-s", metavar="N", help="may still play this late (3600)")
    add.add_argument("--volume", metavar="N", help="0-100")
    add.add_argument("--repeat", metavar="N", help="plays 1-10 times (1)")
    add.add_argument("--chime", metavar="WHERE", help="none (default), before, after, both")
    add.add_argument("--paused", action="store_true", help="store it paused (enabled: false)")
    add.add_argument("--dry-run", action="store_true", help="check it all, store nothing")
    from controller.cli.schedule_cmd import add_rule_flags

    add_rule_flags(add)
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(run=run_add)


def _tagged(kind: str) -> Any:
    """An argparse `type` that keeps which flag a value came from, in the order given."""

    def tag(text: str) -> tuple[str, str]:
        return (kind, text)

    return tag


# --- Flags -> Schedule ------------------------------------------------------------------------


def schedule_from_flags(args: argparse.Namespace, now: datetime) -> Schedule:
    """The schedule the flags describe; `ScheduleAddError` names the first bad flag.

    `now` (aware) gives the default `--from`: today in the schedule's zone.
    """
    recurrence = _recurrence(args)
    when = _when(args, recurrence, now)
    contents, text = _plays(args.plays or [])
    values: dict[str, Any] = {
        "id": args.id,
        "title": args.title,
        "when": when,
        "targets": args.to,
        "contents": contents,
        "text": text,
        "enabled": not args.paused,
    }
    for name in _OPTIONAL:
        given = getattr(args, name)
        if given is not None:
            values[name] = _number(given) if name in _NUMBERS else given
    if args.chime is not None:
        values["chime"] = args.chime
    try:
        return Schedule(**values)
    except ScheduleError as exc:
        head, _, language = exc.field.partition(".")
        flag = FIELD_FLAGS.get(head, head)
        raise ScheduleAddError(
            f"{flag} {language}: {exc.problem}" if language else f"{flag}: {exc.problem}"
        ) from None


def _number(text: str) -> int | str:
    """A whole number as typed; other text is kept so that the field's check says why."""
    return int(text) if _WHOLE.match(text.strip()) else text


def _flag_error(flag: str, exc: RecurrenceError) -> ScheduleAddError:
    return ScheduleAddError(f"{flag}: {exc.value!r} is not valid; expected {exc.expected}")


def _recurrence(args: argparse.Namespace) -> Recurrence:
    given = [kind for kind in KINDS if getattr(args, kind)]
    if len(given) != 1:
        found = ", ".join(f"--{kind}" for kind in given) or "none"
        raise ScheduleAddError(f"{_RECURRENCE_FLAGS}: give exactly one (found {found})")
    kind = given[0]
    flag = f"--{kind}"
    texts: list[str] = getattr(args, kind)
    if len(texts) > 1:
        raise ScheduleAddError(
            f"{flag}: given {len(texts)} times; give it once, e.g. {flag} {_EXAMPLES[kind]}"
        )
    text = texts[0]
    try:
        if kind == "daily":
            return Daily(_times(text, text, flag))
        if kind == "weekly":
            return _weekly(text)
        if kind == "monthly":
            return _monthly(text)
        if kind == "once":
            return _once(text)
        return Cron(text)
    except RecurrenceError as exc:
        raise _flag_error(flag, exc) from None


def _times(text: str, whole: str, flag: str) -> tuple[Any, ...]:
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise ScheduleAddError(
            f"{flag}: {whole!r} has an empty time; write times as HH:MM, comma-separated"
        )
    return tuple(parse_time(part, flag) for part in parts)


def _weekday(text: str, flag: str) -> int:
    key = text.strip().lower()
    day = WEEKDAYS.get(key)
    if day is None:
        close = difflib.get_close_matches(key, WEEKDAYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScheduleAddError(f"{flag}: {text.strip()!r} is not {_DAY_RULE}{hint}")
    return day


def _split_at(text: str, flag: str) -> tuple[str, str]:
    """`DAYS@TIMES` into its two halves."""
    head, at, times = text.partition("@")
    if not at or not head.strip() or not times.strip():
        raise ScheduleAddError(
            f"{flag}: {text!r} is not DAYS@TIMES; write e.g. {flag} {_EXAMPLES[flag[2:]]}"
        )
    return head, times


def _weekly(text: str) -> Weekly:
    head, times = _split_at(text, "--weekly")
    days = head.split(",")
    if not all(day.strip() for day in days):
        raise ScheduleAddError(f"--weekly: {text!r} has an empty weekday; write e.g. mon,thu@07:00")
    return Weekly(tuple(_weekday(day, "--weekly") for day in days), _times(times, text, "--weekly"))


def _monthly(text: str) -> MonthlyNth:
    head, times = _split_at(text, "--monthly")
    words = head.split()
    if len(words) != 2:
        raise ScheduleAddError(
            f"--monthly: {text!r} is not 'N WEEKDAY@HH:MM'; N is 1, 2, 3, 4 or last, "
            "e.g. '1 mon@08:00' or 'last sun@19:30'"
        )
    nth = _NTH.get(words[0].lower())
    if nth is None:
        raise ScheduleAddError(f"--monthly: {words[0]!r} is not 1, 2, 3, 4 or last")
    return MonthlyNth(nth, _weekday(words[1], "--monthly"), _times(times, text, "--monthly"))


def _once(text: str) -> Once:
    parts = text.replace("T", " ").split()
    if len(parts) != 2:
        raise ScheduleAddError(
            f"--once: {text!r} is not a local date and time like '2026-12-03 19:00'"
        )
    return Once(parse_date(parts[0], "--once"), parse_time(parts[1], "--once"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleAddError(
            f"--zone: {name!r} is not a time zone; expected an IANA name such as "
            "Asia/Ho_Chi_Minh or Europe/Prague"
        ) from None


def _when(args: argparse.Namespace, recurrence: Recurrence, now: datetime) -> When:
    zone = DEFAULT_ZONE if args.zone is None else args.zone.strip()
    tz = _zone(zone)
    try:
        if args.start is not None:
            start = parse_date(args.start, "--from")
        elif isinstance(recurrence, Once):
            start = recurrence.on
        else:
            start = now.astimezone(tz).date()
        until = None if args.until is None else parse_date(args.until, "--until")
        exceptions = [
            parse_date(part, "--except")
            for given in args.exceptions or []
            for part in given.split(",")
        ]
    except RecurrenceError as exc:
        raise _flag_error(exc.field, exc) from None
    return _window(recurrence, start, until, exceptions, zone)


def _window(
    recurrence: Recurrence, start: date, until: date | None, exceptions: list[date], zone: str
) -> When:
    try:
        return When(recurrence, start, until, frozenset(exceptions), zone)
    except RecurrenceError as exc:
        if exc.field == "once.on":
            end = "" if until is None else f" --until {until}"
            raise ScheduleAddError(
                f"--once: {exc.value} is outside --from {start}{end}; move the date or the window"
            ) from None
        flag = {"when.until": "--until", "when.zone": "--zone"}.get(exc.field, "--from")
        raise _flag_error(flag, exc) from None


def _plays(
    plays: Sequence[tuple[str, str]],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """`--content`/`--text` values as (language, value) pairs, each language once.

    A schedule's default language is its first `contents` language (else its first `text`
    one), so a `--text` given before a `--content` could not be the default it looks like:
    refused rather than silently reordered.
    """
    if not plays:
        raise ScheduleAddError(
            "--content/--text: nothing to play; give --content [LANG=]ID (stored audio) "
            "or --text [LANG=]TEXT (read aloud)"
        )
    seen: dict[str, str] = {}
    pairs: dict[str, list[tuple[str, str]]] = {"contents": [], "text": []}
    for kind, given in plays:
        flag = "--content" if kind == "contents" else "--text"
        match = _LANGUAGE_PREFIX.match(given)
        language, value = (match[1], match[2]) if match else (DEFAULT_LANGUAGE, given)
        if language in seen:
            raise ScheduleAddError(
                f"{flag}: language {language!r} is given twice ({seen[language]} and {flag}); "
                "give each language once"
            )
        seen[language] = flag
        pairs[kind].append((language, value))
    first_kind, _ = plays[0]
    if first_kind == "text" and pairs["contents"]:
        language = next(iter(seen))
        raise ScheduleAddError(
            f"--text: {language} is given first, but a schedule with stored audio plays its "
            "first --content language by default; give the --content flags first (or give "
            f"{language} as --content too)"
        )
    return tuple(pairs["contents"]), tuple(pairs["text"])


# --- Storing and printing ---------------------------------------------------------------------


def run_add(args: argparse.Namespace) -> int:
    """Check the flags, refuse a stored id, then apply the one schedule (or only check it)."""
    from controller.cli.schedule_cmd import SHOW_COUNT, rule_lines, who
    from controller.cli.schedule_preview import preview_of, preview_text, utc_text
    from controller.scheduler.policy import Policy, speakable
    from controller.store.schedules import (
        CLI_SOURCE,
        UnknownScheduleError,
        apply_schedules,
        get_schedule,
        schedule_to_dict,
    )

    now = datetime.now(UTC)
    schedule = schedule_from_flags(args, now)
    config = load_config(args.config)
    notes: list[str] = []

    async def work(store: Store) -> Schedule:
        try:
            existing = await get_schedule(store, schedule.id)
        except UnknownScheduleError:
            pass
        else:
            raise ScheduleAddError(_exists(schedule.id, existing.source, CLI_SOURCE))
        result = await apply_schedules(
            store,
            [schedule],
            source=CLI_SOURCE,
            dry_run=args.dry_run,
            at=now,
            by=who(args.by),
            rules=Policy(config, force=args.force, can_speak=speakable(config)),
        )
        notes.extend(rule_lines(result))
        if args.dry_run:
            return schedule
        return (await get_schedule(store, schedule.id)).schedule  # with full content ids

    added = with_store(config, work)
    preview = preview_of(added, now, SHOW_COUNT)
    if args.json:
        emit_json(
            {
                "action": "would add" if args.dry_run else "added",
                "dry_run": args.dry_run,
                "source": CLI_SOURCE,
                "after": utc_text(now),
                "definition": schedule_to_dict(added),
                "occurrences": preview["occurrences"],
                "notes": notes,
            }
        )
        return 0
    head = f"would add {added.id}" if args.dry_run else f"added {added.id} (source {CLI_SOURCE})"
    tail = "".join(f"\n{note}" for note in notes)
    tail += "\n--dry-run: nothing stored" if args.dry_run else ""
    emit_text(f"{head}\n{preview_text(preview)}{tail}")
    return 0


def _exists(schedule_id: str, source: str, cli_source: str) -> str:
    if source == cli_source:
        return (
            f"schedule {schedule_id!r} exists (from {source}); delete it first "
            f"(loa schedule delete {schedule_id}) and add it again"
        )
    return (
        f"schedule {schedule_id!r} exists (from {source}); delete it first "
        f"(loa schedule delete {schedule_id}) or edit its file"
    )
