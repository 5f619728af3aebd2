"""Hypothesis strategies for the bulletin messages (commands, receipts), shared by their tests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from devices.protocol.command_bodies import Assign, Cancel, Play, TimeReply
from devices.protocol.commands import Body, Command
from devices.protocol.content_ref import CODECS, ContentRef
from devices.protocol.fields import MAX_SAFE_INT
from devices.protocol.priority import PRIORITIES
from devices.protocol.receipts import RECEIPT_REASONS, RECEIPT_STATES, Proof, Receipt

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True)
hex_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
sha256s = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
languages = st.sampled_from(["vi", "tay", "nung", "hmn", "dao", "en"])
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
# Any Unicode a person might type into a title, Vietnamese and emoji included (no surrogates).
titles = st.text(st.characters(codec="utf-8"), max_size=200)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def content_refs(draw: st.DrawFn) -> ContentRef:
    chunk_size = draw(st.sampled_from([1024, 32 * 1024, 1024 * 1024]))
    size = draw(st.integers(1, chunk_size * 6))
    count = -(-size // chunk_size)
    return ContentRef(
        content=draw(sha256s),
        size=size,
        chunk_size=chunk_size,
        chunk_sha256=tuple(draw(st.lists(sha256s, min_size=count, max_size=count))),
        codec=draw(st.sampled_from(CODECS)),
        duration_ms=draw(st.integers(0, MAX_SAFE_INT)),
    )


@st.composite
def plays(draw: st.DrawFn) -> Play:
    expires_at = draw(instants)
    play_at = draw(
        st.none() | st.integers(0, 10**7).map(lambda s: expires_at - timedelta(seconds=s))
    )
    return Play(
        occurrence=draw(hex_ids),
        bulletin=draw(hex_ids),
        title=draw(titles),
        priority=draw(st.sampled_from(PRIORITIES)),
        play_at=play_at,
        expires_at=expires_at,
        volume=draw(st.none() | st.integers(0, 100)),
        repeat=draw(st.integers(1, 10)),
        contents=draw(st.dictionaries(languages, content_refs(), min_size=1, max_size=3)),
    )


assigns = st.builds(
    Assign, groups=st.lists(ids, max_size=8, unique=True).map(tuple), language=languages
)
cancels = st.builds(Cancel, occurrence=hex_ids)
time_replies = st.builds(
    TimeReply, request=st.integers(0, MAX_SAFE_INT), received=instants, sent=instants
)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    body: Body = draw(st.one_of(assigns, plays(), cancels, time_replies))
    scope = "rx" if isinstance(body, Assign | TimeReply) else draw(st.sampled_from(["rx", "grp"]))
    issued = draw(instants)
    return Command(
        id=draw(hex_ids),
        to=f"{scope}:{draw(ids)}",
        issued=issued,
        expires=issued + timedelta(seconds=draw(st.integers(1, 10**7))),
        body=body,
    )


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    state = draw(st.sampled_from(RECEIPT_STATES))
    started = draw(instants)
    return Receipt(
        id=draw(ids),
        epoch=draw(st.integers(1, MAX_SAFE_INT)),
        seq=draw(st.integers(0, MAX_SAFE_INT)),
        occurrence=draw(st.none() | hex_ids) if state == "rejected" else draw(hex_ids),
        state=state,
        at=draw(instants),
        command=draw(st.none() | hex_ids),
        reason=draw(st.sampled_from(RECEIPT_REASONS)) if state in ("failed", "rejected") else None,
        have=draw(st.none() | st.integers(0, 10**6)) if state == "downloading" else None,
        by=draw(st.none() | hex_ids) if state == "preempted" else None,
        proof=Proof(
            started_at=started,
            ended_at=started + timedelta(milliseconds=draw(st.integers(0, 10**8))),
            clock_offset_ms=draw(st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)),
            content=draw(sha256s),
            played_ms=draw(st.integers(0, 10**8)),
            level_db=draw(st.none() | st.floats(-200, 20, allow_nan=False)),
        )
        if state == "played"
        else None,
    )


def content_of(data: bytes, chunk_size: int = 1024) -> ContentRef:
    """A real content reference for `data`, hashed here (what the controller's store does)."""
    chunks = tuple(
        hashlib.sha256(data[offset : offset + chunk_size]).hexdigest()
        for offset in range(0, len(data), chunk_size)
    )
    fields = {
        "content": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "chunk_size": chunk_size,
        "chunk_count": len(chunks),
        "chunks": list(chunks),
    }
    return ContentRef.from_manifest_fields(fields, codec="mp3", duration_ms=1000)


#: Give this as a value to `with_fields` to remove the field.
REMOVE = object()


def with_fields(payload: bytes, **changes: object) -> bytes:
    """`payload` (a JSON object) with some fields replaced (or removed with `REMOVE`)."""
    body = json.loads(payload)
    for key, value in changes.items():
        if value is REMOVE:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body, ensure_ascii=False).encode()
