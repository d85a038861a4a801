"""Store round trips of creating and opening hierarchies: only the reads and lookups needed.

Creating an array hands the metadata just written to the :class:`Array` (no read-back)
when the store keeps metadata verbatim; a group creating members does not look its
ancestors up again; ``group[name]`` reads one document per array. Errors for real
conflicts stay as they were, and the documents stay byte-identical to zarr-python's.
"""

from __future__ import annotations

import json
from collections import UserDict
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr as zarr_python  # the test oracle (zarr-python 2.18)

import zarrdask as zarr
from zarrdask.errors import ContainsArrayError, ContainsGroupError
from zarrdask.storage import KVStore, LRUStoreCache, MemoryStore, N5Store
from zarrdask.storage._base import metadata_verbatim


class CountingStore(MemoryStore):
    """A MemoryStore that records the keys read and looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.lookups: list[str] = []

    def __getitem__(self, key: str) -> bytes:
        self.reads.append(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.lookups.append(str(key))
        return super().__contains__(key)

    def clear_counts(self) -> None:
        self.reads.clear()
        self.lookups.clear()


class TranslatingMapping(UserDict):  # type: ignore[type-arg]
    """A third-party mapping that stores ``.zarray`` documents with a changed fill value."""

    def __setitem__(self, key: str, value: bytes) -> None:
        if key.endswith(".zarray"):
            doc = json.loads(value)
            doc["fill_value"] = 42
            value = json.dumps(doc).encode()
        super().__setitem__(key, bytes(value))


class TranslatingStore(MemoryStore):
    """A zarrdask store subclass that says it does not keep metadata verbatim."""

    metadata_verbatim = False

    def __setitem__(self, key: str, value: bytes) -> None:
        if key.endswith(".zarray"):
            doc = json.loads(value)
            doc["fill_value"] = 7
            value = json.dumps(doc).encode()
        super().__setitem__(key, value)


# ----------------------------------------------------------------------------- read-back


def test_metadata_verbatim_policy(tmp_path: Any) -> None:
    assert metadata_verbatim({}) and metadata_verbatim(MemoryStore())
    assert metadata_verbatim(zarr.DirectoryStore(str(tmp_path / "d")))
    assert metadata_verbatim(CountingStore())  # a BaseStore subclass
    n5 = N5Store(str(tmp_path / "x.n5"))
    assert not metadata_verbatim(n5) and not metadata_verbatim(LRUStoreCache(n5, None))
    assert not metadata_verbatim(LRUStoreCache(MemoryStore(), None))  # read back: cached
    assert not metadata_verbatim(UserDict()) and not metadata_verbatim(TranslatingMapping())
    assert not metadata_verbatim(TranslatingStore())
    assert metadata_verbatim(KVStore({})) and not metadata_verbatim(KVStore(TranslatingMapping()))
    root = zarr.group({})
    zarr.consolidate_metadata(root.store)
    assert metadata_verbatim(zarr.open_group(root.store).store)  # the consolidating wrapper


def test_created_array_is_not_read_back_from_a_verbatim_store() -> None:
    store = CountingStore()
    root = zarr.group(store)
    store.clear_counts()
    z = root.zeros("a", shape=(10, 10), chunks=(5, 5), dtype="<i4")
    assert not any(k.endswith(".zarray") for k in store.reads)
    assert z.meta == zarr.open_array(store, path="a", mode="r").meta
    store.clear_counts()
    z2 = zarr.open_array(store, path="b", mode="w", shape=3, dtype="f4", fill_value=np.nan)
    assert store.reads == [] and np.isnan(z2.fill_value)
    assert z2.meta == zarr.open_array(store, path="b", mode="r").meta


def test_created_array_sees_its_metadata_as_read_back() -> None:
    import lzma

    lz = numcodecs.LZMA(filters=[{"id": lzma.FILTER_DELTA, "dist": 4},
                                 {"id": lzma.FILTER_LZMA2, "preset": 1}])
    store: dict[str, bytes] = {}
    z = zarr.zeros(5, chunks=2, compressor=lz, filters=[numcodecs.Delta("<f8")], store=store)
    again = zarr.open_array(store, mode="r")
    assert repr(z.compressor) == repr(again.compressor) and "{'dist': 4, 'id': 3}" in repr(
        z.compressor)  # codec configs as JSON gives them: sorted keys
    assert z.filters == again.filters and z.meta == again.meta


@pytest.mark.parametrize("make, fill", [(TranslatingMapping, 42), (TranslatingStore, 7),
                                        (lambda: KVStore(TranslatingMapping()), 42)])
def test_created_array_is_read_back_from_a_translating_store(make: Any, fill: int) -> None:
    store = make()
    z = zarr.create(shape=4, chunks=2, dtype="i4", fill_value=0, store=store, path="w")
    assert z.fill_value == fill and z[:].tolist() == [fill] * 4  # what the store holds
    z = zarr.open_array(store, path="x", mode="w", shape=4, chunks=2, dtype="i4")
    assert z.fill_value == fill
    z = zarr.group(store).zeros("y", shape=4, chunks=2, dtype="i4")
    assert z.fill_value == fill


def test_n5_created_array_reads_back_the_translated_metadata(tmp_path: Any) -> None:
    store = N5Store(str(tmp_path / "x.n5"))
    z = zarr.group(store).zeros("a", shape=(4, 4), chunks=(2, 2), dtype="i4")
    assert z.meta == zarr.open_array(store, path="a", mode="r").meta
    z[:] = 3
    assert zarr.open_array(store, path="a", mode="r")[:].sum() == 48


# ----------------------------------------------------------------------------- lookups


def test_group_members_do_not_look_up_ancestors_again() -> None:
    store = CountingStore()
    root = zarr.group(store)
    g = root.create_group("g")
    store.clear_counts()
    for i in range(3):
        g.zeros(f"a{i}", shape=2)
    # only the two lookups of each new member's own path remain
    assert sorted(store.lookups) == sorted(
        f"g/a{i}/{name}" for i in range(3) for name in (".zarray", ".zgroup"))
    store.clear_counts()
    g.create_group("sub").zeros("x", shape=1)
    assert all(k.startswith(("g/sub/", "g/sub/x/")) for k in store.lookups)


def test_first_member_of_an_opened_group_checks_and_writes_ancestors() -> None:
    store: dict[str, bytes] = {"x/y/.zgroup": b'{"zarr_format": 2}'}  # no .zgroup above
    g = zarr.open_group(store, path="x/y")
    g.zeros("a", shape=1)
    assert ".zgroup" in store and "x/.zgroup" in store  # written, as zarr-python does
    store = {"x/.zarray": zarr.zeros(1).store[".zarray"], "x/y/.zgroup": b'{"zarr_format": 2}'}
    g = zarr.open_group(store, path="x/y")
    with pytest.raises(ContainsArrayError, match="x"):
        g.zeros("a", shape=1)
    with pytest.raises(ContainsArrayError):
        g.create_group("h")
    assert "x/y/a/.zarray" not in store and "x/y/h/.zgroup" not in store


def test_conflicts_are_still_refused() -> None:
    root = zarr.group()
    g = root.create_group("g")
    g.zeros("a", shape=2)
    g.create_group("h")
    with pytest.raises(ContainsArrayError):
        g.zeros("a", shape=2)
    with pytest.raises(ContainsGroupError):
        g.zeros("h", shape=2)
    with pytest.raises(ContainsGroupError):
        g.create_group("h")
    with pytest.raises(ContainsArrayError):
        g.zeros("a/b", shape=2)  # inside an array
    with pytest.raises(ContainsArrayError):
        g.create_group("a/b")
    with pytest.raises(ContainsArrayError):
        g.zeros("/g/a", shape=2)  # an absolute name
    assert g.zeros("a", shape=3, overwrite=True).shape == (3,)
    assert root.zeros("/other/z", shape=1).name == "/other/z"
    assert isinstance(root["other"], zarr.Group)


def test_getitem_reads_one_document_per_array() -> None:
    store = CountingStore()
    root = zarr.group(store)
    root.create_group("g").zeros("a", shape=2)
    opened = zarr.open_group(store, mode="r")
    store.clear_counts()
    assert opened["g/a"].shape == (2,)
    assert store.reads == ["g/a/.zarray"] and store.lookups == []
    assert isinstance(opened["g"], zarr.Group)
    with pytest.raises(KeyError):
        opened["missing"]
    assert "missing" not in opened and sorted(opened) == ["g"]


def test_consolidated_nodes_share_parsed_metadata() -> None:
    store = MemoryStore()
    root = zarr.group(store)
    root.create_group("g").zeros("a", shape=2).attrs["u"] = "m"
    c = zarr.consolidate_metadata(store)
    a1, a2 = c["g/a"], c["g/a"]
    assert a1.meta is a2.meta and a1.attrs["u"] == "m"
    assert json.loads(c.store["g/a/.zarray"]) == json.loads(store["g/a/.zarray"])  # still bytes


# ----------------------------------------------------------------------------- format


@pytest.mark.parametrize("kwargs", [
    dict(shape=(100, 100), chunks=(10, 10), dtype="<i4", fill_value=0,
         compressor=numcodecs.Blosc("lz4", 5, 1, 0)),
    dict(shape=(7,), chunks=(3,), dtype=">f8", fill_value=np.nan, compressor=None),
    dict(shape=(2, 3), chunks=(1, 3), dtype="c16", fill_value=complex(1, -np.inf),
         filters=[numcodecs.Delta("c16")], order="F"),
    dict(shape=(4,), chunks=(2,), dtype="M8[ns]", fill_value=-0.0),
    dict(shape=(4,), chunks=(2,), dtype=[("a", "<i2"), ("b", "S3")], fill_value=None),
    dict(shape=(3,), chunks=(3,), dtype=str, fill_value="x", dimension_separator="/"),
])
def test_documents_are_byte_identical_to_zarr_python(kwargs: dict[str, Any]) -> None:
    ours: dict[str, bytes] = {}
    theirs: dict[str, bytes] = {}
    if kwargs["dtype"] is str:
        kwargs = dict(kwargs, object_codec=numcodecs.VLenUTF8())
    zarr.group(ours).create_group("g").create_dataset("a", **kwargs).attrs["k"] = [1, "é"]
    zarr_python.group(theirs).create_group("g").create_dataset("a", **kwargs).attrs["k"] = [
        1, "é"]
    assert ours == theirs
    zarr.consolidate_metadata(ours)
    zarr_python.consolidate_metadata(theirs)
    assert ours[".zmetadata"] == theirs[".zmetadata"]


_READ_BACK_CASES = [
    ("i4", 0, numcodecs.Blosc()), ("<u8", 2**64 - 1, None), (">i2", -3, numcodecs.Zlib(1)),
    ("f8", float("nan"), numcodecs.Blosc(cname="zstd", clevel=9)), ("<f4", 0.1, None),
    ("f2", float("-inf"), None), ("f8", -0.0, numcodecs.Zstd(level=3)), ("b1", True, None),
    ("i8", None, numcodecs.LZ4()), ("u1", 255, numcodecs.GZip(level=5)),
    ("f8", 1e300, numcodecs.Blosc(shuffle=numcodecs.Blosc.BITSHUFFLE, blocksize=2**16)),
    ("c16", 1 + 2j, None), ("M8[s]", "NaT", None), ("S4", b"ab", None), ("U3", "x", None),
    ([("a", "<i4"), ("b", "<f8")], None, None),
    ("f8", 0, numcodecs.LZMA(filters=[{"id": 3, "dist": 4}, {"id": 33, "preset": 1}])),
]


@pytest.mark.parametrize(("dtype", "fill", "compressor"), _READ_BACK_CASES)
def test_created_metadata_equals_reading_it_back(dtype: Any, fill: Any, compressor: Any) -> None:
    """The metadata handed to a new Array is exactly what opening the array reads."""
    from zarrdask.creation import _init_array
    from zarrdask.meta import parse_array_meta

    store = MemoryStore()
    meta = _init_array(store, (10, 4), chunks=(3, 4), dtype=dtype, compressor=compressor,
                       fill_value=fill, order="C", overwrite=False, path="a",
                       chunk_store=None, filters=None, object_codec=None,
                       dimension_separator=None)
    read = parse_array_meta(store["a/.zarray"])
    assert meta == read
    assert meta.dtype == read.dtype and meta.compressor == read.compressor
    assert type(meta.fill_value) is type(read.fill_value)
    assert repr(meta.fill_value) == repr(read.fill_value)
    assert [type(v) for v in (meta.compressor or {}).values()] == \
        [type((read.compressor or {})[k]) for k in (meta.compressor or {})]
    if compressor is not None:  # nested configs come back with sorted keys, as read
        assert repr(numcodecs.get_codec(meta.compressor)) == repr(
            numcodecs.get_codec(read.compressor))
