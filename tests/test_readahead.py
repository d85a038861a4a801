"""Read-ahead chunk reads from directory stores (``storage._filereader`` + ``parallel``).

Reads through the read-ahead path must equal numpy for every thread setting and
chunk size, treat missing files and folders as missing chunks, read files larger
than expected, stop on the first error, and leave no file descriptor open.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import zarrdask
from zarrdask import config
from zarrdask.errors import ChunkDecodeError
from zarrdask.parallel import run_streamed
from zarrdask.storage._filereader import FileReader


def _filereader_nowait() -> bool:
    from zarrdask.storage import _filereader

    return bool(_filereader._NOWAIT) and _filereader.CAN_HINT


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 1000, (120, 90)).astype("i4")


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("chunks", [(7, 9), (60, 45), (120, 90)])
@pytest.mark.parametrize("min_parallel", [0, 1 << 30])
def test_reads_equal_numpy(tmp_path, data, threads, chunks, min_parallel) -> None:
    z = zarrdask.open_array(str(tmp_path / "a"), mode="w", shape=data.shape, chunks=chunks,
                            dtype=data.dtype)
    z[...] = data
    with config.set(codec_threads=threads, min_parallel_chunk_bytes=min_parallel,
                    read_ahead_files=3):
        assert np.array_equal(z[...], data)
        assert np.array_equal(z[5:101, 3:77], data[5:101, 3:77])
        assert np.array_equal(z[:, 17], data[:, 17])
        assert np.array_equal(z.vindex[[0, 119, 60], [89, 0, 45]], data[[0, 119, 60], [89, 0, 45]])


def test_missing_chunks_and_folders_read_as_fill_value(tmp_path, data) -> None:
    store = zarrdask.DirectoryStore(str(tmp_path / "a"))
    z = zarrdask.open_array(store, mode="w", shape=data.shape, chunks=(30, 30), dtype="i4",
                            fill_value=-5)
    z[...] = data
    os.remove(os.path.join(store.path, "1.1"))
    os.remove(os.path.join(store.path, "2.2"))
    os.mkdir(os.path.join(store.path, "2.2"))  # a folder where a chunk file should be
    expected = data.copy()
    expected[30:60, 30:60] = -5
    expected[60:90, 60:90] = -5
    with config.set(codec_threads=2, min_parallel_chunk_bytes=0):
        assert np.array_equal(z[...], expected)


def test_file_larger_than_expected_is_read_whole(tmp_path) -> None:
    path = tmp_path / "k"
    payload = os.urandom(300_000)
    path.write_bytes(payload)
    reader = FileReader(lambda key: str(tmp_path / key), size_hint=10)
    reader.hint("k")
    assert bytes(reader.read("k")) == payload
    assert bytes(reader.read("k")) == payload  # unhinted: opened on demand
    with pytest.raises(KeyError):
        reader.read("missing")
    reader.hint("missing")  # no error: read() reports it
    reader.close()


def test_reader_view_is_reused_per_thread(tmp_path) -> None:
    (tmp_path / "a").write_bytes(b"aaaa")
    (tmp_path / "b").write_bytes(b"bb")
    reader = FileReader(lambda key: str(tmp_path / key), size_hint=16)
    first = reader.read("a")
    assert bytes(first) == b"aaaa"
    assert bytes(reader.read("b")) == b"bb"
    reader.close()


@needs_proc
def test_hinted_files_are_closed(tmp_path, data) -> None:
    z = zarrdask.open_array(str(tmp_path / "a"), mode="w", shape=data.shape, chunks=(10, 10),
                            dtype="i4")
    z[...] = data
    before = _open_fds()
    with config.set(codec_threads=2, read_ahead_files=50):
        z[...]
        z[:5, :5]  # reads one chunk; the hinter may have opened none or a few more
    assert _open_fds() == before
    reader = FileReader(lambda key: os.path.join(str(tmp_path / "a"), key))
    for key in ("0.0", "0.1", "1.0"):
        reader.hint(key)
    assert _open_fds() == before + 3
    reader.close()
    assert _open_fds() == before


@needs_proc
def test_decode_error_names_key_stops_and_closes(tmp_path, data) -> None:
    store = zarrdask.DirectoryStore(str(tmp_path / "a"))
    z = zarrdask.open_array(store, mode="w", shape=data.shape, chunks=(10, 10), dtype="i4")
    z[...] = data
    with open(os.path.join(store.path, "3.4"), "wb") as f:
        f.write(b"not blosc at all")
    before = _open_fds()
    for threads, min_parallel in ((1, 0), (2, 0), (2, 1 << 30)):
        with config.set(codec_threads=threads, min_parallel_chunk_bytes=min_parallel):
            with pytest.raises(ChunkDecodeError, match=r"'3\.4'"):
                z[...]
    assert _open_fds() == before


def test_run_streamed_stops_other_workers_on_error() -> None:
    class Reader:
        def __init__(self) -> None:
            self.closed = False

        def hint(self, key: str) -> None:
            pass

        def read(self, key: str) -> bytes:
            return key.encode()

        def wants_hints(self) -> bool:
            return True

        def probe(self, key: str) -> None:
            pass

        def close(self) -> None:
            self.closed = True

    seen: list[int] = []
    lock = threading.Lock()

    def handle(i: int, data: bytes) -> None:
        with lock:
            seen.append(i)
        if i == 3:
            raise RuntimeError("boom at 3")

    reader = Reader()
    keys = [str(i) for i in range(10_000)]
    with config.set(codec_threads=2, min_parallel_chunk_bytes=0):
        with pytest.raises(RuntimeError, match="boom at 3"):
            run_streamed(reader, keys, handle, chunk_nbytes=1 << 20)
    assert reader.closed
    assert len(seen) < len(keys)


def test_subclass_with_own_getitem_gets_no_reader(tmp_path) -> None:
    class Upper(zarrdask.DirectoryStore):
        def __getitem__(self, key: str) -> bytes:
            return super().__getitem__(key)

    assert Upper(str(tmp_path)).chunk_reader() is None
    assert zarrdask.DirectoryStore(str(tmp_path)).chunk_reader() is not None
    assert zarrdask.NestedDirectoryStore(str(tmp_path)).chunk_reader() is not None


def test_normalize_keys_store_reads_through_reader(tmp_path, data) -> None:
    store = zarrdask.DirectoryStore(str(tmp_path / "a"), normalize_keys=True)
    z = zarrdask.open_array(store, mode="w", shape=data.shape, chunks=(50, 50), dtype="i4",
                            path="Sub/Arr")
    z[...] = data
    assert os.path.isdir(os.path.join(store.path, "sub", "arr"))
    with config.set(codec_threads=2, min_parallel_chunk_bytes=0):
        assert np.array_equal(zarrdask.open_array(store, mode="r", path="Sub/Arr")[...], data)


def _read_in_child(path: str, queue) -> None:  # noqa: ANN001 - multiprocessing queue
    with config.set(codec_threads=2, min_parallel_chunk_bytes=0):
        queue.put(int(zarrdask.open_array(path, mode="r")[...].sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_reads_with_fresh_pools(tmp_path, data) -> None:
    import multiprocessing

    path = str(tmp_path / "a")
    z = zarrdask.open_array(path, mode="w", shape=data.shape, chunks=(10, 10), dtype="i4")
    z[...] = data
    with config.set(codec_threads=2, min_parallel_chunk_bytes=0):
        z[...]  # the parent's codec and read-ahead pools now have threads
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(path, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0, "the forked child hung or failed reading"
    assert queue.get(timeout=5) == int(data.sum())


def test_hints_stop_at_the_process_budget(tmp_path, monkeypatch) -> None:
    from zarrdask.storage import _filereader

    for i in range(5):
        (tmp_path / str(i)).write_bytes(bytes([i]) * 10)
    monkeypatch.setattr(_filereader, "_held", threading.BoundedSemaphore(2))
    reader = FileReader(lambda key: str(tmp_path / key))
    for i in range(5):
        reader.hint(str(i))
    assert len(reader._open) == 2  # the budget, not one fd per hint
    assert [bytes(reader.read(str(i))) for i in range(5)] == [bytes([i]) * 10 for i in range(5)]
    assert len(reader._open) == 0
    reader.hint("3")
    reader.close()
    assert _filereader._held.acquire(blocking=False) and _filereader._held.acquire(blocking=False)


@pytest.mark.parametrize("chunk_nbytes", [1 << 30, 1])  # one task per item; one batch per thread
def test_run_items_returns_only_when_nothing_runs_any_more(chunk_nbytes) -> None:
    from zarrdask.parallel import run_items

    started: list[int] = []
    finished: list[int] = []

    def func(i: int) -> None:
        started.append(i)
        if i == 1:
            raise OSError(28, "No space left on device")
        time.sleep(0.02)
        finished.append(i)

    with config.set(codec_threads=2):
        with pytest.raises(OSError, match="No space"):
            run_items(func, list(range(40)), chunk_nbytes)
        n_started = len(started)
        time.sleep(0.1)
    assert sorted(finished) == sorted(i for i in started if i != 1)  # nobody still running
    assert len(started) == n_started  # nothing started after the error was raised
    assert n_started < 40  # the rest was cancelled


def test_short_reads_are_continued(tmp_path, monkeypatch) -> None:
    from zarrdask.storage import _filereader

    payload = os.urandom(100_000)
    (tmp_path / "k").write_bytes(payload)
    real_readv = os.readv

    def short_readv(fd: int, buffers: list) -> int:  # as a FUSE file system may answer
        view = memoryview(buffers[0])
        return real_readv(fd, [view[:7000]])

    monkeypatch.setattr(_filereader.os, "readv", short_readv)
    reader = FileReader(lambda key: str(tmp_path / key), size_hint=50_000)
    assert bytes(reader.read("k")) == payload
    reader.close()


@pytest.mark.skipif(not _filereader_nowait(), reason="needs RWF_NOWAIT reads (Linux)")
def test_warm_reads_do_not_hint_and_cold_ones_do(tmp_path) -> None:
    from zarrdask.storage._filereader import FileReader as Reader

    (tmp_path / "k").write_bytes(b"x" * 10_000)
    with open(tmp_path / "k", "rb") as f:
        f.read()  # in the page cache now
    reader = Reader(lambda key: str(tmp_path / key), size_hint=100)
    assert bytes(reader.read("k")) == b"x" * 10_000
    assert not reader.wants_hints()
    fd = os.open(tmp_path / "k", os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # drop it from the cache
    finally:
        os.close(fd)
    assert bytes(reader.read("k")) == b"x" * 10_000
    assert reader.wants_hints()
    reader.close()


@pytest.mark.skipif(not _filereader_nowait(), reason="needs RWF_NOWAIT reads (Linux)")
def test_probe_tells_a_cold_file_before_reading(tmp_path) -> None:
    from zarrdask.storage._filereader import FileReader as Reader

    (tmp_path / "k").write_bytes(b"y" * 10_000)
    reader = Reader(lambda key: str(tmp_path / key), size_hint=100)
    reader.probe("k")  # just written: cached
    reader.probe("missing")
    assert not reader.wants_hints()
    fd = os.open(tmp_path / "k", os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    reader.probe("k")
    assert reader.wants_hints()
    assert bytes(reader.read("k")) == b"y" * 10_000
    reader.close()


def _child_temp_token(queue) -> None:  # noqa: ANN001 - multiprocessing queue
    from zarrdask.storage import directory

    queue.put(directory._temp_names.suffix()[:24])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_draws_new_temp_names() -> None:
    import multiprocessing

    from zarrdask.storage import directory

    parent = directory._temp_names.suffix()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_temp_token, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) != parent[:24]  # parent and child never share a temp name
    assert directory._temp_names.suffix() != parent  # the counter moves on
