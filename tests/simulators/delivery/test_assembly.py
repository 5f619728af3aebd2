"""Chunk assembly: checked against the signed hashes, written in place, repaired by the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.delivery.assembly import Assembly
from simulators.delivery.cache import StorageError
from tests.simulators.delivery.support import Content

WAIT = 5.0


def start(tmp_path: Path, content: Content, now: float = 0.0) -> Assembly:
    path = tmp_path / "part"
    path.write_bytes(b"\0" * content.ref.size)
    return Assembly(content.ref, path, now, wait_s=WAIT)


def test_chunks_in_any_order_make_the_content(tmp_path: Path) -> None:
    content = Content.make(size=5000, chunk_size=1024)
    assembly = start(tmp_path, content)
    for index in (4, 0, 2, 1, 3):
        assert assembly.add(index, content.chunk(index), 1.0) == "new"
    assert assembly.complete
    assert assembly.path.read_bytes() == content.data
    assert assembly.next_due() is None


def test_a_chunk_is_taken_once_and_only_if_it_hashes_right(tmp_path: Path) -> None:
    content = Content.make(size=3000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assert assembly.add(0, b"\xff" * 1024, 1.0) == "bad"
    assert assembly.add(0, content.chunk(1), 1.0) == "bad"  # right bytes, wrong place
    assert assembly.add(7, content.chunk(0), 1.0) == "out_of_range"
    assert assembly.add(-1, content.chunk(0), 1.0) == "out_of_range"
    assert assembly.have == 0
    assert assembly.add(0, content.chunk(0), 1.0) == "new"
    assert assembly.add(0, content.chunk(0), 1.0) == "duplicate"
    assert assembly.have == 1


def test_a_bad_chunk_is_asked_for_again_at_once(tmp_path: Path) -> None:
    content = Content.make(size=3000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assembly.add(0, content.chunk(0), 1.0)
    assembly.add(1, b"\0" * 1024, 1.1)
    assert assembly.next_due() == 1.1
    assert assembly.due_repairs(1.1) == [[1]]


def test_a_gap_is_asked_for_five_seconds_after_the_chunk_that_followed_it(
    tmp_path: Path,
) -> None:
    content = Content.make(size=6000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assembly.add(0, content.chunk(0), 1.0)
    assembly.add(3, content.chunk(3), 2.0)  # 1 and 2 went missing
    assembly.add(4, content.chunk(4), 3.0)
    assembly.add(5, content.chunk(5), 4.0)
    assert assembly.next_due() == 2.0 + WAIT
    assert assembly.due_repairs(6.9) == []
    assert assembly.due_repairs(7.0) == [[1, 2]]
    assert assembly.missing() == [1, 2]


def test_a_stream_that_stops_has_everything_missing_asked_for(tmp_path: Path) -> None:
    content = Content.make(size=6000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assembly.add(0, content.chunk(0), 1.0)
    assembly.add(1, content.chunk(1), 2.0)  # then nothing: the tail was lost
    assert assembly.next_due() == 2.0 + WAIT
    assert assembly.due_repairs(2.0 + WAIT) == [[2, 3, 4, 5]]


def test_a_late_joiner_asks_for_all_of_it_when_nothing_comes(tmp_path: Path) -> None:
    content = Content.make(size=6000, chunk_size=1024)
    assembly = start(tmp_path, content, now=10.0)
    assert assembly.due_repairs(14.0) == []
    assert assembly.due_repairs(15.0) == [[0, 1, 2, 3, 4, 5]]


def test_what_was_asked_for_is_asked_again_only_when_nothing_arrives(tmp_path: Path) -> None:
    content = Content.make(size=6000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assert assembly.due_repairs(WAIT) == [[0, 1, 2, 3, 4, 5]]
    assembly.add(0, content.chunk(0), 6.0)  # the repair is flowing
    assembly.add(1, content.chunk(1), 9.0)
    assert assembly.due_repairs(10.5) == []  # asked 5.5 s ago, but chunks keep coming
    assert assembly.next_due() == 9.0 + WAIT
    assert assembly.due_repairs(14.0) == [[2, 3, 4, 5]]


def test_repair_requests_hold_at_most_1024_chunks(tmp_path: Path) -> None:
    content = Content.make(size=2500 * 1024, chunk_size=1024)
    assembly = start(tmp_path, content)
    requests = assembly.due_repairs(WAIT)
    assert [len(r) for r in requests] == [1024, 1024, 452]
    assert requests[1][0] == 1024


def test_the_first_chunks_are_enough_to_start_an_emergency(tmp_path: Path) -> None:
    content = Content.make(size=5000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assembly.add(1, content.chunk(1), 1.0)
    assert not assembly.has_prefix(2)
    assembly.add(0, content.chunk(0), 1.0)
    assert assembly.has_prefix(2)
    single = Content.make(size=500, chunk_size=1024)
    tiny = Assembly(single.ref, tmp_path / "tiny", 0.0)
    (tmp_path / "tiny").write_bytes(b"\0" * 500)
    tiny.add(0, single.chunk(0), 1.0)
    assert tiny.has_prefix(2)  # all there is


def test_a_resumed_download_keeps_good_chunks_and_asks_for_the_rest_at_once(
    tmp_path: Path,
) -> None:
    content = Content.make(size=5000, chunk_size=1024)
    first = start(tmp_path, content)
    first.add(0, content.chunk(0), 1.0)
    first.add(3, content.chunk(3), 1.0)
    resumed = Assembly.resume(content.ref, first.path, 50.0, wait_s=WAIT)
    assert resumed.have == 2
    assert resumed.missing() == [1, 2, 4]
    assert resumed.due_repairs(50.0) == [[1, 2, 4]]
    for index in (1, 2, 4):
        resumed.add(index, content.chunk(index), 51.0)
    assert resumed.path.read_bytes() == content.data


def test_a_partial_file_that_vanished_is_a_storage_error(tmp_path: Path) -> None:
    content = Content.make(size=3000, chunk_size=1024)
    assembly = start(tmp_path, content)
    assembly.path.unlink()
    with pytest.raises(StorageError, match="cannot write chunk 0"):
        assembly.add(0, content.chunk(0), 1.0)
    with pytest.raises(StorageError, match="partial download"):
        Assembly.resume(content.ref, assembly.path, 1.0)
