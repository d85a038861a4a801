"""Tests of zarrdask.hierarchy (Group, group, open_group, save_group, LazyLoader) and the tree."""

from __future__ import annotations

import json
import pickle
import sys
import types
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrdask as zarr
from zarrdask.errors import (
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    KeyValidationError,
    MetadataError,
    PathNotFoundError,
    ReadOnlyError,
)
from zarrdask.hierarchy import Group, LazyLoader, group, open_group, save_group
from zarrdask.storage import DirectoryStore, KVStore, MemoryStore
from zarrdask.storage._base import getsize, listdir, rename, rmdir
from zarrdask.sync import ThreadSynchronizer
from zarrdask.tree import TreeNode, TreeViewer, build_tree, render_tree


@pytest.fixture(params=["dict", "memory", "kv", "directory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MutableMapping[str, Any]:
    """Each kind of store, empty."""
    kind = request.param
    if kind == "dict":
        return {}
    if kind == "memory":
        return MemoryStore()
    if kind == "kv":
        return KVStore({})
    return DirectoryStore(str(tmp_path / "store.zarr"))


def snapshot(store: MutableMapping[str, Any]) -> dict[str, bytes]:
    return {k: bytes(store[k]) for k in sorted(store)}


# ----------------------------------------------------------------------------- creating


def test_create_members_and_lookup(store: MutableMapping[str, Any]) -> None:
    root = group(store)
    assert repr(root) == "<zarrdask.hierarchy.Group '/'>"
    foo = root.create_group("foo")
    bar = foo.create_group("bar")
    z1 = bar.zeros("baz", shape=(100, 100), chunks=(10, 10), dtype="i4")
    assert repr(z1) == "<zarrdask.core.Array '/foo/bar/baz' (100, 100) int32>"
    z = bar.create_dataset("quux", shape=(10,), chunks=(5,), dtype="i4")
    assert z.name == "/foo/bar/quux" and z.dtype == np.int32
    assert root["foo"] == foo and root["foo/bar"] == bar
    assert root["foo/bar/baz"].shape == (100, 100)
    assert root["/foo/bar"] == bar and foo["/foo"] == foo  # absolute names start at the root
    assert "foo" in root and "foo/bar/baz" in root and "nope" not in root
    assert "foo/.zgroup" not in root and ".." not in root and 3 not in root  # type: ignore[operator]
    assert list(root) == ["foo"] and len(root) == 1 and len(bar) == 2
    with pytest.raises(KeyError):
        root["nope"]
    assert root.foo == foo and root.foo.bar.baz.shape == (100, 100)
    assert "foo" in dir(root)
    with pytest.raises(AttributeError):
        root.nope  # noqa: B018
    assert root._ipython_key_completions_() == ["foo"]


def test_every_creation_method(store: MutableMapping[str, Any]) -> None:
    g = group(store)
    data = np.arange(20, dtype="i2").reshape(4, 5)
    assert g.create("c", shape=(3,), dtype="u1")[:].tolist() == [0, 0, 0]
    assert g.empty("e", shape=(3,), dtype="f8").shape == (3,)
    assert g.zeros("z", shape=3)[:].tolist() == [0, 0, 0]
    assert g.ones("o", shape=3, dtype="i4")[:].tolist() == [1, 1, 1]
    assert g.full("f", fill_value=7, shape=2)[:].tolist() == [7, 7]
    a = g.array("a", data, chunks=(2, 2))
    np.testing.assert_array_equal(a[:], data)
    assert a.chunks == (2, 2) and a.dtype == np.int16
    assert g.empty_like("el", a).shape == (4, 5)
    assert g.zeros_like("zl", a).chunks == (2, 2)
    assert g.ones_like("ol", data)[:].sum() == 20
    assert g.full_like("fl", a, fill_value=3)[0, 0] == 3
    d = g.create_dataset("d", data=data, chunks=3)
    np.testing.assert_array_equal(d[:], data)
    np.testing.assert_array_equal(g.create_dataset("d2", data=data, shape=(4, 5))[:], data)
    with pytest.raises(ValueError, match="does not match"):
        g.create_dataset("d3", data=data, shape=(5, 4))
    assert "d3" not in g
    g["s"] = np.arange(3)
    assert g["s"][:].tolist() == [0, 1, 2]
    g["s"] = np.arange(4)  # __setitem__ overwrites
    assert g["s"].shape == (4,)
    assert sorted(g.array_keys()) == sorted(
        ["c", "e", "z", "o", "f", "a", "el", "zl", "ol", "fl", "d", "d2", "s"])


def test_missing_intermediate_groups_created(store: MutableMapping[str, Any]) -> None:
    root = group(store)
    z = root.zeros("foo/bar/baz", shape=(10,), chunks=(5,), dtype="i4")
    assert z.name == "/foo/bar/baz"
    assert isinstance(root["foo"], Group) and isinstance(root["foo/bar"], Group)
    root.create_group("a/b/c")
    assert list(root.group_keys()) == ["a", "foo"]
    assert root.require_groups("a/b", "x") == (root["a/b"], root["x"])


def test_create_group_existing_and_overwrite(store: MutableMapping[str, Any]) -> None:
    root = group(store)
    foo = root.create_group("foo")
    foo.attrs["x"] = 1
    with pytest.raises(ContainsGroupError):
        root.create_group("foo")
    root.zeros("arr", shape=2)
    with pytest.raises(ContainsArrayError):
        root.create_group("arr")
    with pytest.raises(ContainsArrayError):
        root.create_group("arr/inner")  # below an array
    assert root.require_group("foo").attrs["x"] == 1
    fresh = root.create_group("foo", overwrite=True)
    assert fresh.attrs.asdict() == {}
    with pytest.raises(ContainsArrayError):
        root.require_group("arr")
    with pytest.raises(ContainsGroupError):
        root.zeros("foo", shape=2)
    assert root.create_groups("p", "q") == (root["p"], root["q"])


def test_require_dataset(store: MutableMapping[str, Any]) -> None:
    g = group(store)
    a = g.require_dataset("a", shape=(10,), dtype="i4", chunks=5)
    a[:] = 3
    b = g.require_dataset("a", shape=10, dtype="i2")  # i2 casts safely to i4
    assert b[:].tolist() == [3] * 10
    assert g.require_dataset("a", shape=(10,), dtype="i4", exact=True) == a
    with pytest.raises(TypeError, match="shape"):
        g.require_dataset("a", shape=(11,), dtype="i4")
    with pytest.raises(TypeError, match="dtype"):
        g.require_dataset("a", shape=(10,), dtype="f8")
    with pytest.raises(TypeError, match="not the required"):
        g.require_dataset("a", shape=(10,), dtype="i2", exact=True)
    g.create_group("grp")
    with pytest.raises(ContainsGroupError):
        g.require_dataset("grp", shape=(1,))


# ----------------------------------------------------------------------------- bad names


@pytest.mark.parametrize("name", [".zarray", ".zgroup", ".zattrs", ".zmetadata",
                                  "foo/.zarray", ".zattrs/x"])
def test_reserved_member_names_rejected_nothing_written(
        store: MutableMapping[str, Any], name: str) -> None:
    root = group(store)
    root.create_group("foo")
    before = snapshot(store)
    for create in (lambda: root.create_group(name), lambda: root.require_group(name),
                   lambda: root.zeros(name, shape=3), lambda: root.array(name, [1, 2]),
                   lambda: root.create_dataset(name, shape=3),
                   lambda: root.move("foo", name)):
        with pytest.raises(KeyValidationError, match="reserved"):
            create()
    with pytest.raises(KeyValidationError):
        del root[name]
    assert snapshot(store) == before


@pytest.mark.parametrize("name", ["..", "../x", "foo/../bar", "a/./b", "", "/"])
def test_relative_and_empty_names_rejected_nothing_written(
        store: MutableMapping[str, Any], name: str) -> None:
    root = group(store)
    sub = root.create_group("foo")
    before = snapshot(store)
    for target in (root, sub):
        with pytest.raises(KeyValidationError):
            target.create_group(name)
        with pytest.raises(KeyValidationError):
            target.zeros(name, shape=3)
    assert snapshot(store) == before


def test_non_str_member_name() -> None:
    root = group()
    with pytest.raises(TypeError, match="str"):
        root.create_group(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        root[3]  # type: ignore[index]


# ----------------------------------------------------------------------------- listing


def make_tree(store: Any = None) -> Group:
    root = group(store)
    foo = root.create_group("foo")
    foo.create_group("bar").zeros("baz", shape=(3,), dtype="i4")
    foo.zeros("x", shape=(2, 2), dtype="f4")
    root.zeros("y", shape=1, dtype="u1")
    root.create_group("empty")
    return root


def test_listing(store: MutableMapping[str, Any]) -> None:
    root = make_tree(store)
    assert list(root.keys()) == ["empty", "foo", "y"]
    assert [type(v).__name__ for v in root.values()] == ["Group", "Group", "Array"]
    assert [k for k, _ in root.items()] == ["empty", "foo", "y"]
    assert list(root.array_keys()) == ["y"]
    assert [k for k, _ in root.arrays()] == ["y"]
    assert list(root.group_keys()) == ["empty", "foo"]
    assert [g.name for _, g in root.groups()] == ["/empty", "/foo"]
    # zarr 2.x: recursive array names are basenames, depth first per member
    assert list(root.array_keys(recurse=True)) == ["baz", "x", "y"]
    assert [a.name for _, a in root.arrays(recurse=True)] == ["/foo/bar/baz", "/foo/x", "/y"]


def test_visiting() -> None:
    root = make_tree()
    seen: list[str] = []
    assert root.visit(seen.append) is None
    assert seen == ["empty", "foo", "foo/bar", "foo/bar/baz", "foo/x", "y"]
    seen_keys: list[str] = []
    root["foo"].visitkeys(seen_keys.append)
    assert seen_keys == ["bar", "bar/baz", "x"]
    names: list[str] = []
    root.visitvalues(lambda o: names.append(o.name))
    assert names == ["/empty", "/foo", "/foo/bar", "/foo/bar/baz", "/foo/x", "/y"]
    items: list[tuple[str, str]] = []
    root.visititems(lambda n, o: items.append((n, type(o).__name__)))
    assert items[3] == ("foo/bar/baz", "Array")
    # the first non-None result stops the walk
    assert root.visit(lambda n: n if n.endswith("bar") else None) == "foo/bar"
    assert root.visititems(lambda n, o: o if n == "foo/x" else None).shape == (2, 2)
    assert root.visitvalues(lambda o: o.name if o.name == "/y" else None) == "/y"


# ----------------------------------------------------------------------------- changing


def test_delitem(store: MutableMapping[str, Any]) -> None:
    root = make_tree(store)
    root["foo/bar/baz"][:] = 5
    del root["foo/bar"]
    assert "foo/bar" not in root and list(root["foo"]) == ["x"]
    assert not any(k.startswith("foo/bar/") for k in store)
    with pytest.raises(KeyError):
        del root["nope"]
    del root["y"]
    assert list(root) == ["empty", "foo"]


def test_move(store: MutableMapping[str, Any]) -> None:
    root = make_tree(store)
    root["foo/bar/baz"][:] = [1, 2, 3]
    root.attrs["keep"] = True
    root.move("foo", "q/r")  # creates the missing group q
    assert list(root) == ["empty", "q", "y"]
    assert root["q/r/bar/baz"][:].tolist() == [1, 2, 3]
    assert isinstance(root["q"], Group)
    root["q"].move("r/x", "x2")  # relative to the group
    assert list(root["q"]) == ["r", "x2"]
    before = snapshot(store)
    with pytest.raises(ValueError, match="no array or group"):
        root.move("nope", "z")
    with pytest.raises(ValueError, match="already holds"):
        root.move("y", "empty")
    with pytest.raises(ValueError, match="inside itself"):
        root.move("q", "q/sub")
    with pytest.raises(ContainsArrayError):
        root.move("empty", "y/inner")
    assert snapshot(store) == before


def test_move_exact_prefix_on_plain_mapping() -> None:
    """zarr-python's fallback rename loses a level of nesting; ours does not."""
    store: dict[str, bytes] = {}
    root = group(store)
    root.zeros("abc/bca/x", shape=2, chunks=1).__setitem__(slice(None), 7)
    root.zeros("abcd", shape=1)
    root.move("abc", "q")
    assert "q/bca/x/.zarray" in store and "q/bca/x/0" in store
    assert root["q/bca/x"][:].tolist() == [7, 7]
    assert "abcd/.zarray" in store and not any(k.startswith("abc/") for k in store)


def test_chunk_store_follows_moves_and_deletes() -> None:
    store, chunks = MemoryStore(), MemoryStore()
    root = group(store, chunk_store=chunks)
    a = root.zeros("a/b", shape=4, chunks=2, dtype="i4")
    a[:] = 1
    assert sorted(chunks) == ["a/b/0", "a/b/1"] and "a/b/0" not in store
    root.move("a", "z")
    assert sorted(chunks) == ["z/b/0", "z/b/1"]
    assert root["z/b"][:].tolist() == [1, 1, 1, 1]
    del root["z"]
    assert len(chunks) == 0
    assert ("Chunk store type", "zarrdask.storage.MemoryStore") in root.info_items()


# ----------------------------------------------------------------------------- properties


def test_properties() -> None:
    sync = ThreadSynchronizer()
    root = group(synchronizer=sync)
    sub = root.create_group("a/b")
    assert (root.name, root.path, root.basename) == ("/", "", "")
    assert (sub.name, sub.path, sub.basename) == ("/a/b", "a/b", "b")
    assert sub.store is root.store and sub.chunk_store is None
    assert sub.read_only is False and sub.synchronizer is sync
    assert root["a/b"].synchronizer is sync and root.zeros("z", shape=1).synchronizer is sync
    assert isinstance(sub.attrs, zarr.Attributes)
    sub.attrs["k"] = "v"
    assert json.loads(root.store["a/b/.zattrs"]) == {"k": "v"}


def test_attrs_bad_values_nothing_written(store: MutableMapping[str, Any]) -> None:
    root = group(store)
    root.attrs["ok"] = 1
    z = root.zeros("z", shape=2)
    z.attrs["ok"] = 2
    before = snapshot(store)
    for attrs in (root.attrs, z.attrs):
        with pytest.raises(TypeError, match="'bad'"):
            attrs["bad"] = object()
        with pytest.raises(TypeError, match="'bad'"):
            attrs.update({"bad": {1, 2}})
        with pytest.raises(ValueError, match="NaN"):
            attrs["bad"] = float("nan")
        with pytest.raises(TypeError):
            attrs.update({1: "x"})
    assert snapshot(store) == before


def test_info_and_html() -> None:
    root = make_tree()
    text = repr(root.info)
    assert text.splitlines() == [
        "Name        : /",
        "Type        : zarrdask.hierarchy.Group",
        "Store type  : zarrdask.storage.MemoryStore",
        "No. members : 3",
        "No. arrays  : 1",
        "No. groups  : 2",
        "Arrays      : y",
        "Groups      : empty, foo",
    ]
    html = root.info._repr_html_()
    assert html.startswith('<table class="zarr-info">') and "<th" in html and "empty, foo" in html
    ro = open_group(root.store, mode="r")
    sync_group = Group(root.store, synchronizer=ThreadSynchronizer())
    assert ("Read-only", "True") in ro.info_items()
    assert ("Synchronizer type", "zarrdask.sync.ThreadSynchronizer") in sync_group.info_items()
    assert repr(ro) == "<zarrdask.hierarchy.Group '/' read-only>"
    assert repr(group({}).info).splitlines()[-1] == "No. groups  : 0"


# ----------------------------------------------------------------------------- tree


def test_tree_text_levels_and_bytes() -> None:
    root = make_tree()
    assert str(root.tree()) == (
        "/\n"
        " ├── empty\n"
        " ├── foo\n"
        " │   ├── bar\n"
        " │   │   └── baz (3,) int32\n"
        " │   └── x (2, 2) float32\n"
        " └── y (1,) uint8"
    )
    assert repr(root.tree(level=1)) == "/\n ├── empty\n ├── foo\n └── y (1,) uint8"
    assert str(root.tree(level=0)) == "/"
    assert str(root["foo"].tree()) == (
        "foo\n ├── bar\n │   └── baz (3,) int32\n └── x (2, 2) float32")
    assert bytes(root["foo"].tree()) == (
        b"foo\n +-- bar\n |   +-- baz (3,) int32\n +-- x (2, 2) float32")
    assert str(zarr.tree(root["foo/bar"])) == "bar\n └── baz (3,) int32"
    with pytest.raises(ValueError, match="level"):
        root.tree(level=-1)


def test_tree_mimebundle_without_and_with_ipytree(monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree()
    monkeypatch.setitem(sys.modules, "ipytree", None)  # import fails
    assert root.tree()._repr_mimebundle_() == {"text/plain": str(root.tree())}

    class Node:
        def __init__(self, name: str, nodes: list[Any], opened: bool, icon: str) -> None:
            self.name, self.nodes, self.opened, self.icon = name, nodes, opened, icon

    class Tree:
        def __init__(self) -> None:
            self.nodes: list[Node] = []

        def add_node(self, node: Node) -> None:
            self.nodes.append(node)

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            return {"application/vnd.jupyter.widget-view+json": {"root": self.nodes[0]}}

    fake = types.ModuleType("ipytree")
    fake.Node, fake.Tree = Node, Tree  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipytree", fake)
    bundle = root.tree(expand=True, level=2)._repr_mimebundle_()
    top = bundle["application/vnd.jupyter.widget-view+json"]["root"]
    assert top.name == "/" and [n.name for n in top.nodes] == ["empty", "foo", "y (1,) uint8"]
    assert top.opened is True and top.nodes[2].icon == "table" and top.nodes[1].icon == "folder"
    assert [n.name for n in top.nodes[1].nodes] == ["bar", "x (2, 2) float32"]
    assert top.nodes[1].nodes[0].nodes == []  # cut off at level 2


def test_render_tree_pure() -> None:
    node = TreeNode("/", False, (TreeNode("a", False, (TreeNode("b (1,) int8", True),)),
                                 TreeNode("c", False)))
    assert render_tree(node) == "/\n ├── a\n │   └── b (1,) int8\n └── c"
    assert build_tree(zarr.zeros(3)).label == "/ (3,) float64"
    assert isinstance(zarr.tree(group()), TreeViewer)
    # the package attribute is the function (as in zarr 2.x), not the zarrdask.tree module
    import zarrdask.hierarchy

    assert zarr.tree is zarrdask.hierarchy.tree
    assert sys.modules["zarrdask.tree"].TreeViewer is TreeViewer


# ----------------------------------------------------------------------------- protocols


def test_context_manager_closes_store() -> None:
    class ClosingStore(MemoryStore):
        closed = False

        def close(self) -> None:
            self.closed = True

    store = ClosingStore()
    with group(store) as root:
        root.zeros("a", shape=1)
    assert store.closed
    with group({}) as plain:  # a dict has no close: nothing happens
        assert isinstance(plain, Group)


def test_pickle_and_equality(tmp_path: Path) -> None:
    root = make_tree()
    root["foo/x"][:] = 2.5
    again = pickle.loads(pickle.dumps(root))
    assert again == root and again["foo/x"][0, 0] == 2.5 and list(again) == list(root)
    disk = group(DirectoryStore(str(tmp_path / "g.zarr")))
    disk.create_group("sub").attrs["a"] = 1
    sub = pickle.loads(pickle.dumps(disk["sub"]))
    assert sub == disk["sub"] and sub.attrs["a"] == 1
    assert root != root["foo"] and root != open_group(root.store, mode="r")
    assert root != {"foo": 1}
    with pytest.raises(TypeError):
        hash(root)


def test_read_only_group_refuses_everything() -> None:
    root = make_tree()
    ro = open_group(root.store, mode="r")
    before = snapshot(root.store)
    for change in (lambda: ro.create_group("n"), lambda: ro.zeros("n", shape=1),
                   lambda: ro.require_group("n"), lambda: ro.move("foo", "n"),
                   lambda: ro.__delitem__("foo"), lambda: ro.attrs.__setitem__("a", 1),
                   lambda: ro["foo"].attrs.__setitem__("a", 1),
                   lambda: ro["foo/x"].__setitem__(0, 1), lambda: ro.__setitem__("n", [1])):
        with pytest.raises(ReadOnlyError):
            change()
    assert ro["foo"].read_only and ro["foo/x"].read_only
    assert ro.require_group("foo") == ro["foo"]  # an existing group needs no write
    assert snapshot(root.store) == before


# ----------------------------------------------------------------------------- opening


def test_group_function(tmp_path: Path) -> None:
    path = str(tmp_path / "g.zarr")
    root = group(path)
    root.create_group("a")
    assert list(group(path)) == ["a"]  # existing group is opened, not replaced
    assert list(group(path, overwrite=True)) == []
    zarr.open_array(path, mode="w", shape=3)
    with pytest.raises(ContainsArrayError):
        group(path)
    assert isinstance(group(path, overwrite=True), Group)
    g = group(path, path="x/y")
    assert g.name == "/x/y" and isinstance(group(path)["x"], Group)
    with pytest.raises(ValueError, match="format 2"):
        group(zarr_version=3)


def test_open_group_modes(tmp_path: Path) -> None:
    path = str(tmp_path / "g.zarr")
    with pytest.raises(GroupNotFoundError):
        open_group(path, mode="r")
    with pytest.raises(GroupNotFoundError):
        open_group(path, mode="r+")
    assert not Path(path).exists()  # r/r+ never create anything
    g = open_group(path, mode="a")
    g.create_group("keep")
    assert list(open_group(path, mode="a")) == ["keep"]
    assert list(open_group(path, mode="r+")) == ["keep"]
    assert open_group(path, mode="r").read_only
    before = sorted(DirectoryStore(path))
    with pytest.raises(ContainsGroupError):
        open_group(path, mode="w-")
    with pytest.raises(ContainsGroupError):
        open_group(path, mode="x")
    assert sorted(DirectoryStore(path)) == before
    assert list(open_group(path, mode="w")) == []
    assert open_group(str(tmp_path / "new.zarr"), mode="w-").path == ""
    with pytest.raises(ValueError, match="mode"):
        open_group(path, mode="q")


def test_group_vs_array_errors(tmp_path: Path) -> None:
    path = str(tmp_path / "a.zarr")
    zarr.open_array(path, mode="w", shape=(3,))
    for mode in ("r", "r+", "a", "w-"):
        with pytest.raises(ContainsArrayError):
            open_group(path, mode=mode)
    with pytest.raises(ContainsArrayError):
        Group(DirectoryStore(path))
    gpath = str(tmp_path / "g.zarr")
    open_group(gpath, mode="w")
    with pytest.raises(ContainsGroupError):
        zarr.open_array(gpath, mode="r")
    with pytest.raises(ContainsGroupError):
        zarr.open_array(gpath, mode="a", shape=3)
    with pytest.raises(GroupNotFoundError):
        Group({})
    assert isinstance(zarr.open(gpath, mode="r"), Group)
    assert isinstance(zarr.open(path, mode="r"), zarr.Array)
    with pytest.raises(PathNotFoundError):
        zarr.open(str(tmp_path / "missing.zarr"), mode="r")


@pytest.mark.parametrize("doc", [b"", b"{", b"[]", b'{"zarr_format": 3}', b"{}"])
def test_corrupt_zgroup(doc: bytes) -> None:
    store = {".zgroup": doc}
    with pytest.raises(MetadataError, match=r"\.zgroup"):
        Group(store)
    with pytest.raises(MetadataError, match=r"\.zgroup"):
        open_group(store, mode="a")
    assert store == {".zgroup": doc}  # metadata that could not be parsed is never rewritten
    nested = {".zgroup": b'{"zarr_format": 2}', "sub/.zgroup": doc}
    with pytest.raises(MetadataError, match=r"sub/\.zgroup"):
        Group(nested)["sub"]


@pytest.mark.parametrize("doc", [b"", b"{", b"[1]", b'"x"'])
def test_corrupt_zattrs(doc: bytes) -> None:
    store = {".zgroup": b'{"zarr_format": 2}', "a/.zgroup": b'{"zarr_format": 2}',
             "a/.zattrs": doc}
    g = Group(store)["a"]
    with pytest.raises(MetadataError, match=r"a/\.zattrs"):
        g.attrs.asdict()
    with pytest.raises(MetadataError, match=r"a/\.zattrs"):
        g.attrs["x"] = 1
    assert store["a/.zattrs"] == doc


# ----------------------------------------------------------------------------- save/load


def test_save_group_and_load(tmp_path: Path) -> None:
    path = str(tmp_path / "s.zarr")
    a, b = np.arange(10), np.ones((2, 3))
    save_group(path, a, b, extra=np.array([1.5]))
    loaded = zarr.load(path)
    assert isinstance(loaded, LazyLoader)
    assert sorted(loaded) == ["arr_0", "arr_1", "extra"] and len(loaded) == 3
    assert "extra" in loaded and "nope" not in loaded
    np.testing.assert_array_equal(loaded["arr_1"], b)
    assert loaded["arr_0"] is loaded["arr_0"]  # cached after the first read
    assert repr(loaded) == "<LazyLoader: arr_0, arr_1, extra>"
    zarr.save(path, a, b)  # convenience.save with several arrays -> save_group
    assert sorted(zarr.load(path)) == ["arr_0", "arr_1"]
    with pytest.raises(ValueError, match="at least one"):
        save_group(path)
    before = sorted(DirectoryStore(path))
    with pytest.raises(KeyValidationError):
        save_group(path, a, **{".zattrs": b})
    with pytest.raises(KeyValidationError):
        save_group(path, a, **{"x/y": b})
    assert sorted(DirectoryStore(path)) == before
    grp = open_group(path, mode="r")
    assert sorted(LazyLoader(grp)) == ["arr_0", "arr_1"]


# ----------------------------------------------------------------------------- store helpers


def test_store_helpers_exact_prefixes(store: MutableMapping[str, Any]) -> None:
    for key, value in {"abc/bca/x": b"12", "abc/y": b"3", "abcd/z": b"4", "ab": b"5"}.items():
        store[key] = value
    assert listdir(store, "abc") == ["bca", "y"]
    assert listdir(store) == ["ab", "abc", "abcd"]
    assert getsize(store, "abc") == 1 and getsize(store, "abc/bca/x") == 2
    rename(store, "abc", "q")
    assert sorted(store) == ["ab", "abcd/z", "q/bca/x", "q/y"]
    assert bytes(store["q/bca/x"]) == b"12"
    rmdir(store, "q")
    assert sorted(store) == ["ab", "abcd/z"]
    rmdir(store, "ab")  # a key, not a folder: "ab/" prefix matches nothing
    assert sorted(store) == ["ab", "abcd/z"]


def test_rename_uses_the_stores_own_method() -> None:
    calls: list[tuple[str, str]] = []

    class Own(dict):  # type: ignore[type-arg]
        def rename(self, src: str, dst: str) -> None:
            calls.append((src, dst))

    rename(Own(), "/a/", "b")
    assert calls == [("a", "b")]


def test_path_that_is_a_file(tmp_path: Path) -> None:
    from zarrdask.errors import FSPathExistNotDir

    path = tmp_path / "afile"
    path.write_bytes(b"not a store")
    for mode in ("r", "r+", "a", "w", "w-"):
        with pytest.raises(FSPathExistNotDir):
            open_group(str(path), mode=mode)
    assert path.read_bytes() == b"not a store"
