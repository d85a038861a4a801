"""Tests of the local stores (memory, directory, nested, temp, KVStore, plain dict) and helpers."""

from __future__ import annotations

import os
import pathlib
import pickle
import shutil
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarrdask import storage
from zarrdask.errors import FSPathExistNotDir, KeyValidationError, ReadOnlyError
from zarrdask.storage import (
    BaseStore,
    DirectoryStore,
    KVStore,
    MemoryStore,
    NestedDirectoryStore,
    TempStore,
    contains_array,
    contains_group,
    delitems,
    getitems,
    getsize,
    is_readonly,
    listdir,
    normalize_store_arg,
    rename,
    rmdir,
    setitems,
    store_type_name,
)

STORE_KINDS = ["memory", "directory", "nested", "temp", "kv", "dict"]
DISK_KINDS = ["directory", "nested", "temp"]
BAD_KEYS = ["../evil", "/abs", "a//b", "a\\b", "a\x00b", "a/./b", "a/../../evil", "", "a/"]


def _make(kind: str, root: pathlib.Path) -> MutableMapping[str, bytes]:
    if kind == "memory":
        return MemoryStore()
    if kind == "directory":
        return DirectoryStore(root / "store")
    if kind == "nested":
        return NestedDirectoryStore(root / "store")
    if kind == "temp":
        return TempStore(dir=root)
    if kind == "kv":
        return KVStore({})
    if kind == "dict":
        return {}
    raise AssertionError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Any]:
    s = _make(request.param, tmp_path)
    yield s
    if isinstance(s, TempStore):
        shutil.rmtree(s.path, ignore_errors=True)


@pytest.fixture(params=DISK_KINDS)
def disk_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[DirectoryStore]:
    s = _make(request.param, tmp_path)
    assert isinstance(s, DirectoryStore)
    yield s
    shutil.rmtree(s.path, ignore_errors=True)


def _tree(folder: pathlib.Path) -> list[str]:
    """Every path under ``folder`` (relative), to prove nothing else was written."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------------------
# Round trips and the mapping contract
# --------------------------------------------------------------------------------------


def test_round_trip(store: MutableMapping[str, bytes]) -> None:
    assert len(store) == 0
    assert list(store) == []
    store["foo/.zarray"] = b"{}"
    store["foo/0.0"] = b"\x00\x01\x02"
    store["bar"] = b""
    assert store["foo/0.0"] == b"\x00\x01\x02"
    assert store["bar"] == b""
    assert "foo/0.0" in store
    assert "foo/0.1" not in store
    assert sorted(store) == ["bar", "foo/.zarray", "foo/0.0"]
    assert len(store) == 3
    store["foo/0.0"] = b"new"
    assert store["foo/0.0"] == b"new"
    del store["foo/0.0"]
    assert "foo/0.0" not in store
    with pytest.raises(KeyError):
        store["foo/0.0"]
    with pytest.raises(KeyError):
        del store["foo/0.0"]
    assert sorted(store.keys()) == ["bar", "foo/.zarray"]
    assert dict(store.items()) == {"bar": b"", "foo/.zarray": b"{}"}


def test_missing_key_error_names_key(store: MutableMapping[str, bytes]) -> None:
    with pytest.raises(KeyError) as info:
        store["nope/0.0"]
    assert "nope/0.0" in str(info.value)


def test_batch_helpers(store: MutableMapping[str, bytes]) -> None:
    setitems(store, {"a/0": b"0", "a/1": b"1", "b": b"2"})
    assert getitems(store, ["a/0", "missing", "b"]) == {"a/0": b"0", "b": b"2"}
    delitems(store, ["a/0", "missing"])
    assert sorted(store) == ["a/1", "b"]


def test_listdir_exact_prefix(store: MutableMapping[str, bytes]) -> None:
    setitems(
        store,
        {"a/x": b"1", "a/y/z": b"22", "ab/x": b"333", "top": b"4444", "a/y/w/v": b"5"},
    )
    assert listdir(store) == ["a", "ab", "top"]
    assert listdir(store, "a") == ["x", "y"]
    assert listdir(store, "/a/") == ["x", "y"]
    assert listdir(store, "a/y") == ["w", "z"]
    assert listdir(store, "ab") == ["x"]
    assert listdir(store, "nothing") == []
    assert listdir(store, "top") == []


def test_rmdir_exact_prefix(store: MutableMapping[str, bytes]) -> None:
    setitems(store, {"a/x": b"1", "a/y/z": b"2", "ab/x": b"3", "a.b/x": b"4"})
    rmdir(store, "a")
    assert sorted(store) == ["a.b/x", "ab/x"]
    rmdir(store, "missing")  # no error
    rmdir(store)
    assert len(store) == 0


def test_getsize(store: MutableMapping[str, bytes]) -> None:
    setitems(store, {"a/x": b"12", "a/y": b"345", "a/sub/z": b"6789", "b": b"1"})
    assert getsize(store, "a") == 5  # only values directly under a/
    assert getsize(store, "a/sub") == 4
    assert getsize(store, "a/x") == 2  # a key: its own size
    assert getsize(store) == 1
    assert getsize(store, "missing") == 0


def test_rename_exact_prefix(store: MutableMapping[str, bytes]) -> None:
    setitems(store, {"abc/bca/x": b"1", "abc/y": b"2", "abcd/z": b"3", "abc.zarr/q": b"4"})
    rename(store, "abc", "q")
    assert sorted(store) == ["abc.zarr/q", "abcd/z", "q/bca/x", "q/y"]
    assert store["q/bca/x"] == b"1"
    rename(store, "q/bca", "deep/er/path")
    assert store["deep/er/path/x"] == b"1"
    assert listdir(store, "q") == ["y"]


def test_rename_single_key(store: MutableMapping[str, bytes]) -> None:
    store["k"] = b"v"
    rename(store, "k", "dir/k2")
    assert dict(store) == {"dir/k2": b"v"}


def test_rename_errors(store: MutableMapping[str, bytes]) -> None:
    store["a/x"] = b"1"
    with pytest.raises(KeyError):
        rename(store, "missing", "b")
    with pytest.raises(ValueError, match="inside itself"):
        rename(store, "a", "a/b")
    with pytest.raises(ValueError, match="root"):
        rename(store, "", "b")
    assert dict(store) == {"a/x": b"1"}


def test_contains_array_group(store: MutableMapping[str, bytes]) -> None:
    store[".zgroup"] = b"{}"
    store["g/arr/.zarray"] = b"{}"
    assert contains_group(store)
    assert contains_group(store, "/")
    assert not contains_array(store)
    assert contains_array(store, "g/arr")
    assert contains_array(store, "/g/arr/")
    assert not contains_group(store, "g")
    assert not contains_array(store, "g/ar")


def test_values_are_bytes_like(store: MutableMapping[str, bytes]) -> None:
    if isinstance(store, dict | KVStore):
        pytest.skip("a plain mapping stores whatever it is given")
    arr = np.arange(12, dtype="<i4").reshape(3, 4)
    store["arr"] = arr
    store["fortran"] = np.asfortranarray(arr)
    store["strided"] = arr[:, ::2]
    store["ba"] = bytearray(b"xy")
    store["mv"] = memoryview(b"xyz")
    store["dt"] = np.array(["2020-01-01"], dtype="M8[D]")
    assert store["arr"] == arr.tobytes()
    assert store["fortran"] == arr.tobytes()
    assert store["strided"] == arr[:, ::2].tobytes()
    assert store["ba"] == b"xy"
    assert store["mv"] == b"xyz"
    assert store["dt"] == np.array(["2020-01-01"], dtype="M8[D]").tobytes()
    with pytest.raises(TypeError):
        store["s"] = "text"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        store["o"] = np.array([1, None], dtype=object)  # type: ignore[assignment]
    assert "s" not in store and "o" not in store


def test_memory_store_copies_mutable_values() -> None:
    store = MemoryStore()
    buf = bytearray(b"abc")
    store["k"] = buf
    buf[0] = ord("z")
    assert store["k"] == b"abc"


# --------------------------------------------------------------------------------------
# Key validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_rejected_on_write(store: MutableMapping[str, bytes], key: str) -> None:
    if isinstance(store, dict):
        pytest.skip("a plain dict does not validate keys")
    with pytest.raises(KeyValidationError):
        store[key] = b"x"
    with pytest.raises(KeyValidationError):
        del store[key]
    assert len(store) == 0


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_never_touch_disk(
    disk_store: DirectoryStore, key: str, tmp_path: pathlib.Path
) -> None:
    disk_store["ok"] = b"1"
    parent = pathlib.Path(disk_store.path).parent
    (parent / "evil").write_bytes(b"precious")
    before = _tree(parent)
    with pytest.raises(KeyValidationError):
        disk_store[key] = b"x"
    with pytest.raises(KeyValidationError):
        disk_store[key]
    with pytest.raises(KeyValidationError):
        del disk_store[key]
    with pytest.raises(KeyValidationError):
        _ = key in disk_store
    assert _tree(parent) == before
    assert (parent / "evil").read_bytes() == b"precious"


@pytest.mark.parametrize("path", ["..", "a/../..", "a/./b"])
def test_bad_paths_rejected_by_helpers(disk_store: DirectoryStore, path: str) -> None:
    disk_store["a/b/c"] = b"1"
    parent = pathlib.Path(disk_store.path).parent
    before = _tree(parent)
    for call in (
        lambda: listdir(disk_store, path),
        lambda: rmdir(disk_store, path),
        lambda: getsize(disk_store, path),
        lambda: rename(disk_store, path, "x"),
        lambda: rename(disk_store, "a", path),
    ):
        with pytest.raises(KeyValidationError):
            call()
    assert _tree(parent) == before


def test_symlink_out_of_root_refused(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = DirectoryStore(tmp_path / "store")
    store["inside/k"] = b"1"
    os.symlink(outside, tmp_path / "store" / "link")
    os.symlink(outside, tmp_path / "store" / "inside" / "link2")
    for key in ("link/x", "link/deep/x", "inside/link2/x"):
        with pytest.raises(KeyValidationError, match="outside the store root"):
            store[key] = b"evil"
    (outside / "victim").write_bytes(b"precious")
    with pytest.raises(KeyValidationError):
        del store["link/victim"]
    with pytest.raises(KeyValidationError):
        store.rmdir("link")
    with pytest.raises(KeyValidationError):
        store.rename("inside", "link/moved")
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"precious"


def test_symlink_inside_root_allowed(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    store["real/k"] = b"1"
    os.symlink(tmp_path / "store" / "real", tmp_path / "store" / "alias")
    store["alias/k2"] = b"2"
    assert store["real/k2"] == b"2"


def test_temp_name_keys_are_reserved(disk_store: DirectoryStore) -> None:
    with pytest.raises(KeyValidationError, match="temporary"):
        disk_store["a/.0.0." + "0" * 32 + ".partial"] = b"x"
    with pytest.raises(KeyValidationError):
        disk_store["0.0." + "ab" * 16 + ".partial"] = b"x"


# --------------------------------------------------------------------------------------
# Directory store behaviour
# --------------------------------------------------------------------------------------


def test_directory_store_layout_and_lazy_creation(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "not" / "yet"
    store = DirectoryStore(root)
    assert not root.exists()
    assert list(store) == [] and len(store) == 0 and store.listdir() == []
    assert store.getsize() == 0
    store["g/a/0.0"] = b"abc"
    assert (root / "g" / "a" / "0.0").read_bytes() == b"abc"
    assert store.path == str(root)


def test_directory_store_path_is_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(FSPathExistNotDir, match="file"):
        DirectoryStore(f)
    with pytest.raises(NotADirectoryError):
        DirectoryStore(str(f))


def test_temp_files_never_show(disk_store: DirectoryStore) -> None:
    disk_store["a/0.0"] = b"1"
    disk_store[".zgroup"] = b"{}"
    root = pathlib.Path(disk_store.path)
    leftovers = [
        root / "a" / (".0.1." + "0123456789abcdef" * 2 + ".partial"),
        root / ("0.0." + "f" * 32 + ".partial"),  # zarr-python's naming
    ]
    for p in leftovers:
        p.write_bytes(b"torn")
    assert sorted(disk_store) == [".zgroup", "a/0.0"]
    assert sorted(disk_store.keys()) == [".zgroup", "a/0.0"]
    assert len(disk_store) == 2
    assert disk_store.listdir("a") == ["0.0"]
    assert disk_store.listdir() == [".zgroup", "a"]
    assert disk_store.getsize("a") == 1
    assert disk_store.getsize() == 2


def test_no_temp_file_left_after_write(disk_store: DirectoryStore) -> None:
    for i in range(20):
        disk_store[f"a/{i}"] = bytes(100)
    names = os.listdir(os.path.join(disk_store.path, "a"))
    assert sorted(names, key=int) == [str(i) for i in range(20)]


def test_failed_write_removes_temp_file(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    store["a/b/c"] = b"1"  # a non-empty folder where key "a/b" should go
    with pytest.raises(IsADirectoryError, match="a/b"):
        store["a/b"] = b"x"
    assert os.listdir(tmp_path / "s" / "a") == ["b"]
    assert store["a/b/c"] == b"1"


def test_write_replaces_empty_folder(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    (tmp_path / "s" / "a").mkdir(parents=True)
    store["a"] = b"x"
    assert store["a"] == b"x"


def test_folder_at_chunk_path_reads_as_missing(disk_store: DirectoryStore) -> None:
    os.makedirs(os.path.join(disk_store.path, "arr", "0.0"))
    assert "arr/0.0" not in disk_store
    with pytest.raises(KeyError):
        disk_store["arr/0.0"]
    with pytest.raises(KeyError):
        del disk_store["arr/0.0"]
    assert disk_store.getitems(["arr/0.0"]) == {}
    assert os.path.isdir(os.path.join(disk_store.path, "arr", "0.0"))


def test_file_as_parent_reads_as_missing(disk_store: DirectoryStore) -> None:
    disk_store["a"] = b"1"
    with pytest.raises(KeyError):
        disk_store["a/b"]
    assert "a/b" not in disk_store


def test_os_errors_propagate(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    store["ok"] = b"1"
    os.symlink("loop", tmp_path / "s" / "loop")  # ELOOP: an I/O error, not "missing"
    with pytest.raises(OSError) as info:
        store["loop"]
    assert not isinstance(info.value, KeyError)
    # a file where a folder should be, on write, is an error too (not silently dropped)
    with pytest.raises(OSError):
        store["ok/child"] = b"x"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read mode-000 files"
)
def test_unreadable_file_propagates(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    store["k"] = b"1"
    os.chmod(tmp_path / "s" / "k", 0)
    try:
        with pytest.raises(PermissionError):
            store["k"]
        with pytest.raises(PermissionError):
            store.getitems(["k"])
    finally:
        os.chmod(tmp_path / "s" / "k", 0o644)


def test_getitems_propagates_os_errors(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    store["ok"] = b"1"
    os.symlink("loop", tmp_path / "s" / "loop")
    with pytest.raises(OSError):
        getitems(store, ["ok", "loop"])


def test_rename_directory_prunes_empty_parents(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    store["x/y/arr/0.0"] = b"1"
    store.rename("x/y/arr", "moved")
    assert list(store) == ["moved/0.0"]
    assert os.listdir(tmp_path / "s") == ["moved"]


def test_rmdir_root_and_clear(disk_store: DirectoryStore) -> None:
    setitems(disk_store, {"a/b": b"1", "c": b"2"})
    disk_store.rmdir("")
    assert len(disk_store) == 0
    disk_store["again"] = b"1"
    disk_store.clear()
    assert list(disk_store) == []
    disk_store["after/clear"] = b"2"
    assert disk_store["after/clear"] == b"2"


def test_normalize_keys(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s", normalize_keys=True)
    store["FOO/Bar"] = b"1"
    assert list(store) == ["foo/bar"]
    assert store["foo/BAR"] == b"1"
    assert "Foo/bar" in store
    assert store.listdir("FOO") == ["bar"]
    del store["FOO/BAR"]
    assert list(store) == []


def test_durable_mode(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s", durable=True)
    store["a/b/c"] = b"1"
    store["a/b/c"] = b"2"
    del store["a/b/c"]
    store["a/d"] = b"3"
    store.rename("a", "e")
    assert dict(store) == {"e/d": b"3"}


def test_dimension_separator(tmp_path: pathlib.Path) -> None:
    assert DirectoryStore(tmp_path / "a")._dimension_separator is None
    assert DirectoryStore(tmp_path / "a", dimension_separator="/")._dimension_separator == "/"
    assert NestedDirectoryStore(tmp_path / "b")._dimension_separator == "/"
    assert NestedDirectoryStore(tmp_path / "b", dimension_separator=None)._dimension_separator == "/"
    with pytest.raises(ValueError, match="'/'"):
        NestedDirectoryStore(tmp_path / "b", dimension_separator=".")
    with pytest.raises(ValueError, match="dimension_separator"):
        DirectoryStore(tmp_path / "c", dimension_separator="-")
    assert MemoryStore(dimension_separator="/")._dimension_separator == "/"


def test_temp_store_location(tmp_path: pathlib.Path) -> None:
    store = TempStore(prefix="pre", suffix="suf", dir=tmp_path)
    name = os.path.basename(store.path)
    assert name.startswith("pre") and name.endswith("suf")
    assert os.path.dirname(store.path) == str(tmp_path)
    store["k"] = b"1"
    assert (pathlib.Path(store.path) / "k").read_bytes() == b"1"


@pytest.mark.interop
def test_readable_by_zarr_python(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    store = DirectoryStore(tmp_path / "s")
    store["g/0.0"] = b"payload"
    theirs = zarr.storage.DirectoryStore(str(tmp_path / "s"))
    assert theirs["g/0.0"] == b"payload"
    theirs["g/0.1"] = b"theirs"
    assert store["g/0.1"] == b"theirs"


# --------------------------------------------------------------------------------------
# Pickling, equality, read-only, helpers' introspection
# --------------------------------------------------------------------------------------


def test_pickle_memory_carries_data() -> None:
    store = MemoryStore()
    store["a/b"] = b"x" * 1000
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store
    assert clone["a/b"] == b"x" * 1000
    clone["c"] = b"1"  # independent and still writable, with its lock
    assert "c" not in store
    assert clone != store


def test_pickle_kvstore() -> None:
    store = KVStore({"a": b"1"})
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store and clone["a"] == b"1"


def test_pickle_directory_is_small(disk_store: DirectoryStore) -> None:
    disk_store["big"] = bytes(100_000)
    data = pickle.dumps(disk_store)
    assert len(data) < 1000
    clone = pickle.loads(data)
    assert type(clone) is type(disk_store)
    assert clone == disk_store
    assert clone["big"] == bytes(100_000)
    assert clone._dimension_separator == disk_store._dimension_separator


def test_pickle_directory_keeps_options(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(
        tmp_path / "s", normalize_keys=True, dimension_separator="/", durable=True
    )
    clone = pickle.loads(pickle.dumps(store))
    assert (clone.normalize_keys, clone._dimension_separator, clone.durable) == (True, "/", True)


def test_unpickled_temp_store_reuses_folder(tmp_path: pathlib.Path) -> None:
    store = TempStore(dir=tmp_path)
    store["k"] = b"1"
    clone = pickle.loads(pickle.dumps(store))
    assert clone.path == store.path
    assert os.listdir(tmp_path) == [os.path.basename(store.path)]


def test_directory_equality(tmp_path: pathlib.Path) -> None:
    assert DirectoryStore(tmp_path / "a") == DirectoryStore(str(tmp_path / "a"))
    assert DirectoryStore(tmp_path / "a") != DirectoryStore(tmp_path / "b")
    assert DirectoryStore(tmp_path / "a") != NestedDirectoryStore(tmp_path / "a")


def test_memory_store_accepts_root() -> None:
    store = MemoryStore({"a/b": b"1", "nested": {"c": b"2", "d": {"e": b"3"}}})
    assert dict(store) == {"a/b": b"1", "nested/c": b"2", "nested/d/e": b"3"}
    with pytest.raises(KeyValidationError):
        MemoryStore({"../x": b"1"})


@pytest.mark.parametrize("kind", ["memory", "directory", "nested", "kv"])
def test_read_only(kind: str, tmp_path: pathlib.Path) -> None:
    writable = _make(kind, tmp_path)
    writable["a/b"] = b"1"
    if kind == "memory":
        store: BaseStore = MemoryStore(dict(writable), read_only=True)
    elif kind == "kv":
        assert isinstance(writable, KVStore)
        store = KVStore(writable._mutable_mapping, read_only=True)
    else:
        assert isinstance(writable, DirectoryStore)
        store = type(writable)(writable.path, read_only=True)
    assert is_readonly(store) and not store.is_writeable() and not store.is_erasable()
    assert store["a/b"] == b"1"
    ops: list[Callable[[], object]] = [
        lambda: store.__setitem__("a/c", b"2"),
        lambda: store.__delitem__("a/b"),
        lambda: setitems(store, {"a/d": b"3"}),
        lambda: delitems(store, ["a/b"]),
        lambda: rmdir(store, "a"),
        lambda: rename(store, "a", "z"),
        lambda: store.clear(),
    ]
    for op in ops:
        with pytest.raises(ReadOnlyError):
            op()
    with pytest.raises(ReadOnlyError, match="a/c"):
        store["a/c"] = b"2"
    with pytest.raises(PermissionError):  # ReadOnlyError is a PermissionError
        store["a/c"] = b"2"
    assert dict(store) == {"a/b": b"1"}
    assert pickle.loads(pickle.dumps(store)).read_only


def test_is_readonly_and_type_name(tmp_path: pathlib.Path) -> None:
    assert not is_readonly({})
    assert not is_readonly(MemoryStore())
    assert is_readonly(MemoryStore(read_only=True))
    from types import MappingProxyType

    assert is_readonly(MappingProxyType({}))
    assert store_type_name(MemoryStore()) == "zarrdask.storage.MemoryStore"
    assert store_type_name(DirectoryStore(tmp_path)) == "zarrdask.storage.DirectoryStore"
    assert store_type_name(KVStore({})) == "zarrdask.storage.KVStore"
    assert store_type_name({}) == "builtins.dict"


def test_getsize_unknown_values() -> None:
    assert getsize({"a": object()}) == -1  # type: ignore[dict-item]
    assert getsize(object()) == -1  # type: ignore[arg-type]


def test_context_manager_closes() -> None:
    closed: list[bool] = []

    class Tracking(MemoryStore):
        def close(self) -> None:
            closed.append(True)

    with Tracking() as s:
        s["k"] = b"1"
    assert closed == [True]


# --------------------------------------------------------------------------------------
# normalize_store_arg and the package attributes
# --------------------------------------------------------------------------------------


def test_normalize_store_arg(tmp_path: pathlib.Path) -> None:
    assert isinstance(normalize_store_arg(None), MemoryStore)
    d: dict[str, bytes] = {}
    assert normalize_store_arg(d) is d
    m = MemoryStore()
    assert normalize_store_arg(m) is m
    path = tmp_path / "new.zarr"
    for arg in (str(path), path):
        s = normalize_store_arg(arg, mode="r")
        assert isinstance(s, DirectoryStore) and s.path == str(path)
    assert not path.exists()  # opening creates nothing
    s = normalize_store_arg(str(path), mode="w", dimension_separator="/")
    assert isinstance(s, DirectoryStore) and s._dimension_separator == "/"
    with pytest.raises(TypeError, match="int"):
        normalize_store_arg(42)
    with pytest.raises(ValueError, match="storage_options"):
        normalize_store_arg(str(path), storage_options={"anon": True})
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FSPathExistNotDir):
        normalize_store_arg(str(tmp_path / "file"))


def test_default_compressor_is_settable() -> None:
    import numcodecs

    default = storage.default_compressor
    assert default.get_config() == numcodecs.Blosc(
        cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE
    ).get_config()
    try:
        storage.default_compressor = numcodecs.Zstd(level=1)
        from zarrdask import storage as again

        assert again.default_compressor == numcodecs.Zstd(level=1)
    finally:
        storage.default_compressor = default


# --------------------------------------------------------------------------------------
# Concurrency and model-based checks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_threads_write_different_keys(kind: str, tmp_path: pathlib.Path) -> None:
    store = _make(kind, tmp_path)

    def work(t: int) -> None:
        for i in range(100):
            store[f"t{t}/{i}"] = f"{t}:{i}".encode()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store) == 400
    assert all(store[f"t{t}/{i}"] == f"{t}:{i}".encode() for t in range(4) for i in range(100))


def test_threads_write_same_key_directory(tmp_path: pathlib.Path) -> None:
    store = DirectoryStore(tmp_path / "s")
    payloads = [bytes([t]) * 4096 for t in range(4)]

    def work(t: int) -> None:
        for _ in range(50):
            store["k"] = payloads[t]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert store["k"] in payloads
    assert os.listdir(tmp_path / "s") == ["k"]


_segment = st.sampled_from(["a", "b", "ab", "a.b", "0", "0.0", "x"])
_key = st.lists(_segment, min_size=1, max_size=3).map("/".join)
_path = st.lists(_segment, min_size=0, max_size=2).map("/".join)


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(_key, min_size=0, max_size=8, unique=True),
    path=_path,
    dst=_path.filter(bool),
    kind=st.sampled_from(["memory", "kv", "dict"]),
)
def test_helpers_match_model(keys: list[str], path: str, dst: str, kind: str) -> None:
    model = {k: k.encode() for k in keys}
    store: MutableMapping[str, bytes] = {"memory": MemoryStore, "kv": lambda: KVStore({}), "dict": dict}[
        kind
    ]()
    setitems(store, model)
    prefix = f"{path}/" if path else ""
    expected_children = sorted(
        {k[len(prefix) :].split("/")[0] for k in keys if k.startswith(prefix) and k != path}
    )
    assert listdir(store, path) == expected_children
    direct = [k for k in keys if k.startswith(prefix) and k != path and "/" not in k[len(prefix) :]]
    expected_size = len(model[path]) if path in model else sum(len(model[k]) for k in direct)
    assert getsize(store, path) == expected_size
    if path and not dst.startswith(f"{path}/") and dst != path:
        moved = {}
        for k, v in model.items():
            if k == path:
                moved[k] = dst
            elif k.startswith(prefix):
                moved[k] = dst + "/" + k[len(prefix) :]
        if moved:
            rename(store, path, dst)
            expected = {k: v for k, v in model.items() if k not in moved}
            expected.update({new: model[old] for old, new in moved.items()})
            assert dict(store) == expected
            model = expected
    rmdir(store, path)
    assert dict(store) == {k: v for k, v in model.items() if not k.startswith(prefix)}


@pytest.mark.parametrize("name", ["MemoryStore", "DirectoryStore", "ZipStore", "DBMStore",
                                  "LMDBStore", "SQLiteStore", "FSStore"])
def test_bad_dimension_separator_is_refused_before_anything_is_made(
        name: str, tmp_path: pathlib.Path) -> None:
    if name == "LMDBStore":
        pytest.importorskip("lmdb")
    cls = getattr(storage, name)
    target = tmp_path / "s"
    with pytest.raises(ValueError, match=r"dimension_separator must be None, '\.' or '/', "
                                         r"not '-'"):
        cls(dimension_separator="-") if name == "MemoryStore" else cls(
            str(target), dimension_separator="-")
    assert list(tmp_path.iterdir()) == []
