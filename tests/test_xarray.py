"""The xarray engine ``zarrdask`` and the Dataset writer: round trips, laziness, modes."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")
da = pytest.importorskip("dask.array")

import zarrdask  # noqa: E402
from zarrdask.errors import ContainsGroupError  # noqa: E402
from zarrdask.xarray_backend import (  # noqa: E402
    ZarrdaskBackendEntrypoint,
    open_zarr,
    to_zarr,
)


def realistic_dataset(n_time: int = 6) -> xr.Dataset:
    """Several variables, a time axis, scale/offset packing, NaN, _FillValue, strings."""
    rng = np.random.default_rng(42)
    time = pd.date_range("2000-01-01", periods=n_time, freq="D")
    precip = np.round(rng.random((n_time, 4, 5)) * 100) / 4  # exact in the packing
    precip[0, 0, 0] = np.nan
    ds = xr.Dataset(
        {
            "temp": (("time", "y", "x"), rng.random((n_time, 4, 5)).astype("f4"),
                     {"units": "K", "long_name": "air temperature"}),
            "precip": (("time", "y", "x"), precip, {"units": "mm"}),
            "flag": (("y", "x"), np.arange(20, dtype="i2").reshape(4, 5)),
            "label": (("x",), np.array(["a", "bb", "ccc", "d", "e"])),
        },
        coords={"time": time, "y": np.arange(4.0), "x": np.arange(5),
                "site": ("x", ["s1", "s2", "s3", "s4", "s5"])},
        attrs={"title": "test data", "version": 3, "levels": [1, 2, 3]},
    )
    ds["precip"].encoding = {"dtype": "int16", "scale_factor": 0.25, "add_offset": 1.0,
                             "_FillValue": -9999}
    return ds


class CountingStore(MutableMapping[str, bytes]):
    """A dict store that counts reads per key."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> bytes:
        self.reads.append(key)
        return self.data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def chunk_reads(self) -> list[str]:
        return [k for k in self.reads if not k.rsplit("/", 1)[-1].startswith(".")]


def _open(store: Any, **kwargs: Any) -> xr.Dataset:
    return xr.open_dataset(store, engine="zarrdask", **kwargs)


# ----------------------------------------------------------------------------- round trips


def test_round_trip_realistic_dataset(tmp_path: Any) -> None:
    ds = realistic_dataset()
    path = tmp_path / "data.zarr"
    to_zarr(ds, path)
    back = _open(path)
    xr.testing.assert_identical(back, ds)
    assert back["time"].dtype == np.dtype("datetime64[ns]")
    assert np.isnan(back["precip"].values[0, 0, 0])
    assert back["precip"].encoding["scale_factor"] == 0.25
    assert back["site"].values.tolist() == ["s1", "s2", "s3", "s4", "s5"]
    back.close()


def test_cf_encoding_on_disk(tmp_path: Any) -> None:
    """What lands in the store is what xarray + zarr-python writes (checked against it in
    test_xarray_interop): _ARRAY_DIMENSIONS, packed ints, _FillValue as fill_value, times."""
    path = tmp_path / "data.zarr"
    to_zarr(realistic_dataset(), path)
    zarray = json.loads((path / "precip" / ".zarray").read_text())
    zattrs = json.loads((path / "precip" / ".zattrs").read_text())
    assert zarray["dtype"] == "<i2" and zarray["fill_value"] == -9999
    assert zattrs == {"_ARRAY_DIMENSIONS": ["time", "y", "x"], "add_offset": 1.0,
                      "coordinates": "site", "scale_factor": 0.25, "units": "mm"}
    raw = zarrdask.open_array(str(path), mode="r", path="precip")
    assert raw[0, 0, 0] == -9999
    time_attrs = json.loads((path / "time" / ".zattrs").read_text())
    assert time_attrs["units"] == "days since 2000-01-01 00:00:00"
    assert json.loads((path / "temp" / ".zarray").read_text())["fill_value"] == "NaN"
    meta = json.loads((path / ".zmetadata").read_text())
    assert meta["zarr_consolidated_format"] == 1 and "temp/.zattrs" in meta["metadata"]


def test_decode_options_are_honoured(tmp_path: Any) -> None:
    path = tmp_path / "data.zarr"
    to_zarr(realistic_dataset(), path)
    raw = _open(path, decode_cf=False)
    assert raw["precip"].dtype == np.dtype("i2") and raw["precip"].values[0, 0, 0] == -9999
    assert raw["time"].dtype == np.dtype("i8")
    assert _open(path, decode_times=False)["time"].attrs["units"].startswith("days since")
    assert set(_open(path, drop_variables=["temp", "label"]).data_vars) == {"precip", "flag"}


def test_nan_and_fill_value_masking(tmp_path: Any) -> None:
    values = np.array([1.5, np.nan, 3.0, -1.0])
    ds = xr.Dataset({"a": ("x", values), "b": ("x", np.array([1, 2, -1, 4], dtype="i4"))})
    ds["b"].attrs["_FillValue"] = -1
    path = tmp_path / "m.zarr"
    to_zarr(ds, path)
    back = _open(path)
    np.testing.assert_array_equal(back["a"].values, values)
    np.testing.assert_array_equal(back["b"].values, [1.0, 2.0, np.nan, 4.0])
    assert back["b"].encoding["_FillValue"] == -1


def test_use_zarr_fill_value_as_mask_false_keeps_zeros() -> None:
    store = zarrdask.MemoryStore()
    z = zarrdask.create((4,), dtype="i4", fill_value=0, store=store, path="v")
    z[:] = [0, 1, 2, 0]
    z.attrs["_ARRAY_DIMENSIONS"] = ["x"]  # create() made the root group too
    masked = _open(store)["v"].values
    assert np.isnan(masked[0]) and masked[1] == 1  # xarray's convention: fill_value masks
    kept = _open(store, use_zarr_fill_value_as_mask=False)["v"].values
    assert kept.dtype == np.dtype("i4") and kept.tolist() == [0, 1, 2, 0]


def test_string_coordinates_and_vlen_strings(tmp_path: Any) -> None:
    ds = xr.Dataset(
        {"v": ("station", np.arange(3.0)),
         "comment": ("station", np.array(["ok", "", "long comment ü"], dtype=object))},
        coords={"station": ["alpha", "beta", "gamma"]},
    )
    to_zarr(ds, tmp_path / "s.zarr")
    back = _open(tmp_path / "s.zarr")
    xr.testing.assert_identical(back, ds)
    assert back.sel(station="beta")["v"].item() == 1.0


def test_groups(tmp_path: Any) -> None:
    path = tmp_path / "g.zarr"
    a = realistic_dataset()
    b = xr.Dataset({"z": ("level", np.arange(7.0))}, attrs={"group": "b"})
    to_zarr(a, path, group="obs")
    to_zarr(b, path, group="model/run1", mode="a")
    xr.testing.assert_identical(_open(path, group="obs"), a)
    xr.testing.assert_identical(_open(path, group="model/run1"), b)
    xr.testing.assert_identical(_open(path, group="/model/run1/"), b)
    assert len(_open(path).variables) == 0  # the root group holds only groups
    with pytest.raises(FileNotFoundError, match="no Zarr group"):
        _open(path, group="missing")


def test_fsspec_urls_and_missing_paths(tmp_path: Any) -> None:
    pytest.importorskip("fsspec")
    ds = realistic_dataset()
    url = f"memory://{tmp_path.name}/data.zarr"
    to_zarr(ds, url)
    xr.testing.assert_identical(_open(url), ds)
    file_url = (tmp_path / "f.zarr").as_uri()
    to_zarr(ds, file_url, storage_options={"auto_mkdir": True})
    xr.testing.assert_identical(_open(file_url, storage_options={}, chunks={}).compute(), ds)
    with pytest.raises(FileNotFoundError, match="nothing is there"):
        _open(tmp_path / "missing.zarr")
    z = zarrdask.open(str(tmp_path / "arr.zarr"), mode="w", shape=(3,))
    with pytest.raises(FileNotFoundError, match="an array is there"):
        _open(z.store)


def test_dataarray_and_accessor(tmp_path: Any) -> None:
    arr = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("a", "b"), name="field")
    to_zarr(arr, tmp_path / "da.zarr")
    xr.testing.assert_identical(_open(tmp_path / "da.zarr")["field"], arr)
    ds = realistic_dataset()
    ds.zarrdask.to_zarr(tmp_path / "acc.zarr")
    xr.testing.assert_identical(_open(tmp_path / "acc.zarr"), ds)


def test_top_level_to_zarr_dispatches_datasets(tmp_path: Any) -> None:
    from zarrdask.dask_array import to_zarr as dask_to_zarr

    ds = realistic_dataset()
    dask_to_zarr(ds, str(tmp_path / "top.zarr"), component="grp")
    xr.testing.assert_identical(_open(tmp_path / "top.zarr", group="grp"), ds)


# ------------------------------------------------------------------------- the engine


def test_entrypoint_is_registered_and_claims_only_its_stores(tmp_path: Any) -> None:
    engines = xr.backends.list_engines()
    assert "zarrdask" in engines
    entry = engines["zarrdask"]
    assert entry.description and entry.url
    assert "consolidated" in entry.open_dataset_parameters
    assert not entry.guess_can_open(str(tmp_path / "data.zarr"))
    assert not entry.guess_can_open(tmp_path / "data.zarr")
    assert entry.guess_can_open(zarrdask.MemoryStore())
    store = zarrdask.MemoryStore()
    to_zarr(realistic_dataset(), store)
    xr.testing.assert_identical(xr.open_dataset(store), realistic_dataset())  # guessed


def test_engine_class_works_without_registration() -> None:
    store = zarrdask.MemoryStore()
    to_zarr(realistic_dataset(), store)
    ds = xr.open_dataset(store, engine=ZarrdaskBackendEntrypoint)
    xr.testing.assert_identical(ds, realistic_dataset())


def test_missing_dimension_names_is_a_clear_error() -> None:
    store = zarrdask.MemoryStore()
    zarrdask.creation.init_group(store)
    zarrdask.create((3,), store=store, path="nodims")
    with pytest.raises(KeyError, match="_ARRAY_DIMENSIONS"):
        _open(store)


def test_consolidated_metadata_is_used() -> None:
    store = CountingStore()
    to_zarr(realistic_dataset(), store)
    store.reads.clear()
    ds = _open(store, consolidated=True)
    meta_reads = [k for k in store.reads if k.rsplit("/", 1)[-1].startswith(".")]
    assert meta_reads == [".zmetadata"]
    xr.testing.assert_identical(ds, realistic_dataset())
    store.reads.clear()
    _open(store, consolidated=False)
    assert ".zmetadata" not in store.reads and "temp/.zarray" in store.reads


def test_consolidated_true_without_zmetadata() -> None:
    store = zarrdask.MemoryStore()
    to_zarr(realistic_dataset(), store, consolidated=False)
    assert ".zmetadata" not in store
    with pytest.raises(FileNotFoundError, match="consolidated=True"):
        _open(store, consolidated=True)
    xr.testing.assert_identical(_open(store), realistic_dataset())


# ---------------------------------------------------------------------------- laziness


@pytest.fixture()
def grid_store() -> tuple[CountingStore, np.ndarray]:
    values = np.arange(100 * 80, dtype="f8").reshape(100, 80)
    ds = xr.Dataset({"v": (("y", "x"), values)})
    store = CountingStore()
    to_zarr(ds, store, encoding={"v": {"chunks": (10, 10)}})
    return store, values


def test_basic_indexing_reads_only_needed_chunks(grid_store: Any) -> None:
    store, values = grid_store
    ds = _open(store)
    store.reads.clear()
    assert ds["v"][5, 15].item() == values[5, 15]
    assert store.chunk_reads() == ["v/0.1"]
    store.reads.clear()
    np.testing.assert_array_equal(ds["v"][12:25, 3:8].values, values[12:25, 3:8])
    assert sorted(store.chunk_reads()) == ["v/1.0", "v/2.0"]


def test_outer_indexing_reads_only_needed_chunks(grid_store: Any) -> None:
    store, values = grid_store
    ds = _open(store)
    store.reads.clear()
    out = ds["v"].isel(y=[1, 95, 3], x=[0, 79]).values
    np.testing.assert_array_equal(out, values[np.ix_([1, 95, 3], [0, 79])])
    assert sorted(store.chunk_reads()) == ["v/0.0", "v/0.7", "v/9.0", "v/9.7"]


def test_vectorized_indexing_reads_only_needed_chunks(grid_store: Any) -> None:
    store, values = grid_store
    ds = _open(store)
    store.reads.clear()
    ys = xr.DataArray([2, 97, 50], dims="p")
    xs = xr.DataArray([3, 78, 41], dims="p")
    np.testing.assert_array_equal(ds["v"].isel(y=ys, x=xs).values,
                                  values[[2, 97, 50], [3, 78, 41]])
    assert sorted(store.chunk_reads()) == ["v/0.0", "v/5.4", "v/9.7"]  # not a 3x3 block


def test_vectorized_indexing_with_a_slice(grid_store: Any) -> None:
    store, values = grid_store
    ds = _open(store)
    pts = xr.DataArray([[1, 2], [40, 41]], dims=("p", "q"))
    got = ds["v"].isel(y=pts, x=slice(5, 25)).values
    np.testing.assert_array_equal(got, values[np.array([[1, 2], [40, 41]])][..., 5:25])


def test_chunks_empty_dict_gives_store_chunks(grid_store: Any) -> None:
    store, values = grid_store
    ds = _open(store, chunks={})
    assert ds["v"].chunks == ((10,) * 10, (10,) * 8)
    assert ds["v"].encoding["preferred_chunks"] == {"y": 10, "x": 10}
    store.reads.clear()
    assert float(ds["v"].sum().compute()) == values.sum()
    chunk_reads = store.chunk_reads()
    assert len(chunk_reads) == 80 and len(set(chunk_reads)) == 80  # each chunk read once


def test_open_zarr_uses_zarrdask_graph_builder(grid_store: Any) -> None:
    store, values = grid_store
    ds = open_zarr(store)
    assert ds["v"].data.name.startswith("zarrdask-")
    assert ds["v"].chunks == ((10,) * 10, (10,) * 8)
    np.testing.assert_array_equal(ds["v"].values, values)
    wide = open_zarr(store, chunks={"x": 40})
    assert wide["v"].chunks == ((10,) * 10, (40, 40))
    with pytest.raises(ValueError, match="multiple of the store chunk"):
        open_zarr(store, chunks={"x": 15})
    xr.testing.assert_identical(open_zarr(_written()).compute(), realistic_dataset())


def _written() -> zarrdask.MemoryStore:
    store = zarrdask.MemoryStore()
    to_zarr(realistic_dataset(), store)
    return store


def test_open_mfdataset(tmp_path: Any) -> None:
    ds = realistic_dataset(n_time=10)
    paths = [tmp_path / "a.zarr", tmp_path / "b.zarr"]
    to_zarr(ds.isel(time=slice(0, 4)), paths[0])
    to_zarr(ds.isel(time=slice(4, None)), paths[1])
    multi = xr.open_mfdataset(paths, engine="zarrdask", combine="nested", concat_dim="time",
                              data_vars="minimal", coords="minimal", compat="override")
    assert multi["temp"].chunks[0] == (4, 6)
    xr.testing.assert_identical(multi.compute(), ds)


# --------------------------------------------------------------------------- writing


def test_dask_variables_with_misaligned_chunks_are_written_exactly(tmp_path: Any) -> None:
    values = np.arange(40 * 30, dtype="f8").reshape(40, 30)
    ds = xr.Dataset({"v": (("t", "x"), da.from_array(values, chunks=(7, 4)))})
    path = tmp_path / "mis.zarr"
    # xarray refuses (dask chunks 7 overlap store chunks 10); the write planner merges writers
    to_zarr(ds, path, encoding={"v": {"chunks": (10, 10)}})
    np.testing.assert_array_equal(_open(path)["v"].values, values)
    assert json.loads((path / "v" / ".zarray").read_text())["chunks"] == [10, 10]


def test_dask_chunks_become_store_chunks(tmp_path: Any) -> None:
    ds = realistic_dataset().chunk({"time": 2, "x": 5})
    to_zarr(ds, tmp_path / "c.zarr")
    back = _open(tmp_path / "c.zarr")
    assert back["temp"].encoding["chunks"] == (2, 4, 5)
    xr.testing.assert_identical(back, realistic_dataset())
    uneven = xr.Dataset({"v": ("x", da.ones(10, chunks=(3, 4, 3)))})
    with pytest.raises(ValueError, match="one chunk size"):
        to_zarr(uneven, tmp_path / "u.zarr")


def test_compute_false_writes_nothing_until_computed(tmp_path: Any) -> None:
    ds = realistic_dataset().chunk({"time": 3})
    path = tmp_path / "lazy.zarr"
    delayed = to_zarr(ds, path, compute=False)
    assert not path.exists()
    delayed.compute()
    xr.testing.assert_identical(_open(path), realistic_dataset())
    store = zarrdask.MemoryStore()
    to_zarr(realistic_dataset(), store, compute=False)  # numpy only: still deferred
    assert len(store) == 0


def test_mode_w_replaces_even_lazily(tmp_path: Any) -> None:
    path = tmp_path / "w.zarr"
    to_zarr(realistic_dataset(), path)
    small = xr.Dataset({"only": ("z", da.arange(5, chunks=2))})
    delayed = to_zarr(small, path, mode="w", compute=False)
    assert (path / "temp").exists()  # not deleted before compute
    delayed.compute()
    back = _open(path)
    assert list(back.variables) == ["only"] and not (path / "temp").exists()
    np.testing.assert_array_equal(back["only"].values, np.arange(5))


def test_append_dim(tmp_path: Any) -> None:
    ds = realistic_dataset(n_time=12)
    path = tmp_path / "app.zarr"
    to_zarr(ds.isel(time=slice(0, 5)), path, encoding={"temp": {"chunks": (3, 4, 5)}})
    to_zarr(ds.isel(time=slice(5, 9)).chunk({"time": 1}), path, append_dim="time")
    to_zarr(ds.isel(time=slice(9, None)), path, append_dim="time")
    back = _open(path)
    xr.testing.assert_identical(back, ds)
    assert back["temp"].encoding["chunks"] == (3, 4, 5)
    assert json.loads((path / ".zmetadata").read_text())["metadata"]["time/.zarray"][
        "shape"] == [12]


def test_append_mode_a_minus_keeps_other_variables(tmp_path: Any) -> None:
    ds = realistic_dataset(n_time=4)
    path = tmp_path / "am.zarr"
    to_zarr(ds.isel(time=slice(0, 2)), path)
    changed = ds.isel(time=slice(2, None)).assign(flag=ds["flag"] * 0)
    to_zarr(changed, path, mode="a-", append_dim="time")
    back = _open(path)
    np.testing.assert_array_equal(back["flag"].values, ds["flag"].values)  # not rewritten
    xr.testing.assert_identical(back, ds)


def test_region_writes(tmp_path: Any) -> None:
    ds = realistic_dataset(n_time=10)
    path = tmp_path / "reg.zarr"
    to_zarr(xr.zeros_like(ds.chunk()), path, compute=False).compute()  # template
    to_zarr(ds.isel(time=slice(0, 4)).drop_vars(["flag", "label", "site", "x", "y"]),
            path, region={"time": slice(0, 4)})
    rest = ds.isel(time=slice(4, None)).drop_vars(["flag", "label", "site"]).chunk({"time": 3})
    to_zarr(rest, path, region="auto")
    back = _open(path)
    for name in ("temp", "precip"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    xr.testing.assert_identical(back["time"], ds["time"])
    with pytest.raises(ValueError, match="drop_vars"):
        to_zarr(ds.isel(time=slice(0, 2)), path, region={"time": slice(0, 2)})
    with pytest.raises(KeyError, match="not in the stored coordinate"):
        to_zarr(realistic_dataset().assign_coords(time=pd.date_range("1990", periods=6))
                [["temp"]], path, region="auto")


def test_mode_errors(tmp_path: Any) -> None:
    ds = realistic_dataset()
    path = tmp_path / "e.zarr"
    to_zarr(ds, path)
    before = sorted(p.name for p in path.iterdir())
    with pytest.raises(ContainsGroupError):
        to_zarr(ds, path)  # w- is the default
    with pytest.raises(ValueError, match="r\\+"):
        to_zarr(ds.assign(new=ds["temp"]), path, mode="r+")
    with pytest.raises(ValueError, match="append_dim"):
        to_zarr(ds, path, append_dim="nope")
    with pytest.raises(ValueError, match="append_dim"):
        to_zarr(ds, path, mode="w", append_dim="time")
    with pytest.raises(ValueError, match="mode must be"):
        to_zarr(ds, path, mode="x")
    with pytest.raises(ValueError, match="already exist"):
        to_zarr(ds, path, mode="a", encoding={"temp": {"chunks": 2}})
    with pytest.raises(ValueError, match="unexpected encoding"):
        to_zarr(ds, tmp_path / "x.zarr", encoding={"temp": {"fill_value": 3}})
    assert sorted(p.name for p in path.iterdir()) == before
    xr.testing.assert_identical(_open(path), ds)


def test_mode_a_overwrites_existing_variables(tmp_path: Any) -> None:
    ds = realistic_dataset()
    path = tmp_path / "a.zarr"
    to_zarr(ds, path)
    updated = ds.assign(temp=ds["temp"] + 1, extra=ds["flag"] * 2)
    to_zarr(updated, path, mode="a")
    xr.testing.assert_identical(_open(path), updated)
