"""The Array core: numpy as the oracle for basic selections, and Array behaviour."""

from __future__ import annotations

import pickle
from collections.abc import MutableMapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrdask as zarr
from zarrdask.errors import ArrayNotFoundError, BoundsCheckError, NegativeStepError, ReadOnlyError

DTYPES = ["|b1", "i1", "<u2", ">i4", "<i8", "<f2", ">f4", "<f8", "<c8", ">c16", "<M8[s]", "<m8[ms]",
          "|S3", "<U2"]


class CountingStore(MutableMapping[str, Any]):
    """A dict store that counts reads and writes per key."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.reads: list[str] = []
        self.writes: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@st.composite
def arrays_and_selections(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...], str, Any]:
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(1, s + 1))) for s in shape)
    dtype = np.dtype(draw(st.sampled_from(["i2", "<f8", ">u4", "|b1", "<c8"])))
    order = draw(st.sampled_from("CF"))
    size = int(np.prod(shape))
    a = (np.arange(size) % 7 + 1).astype(dtype).reshape(shape)
    sel: list[Any] = []
    for s in shape:
        kind = draw(st.sampled_from(["int", "slice", "full"])) if s else "slice"
        if kind == "int":
            sel.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-s - 2, s + 2)))
            stop = draw(st.one_of(st.none(), st.integers(-s - 2, s + 2)))
            step = draw(st.one_of(st.none(), st.integers(1, 4)))
            sel.append(slice(start, stop, step))
        else:
            sel.append(slice(None))
    if draw(st.booleans()) and ndim:
        k = draw(st.integers(0, ndim))
        selection: Any = (*sel[:k], Ellipsis) if k < ndim else tuple(sel)
        if k < ndim:
            selection = tuple(sel[:k]) + (Ellipsis,)
            # numpy pads the missing axes with full slices: make the oracle see the same
    else:
        selection = tuple(sel)
    return a, chunks, order, selection


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays_and_selections(), st.booleans())
def test_basic_selection_matches_numpy(case: Any, scalar: bool) -> None:
    a, chunks, order, selection = case
    z = zarr.array(a, chunks=chunks, order=order)
    np.testing.assert_array_equal(z[selection], a[selection])
    expected = a.copy()
    target = expected[selection]
    if scalar or np.ndim(target) == 0:
        value: Any = a.dtype.type(3)
    else:
        value = (np.arange(np.size(target)) % 5).astype(a.dtype).reshape(np.shape(target))
    expected[selection] = value
    z[selection] = value
    np.testing.assert_array_equal(z[...], expected)
    # a fresh handle reads the same from the store
    np.testing.assert_array_equal(zarr.Array(z.store)[...], expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
def test_round_trip_dtypes(dtype: str, order: str, tmp_path: Any) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, size=(7, 5)).astype(dtype)
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=a.shape, chunks=(3, 2),
                        dtype=dtype, order=order)
    z[...] = a
    z2 = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    assert z2.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(z2[...], a)


def test_zero_d_array() -> None:
    z = zarr.zeros((), dtype="i4")
    assert z.shape == () and z.chunks == () and z.nchunks == 1
    assert z[()] == 0
    z[()] = 5
    assert z[...].shape == () and int(z[...]) == 5
    assert z[()] == 5
    assert z.nchunks_initialized == 1
    with pytest.raises(TypeError):
        len(z)


def test_zero_length_dimension() -> None:
    z = zarr.zeros((0, 5), chunks=(2, 2), dtype="f8")
    assert z[:].shape == (0, 5)
    z[:] = 1.0
    assert z.nchunks == 0
    assert z.append(np.ones((3, 5))) == (3, 5)
    np.testing.assert_array_equal(z[:], np.ones((3, 5)))


def test_properties() -> None:
    z = zarr.full((10, 7), fill_value=5, chunks=(3, 4), dtype="<i2", order="F")
    assert z.shape == (10, 7) and z.chunks == (3, 4) and z.dtype == np.dtype("i2")
    assert z.ndim == 2 and z.size == 70 and z.itemsize == 2 and z.nbytes == 140
    assert z.cdata_shape == (4, 2) and z.nchunks == 8 and z.nchunks_initialized == 0
    assert z.fill_value == 5 and z.order == "F" and z.filters is None
    assert z.path == "" and z.name is None and z.basename is None
    assert z.read_only is False and z.synchronizer is None
    z[0, 0] = 1
    assert z.nchunks_initialized == 1 and z.initialized == 1
    assert z.nbytes_stored > 0
    assert len(z) == 10
    assert [int(r[0]) for r in z] == [1] + [5] * 9
    assert [int(r[0]) for r in z.islice(8, 20)] == [5, 5]
    np.testing.assert_array_equal(np.asarray(z), z[...])


def test_repr_and_info_named(tmp_path: Any) -> None:
    z = zarr.create((4,), chunks=2, dtype="i8", store=str(tmp_path / "s"), path="foo/bar")
    assert repr(z) == "<zarrdask.core.Array '/foo/bar' (4,) int64>"
    assert z.name == "/foo/bar" and z.basename == "bar"
    info = repr(z.info)
    assert info.splitlines()[0] == "Name               : /foo/bar"
    assert "Store type         : zarrdask.storage.DirectoryStore" in info
    assert "<table" in z._repr_html_()
    assert dict(z.info_items())["Chunks initialized"] == "0/2"


def test_write_empty_chunks_default_deletes() -> None:
    z = zarr.zeros((10,), chunks=5, dtype="i4")
    z[:] = 1
    assert z.nchunks_initialized == 2
    z[:5] = 0
    assert z.nchunks_initialized == 1
    z[5:] = 0
    assert z.nchunks_initialized == 0
    kept = zarr.zeros((10,), chunks=5, dtype="i4", write_empty_chunks=True)
    kept[:] = 0
    assert kept.nchunks_initialized == 2


def test_nan_fill_chunks_are_empty() -> None:
    z = zarr.full((10,), fill_value=np.nan, chunks=5, dtype="f4")
    z[:] = np.nan
    assert z.nchunks_initialized == 0
    assert np.isnan(z[:]).all()


def test_fill_value_none_reads_zeros() -> None:
    z = zarr.empty((6,), chunks=3, dtype="f8")
    assert z.fill_value is None
    np.testing.assert_array_equal(z[:], np.zeros(6))


def test_full_chunk_write_reads_nothing() -> None:
    store = CountingStore()
    z = zarr.zeros((10, 10), chunks=(5, 5), store=store, dtype="i4")
    store.reads.clear()
    z[:5, :] = 1  # two full chunks
    assert not [k for k in store.reads if not k.startswith(".z")]
    z[:7, :] = 3  # rows 5-6 make the lower chunks partial: only they are read
    chunk_reads = sorted(k for k in store.reads if not k.startswith(".z"))
    assert chunk_reads == ["1.0", "1.1"]
    np.testing.assert_array_equal(z[:8, 0], [3] * 7 + [0])


def test_resize_deletes_outside_and_resets_overhang() -> None:
    z = zarr.zeros((10, 10), chunks=(4, 4), dtype="i4")
    z[:] = 7
    assert z.nchunks_initialized == 9
    z.resize(6, 10)
    assert z.shape == (6, 10) and z.nchunks_initialized == 6
    z.resize(10, 10)
    expected = np.zeros((10, 10), "i4")
    expected[:6] = 7
    np.testing.assert_array_equal(z[:], expected)  # no stale values come back
    z.resize((3, 3))
    assert z.nchunks_initialized == 1
    with pytest.raises(ValueError, match="number of dimensions"):
        z.resize(3)


def test_append_axes() -> None:
    a = np.arange(20).reshape(4, 5)
    z = zarr.array(a, chunks=(3, 3))
    assert z.append(a) == (8, 5)
    assert z.append(np.hstack([a, a]), axis=0) if False else z.append(
        np.vstack([a, a]).reshape(8, 5), axis=1) == (8, 10)
    np.testing.assert_array_equal(z[:, :5], np.vstack([a, a]))
    with pytest.raises(ValueError, match="other dimensions must match"):
        z.append(np.ones((2, 3)))


def test_pickle_memory_and_directory(tmp_path: Any) -> None:
    z1 = zarr.array(np.arange(1000), chunks=100)
    z2 = pickle.loads(pickle.dumps(z1))
    assert z1 == z2
    np.testing.assert_array_equal(z2[:], np.arange(1000))
    d = zarr.open(str(tmp_path / "w.zarr"), mode="w", shape=1000, dtype="i8")
    d[:] = np.arange(1000)
    s = pickle.dumps(d)
    assert len(s) < 250
    d2 = pickle.loads(s)
    assert d2 == d
    np.testing.assert_array_equal(d2[:], np.arange(1000))


def test_copy_large_array_chunk_by_chunk() -> None:
    store = CountingStore()
    z1 = zarr.zeros((100, 100), chunks=(10, 10), dtype="i4", store=store)
    z1[:] = np.arange(10000).reshape(100, 100)
    z2 = zarr.empty_like(z1)
    assert z2.chunks == z1.chunks and z2.dtype == z1.dtype and z2.compressor == z1.compressor
    store.reads.clear()
    z2[:] = z1
    np.testing.assert_array_equal(z2[:], z1[:])


def test_read_only() -> None:
    z = zarr.zeros((4,), chunks=2)
    z.read_only = True
    with pytest.raises(ReadOnlyError):
        z[0] = 1
    with pytest.raises(ReadOnlyError):
        z.resize(8)
    with pytest.raises(ReadOnlyError):
        z.attrs["a"] = 1


def test_index_errors() -> None:
    z = zarr.zeros((4, 5), chunks=2)
    with pytest.raises(BoundsCheckError, match="axis 1"):
        z[0, 5]
    with pytest.raises(IndexError, match="too many indices"):
        z[0, 0, 0]
    with pytest.raises(NegativeStepError):
        z[::-1]
    with pytest.raises(IndexError, match="float"):
        z.get_basic_selection(1.5)
    with pytest.raises(ValueError, match="broadcast"):
        z[:2, :2] = np.ones((3, 3))


def test_missing_array(tmp_path: Any) -> None:
    with pytest.raises(ArrayNotFoundError):
        zarr.open_array(str(tmp_path / "nothing"), mode="r")
    with pytest.raises(ArrayNotFoundError):
        zarr.Array({})


def test_hexdigest_stable() -> None:
    a = zarr.array(np.arange(100), chunks=10)
    b = zarr.array(np.arange(100), chunks=10)
    assert a.hexdigest() == b.hexdigest()
    b[0] = 5
    assert a.hexdigest() != b.hexdigest()
    assert len(a.hexdigest("sha256")) == 64


def test_codec_threads_setting() -> None:
    a = np.arange(400 * 400).reshape(400, 400)
    for n in (1, 2, 4):
        with zarr.config.set(codec_threads=n, min_parallel_chunk_bytes=0):
            z = zarr.array(a, chunks=(100, 100))
            np.testing.assert_array_equal(z[:], a)
            np.testing.assert_array_equal(z[50:350, 7:390], a[50:350, 7:390])
    with pytest.raises(KeyError, match="unknown zarrdask setting"):
        with zarr.config.set(bogus=1):
            pass
