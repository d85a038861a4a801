"""Tests of zarrdask.sync: thread and process synchronizers exclude concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zarrdask.errors import KeyValidationError
from zarrdask.sync import ProcessSynchronizer, Synchronizer, ThreadSynchronizer, lock_file_name

N_THREADS = 8
N_INCREMENTS = 150


def _hammer_dict(sync: Synchronizer, shared: dict[str, int]) -> None:
    """Run N_THREADS x N_INCREMENTS read-modify-write increments of shared['x']."""
    barrier = threading.Barrier(N_THREADS)

    def work() -> None:
        barrier.wait()
        for _ in range(N_INCREMENTS):
            with sync["x"]:
                value = shared["x"]
                time.sleep(0)  # invite a thread switch inside the critical section
                shared["x"] = value + 1

    threads = [threading.Thread(target=work) for _ in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_thread_synchronizer_no_lost_updates() -> None:
    shared = {"x": 0}
    _hammer_dict(ThreadSynchronizer(), shared)
    assert shared["x"] == N_THREADS * N_INCREMENTS


def test_process_synchronizer_from_threads_no_lost_updates(tmp_path: Path) -> None:
    shared = {"x": 0}
    _hammer_dict(ProcessSynchronizer(tmp_path / "sync"), shared)
    assert shared["x"] == N_THREADS * N_INCREMENTS


def test_two_process_synchronizers_same_path_share_thread_lock(tmp_path: Path) -> None:
    # file locks belong to the process: two instances on one path must still exclude threads
    s1, s2 = ProcessSynchronizer(tmp_path / "s"), ProcessSynchronizer(tmp_path / "s")
    shared = {"x": 0}
    barrier = threading.Barrier(2)

    def work(sync: ProcessSynchronizer) -> None:
        barrier.wait()
        for _ in range(200):
            with sync["x"]:
                value = shared["x"]
                time.sleep(0)
                shared["x"] = value + 1

    threads = [threading.Thread(target=work, args=(s,)) for s in (s1, s2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shared["x"] == 400


def _increment_file(sync_path: str, counter: str, n: int) -> None:
    sync = ProcessSynchronizer(sync_path)
    for _ in range(n):
        with sync["counter/0.0"]:
            with open(counter) as f:
                value = int(f.read())
            with open(counter, "w") as f:
                f.write(str(value + 1))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_synchronizer_across_processes(tmp_path: Path, method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"start method {method} not available")
    ctx = multiprocessing.get_context(method)
    counter = tmp_path / "counter.txt"
    counter.write_text("0")
    sync_path = str(tmp_path / "sync")
    n_procs, n = 4, 60
    procs = [ctx.Process(target=_increment_file, args=(sync_path, str(counter), n)) for _ in range(n_procs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert int(counter.read_text()) == n_procs * n


def test_process_synchronizer_pickled_to_spawned_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    counter = tmp_path / "counter.txt"
    counter.write_text("0")
    sync = ProcessSynchronizer(tmp_path / "sync")
    with ctx.Pool(3) as pool:
        pool.starmap(_increment_with, [(sync, str(counter), 40)] * 3)
    assert int(counter.read_text()) == 120


def _increment_with(sync: ProcessSynchronizer, counter: str, n: int) -> None:
    for _ in range(n):
        with sync["counter/0.0"]:
            with open(counter) as f:
                value = int(f.read())
            with open(counter, "w") as f:
                f.write(str(value + 1))


def test_fork_while_lock_held_child_can_lock(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork not available")
    tsync = ThreadSynchronizer()
    psync = ProcessSynchronizer(tmp_path / "sync")
    held = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with tsync["k"], psync["other"]:
            held.set()
            done.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=_lock_both, args=(tsync, psync))
        p.start()
        p.join(timeout=30)
        # the child must not inherit the parent's held thread locks
        assert p.exitcode == 0
    finally:
        done.set()
        t.join()


def _lock_both(tsync: ThreadSynchronizer, psync: ProcessSynchronizer) -> None:
    got = tsync["k"].acquire(timeout=5)
    assert got
    # "other" is file-locked by the parent: the child waits on the file, not a stale thread lock
    assert not psync["other"].acquire(timeout=0.2)
    with psync["k"]:
        pass


def test_process_lock_excludes_other_process(tmp_path: Path) -> None:
    sync = ProcessSynchronizer(tmp_path / "sync")
    ctx = multiprocessing.get_context("spawn")
    with sync["a/0.0"]:
        with ctx.Pool(1) as pool:
            assert pool.apply(_try_lock, (sync, "a/0.0")) is False
            assert pool.apply(_try_lock, (sync, "a_0.0")) is True
            assert pool.apply(_try_lock, (sync, "a%2F0.0")) is True
        # outside the lock another process gets it
    with ctx.Pool(1) as pool:
        assert pool.apply(_try_lock, (sync, "a/0.0")) is True


def _try_lock(sync: ProcessSynchronizer, key: str) -> bool:
    lock = sync[key]
    got = lock.acquire(timeout=0.1)
    if got:
        lock.release()
    return got


def test_key_encoding_does_not_collide(tmp_path: Path) -> None:
    keys = ["a/b", "a_b", "a%2Fb", "A/b", "a/B", "a%2fb", "con", "a" * 300, "a" * 301, "é/x"]
    names = [lock_file_name(k) for k in keys]
    assert len(set(names)) == len(keys)
    # distinct even on case-insensitive file systems
    assert len({n.lower() for n in names}) == len(keys)
    for name in names:
        assert "/" not in name and "\\" not in name
        assert len(name.encode()) <= 255
        assert name.endswith(".lock")
    sync = ProcessSynchronizer(tmp_path / "sync")
    for key in keys:
        with sync[key]:
            pass
    assert len(os.listdir(tmp_path / "sync")) == len(keys)


_segment = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)), min_size=1
).filter(lambda s: s not in (".", ".."))
_keys = st.lists(_segment, min_size=1, max_size=4).map("/".join)


@given(_keys, _keys)
def test_key_encoding_injective_property(k1: str, k2: str) -> None:
    n1, n2 = lock_file_name(k1), lock_file_name(k2)
    assert (n1.lower() == n2.lower()) == (k1 == k2)
    for name in (n1, n2):
        assert "/" not in name and len(name.encode()) <= 255


@pytest.mark.parametrize("bad", ["../x", "/x", "a/../b", "a//b", "", "a\\b", "a\x00b", "./a"])
def test_bad_keys_raise(tmp_path: Path, bad: str) -> None:
    sync = ProcessSynchronizer(tmp_path / "sync")
    with pytest.raises(KeyValidationError):
        sync[bad]
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "sync").exists() or os.listdir(tmp_path / "sync") == []


def test_non_str_key_raises(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        ProcessSynchronizer(tmp_path / "sync")[3]  # type: ignore[index]


def test_pickle_thread_synchronizer_fresh_locks() -> None:
    sync = ThreadSynchronizer()
    with sync["x"]:
        clone = pickle.loads(pickle.dumps(sync))
        assert isinstance(clone, ThreadSynchronizer)
        assert clone is not sync
        # the clone's lock is new and free, even while the original is held
        result: list[bool] = []
        t = threading.Thread(target=lambda: result.append(clone["x"].acquire(timeout=1)))
        t.start()
        t.join()
        assert result == [True]


def test_pickle_process_synchronizer_by_path(tmp_path: Path) -> None:
    sync = ProcessSynchronizer(tmp_path / "sync")
    clone = pickle.loads(pickle.dumps(sync))
    assert isinstance(clone, ProcessSynchronizer)
    assert clone.path == sync.path == str(tmp_path / "sync")
    # same process, same path: the same lock
    assert clone["k"] is sync["k"]


def test_lock_files_outside_store_and_removed(tmp_path: Path) -> None:
    store_dir = tmp_path / "example.zarr"
    store_dir.mkdir()
    (store_dir / ".zarray").write_text("{}")
    sync = ProcessSynchronizer(tmp_path / "example.sync")
    for key in ["foo/0.0", "foo/.zattrs", ".zarray"]:
        with sync[key]:
            pass
    assert sorted(p.name for p in store_dir.iterdir()) == [".zarray"]
    files = sorted(os.listdir(tmp_path / "example.sync"))
    assert files == sorted(lock_file_name(k) for k in ["foo/0.0", "foo/.zattrs", ".zarray"])
    (tmp_path / "example.sync" / "keep.txt").write_text("not ours")
    sync.remove_lock_files()
    assert os.listdir(tmp_path / "example.sync") == ["keep.txt"]
    (tmp_path / "example.sync" / "keep.txt").unlink()
    with sync["x"]:
        pass
    sync.remove_lock_files()
    assert not (tmp_path / "example.sync").exists()
    sync.remove_lock_files()  # idempotent


def test_remove_lock_files_refuses_while_held(tmp_path: Path) -> None:
    sync = ProcessSynchronizer(tmp_path / "sync")
    with sync["x"]:
        with pytest.raises(RuntimeError, match="still held"):
            sync.remove_lock_files()
    sync.remove_lock_files()
    assert not (tmp_path / "sync").exists()


def test_cleanup_at_exit(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_use_with_cleanup, args=(str(tmp_path / "sync"),))
    p.start()
    p.join(timeout=30)
    assert p.exitcode == 0
    assert not (tmp_path / "sync").exists()


def _use_with_cleanup(path: str) -> None:
    sync = ProcessSynchronizer(path, cleanup=True)
    with sync["a/0.0"]:
        pass
    assert os.path.isdir(path)


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(FileExistsError, match="not a directory"):
        ProcessSynchronizer(tmp_path / "f")


@pytest.mark.parametrize("make", [ThreadSynchronizer, "process"])
def test_reentrant_and_protocol(tmp_path: Path, make: object) -> None:
    sync = ThreadSynchronizer() if make is ThreadSynchronizer else ProcessSynchronizer(tmp_path / "s")
    assert isinstance(sync, Synchronizer)
    with sync["k"]:
        with sync["k"]:  # nested use by the holding thread does not deadlock
            pass
        # still held by this thread: another thread cannot take it
        result: list[bool] = []
        t = threading.Thread(target=lambda: result.append(sync["k"].acquire(timeout=0.1)))
        t.start()
        t.join()
        assert result == [False]
    lock = sync["k"]
    assert lock.acquire(timeout=1)
    lock.release()


def test_exception_inside_lock_releases(tmp_path: Path) -> None:
    sync = ProcessSynchronizer(tmp_path / "s")
    with pytest.raises(ZeroDivisionError):
        with sync["k"]:
            1 / 0
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(_try_lock(sync, "k")))
    t.start()
    t.join()
    assert result == [True]
