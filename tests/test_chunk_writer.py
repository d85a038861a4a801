"""Chunk writes to directory stores through ``DirectoryStore.chunk_writer``.

Array writes to a directory store skip the per-key validation of ``store[key] = v``
(chunk keys come from an already validated array path) but must keep everything
else: atomic files, the symlink check, ``normalize_keys``, ``durable``, deleting
empty chunks, refusing read-only stores, and honouring subclasses that write keys
their own way.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np
import pytest

import zarrdask
from zarrdask.errors import KeyValidationError, ReadOnlyError
from zarrdask.storage import DirectoryStore, NestedDirectoryStore
from zarrdask.storage.directory import ChunkFileWriter


def _files(root: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _temp_files(root: pathlib.Path) -> list[str]:
    return [f for f in _files(root) if f.endswith(".partial")]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("separator", [".", "/"])
def test_array_writes_match_numpy_and_key_by_key_store(
        tmp_path: pathlib.Path, separator: str, threads: int) -> None:
    data = np.arange(60 * 70, dtype="f8").reshape(60, 70)
    fast = DirectoryStore(tmp_path / "fast", dimension_separator=separator)
    with zarrdask.config.set(codec_threads=threads):
        z = zarrdask.zeros(data.shape, chunks=(16, 15), dtype="f8", store=fast, path="g/a")
        z[...] = data
        z[3:40, 5:9] = -1.0  # partial chunks: read-modify-write through the writer
    expected = data.copy()
    expected[3:40, 5:9] = -1.0
    np.testing.assert_array_equal(zarrdask.open_array(fast, path="g/a", mode="r")[...], expected)

    class KeyByKey(DirectoryStore):  # the reference: every chunk through store[key] = value
        def __setitem__(self, key: str, value: Any) -> None:
            super().__setitem__(key, value)

    slow = KeyByKey(tmp_path / "slow", dimension_separator=separator)
    assert slow.chunk_writer() is None
    z2 = zarrdask.zeros(data.shape, chunks=(16, 15), dtype="f8", store=slow, path="g/a")
    z2[...] = data
    z2[3:40, 5:9] = -1.0
    assert _files(tmp_path / "fast") == _files(tmp_path / "slow")
    for name in _files(tmp_path / "fast"):
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "slow" / name).read_bytes()
    assert not _temp_files(tmp_path)


def test_writer_is_none_for_read_only_and_other_write_paths(tmp_path: pathlib.Path) -> None:
    assert isinstance(DirectoryStore(tmp_path / "a").chunk_writer(), ChunkFileWriter)
    assert isinstance(NestedDirectoryStore(tmp_path / "n").chunk_writer(), ChunkFileWriter)
    assert DirectoryStore(tmp_path / "r", read_only=True).chunk_writer() is None

    class OwnDelete(DirectoryStore):
        def __delitem__(self, key: str) -> None:
            super().__delitem__(key)

    assert OwnDelete(tmp_path / "d").chunk_writer() is None


def test_read_only_array_write_names_the_store(tmp_path: pathlib.Path) -> None:
    zarrdask.zeros((4, 4), chunks=(2, 2), store=DirectoryStore(tmp_path / "s"))
    before = _files(tmp_path / "s")
    z = zarrdask.open_array(DirectoryStore(tmp_path / "s", read_only=True), mode="r")
    with pytest.raises(ReadOnlyError):
        z[...] = 1
    assert _files(tmp_path / "s") == before


def test_symlinked_chunk_folder_out_of_the_store_is_refused(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = NestedDirectoryStore(tmp_path / "s")
    z = zarrdask.zeros((4, 4), chunks=(2, 2), dtype="i4", store=store, path="a")
    (tmp_path / "s" / "a").mkdir(exist_ok=True)
    os.symlink(outside, tmp_path / "s" / "a" / "1")  # the folder of chunks 1/0 and 1/1
    with pytest.raises(KeyValidationError, match="symlink"):
        z[...] = 7
    assert list(outside.iterdir()) == []


def test_normalize_keys_lower_cases_chunk_files(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s", normalize_keys=True)
    z = zarrdask.zeros((4,), chunks=(2,), dtype="i4", store=store, path="Arr")
    z[...] = np.arange(4)
    assert (tmp_path / "s" / "arr" / "0").is_file() and (tmp_path / "s" / "arr" / "1").is_file()
    np.testing.assert_array_equal(zarrdask.open_array(store, path="ARR")[...], np.arange(4))


def test_durable_chunk_writes_fsync_file_and_folder(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryStore(tmp_path / "s", durable=True)
    z = zarrdask.zeros((6,), chunks=(2,), dtype="i4", store=store)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with zarrdask.config.set(codec_threads=1):
        z[...] = np.arange(1, 7)
    assert len(synced) == 6  # each of 3 chunk files, then its folder
    np.testing.assert_array_equal(z[...], np.arange(1, 7))


def test_short_writes_are_continued(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryStore(tmp_path / "s")
    z = zarrdask.zeros((1000,), chunks=(500,), dtype="i8", store=store, compressor=None)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, memoryview(data)[:77]))
    z[...] = np.arange(1000)
    monkeypatch.undo()
    assert (tmp_path / "s" / "0").stat().st_size == 4000
    np.testing.assert_array_equal(z[...], np.arange(1000))


def test_failed_chunk_write_leaves_old_chunk_and_no_temp_file(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryStore(tmp_path / "s")
    z = zarrdask.zeros((4,), chunks=(2,), dtype="i4", store=store)
    z[...] = [1, 2, 3, 4]

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        z[...] = [9, 9, 9, 9]
    monkeypatch.undo()
    assert not _temp_files(tmp_path / "s")
    np.testing.assert_array_equal(z[...], [1, 2, 3, 4])


def test_all_fill_chunks_are_deleted(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    z = zarrdask.zeros((6,), chunks=(2,), dtype="i4", store=store)
    z[...] = [1, 2, 3, 4, 5, 6]
    z[2:6] = 0
    assert _files(tmp_path / "s") == [".zarray", "0"]
    z[0:2] = 0  # and a chunk that is already missing stays missing
    z[0:2] = 0
    assert _files(tmp_path / "s") == [".zarray"]
    np.testing.assert_array_equal(z[...], np.zeros(6))


def test_folder_in_the_way_of_a_chunk(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    z = zarrdask.zeros((4,), chunks=(2,), dtype="i4", store=store)
    (tmp_path / "s" / "0").mkdir()  # empty: replaced
    (tmp_path / "s" / "1").mkdir()
    (tmp_path / "s" / "1" / "keep").write_bytes(b"x")  # not empty: an error naming the key
    with zarrdask.config.set(codec_threads=1), pytest.raises(IsADirectoryError, match="'1'"):
        z[...] = [1, 2, 3, 4]
    assert (tmp_path / "s" / "0").is_file()
    assert (tmp_path / "s" / "1" / "keep").read_bytes() == b"x"
    assert not _temp_files(tmp_path / "s")
