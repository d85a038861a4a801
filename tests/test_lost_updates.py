"""Lost-update tests: concurrent partial-chunk writers, with and without a synchronizer.

Every worker sets its own elements (interleaved, so every chunk is shared by all
workers) one at a time; each write is a read-modify-write of a shared chunk.
With a synchronizer no update may be lost, over repeated runs. Without one the
loss is recorded (printed), not failed: zarr's contract only promises safety
with a synchronizer.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrdask as zarr

N_ELEMENTS = 600
CHUNK = 50


def _write_own_elements(path: str, sync_path: str | None, worker: int, n_workers: int,
                        threads: int = 1) -> None:
    synchronizer: Any = None
    if sync_path is not None:
        synchronizer = zarr.ProcessSynchronizer(sync_path)
    z = zarr.open_array(path, mode="r+", synchronizer=synchronizer)
    mine = list(range(worker, N_ELEMENTS, n_workers))

    def run(part: list[int]) -> None:
        for i in part:
            z[i] = 1

    if threads == 1:
        run(mine)
        return
    ts = [threading.Thread(target=run, args=(mine[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _new_array(tmp_path: Path, name: str) -> str:
    path = str(tmp_path / name)
    zarr.open_array(path, mode="w", shape=(N_ELEMENTS,), chunks=(CHUNK,), dtype="u1",
                    compressor=None)
    return path


def _run_processes(method: str, path: str, sync_path: str | None, n: int,
                   threads: int = 1) -> None:
    """Run ``n`` writer processes (each with ``threads`` threads) and check they all succeeded."""
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_write_own_elements, args=(path, sync_path, w, n, threads))
             for w in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0


def _lost(path: str) -> int:
    data = zarr.open_array(path, mode="r")[:]
    assert set(np.unique(data).tolist()) <= {0, 1}, "values other than 0 and 1: corruption"
    return int((data == 0).sum())


def _run_threads(path: str, synchronizer: Any, n: int) -> None:
    z = zarr.open_array(path, mode="r+", synchronizer=synchronizer)

    def run(worker: int) -> None:
        for i in range(worker, N_ELEMENTS, n):
            z[i] = 1

    ts = [threading.Thread(target=run, args=(w,)) for w in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_threads_with_synchronizer_lose_nothing(tmp_path: Path, kind: str) -> None:
    for run in range(3):
        path = _new_array(tmp_path, f"{kind}{run}.zarr")
        sync: Any = (zarr.ThreadSynchronizer() if kind == "thread"
                     else zarr.ProcessSynchronizer(str(tmp_path / f"sync{run}")))
        _run_threads(path, sync, 6)
        assert _lost(path) == 0


def test_threads_without_synchronizer_records_loss(tmp_path: Path) -> None:
    losses = []
    for run in range(3):
        path = _new_array(tmp_path, f"nosync{run}.zarr")
        _run_threads(path, None, 6)
        losses.append(_lost(path))
    print(f"updates lost without a synchronizer (6 threads, {N_ELEMENTS} each run): {losses}")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_with_synchronizer_lose_nothing(tmp_path: Path, method: str) -> None:
    for run in range(2):
        path = _new_array(tmp_path, f"p{run}.zarr")
        _run_processes(method, path, str(tmp_path / f"sync{run}"), 4)
        assert _lost(path) == 0


def test_processes_with_threads_and_synchronizer_lose_nothing(tmp_path: Path) -> None:
    path = _new_array(tmp_path, "pt.zarr")
    _run_processes("fork", path, str(tmp_path / "sync"), 3, threads=3)
    assert _lost(path) == 0


def test_processes_without_synchronizer_records_loss(tmp_path: Path) -> None:
    path = _new_array(tmp_path, "pn.zarr")
    _run_processes("fork", path, None, 4)
    print(f"updates lost without a synchronizer (4 processes): {_lost(path)} of {N_ELEMENTS}")


def _child_reads(path: str, queue: Any) -> None:
    z = zarr.open_array(path, mode="r")
    with zarr.config.set(min_parallel_chunk_bytes=0):
        queue.put(int(z[:].sum()))


def test_no_hang_after_fork_with_pool_in_use(tmp_path: Path) -> None:
    """The parent used the codec pool; a forked child must get a fresh pool, not a dead one."""
    path = str(tmp_path / "f.zarr")
    z = zarr.open_array(path, mode="w", shape=(400, 400), chunks=(100, 100), dtype="i4")
    with zarr.config.set(min_parallel_chunk_bytes=0):
        z[:] = 1
        assert int(z[:].sum()) == 160000
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_child_reads, args=(path, queue))
    p.start()
    p.join(60)
    assert p.exitcode == 0, "child hung or failed after fork"
    assert queue.get(timeout=5) == 160000


@pytest.mark.parametrize("use_threads", [True, False, None])
def test_blosc_use_threads_settings(use_threads: bool | None) -> None:
    from numcodecs import blosc

    old = blosc.use_threads
    blosc.use_threads = use_threads
    try:
        a = np.arange(2_000_000, dtype="i4").reshape(1000, 2000)
        z = zarr.array(a, chunks=(500, 500))
        np.testing.assert_array_equal(z[:], a)
    finally:
        blosc.use_threads = old


def test_codec_threads_default_is_core_count() -> None:
    import os

    assert zarr.config.codec_threads == max(1, os.cpu_count() or 1)
