"""Tests of zarrdask.consolidated: consolidating, opening, staleness and automatic rewrites."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr as zarr_python  # the test oracle (zarr-python 2.18)

import zarrdask as zarr
from zarrdask.consolidated import (
    ConsolidatedMetadataStore,
    ConsolidatingStore,
    StaleMetadataWarning,
    consolidate_metadata,
    open_consolidated,
)
from zarrdask.errors import MetadataError, PathNotFoundError, ReadOnlyError
from zarrdask.hierarchy import Group, group, open_group
from zarrdask.storage import DirectoryStore, MemoryStore


class CountingStore(MemoryStore):
    """A MemoryStore that records the keys read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> bytes:
        self.reads.append(key)
        return super().__getitem__(key)

    def getitems(self, keys: Any) -> dict[str, bytes]:
        self.reads.extend(keys)
        return super().getitems(keys)


def build(store: MutableMapping[str, Any]) -> Group:
    root = group(store)
    root.attrs["title"] = "demo"
    foo = root.create_group("foo")
    foo.attrs["n"] = 1
    a = foo.zeros("a", shape=(4, 4), chunks=(2, 2), dtype="i4")
    a[:] = 1
    a.attrs["units"] = "m"
    root.create_dataset("b", data=np.arange(6.0), chunks=3)
    return root


def snapshot(store: MutableMapping[str, Any]) -> dict[str, bytes]:
    return {k: bytes(store[k]) for k in sorted(store)}


def consolidated_doc(store: MutableMapping[str, Any]) -> dict[str, Any]:
    return json.loads(store[".zmetadata"])


def live_doc(store: MutableMapping[str, Any]) -> dict[str, Any]:
    names = (".zarray", ".zgroup", ".zattrs")
    return {k: json.loads(store[k]) for k in sorted(store) if k.rsplit("/", 1)[-1] in names}


# ----------------------------------------------------------------------------- writing


def test_consolidate_writes_what_zarr_python_writes() -> None:
    ours: dict[str, bytes] = {}
    build(ours)
    theirs = dict(ours)
    consolidate_metadata(ours)
    zarr_python.consolidate_metadata(theirs)
    assert ours[".zmetadata"] == theirs[".zmetadata"]
    doc = consolidated_doc(ours)
    assert doc["zarr_consolidated_format"] == 1
    assert sorted(doc["metadata"]) == [".zattrs", ".zgroup", "b/.zarray", "foo/.zattrs",
                                       "foo/.zgroup", "foo/a/.zarray", "foo/a/.zattrs"]


def test_consolidate_returns_node_and_refuses_corrupt_metadata() -> None:
    store: dict[str, bytes] = {}
    build(store)
    g = consolidate_metadata(store, path="foo")
    assert isinstance(g, Group) and g.name == "/foo" and g.store.metadata_read_only
    store["foo/.zattrs"] = b"{not json"
    del store[".zmetadata"]
    with pytest.raises(MetadataError, match=r"foo/\.zattrs"):
        consolidate_metadata(store)
    assert ".zmetadata" not in store
    store["foo/.zattrs"] = b'{"x": NaN}'  # written by a tool that writes bare NaN
    with pytest.raises(ValueError, match="NaN"):
        consolidate_metadata(store)
    assert ".zmetadata" not in store


# ----------------------------------------------------------------------------- opening


def test_open_consolidated_reads_metadata_from_one_key() -> None:
    store = CountingStore()
    build(store)
    consolidate_metadata(store)
    store.reads.clear()
    root = open_consolidated(store, check_stale=False)
    root.visit(lambda name: None)
    assert root.attrs["title"] == "demo" and root["foo/a"].attrs["units"] == "m"
    assert root["foo/a"].shape == (4, 4) and str(root.tree()).count("\n") == 3
    assert store.reads == [".zmetadata"]  # no other metadata key was read
    np.testing.assert_array_equal(root["foo/a"][:], np.ones((4, 4)))
    assert isinstance(root.store, ConsolidatedMetadataStore) and root.chunk_store is store


def test_metadata_read_only_data_writable() -> None:
    store = MemoryStore()
    build(store)
    consolidate_metadata(store)
    root = open_consolidated(store)
    assert root.read_only is False
    before = snapshot(store)
    a = root["foo/a"]
    for change in (lambda: root.create_group("new"), lambda: root.zeros("new", shape=1),
                   lambda: root.require_group("new"), lambda: root.move("foo", "bar"),
                   lambda: root.__delitem__("foo"), lambda: root.attrs.__setitem__("x", 1),
                   lambda: a.attrs.update(x=1), lambda: a.resize(2, 2),
                   lambda: a.append(np.ones((1, 4))), lambda: root["foo"].create_group("g"),
                   lambda: root.store.rmdir("foo"), lambda: root.store.rename("foo", "x"),
                   lambda: root.store.__setitem__("x/.zgroup", b"{}"),
                   lambda: root.store.__delitem__(".zmetadata"),
                   lambda: root.store.setitems({"x/0": b"", "x/.zattrs": b"{}"}),
                   lambda: root.store.delitems(["foo/.zgroup"])):
        with pytest.raises(ReadOnlyError, match="open_consolidated"):
            change()
    assert snapshot(store) == before
    a[0, :] = 9  # data stays writable
    assert open_group(store, mode="r")["foo/a"][0].tolist() == [9, 9, 9, 9]
    a[:] = 0  # fill-value chunks are deleted through the wrapper
    assert not any(k.startswith("foo/a/") and not k.endswith((".zarray", ".zattrs"))
                   for k in store)
    ro = open_consolidated(store, mode="r")
    with pytest.raises(ReadOnlyError):
        ro["foo/a"][0, 0] = 1
    with pytest.raises(ValueError, match="mode"):
        open_consolidated(store, mode="a")


def test_open_consolidated_array_and_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "a.zarr")
    zarr.save_array(path, np.arange(5))
    consolidate_metadata(path)
    arr = open_consolidated(path, mode="r")
    assert isinstance(arr, zarr.Array) and arr[:].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(PathNotFoundError, match="consolidated"):
        open_consolidated({})
    store: dict[str, bytes] = {}
    build(store)
    consolidate_metadata(store)
    with pytest.raises(PathNotFoundError, match="nope"):
        open_consolidated(store, path="nope")
    assert open_consolidated(store, path="foo/a")[0, 0] == 1
    with pytest.raises(TypeError, match="unexpected"):
        open_consolidated(store, bogus=1)


@pytest.mark.parametrize("doc, match", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'{"metadata": {}}', "zarr_consolidated_format"),
    (b'{"zarr_consolidated_format": 2, "metadata": {}}', "zarr_consolidated_format"),
    (b'{"zarr_consolidated_format": 1, "metadata": []}', "metadata"),
    (b'{"zarr_consolidated_format": 1, "metadata": {"x/chunk": {}}}', "x/chunk"),
    (b'{"zarr_consolidated_format": 1, "metadata": {"../.zgroup": {"zarr_format": 2}}}', r"\.\."),
    (b'{"zarr_consolidated_format": 1, "metadata": {".zgroup": []}}', "zgroup"),
    (b'{"zarr_consolidated_format": 1, "metadata": {"a/.zarray": {"shape": [-1]}}}',
     r"a/\.zarray"),
])
def test_corrupt_zmetadata(doc: bytes, match: str) -> None:
    store = {".zgroup": b'{"zarr_format": 2}', ".zmetadata": doc}
    with pytest.raises(MetadataError, match=r"\.zmetadata") as info:
        open_consolidated(store)
    assert info.match(match)
    assert store[".zmetadata"] == doc


def test_bare_nan_from_other_tools_is_served() -> None:
    store: dict[str, bytes] = {}
    build(store)
    store[".zattrs"] = b'{"x": NaN}'
    zarr_python.consolidate_metadata(store)  # zarr-python writes bare NaN
    root = open_consolidated(store)
    assert np.isnan(root.attrs["x"])


# ----------------------------------------------------------------------------- staleness


def test_fresh_metadata_does_not_warn() -> None:
    store: dict[str, bytes] = {}
    build(store)
    consolidate_metadata(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_consolidated(store)


@pytest.mark.parametrize("change, expected, seen_by_members", [
    (lambda s: zarr_python.open_group(s)["b"].resize(3), "'b/.zarray' changed", False),
    (lambda s: zarr_python.open_group(s).create_group("new"), "'new/.zgroup' was added", True),
    (lambda s: zarr_python.open_group(s)["foo"].zeros("z", shape=1), "'foo/z/.zarray' was added",
     True),
    (lambda s: zarr_python.open_group(s)["b"].attrs.update(k=1), "'b/.zattrs' was added", False),
    (lambda s: zarr_python.open_group(s).__delitem__("foo"), "'foo/.zgroup' was deleted", True),
    (lambda s: zarr_python.open_group(s).__delitem__("b"), "'b/.zarray' was deleted", True),
    (lambda s: s.__delitem__("foo/.zattrs"), "'foo/.zattrs' was deleted", True),
    (lambda s: s.__setitem__("foo/.zattrs", b"{oops"), "no longer valid JSON", False),
])
def test_stale_metadata_warns(change: Any, expected: str, seen_by_members: bool) -> None:
    store: dict[str, bytes] = {}
    build(store)
    consolidate_metadata(store)
    change(store)  # zarr-python (or a raw write) leaves .zmetadata stale
    for check_stale in (True, "full"):
        with pytest.warns(StaleMetadataWarning, match="consolidate_metadata") as record:
            root = open_consolidated(store, check_stale=check_stale)
        assert expected in str(record[0].message)
        assert isinstance(root, Group)  # the consolidated state is still served
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        open_consolidated(store)  # the default: check_stale="members"
        open_consolidated(store, check_stale="members")
    if seen_by_members:
        assert len(record) == 2 and all(expected in str(w.message) for w in record)
        assert all(issubclass(w.category, StaleMetadataWarning) for w in record)
    else:
        assert record == []  # a change inside a document needs the full check
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_consolidated(store, check_stale=False)


def test_members_check_on_a_directory_store(tmp_path: Path) -> None:
    path = str(tmp_path / "s.zarr")
    root = zarr.open_group(path, mode="w")
    for i in range(3):
        root.create_group(f"g{i}").zeros("a", shape=4, chunks=2)
    consolidate_metadata(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for check_stale in ("members", "full", True, False):
            open_consolidated(path, check_stale=check_stale)  # fresh: no warning
    zarr_python.open_group(path)["g1"].zeros("new", shape=3)  # a plain open_group: no rewrite
    with pytest.warns(StaleMetadataWarning, match=r"'g1/new/\.zarray' was added"):
        open_consolidated(path)
    consolidate_metadata(path)
    del zarr_python.open_group(path)["g2/a"]
    with pytest.warns(StaleMetadataWarning, match=r"'g2/a/\.zarray' was deleted"):
        open_consolidated(path)
    consolidate_metadata(path)
    zarr_python.open_group(path)["g0/a"].resize(10)  # a resize without reconsolidation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_consolidated(path)["g0/a"].shape == (4,)  # the consolidated state
    with pytest.warns(StaleMetadataWarning, match=r"'g0/a/\.zarray' changed"):
        open_consolidated(path, check_stale=True)


def test_members_check_lists_groups_and_reads_no_document() -> None:
    store = CountingStore()
    build(store)
    consolidate_metadata(store)
    store.reads.clear()
    listed: list[str] = []
    listdir = store.listdir

    def counting_listdir(path: str | None = "") -> list[str]:
        listed.append(path or "")
        return listdir(path)

    store.listdir = counting_listdir  # type: ignore[method-assign]
    root = open_consolidated(store)
    assert store.reads == [".zmetadata"] and sorted(listed) == ["", "foo"]
    assert root["foo/a"].shape == (4, 4) and store.reads == [".zmetadata"]
    with pytest.raises(ValueError, match="check_stale"):
        open_consolidated(store, check_stale="sometimes")


# ----------------------------------------------------------------------------- auto-rewrite


@pytest.mark.parametrize("kind", ["memory", "directory", "dict"])
def test_changes_through_open_group_rewrite_zmetadata(kind: str, tmp_path: Path) -> None:
    store: Any = {"memory": MemoryStore, "dict": dict}.get(kind, lambda: DirectoryStore(
        str(tmp_path / "s.zarr")))()
    build(store)
    consolidate_metadata(store)
    root = open_group(store, mode="a")
    assert isinstance(root.store, ConsolidatingStore)
    root.create_group("g1/g2").attrs["deep"] = True
    root.zeros("g1/arr", shape=3, chunks=2)
    root["b"].resize(10)
    root["b"].append(np.arange(2.0))
    root["foo/a"].attrs["units"] = "km"
    root.attrs.update(title="changed")
    del root["foo/a"]
    root.move("g1", "moved")
    root["moved/arr"][:] = 5  # data writes leave .zmetadata alone
    assert consolidated_doc(store)["metadata"] == live_doc(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = open_consolidated(store)
    assert again["b"].shape == (12,) and again["moved/g2"].attrs["deep"] is True
    assert "foo/a" not in again and again.attrs["title"] == "changed"
    zarr_view = zarr_python.open_consolidated(store if kind != "directory" else str(
        tmp_path / "s.zarr"))
    assert zarr_view["b"].shape == (12,)  # zarr-python sees the rewritten document


def test_group_function_and_reading_modes() -> None:
    store: dict[str, bytes] = {}
    build(store)
    consolidate_metadata(store)
    g = group(store)
    assert isinstance(g.store, ConsolidatingStore)
    g.create_group("via_group")
    assert "via_group/.zgroup" in consolidated_doc(store)["metadata"]
    assert not isinstance(open_group(store, mode="r").store, ConsolidatingStore)
    assert not isinstance(open_group({".zgroup": b'{"zarr_format": 2}'}).store,
                          ConsolidatingStore)
    # consolidating a store seen through a wrapper uses the wrapped store
    consolidate_metadata(g.store)
    assert consolidated_doc(store)["metadata"] == live_doc(store)
    # overwriting the whole store drops .zmetadata, which is not recreated
    fresh = group(store, overwrite=True)
    fresh.create_group("x")
    assert ".zmetadata" not in store


def test_corrupt_zmetadata_is_left_alone_with_a_warning() -> None:
    store: dict[str, bytes] = {}
    build(store)
    store[".zmetadata"] = b"{broken"
    root = open_group(store)
    with pytest.warns(StaleMetadataWarning, match="not updated"):
        root.create_group("x")
    assert store[".zmetadata"] == b"{broken" and "x/.zgroup" in store


def test_pickle_consolidated_group() -> None:
    store = MemoryStore()
    build(store)
    root = consolidate_metadata(store)
    again = pickle.loads(pickle.dumps(root))
    assert again["foo/a"][0, 0] == 1 and isinstance(again.store, ConsolidatedMetadataStore)
    writer = pickle.loads(pickle.dumps(open_group(store)))
    assert isinstance(writer.store, ConsolidatingStore)
    writer.create_group("p")
    assert "p/.zgroup" in json.loads(writer.store[".zmetadata"])["metadata"]


def test_consolidated_store_mapping_view() -> None:
    store = MemoryStore()
    build(store)
    root = consolidate_metadata(store)
    cstore = root.store
    assert cstore.listdir("") == [".zattrs", ".zgroup", "b", "foo"]
    assert cstore.listdir("foo") == [".zattrs", ".zgroup", "a"]
    assert cstore.getsize("foo") == len(cstore["foo/.zattrs"]) + len(cstore["foo/.zgroup"])
    assert cstore.getsize("foo/.zgroup") == len(cstore["foo/.zgroup"])
    assert "foo/a/0.0" in cstore and "foo/a/.zarray" in cstore and "nope/.zarray" not in cstore
    assert set(cstore) == set(store) and len(cstore) == len(store)
    got = cstore.getitems(["foo/a/.zarray", "foo/a/0.0", "missing"])
    assert sorted(got) == ["foo/a/.zarray", "foo/a/0.0"]
    assert cstore == ConsolidatedMetadataStore(store)
    assert "ConsolidatedMetadataStore" in repr(cstore)


def test_concurrent_changes_keep_zmetadata_complete() -> None:
    import threading

    store = MemoryStore()
    build(store)
    consolidate_metadata(store)
    root = open_group(store)

    def work(i: int) -> None:
        for j in range(10):
            root.create_group(f"t{i}/g{j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert consolidated_doc(store)["metadata"] == live_doc(store)
    assert len(live_doc(store)) == 7 + 4 + 40


def test_raw_invalid_metadata_write_warns_and_keeps_zmetadata() -> None:
    store: dict[str, bytes] = {}
    build(store)
    consolidate_metadata(store)
    wrapper = open_group(store).store
    before = store[".zmetadata"]
    with pytest.warns(StaleMetadataWarning, match=r"x/\.zattrs"):
        wrapper["x/.zattrs"] = b"{not json"
    assert store[".zmetadata"] == before and store["x/.zattrs"] == b"{not json"
