"""Occurrence records: one file each, read back after a reboot, damaged ones dropped, pruned."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from devices.protocol.receipts import Proof
from simulators.delivery.records import Record, RecordBook
from tests.simulators.delivery.support import START, Content

A, B = "a" * 32, "b" * 32


def test_records_come_back_after_a_reboot_as_they_were(tmp_path: Path) -> None:
    content = Content.make()
    book = RecordBook(tmp_path)
    played = Record(
        occurrence=A,
        expires_at=START + timedelta(hours=1),
        state="played",
        command="c" * 32,
        bulletin="d" * 32,
        title="Họp thôn tối nay",
        priority="priority",
        play_at=START,
        repeat=2,
        volume=80,
        content=content.ref,
        proof=Proof(START, START + timedelta(seconds=4), -12, content.id, 4000),
    )
    cancelled = Record(B, START + timedelta(hours=1), "cancelled", "e" * 32)
    book.save(played)
    book.save(cancelled)
    again = RecordBook(tmp_path)
    assert again.get(A) == played
    assert again.get(B) == cancelled
    assert len(again) == 2


def test_a_damaged_record_is_dropped_not_fatal(tmp_path: Path) -> None:
    files = tmp_path / "occurrences"
    files.mkdir()
    (files / f"{A}.json").write_text('{"version": 1, "record": {"occurrence": 5}}')
    (files / f"{B}.json").write_text("garbage")
    book = RecordBook(tmp_path)
    assert len(book) == 0
    assert list(files.iterdir()) == []


def test_ended_records_are_forgotten_a_margin_after_expiry(tmp_path: Path) -> None:
    book = RecordBook(tmp_path, margin=timedelta(minutes=10))
    book.save(Record(A, START, "played"))
    book.save(Record(B, START, "armed"))  # not ended: kept whatever its age
    assert book.prune(START + timedelta(minutes=9)) == 0
    assert book.prune(START + timedelta(minutes=11)) == 1
    assert book.get(A) is None
    assert book.get(B) is not None
    assert [p.name for p in (tmp_path / "occurrences").iterdir()] == [f"{B}.json"]
