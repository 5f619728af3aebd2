"""The content cache: on disk, bounded, least recently used out first, checked after a boot."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from simulators.delivery.cache import ContentCache


def put(cache: ContentCache, data: bytes, keep: tuple[str, ...] = ()) -> str | None:
    """Download `data` into `cache` the way the firmware does; its content id, or None."""
    content = hashlib.sha256(data).hexdigest()
    path = cache.reserve(content, len(data), keep)
    if path is None:
        return None
    path.write_bytes(data)
    assert cache.commit(content)
    return content


def test_an_idle_cache_makes_no_files(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "rx", 1000)
    assert not (tmp_path / "rx").exists()
    assert cache.contents() == []
    assert cache.used_bytes == 0


def test_a_committed_content_is_held_across_a_reboot(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 10_000)
    data = os.urandom(3000)
    content = put(cache, data)
    assert content is not None
    assert cache.has(content)
    assert cache.path(content).read_bytes() == data
    again = ContentCache(tmp_path, 10_000)  # a reboot: a new cache reads the folder
    assert again.contents() == [content]
    assert again.used_bytes == 3000
    assert again.verify(content)


def test_a_partial_file_is_reserved_space_until_committed(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 10_000)
    content = hashlib.sha256(b"x" * 4000).hexdigest()
    path = cache.reserve(content, 4000)
    assert path is not None
    assert path.stat().st_size == 4000
    assert cache.used_bytes == 4000
    assert not cache.has(content)
    assert ContentCache(tmp_path, 10_000).partials() == {content: 4000}
    cache.abandon(content)
    assert not path.exists()
    assert cache.used_bytes == 0


def test_the_least_recently_used_content_is_evicted_first(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 10_000)
    first = put(cache, os.urandom(4000))
    second = put(cache, os.urandom(4000))
    assert first is not None
    assert second is not None
    cache.touch(first)  # used again: now second is the oldest
    third = put(cache, os.urandom(4000))
    assert cache.contents() == [first, third]
    assert not cache.path(second).exists()
    assert cache.used_bytes == 8000


def test_contents_still_needed_are_never_evicted(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 10_000)
    first = put(cache, os.urandom(6000))
    assert first is not None
    assert put(cache, os.urandom(6000), keep=(first,)) is None
    assert cache.contents() == [first]


def test_a_content_larger_than_the_cache_does_not_fit(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 1000)
    assert put(cache, os.urandom(1001)) is None
    assert cache.used_bytes == 0


def test_bytes_that_are_not_the_content_never_enter_the_cache(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 10_000)
    content = hashlib.sha256(b"the real one").hexdigest()
    path = cache.reserve(content, 12)
    assert path is not None
    path.write_bytes(b"a forged one")
    assert not cache.commit(content)
    assert not cache.has(content)
    assert not path.exists()
    assert cache.used_bytes == 0


def test_a_content_damaged_on_disk_is_dropped_when_first_used_after_a_boot(
    tmp_path: Path,
) -> None:
    content = put(ContentCache(tmp_path, 10_000), os.urandom(2000))
    assert content is not None
    with (tmp_path / "content" / content).open("r+b") as file:
        file.write(b"\0\0\0\0")
    cache = ContentCache(tmp_path, 10_000)
    assert cache.has(content)  # listed from the folder...
    assert not cache.verify(content)  # ...but not trusted
    assert not cache.has(content)
    assert not (tmp_path / "content" / content).exists()


def test_the_order_of_use_survives_a_reboot(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, 100_000)
    older = put(cache, os.urandom(100))
    newer = put(cache, os.urandom(100))
    assert older is not None
    assert newer is not None
    os.utime(cache.path(older), (1_000_000, 1_000_000))
    os.utime(cache.path(newer), (2_000_000, 2_000_000))
    assert ContentCache(tmp_path, 100_000).contents() == [older, newer]


def test_leftovers_that_are_not_contents_are_cleaned_at_boot(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "junk.tmp").write_bytes(b"x")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "half").write_bytes(b"x")
    cache = ContentCache(tmp_path, 1000)
    assert cache.contents() == []
    assert cache.partials() == {}
    assert list((tmp_path / "content").iterdir()) == []


def test_a_cache_needs_room_for_something(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 byte"):
        ContentCache(tmp_path, 0)
