"""The chunk manifest: what it says about a content, and what it refuses to read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.errors import AudioError
from audio.manifest import (
    DEFAULT_CHUNK_SIZE,
    ChunkOutOfRange,
    Manifest,
    ManifestBuilder,
    ManifestError,
    build_manifest,
    manifest_of,
)
from loa.errors import LoaError

KIB = 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_content_of_two_and_a_half_chunks() -> None:
    data = bytes(range(256)) * 320  # 81,920 bytes: 2.5 chunks of 32 KiB
    manifest = manifest_of(data)

    assert manifest.content_id == sha(data)
    assert manifest.size == 81_920
    assert manifest.chunk_size == DEFAULT_CHUNK_SIZE == 32 * KIB
    assert manifest.chunk_count == 3
    assert manifest.chunk_range(0) == (0, 32 * KIB)
    assert manifest.chunk_range(2) == (64 * KIB, 16 * KIB)
    assert manifest.chunk_sha256 == (
        sha(data[: 32 * KIB]),
        sha(data[32 * KIB : 64 * KIB]),
        sha(data[64 * KIB :]),
    )


def test_a_content_of_exactly_one_chunk_has_no_empty_second_chunk() -> None:
    manifest = manifest_of(b"x" * (4 * KIB), chunk_size=4 * KIB)
    assert manifest.chunk_count == 1
    assert manifest.chunk_range(0) == (0, 4 * KIB)


def test_the_json_form_is_what_receivers_read() -> None:
    data = b"loa" * 1000
    manifest = manifest_of(data, chunk_size=KIB)

    encoded = manifest.to_json()

    assert encoded == {
        "content": sha(data),
        "size": 3000,
        "chunk_size": 1024,
        "chunk_count": 3,
        "chunks": [sha(data[:1024]), sha(data[1024:2048]), sha(data[2048:])],
    }
    assert Manifest.from_json(json.loads(json.dumps(encoded))) == manifest


def test_verify_chunk_accepts_the_chunk_and_nothing_else() -> None:
    data = bytes(range(256)) * 10
    manifest = manifest_of(data, chunk_size=KIB)
    last = data[2 * KIB :]

    assert manifest.verify_chunk(2, last)
    assert not manifest.verify_chunk(2, last[:-1])  # truncated
    assert not manifest.verify_chunk(2, last + b"\0")  # padded
    assert not manifest.verify_chunk(2, bytes([last[0] ^ 1]) + last[1:])  # one bit flipped
    assert not manifest.verify_chunk(1, last)  # the right bytes for another index


@pytest.mark.parametrize("index", [-1, 3, 1000])
def test_a_chunk_index_out_of_range_says_which_chunks_exist(index: int) -> None:
    manifest = manifest_of(b"z" * 3000, chunk_size=KIB)

    with pytest.raises(ChunkOutOfRange, match=rf"chunk {index} does not exist.*0 to 2") as info:
        manifest.chunk_range(index)
    assert isinstance(info.value, IndexError)
    assert isinstance(info.value, AudioError)
    with pytest.raises(ChunkOutOfRange):
        manifest.verify_chunk(index, b"z")


def test_build_manifest_reads_the_file_the_same_as_the_bytes(tmp_path: Path) -> None:
    data = bytes((i * 7919) % 251 for i in range(300_001))
    path = tmp_path / "bản tin.mp3"
    path.write_bytes(data)

    assert build_manifest(path) == manifest_of(data)
    assert build_manifest(path, chunk_size=KIB) == manifest_of(data, chunk_size=KIB)


def test_an_empty_content_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")

    with pytest.raises(ManifestError, match=r"empty\.mp3 is empty"):
        build_manifest(empty)
    with pytest.raises(ManifestError, match="is empty"):
        manifest_of(b"")


@pytest.mark.parametrize("chunk_size", [0, KIB - 1, 1024 * KIB + 1, -5])
def test_a_chunk_size_outside_1_kib_to_1_mib_is_refused(chunk_size: int) -> None:
    with pytest.raises(ValueError, match="between 1024 and 1048576"):
        manifest_of(b"abc", chunk_size=chunk_size)
    with pytest.raises(ManifestError, match="chunk_size"):
        Manifest(sha(b"abc"), 3, chunk_size, (sha(b"abc"),))


def test_the_builder_takes_pieces_of_any_size() -> None:
    data = bytes(range(256)) * 33
    builder = ManifestBuilder(KIB)
    for start in range(0, len(data), 700):
        builder.update(data[start : start + 700])
    assert builder.finish() == manifest_of(data, chunk_size=KIB)


@given(
    data=st.binary(min_size=1, max_size=9000),
    chunk_size=st.integers(min_value=KIB, max_value=4 * KIB),
    piece=st.integers(min_value=1, max_value=5000),
)
def test_chunks_tile_the_content_and_each_verifies(
    data: bytes, chunk_size: int, piece: int
) -> None:
    builder = ManifestBuilder(chunk_size)
    for start in range(0, len(data), piece):
        builder.update(data[start : start + piece])
    manifest = builder.finish()

    assert manifest.content_id == sha(data)
    assert manifest.chunk_count == -(-len(data) // chunk_size)
    rebuilt = b""
    for index in range(manifest.chunk_count):
        offset, length = manifest.chunk_range(index)
        assert offset == len(rebuilt)
        chunk = data[offset : offset + length]
        assert manifest.verify_chunk(index, chunk)
        rebuilt += chunk
    assert rebuilt == data
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest


def _valid() -> dict[str, Any]:
    return manifest_of(b"q" * 2500, chunk_size=KIB).to_json()


def _with(**changes: Any) -> dict[str, Any]:
    return _valid() | changes


def _without(key: str) -> dict[str, Any]:
    data = _valid()
    del data[key]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param([], "expected a JSON object, got an array", id="not-an-object"),
        pytest.param(None, "expected a JSON object, got null", id="null"),
        pytest.param(_without("content"), "content: missing", id="no-content"),
        pytest.param(_without("chunks"), "chunks: missing", id="no-chunks"),
        pytest.param(_without("chunk_count"), "chunk_count: missing", id="no-count"),
        pytest.param(_with(content=7), "content: expected str, got int 7", id="content-int"),
        pytest.param(_with(content="ABC" * 21 + "A"), "content: 'ABCA.*' is not a sha256", id="uc"),
        pytest.param(
            _with(content="../" * 21 + "x"), r"content: '\.\./.*' is not a sha256", id="x"
        ),
        pytest.param(_with(size="2500"), "size: expected int, got a string", id="size-str"),
        pytest.param(_with(size=True), "size: expected int, got a boolean", id="size-bool"),
        pytest.param(_with(size=2500.0), "size: expected int, got float", id="size-float"),
        pytest.param(_with(size=0), "size: 0 is not a size", id="size-zero"),
        pytest.param(_with(size=2048), "chunks: 3 chunk hashes for 2048 bytes", id="size-short"),
        pytest.param(_with(size=9000), "chunks: 3 chunk hashes for 9000 bytes", id="size-long"),
        pytest.param(_with(chunk_size=512), "chunk_size: 512 is not between", id="chunk-small"),
        pytest.param(
            _with(chunk_count=2), "chunks: lists 3 chunk hashes but chunk_count is 2", id="n"
        ),
        pytest.param(_with(chunks="abc"), "chunks: expected list, got a string", id="chunks-str"),
        pytest.param(
            _with(chunks=[*_valid()["chunks"][:2], 5]), r"chunks\[2\]: expected a string", id="h"
        ),
        pytest.param(
            _with(chunks=[*_valid()["chunks"][:2], "f" * 63]),
            r"chunks\[2\]: 'f{63}' is not a sha256",
            id="short-hex",
        ),
    ],
)
def test_from_json_names_the_field_at_fault(data: object, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as info:
        Manifest.from_json(data)
    assert isinstance(info.value, LoaError)
    assert str(info.value).startswith("manifest: ")


def test_from_json_ignores_keys_it_does_not_know() -> None:
    assert Manifest.from_json(_with(codec="mp3")) == Manifest.from_json(_valid())
