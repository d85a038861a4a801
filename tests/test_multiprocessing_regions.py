"""The tutorial's "each worker writes a region" pattern, in real worker processes.

With regions aligned to chunks, workers need no locks. With misaligned regions
two workers share the boundary chunks, and a ``ProcessSynchronizer`` keeps
their read-modify-writes apart, also when each worker writes from several
threads (file locks alone belong to a process, not a thread). Workers are
started with ``spawn``, as on macOS and Windows and in dask's process pools.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

import zarrdask

SHAPE = (120, 90)
CHUNKS = (10, 15)


def expected() -> np.ndarray:
    """The values every test writes: distinct per element."""
    return np.arange(SHAPE[0] * SHAPE[1], dtype="i4").reshape(SHAPE)


def write_region(path: str, start: int, stop: int, sync_path: str | None, threads: int) -> int:
    """Open the array in this process and write rows ``[start, stop)``, from ``threads`` threads.

    Each thread writes a band of rows, one row at a time: many small partial writes
    that share chunks with the neighbouring bands and processes.
    """
    sync = zarrdask.ProcessSynchronizer(sync_path) if sync_path else None
    z = zarrdask.open_array(path, mode="r+", synchronizer=sync)
    data = expected()
    bounds = np.linspace(start, stop, threads + 1).astype(int)

    def band(a: int, b: int) -> None:
        for row in range(a, b):
            z[row, :] = data[row, :]

    workers = [threading.Thread(target=band, args=(int(a), int(b)))
               for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return stop - start


def write_aligned_block(path: str, start: int, stop: int) -> int:
    """Write rows ``[start, stop)`` in one assignment (whole chunks, no lock needed)."""
    z = zarrdask.open_array(path, mode="r+")
    z[start:stop] = expected()[start:stop]
    return stop - start


@pytest.fixture
def array_path(tmp_path: Any) -> str:
    path = str(tmp_path / "data.zarr")
    zarrdask.open_array(path, mode="w", shape=SHAPE, chunks=CHUNKS, dtype="i4", fill_value=-1)
    return path


def test_aligned_regions_with_multiprocessing_pool(array_path: str) -> None:
    regions = [(a, a + 30) for a in range(0, SHAPE[0], 30)]  # multiples of the chunk rows
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        done = pool.starmap(write_aligned_block, [(array_path, a, b) for a, b in regions])
    assert sum(done) == SHAPE[0]
    np.testing.assert_array_equal(zarrdask.open_array(array_path, mode="r")[:], expected())


def test_aligned_regions_with_process_pool_executor(array_path: str) -> None:
    regions = [(a, a + 20) for a in range(0, SHAPE[0], 20)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        done = list(ex.map(write_aligned_block, [array_path] * len(regions),
                           [a for a, _ in regions], [b for _, b in regions]))
    assert sum(done) == SHAPE[0]
    np.testing.assert_array_equal(zarrdask.open_array(array_path, mode="r")[:], expected())


def test_misaligned_regions_under_process_synchronizer(array_path: str, tmp_path: Any) -> None:
    sync_path = str(tmp_path / "data.sync")
    # regions cut through chunk rows (chunks are 10 rows): neighbours share chunks
    edges = [0, 17, 43, 61, 88, 104, 120]
    regions = list(zip(edges[:-1], edges[1:], strict=True))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        futures = [ex.submit(write_region, array_path, a, b, sync_path, 3) for a, b in regions]
        assert sum(f.result() for f in futures) == SHAPE[0]
    np.testing.assert_array_equal(zarrdask.open_array(array_path, mode="r")[:], expected())
    zarrdask.ProcessSynchronizer(sync_path).remove_lock_files()


def test_misaligned_regions_with_multiprocessing_pool(array_path: str, tmp_path: Any) -> None:
    sync_path = str(tmp_path / "pool.sync")
    edges = [0, 13, 29, 55, 77, 120]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.starmap(write_region, [(array_path, a, b, sync_path, 2)
                                    for a, b in zip(edges[:-1], edges[1:], strict=True)])
    np.testing.assert_array_equal(zarrdask.open_array(array_path, mode="r")[:], expected())


def test_canary_the_harness_races_without_a_synchronizer(tmp_path: Any) -> None:
    """Without locks the same misaligned pattern loses updates (so the tests above test)."""
    edges = [0, 17, 43, 61, 88, 104, 120]
    ctx = multiprocessing.get_context("spawn")
    wrong = 0
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        for attempt in range(5):  # a race: allow a few attempts to show itself
            path = str(tmp_path / f"canary{attempt}.zarr")
            zarrdask.open_array(path, mode="w", shape=SHAPE, chunks=CHUNKS, dtype="i4",
                                fill_value=-1)
            futures = [ex.submit(write_region, path, a, b, None, 3)
                       for a, b in zip(edges[:-1], edges[1:], strict=True)]
            for f in futures:
                f.result()
            wrong = int((zarrdask.open_array(path, mode="r")[:] != expected()).sum())
            if wrong:
                break
    assert wrong > 0
