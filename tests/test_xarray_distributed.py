"""The Dataset writer and the zarrdask engine on a LocalCluster with worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
distributed = pytest.importorskip("distributed")

import zarrdask  # noqa: E402
from tests.test_xarray import realistic_dataset  # noqa: E402
from zarrdask.errors import UnsafeWriteError  # noqa: E402
from zarrdask.xarray_backend import to_zarr  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


def test_writer_on_process_cluster(client: Any, tmp_path: Path) -> None:
    ds = realistic_dataset(n_time=40).chunk({"time": 7, "x": 3})  # misaligned on purpose
    path = tmp_path / "cluster.zarr"
    to_zarr(ds, path, encoding={"temp": {"chunks": (10, 4, 5)}, "precip": {"chunks": (4, 2, 5)}})
    back = xr.open_dataset(path, engine="zarrdask")
    xr.testing.assert_identical(back, ds.compute())


def test_deferred_append_and_region_on_cluster(client: Any, tmp_path: Path) -> None:
    ds = realistic_dataset(n_time=30)
    path = tmp_path / "deferred.zarr"
    delayed = to_zarr(ds.isel(time=slice(0, 10)).chunk({"time": 3}), path, compute=False)
    assert not path.exists()
    client.compute(delayed).result()
    to_zarr(ds.isel(time=slice(10, None)).chunk({"time": 4}), path, append_dim="time")
    part = ds.isel(time=slice(5, 17))[["temp"]].drop_vars("site")
    to_zarr((part * 2).chunk({"time": 5}), path, region="auto")
    back = xr.open_dataset(path, engine="zarrdask", chunks={})
    expected = ds["temp"].values.copy()
    expected[5:17] *= 2
    np.testing.assert_array_equal(back["temp"].compute().values, expected)
    xr.testing.assert_identical(back.drop_vars("temp").compute(), ds.drop_vars("temp"))


def test_in_memory_store_is_refused_on_cluster(client: Any) -> None:
    store = zarrdask.MemoryStore()
    with pytest.raises(UnsafeWriteError, match="in-memory store"):
        to_zarr(realistic_dataset().chunk({"time": 2}), store)
    assert len(store) == 0  # refused before anything was written
