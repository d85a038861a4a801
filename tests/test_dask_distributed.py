"""The dask integration on a real ``LocalCluster(processes=True)`` with 2 workers.

Workers are separate processes with 2 threads each, so file-system stores,
pickled targets, ``distributed.Lock`` synchronizers and the up-front refusals
are all exercised for real. The >= 1 GB region-by-region write is marked slow.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import zarrdask  # noqa: E402
from tests.test_dask import LoggingStore  # noqa: E402
from zarrdask import dask_array as zd  # noqa: E402
from zarrdask.errors import UnsafeWriteError  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Any:
    """A 2-process, 2-threads-per-process cluster on the loopback interface."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_scheduler_is_seen_as_multiprocess(client: Any) -> None:
    assert zd.scheduler_kind() == "distributed"
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


def test_read_graph_on_cluster(client: Any, tmp_path: Any) -> None:
    data = np.random.default_rng(0).random((95, 130))
    z = zarrdask.array(data, chunks=(20, 30), store=str(tmp_path / "r.zarr"))
    x = zd.to_dask(z, selection=(slice(3, 90), [5, 1, 99, 120]))
    np.testing.assert_array_equal(x.compute(), data[3:90][:, [5, 1, 99, 120]])
    np.testing.assert_allclose(zd.to_dask(z).sum().compute(), data.sum())


@pytest.mark.parametrize("policy", ["align", "lock"])
def test_misaligned_write_on_cluster(client: Any, tmp_path: Any, policy: str) -> None:
    z = zarrdask.open_array(str(tmp_path / "w.zarr"), mode="w", shape=(4000,), chunks=100,
                            dtype="i8")
    zd.store(da.arange(4000, chunks=7), z, policy=policy)  # lock: a DistributedSynchronizer
    np.testing.assert_array_equal(z[:], np.arange(4000))


def test_explicit_distributed_synchronizer(client: Any, tmp_path: Any) -> None:
    sync = zd.DistributedSynchronizer("test-explicit/")
    assert pickle.loads(pickle.dumps(sync)).prefix == "test-explicit/"
    z = zarrdask.open_array(str(tmp_path / "s.zarr"), mode="w", shape=(60, 50), chunks=(10, 10),
                            dtype="f4", synchronizer=sync)
    data = np.random.default_rng(1).random((60, 50)).astype("f4")
    zd.store(da.from_array(data, chunks=(7, 6)), z, lock=sync)
    np.testing.assert_array_equal(z[:], data)


def test_to_zarr_deferred_on_cluster_and_no_metadata_reads(client: Any, tmp_path: Any) -> None:
    log = str(tmp_path / "log")
    path = str(tmp_path / "d.zarr")
    x = da.arange(30_000, chunks=333).reshape(100, 300)
    delayed = zd.to_zarr(x, LoggingStore(path, log), chunks=(10, 50), compute=False)
    assert not os.path.exists(path)
    client.compute(delayed).result()
    z = zarrdask.open_array(path, mode="r")
    np.testing.assert_array_equal(z[:], np.arange(30_000).reshape(100, 300))
    reader = zarrdask.open_array(LoggingStore(path, log), mode="r")
    assert int(zd.to_dask(reader).sum().compute()) == int(np.arange(30_000).sum())
    with open(log) as f:
        worker_reads = [int(line) for line in f if int(line) != os.getpid()]
    # tasks carry the metadata: only the metadata-writing task re-reads what it wrote,
    # none of the 100 write tasks or the 60 read tasks does
    assert len(worker_reads) <= 1


def test_memory_store_is_refused_up_front(client: Any) -> None:
    z = zarrdask.zeros(100, chunks=10)
    with pytest.raises(UnsafeWriteError, match="in-memory store"):
        zd.store(da.ones(100, chunks=10), z)
    with pytest.raises(UnsafeWriteError, match="in-memory store"):
        zd.to_zarr(da.ones(100, chunks=10), zarrdask.MemoryStore())
    assert z.nchunks_initialized == 0
    # reading a memory store is fine: each worker reads its own copy
    m = zarrdask.array(np.arange(10), chunks=3)
    np.testing.assert_array_equal(zd.to_dask(m).compute(), np.arange(10))


def test_thread_synchronizer_is_refused_up_front(client: Any, tmp_path: Any) -> None:
    z = zarrdask.open_array(str(tmp_path / "t.zarr"), mode="w", shape=(100,), chunks=10,
                            synchronizer=zarrdask.ThreadSynchronizer())
    with pytest.raises(UnsafeWriteError, match="only excludes threads of one process"):
        zd.store(da.ones(100, chunks=7), z)


def test_process_synchronizer_on_cluster(client: Any, tmp_path: Any) -> None:
    sync = zarrdask.ProcessSynchronizer(str(tmp_path / "locks"))
    z = zarrdask.open_array(str(tmp_path / "p.zarr"), mode="w", shape=(3000,), chunks=100,
                            dtype="i8", synchronizer=sync)
    zd.store(da.arange(3000, chunks=7), z, policy="lock")
    np.testing.assert_array_equal(z[:], np.arange(3000))


def test_progress_on_cluster(client: Any, tmp_path: Any, capsys: Any) -> None:
    z = zarrdask.open_array(str(tmp_path / "g.zarr"), mode="w", shape=(100,), chunks=10)
    zd.store(da.ones(100, chunks=10), z, progress=True)
    assert float(z[:].sum()) == 100.0
    assert "100%" in capsys.readouterr().out


@pytest.mark.slow
def test_one_gigabyte_region_by_region(client: Any, tmp_path: Any) -> None:
    n = 16384  # 16384 x 16384 int32 = 1 GiB
    width = n
    template = da.zeros((n, width), dtype="i4", chunks=(2048, 2048))
    z = zd.initialize(template, str(tmp_path / "big.zarr"), chunks=(1024, 1024),
                      compressor=None)

    def band(a: int, b: int) -> Any:
        rows = da.arange(a, b, chunks=1500, dtype="i4")[:, None]
        cols = da.arange(width, chunks=2000, dtype="i4")[None, :]
        return rows * width + cols  # distinct values, misaligned dask chunks

    edges = [0, 3000, 8192, 12000, n]  # regions misaligned with the store chunks too
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        zd.store(band(a, b), z, region=(slice(a, b),), policy="align")
    assert z.nbytes == 2**30
    back = zd.to_dask(z, chunks="auto")
    assert bool((back == band(0, n).rechunk(back.chunks)).all().compute())
