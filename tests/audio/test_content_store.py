"""The content store on a real filesystem: layout, dedup, ids from people, damage, crashes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from audio.content_store import DEFAULT_SWEEP_AGE_S, ContentStore, StoredContent
from audio.manifest import ChunkOutOfRange, ManifestError, manifest_of
from audio.store_errors import (
    ContentCorrupt,
    ContentNotFound,
    ContentStoreError,
    InvalidContentId,
)

KIB = 1024
REPO = Path(__file__).resolve().parents[2]
#: 100 KB that do not repeat within a chunk, so a damaged chunk is told apart.
DATA = bytes((i * 7919 + i // 251) % 256 for i in range(100_000))
DATA_ID = hashlib.sha256(DATA).hexdigest()

Write = Callable[..., Path]


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "audio")


@pytest.fixture
def staged(store: ContentStore) -> Write:
    """`staged(data, name)` writes a file into the store's staging folder, as prepare does."""

    def write(data: bytes = DATA, name: str = "prepared.mp3") -> Path:
        path = store.staging_dir() / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    """A folder on another filesystem when the machine has one (/dev/shm is tmpfs)."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        yield Path(folder)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def age(root: Path, seconds: float) -> None:
    """Make everything under `root` look `seconds` old, as if the crash was that long ago."""
    then = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then))


def test_put_moves_a_prepared_file_in_under_its_sha256(store: ContentStore, staged: Write) -> None:
    source = staged(name="bản tin sáng 06h.mp3")

    stored = store.put(source, "mp3")

    assert stored.content_id == DATA_ID
    assert stored.created
    assert stored.extension == "mp3"
    assert stored.size == len(DATA)
    assert stored.manifest == manifest_of(DATA)
    assert stored.path == store.root / "objects" / DATA_ID[:2] / f"{DATA_ID}.mp3"
    assert stored.path.read_bytes() == DATA
    assert not source.exists()
    assert files_under(store.root) == [
        f"objects/{DATA_ID[:2]}/{DATA_ID}.manifest.json",
        f"objects/{DATA_ID[:2]}/{DATA_ID}.mp3",
    ]
    manifest_file = store.root / "objects" / DATA_ID[:2] / f"{DATA_ID}.manifest.json"
    assert json.loads(manifest_file.read_bytes()) == manifest_of(DATA).to_json()
    assert store.ids() == [DATA_ID]
    assert store.exists(DATA_ID)
    assert store.path_of(DATA_ID) == stored.path
    assert store.manifest(DATA_ID) == stored.manifest
    assert store.verify(DATA_ID) == []
    with store.open(DATA_ID) as file:
        assert file.read() == DATA
    chunks = [store.read_chunk(DATA_ID, i) for i in range(stored.manifest.chunk_count)]
    assert [len(c) for c in chunks] == [32 * KIB, 32 * KIB, 32 * KIB, 100_000 - 96 * KIB]
    assert b"".join(chunks) == DATA


def test_the_same_bytes_are_stored_once(store: ContentStore, staged: Write) -> None:
    first = store.put(staged(name="a.mp3"), "mp3")
    again = staged(name="b.mp3")

    second = store.put(again, "mp3")

    assert not second.created
    assert (second.content_id, second.path, second.manifest) == (
        first.content_id,
        first.path,
        first.manifest,
    )
    assert not again.exists()
    assert store.ids() == [DATA_ID]
    assert files_under(store.root / "objects") == [
        f"{DATA_ID[:2]}/{DATA_ID}.manifest.json",
        f"{DATA_ID[:2]}/{DATA_ID}.mp3",
    ]


def test_different_bytes_are_different_contents(store: ContentStore, staged: Write) -> None:
    one = store.put(staged(DATA), "mp3")
    other = store.put(staged(DATA[:-1] + b"\0", name="other.opus"), "opus")

    assert one.content_id != other.content_id
    assert other.path.suffix == ".opus"
    assert store.ids() == sorted([one.content_id, other.content_id])


def test_concurrent_puts_of_the_same_bytes_create_it_once(
    store: ContentStore, staged: Write
) -> None:
    sources = [staged(name=f"p{i}.mp3") for i in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda path: store.put(path, "mp3"), sources))

    assert [r.created for r in results].count(True) == 1
    assert {r.path for r in results} == {store.path_of(DATA_ID)}
    assert store.ids() == [DATA_ID]
    assert store.verify(DATA_ID) == []
    assert list(store.staging_dir().iterdir()) == []


def test_a_rival_put_landing_between_check_and_link_wins_and_this_one_yields(
    store: ContentStore, staged: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, rivals = staged(name="ours.mp3"), staged(name="rival.mp3")
    rival_results: list[StoredContent] = []
    real_link = Path.hardlink_to

    def rival_first(self: Path, target: Path) -> None:
        if not rival_results:  # our put has checked that the content is absent; now the rival
            monkeypatch.setattr(Path, "hardlink_to", real_link)
            rival_results.append(store.put(rivals, "mp3"))
        real_link(self, target)

    monkeypatch.setattr(Path, "hardlink_to", rival_first)

    ours_result = store.put(ours, "mp3")

    assert rival_results[0].created
    assert not ours_result.created
    assert ours_result.path == rival_results[0].path
    assert not ours.exists()
    assert not rivals.exists()
    assert store.verify(DATA_ID) == []


def test_a_file_from_another_filesystem_is_copied_in_and_removed(
    store: ContentStore, elsewhere: Path
) -> None:
    source = elsewhere / "ghi âm.mp3"
    source.write_bytes(DATA)

    stored = store.put(source, "mp3")

    assert stored.created
    assert not source.exists()
    assert store.verify(DATA_ID) == []
    assert list(store.staging_dir().iterdir()) == []


def test_an_empty_file_from_another_filesystem_leaves_no_copy_behind(
    store: ContentStore, elsewhere: Path
) -> None:
    source = elsewhere / "empty.mp3"
    source.write_bytes(b"")

    with pytest.raises(ManifestError, match="is empty"):
        store.put(source, "mp3")

    assert source.exists()
    assert files_under(store.root) == []


def test_a_smaller_chunk_size_is_written_in_the_manifest(tmp_path: Path) -> None:
    store = ContentStore(tmp_path, chunk_size=4 * KIB)
    source = store.staging_dir() / "x.mp3"
    source.write_bytes(DATA)

    stored = store.put(source, "mp3")

    assert stored.manifest.chunk_size == 4 * KIB
    assert stored.manifest.chunk_count == 25
    assert store.read_chunk(DATA_ID, 24) == DATA[24 * 4 * KIB :]


def test_a_chunk_size_outside_1_kib_to_1_mib_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk size 512 is not between 1024 and 1048576"):
        ContentStore(tmp_path, chunk_size=512)


def test_putting_a_stored_file_again_is_refused_and_keeps_it(
    store: ContentStore, staged: Write
) -> None:
    stored = store.put(staged(), "mp3")
    with pytest.raises(ValueError, match="in the content store already"):
        store.put(stored.path, "mp3")
    assert store.verify(DATA_ID) == []


def test_an_empty_file_is_refused_and_left_where_it_was(store: ContentStore, staged: Write) -> None:
    source = staged(b"", name="empty.mp3")

    with pytest.raises(ManifestError, match=r"empty\.mp3 is empty"):
        store.put(source, "mp3")

    assert source.exists()
    assert store.ids() == []
    assert files_under(store.root) == ["staging/empty.mp3"]


def test_a_missing_file_is_named(store: ContentStore, tmp_path: Path) -> None:
    missing = tmp_path / "không có.mp3"
    with pytest.raises(ContentStoreError, match=f"cannot read {missing}: no such file"):
        store.put(missing, "mp3")


@pytest.mark.parametrize("extension", ["", ".mp3", "MP3", "mp3/../x", "a" * 11])
def test_a_bad_extension_is_refused(store: ContentStore, staged: Write, extension: str) -> None:
    source = staged()
    with pytest.raises(ValueError, match="extension"):
        store.put(source, extension)
    assert source.exists()


@pytest.mark.parametrize(
    "content_id",
    [
        "../../etc/passwd",
        "..",
        "",
        DATA_ID.upper(),
        DATA_ID[:63],
        DATA_ID + "0",
        f"{DATA_ID[:62]}/x",
        "../" + DATA_ID[3:],
    ],
)
def test_an_id_that_is_not_a_sha256_never_reaches_a_path(
    store: ContentStore, staged: Write, content_id: str
) -> None:
    store.put(staged(), "mp3")
    outside = store.root.parent / "secret.mp3"
    outside.write_bytes(b"not yours")
    actions: list[Callable[[str], object]] = [
        store.path_of,
        store.exists,
        store.manifest,
        store.open,
        store.verify,
        store.delete,
        lambda i: store.read_chunk(i, 0),
    ]

    for action in actions:
        with pytest.raises(InvalidContentId, match=r"is not a content id.*64 digits 0-9 and a-f"):
            action(content_id)

    assert outside.read_bytes() == b"not yours"
    assert store.verify(DATA_ID) == []


def test_an_unknown_id_is_named(store: ContentStore) -> None:
    unknown = "ab" * 32
    for action in (store.path_of, store.manifest, store.open, store.verify):
        with pytest.raises(ContentNotFound, match=f"no content {unknown} in the content store"):
            action(unknown)
    assert not store.exists(unknown)
    assert not store.delete(unknown)


def test_a_chunk_out_of_range_is_refused(store: ContentStore, staged: Write) -> None:
    store.put(staged(), "mp3")
    with pytest.raises(ChunkOutOfRange, match="chunk 4 does not exist"):
        store.read_chunk(DATA_ID, 4)


def test_delete_removes_the_bytes_and_the_manifest(store: ContentStore, staged: Write) -> None:
    store.put(staged(), "mp3")
    kept = store.put(staged(b"other content"), "mp3")

    assert store.delete(DATA_ID)

    assert store.ids() == [kept.content_id]
    assert not store.exists(DATA_ID)
    assert files_under(store.root / "objects" / DATA_ID[:2]) == []
    assert not store.delete(DATA_ID)
    assert store.verify(kept.content_id) == []


def test_verify_and_read_chunk_find_a_flipped_bit(store: ContentStore, staged: Write) -> None:
    path = store.put(staged(), "mp3").path
    damaged = bytearray(DATA)
    damaged[40_000] ^= 0x01  # in chunk 1
    path.write_bytes(bytes(damaged))

    problems = store.verify(DATA_ID)

    assert len(problems) == 2
    assert problems[0].startswith("its bytes have sha256 ")
    assert problems[1] == "chunks 1 do not match the manifest"
    assert store.read_chunk(DATA_ID, 0) == DATA[: 32 * KIB]
    with pytest.raises(ContentCorrupt, match=f"content {DATA_ID} is damaged.*chunk 1 does not"):
        store.read_chunk(DATA_ID, 1)


def test_verify_finds_a_truncated_content(store: ContentStore, staged: Write) -> None:
    path = store.put(staged(), "mp3").path
    path.write_bytes(DATA[:50_000])

    problems = store.verify(DATA_ID)

    assert "it has 50000 bytes, its manifest says 100000" in problems
    assert "chunks 1 do not match the manifest" in problems


def test_verify_finds_a_missing_or_damaged_manifest(store: ContentStore, staged: Write) -> None:
    store.put(staged(), "mp3")
    manifest = store.root / "objects" / DATA_ID[:2] / f"{DATA_ID}.manifest.json"

    manifest.write_text('{"content": "nope"')
    assert store.verify(DATA_ID)[0].startswith("unreadable manifest: ")
    with pytest.raises(ContentCorrupt, match=r"unreadable manifest.*delete it and prepare"):
        store.manifest(DATA_ID)

    manifest.write_text(json.dumps(manifest_of(b"another").to_json()))
    assert store.verify(DATA_ID)[0].startswith("its manifest describes content ")

    manifest.unlink()
    assert store.verify(DATA_ID) == ["its manifest is missing"]
    with pytest.raises(ContentCorrupt, match="its manifest is missing"):
        store.read_chunk(DATA_ID, 0)


def test_putting_the_bytes_again_repairs_a_damaged_content(
    store: ContentStore, staged: Write
) -> None:
    path = store.put(staged(), "mp3").path
    path.write_bytes(DATA[:1000])
    (path.parent / f"{DATA_ID}.manifest.json").unlink()

    again = store.put(staged(), "mp3")

    assert not again.created
    assert store.verify(DATA_ID) == []
    assert again.manifest == manifest_of(DATA)


def test_sweep_removes_old_leftovers_and_keeps_work_in_progress(
    store: ContentStore, staged: Write
) -> None:
    store.put(staged(), "mp3")
    staging = store.staging_dir()
    old_file = staged(b"half", name="put-abc.part")
    old_folder = staging / "tts-old"
    old_folder.mkdir()
    (old_folder / "piece-1.wav").write_bytes(b"RIFF")
    orphan_id = "cd" * 32
    orphan = store.root / "objects" / "cd" / f"{orphan_id}.manifest.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}")
    age(store.root, DEFAULT_SWEEP_AGE_S + 60)
    fresh_file = staged(b"being written", name="prepare-now.mp3")
    busy_folder = staging / "tts-busy"
    busy_folder.mkdir()
    (busy_folder / "piece-1.wav").write_bytes(b"RIFF")
    age(busy_folder, DEFAULT_SWEEP_AGE_S + 60)
    (busy_folder / "piece-2.wav").write_bytes(b"RIFF")  # the prepare is still writing

    listed = store.sweep_staging(dry_run=True)
    assert sorted(listed) == sorted([old_file, old_folder, orphan])
    assert old_file.exists()
    assert orphan.exists()

    removed = store.sweep_staging()

    assert removed == listed
    assert sorted(staging.iterdir()) == sorted([fresh_file, busy_folder])
    assert store.ids() == [DATA_ID]
    assert store.verify(DATA_ID) == []
    assert store.sweep_staging() == []


# Each kill point: (os function, "before" or "after" the call, which call). The child
# runs put() and kills itself with SIGKILL there; `put` calls, in order: fsync (the
# source, or its copy), fsync (the manifest's temp file), replace (the manifest into
# place), link (the bytes into place), fsync (the folder), unlink (the source).
@dataclass(frozen=True)
class KillPoint:
    """Where the child dies: at call `nth` of `os.<name>`, `when` ("before"/"after") it runs."""

    name: str
    when: str
    nth: int
    #: whether the content is complete (and so visible) at that point
    visible: bool


KILL_POINTS = [
    pytest.param(KillPoint("fsync", "before", 1, False), id="hashed-not-synced"),
    pytest.param(KillPoint("fsync", "before", 2, False), id="manifest-written-not-synced"),
    pytest.param(KillPoint("replace", "before", 1, False), id="manifest-synced-not-renamed"),
    pytest.param(KillPoint("replace", "after", 1, False), id="manifest-renamed"),
    pytest.param(KillPoint("link", "after", 1, True), id="bytes-linked"),
    pytest.param(KillPoint("fsync", "after", 3, True), id="folder-synced"),
    pytest.param(KillPoint("unlink", "after", 1, True), id="source-removed"),
]

CHILD = """
import os, signal, sys
from pathlib import Path

root, source, name, when, nth = sys.argv[1:]
real = getattr(os, name)
calls = 0

def hooked(*args, **kwargs):
    global calls
    calls += 1
    if calls == int(nth):
        if when == "after":
            real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(os, name, hooked)
from audio.content_store import ContentStore
ContentStore(Path(root)).put(Path(source), "mp3")
print("put returned")
"""


def put_in_child_killed_at(root: Path, source: Path, kill: KillPoint) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(source), kill.name, kill.when, str(kill.nth)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "put returned" not in child.stdout


@pytest.mark.parametrize("kill", KILL_POINTS)
def test_a_put_killed_at_any_step_leaves_no_half_written_content(
    store: ContentStore, staged: Write, kill: KillPoint
) -> None:
    visible = kill.visible
    earlier = store.put(staged(b"an earlier bulletin"), "mp3")
    source = staged()

    put_in_child_killed_at(store.root, source, kill)

    after_crash = ContentStore(store.root)
    assert after_crash.ids() == sorted([earlier.content_id] + ([DATA_ID] if visible else []))
    for content_id in after_crash.ids():
        assert after_crash.verify(content_id) == []
    assert after_crash.exists(DATA_ID) is visible
    # An hour later the sweep clears what the crash left, and the bytes store again.
    age(store.root, DEFAULT_SWEEP_AGE_S + 60)
    after_crash.sweep_staging()
    assert list(after_crash.staging_dir().iterdir()) == []
    assert {Path(p).name.split(".")[0] for p in files_under(store.root / "objects")} == set(
        after_crash.ids()
    )
    stored = after_crash.put(staged(), "mp3")
    assert stored.created is not visible
    assert after_crash.verify(DATA_ID) == []


def test_a_put_from_another_filesystem_killed_mid_copy_leaves_nothing_visible(
    store: ContentStore, elsewhere: Path
) -> None:
    source = elsewhere / "big.mp3"
    source.write_bytes(DATA * 20)

    put_in_child_killed_at(store.root, source, KillPoint("fsync", "before", 1, False))

    assert store.ids() == []
    assert source.read_bytes() == DATA * 20
    age(store.root, DEFAULT_SWEEP_AGE_S + 60)
    store.sweep_staging()
    assert files_under(store.root) == []
