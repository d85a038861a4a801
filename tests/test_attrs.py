"""Tests of zarrdask.attrs: the zarr 2.x Attributes mapping over a store key."""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import MutableMapping
from typing import Any

import numpy as np
import pytest

from zarrdask.attrs import Attributes, normalize_attrs
from zarrdask.errors import KeyValidationError, MetadataError, ReadOnlyError
from zarrdask.sync import ThreadSynchronizer


class CountingStore(dict):  # type: ignore[type-arg]
    """A dict store counting reads and writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.writes = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def stored(store: MutableMapping[str, Any], key: str = ".zattrs") -> Any:
    return json.loads(store[key])


def test_basic_api() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store)
    assert len(a) == 0 and list(a) == [] and a.asdict() == {}
    assert ".zattrs" not in store  # reading a missing document writes nothing
    a["foo"] = "bar"
    a["baz"] = 42
    assert a["foo"] == "bar"
    assert "foo" in a and "nope" not in a
    assert sorted(a) == ["baz", "foo"]
    assert sorted(a.keys()) == ["baz", "foo"]
    assert len(a) == 2
    assert stored(store) == {"foo": "bar", "baz": 42}
    del a["foo"]
    assert stored(store) == {"baz": 42}
    with pytest.raises(KeyError):
        a["foo"]
    with pytest.raises(KeyError):
        del a["foo"]
    a.put({"x": [1, 2], "y": {"z": None}})
    assert a.asdict() == {"x": [1, 2], "y": {"z": None}}
    a.update({"a": 1}, b=True)
    assert stored(store) == {"x": [1, 2], "y": {"z": None}, "a": 1, "b": True}
    assert a.get("missing", 5) == 5
    assert a.pop("a") == 1
    assert a.setdefault("c", "d") == "d"
    assert a._ipython_key_completions_() == ["b", "c", "x", "y"]
    assert a == {"x": [1, 2], "y": {"z": None}, "b": True, "c": "d"}
    a.clear()
    assert stored(store) == {} and len(a) == 0


def test_json_is_strict_indented_sorted() -> None:
    store: dict[str, bytes] = {}
    Attributes(store).update(b=1, a="é")
    text = store[".zattrs"].decode()
    assert text == json.dumps({"a": "é", "b": 1}, indent=4, sort_keys=True, ensure_ascii=True)


def test_matches_zarr_oracle() -> None:
    zarr_attrs = pytest.importorskip("zarr.attrs")
    ours: dict[str, bytes] = {}
    theirs: dict[str, bytes] = {}
    for a in (Attributes(ours), zarr_attrs.Attributes(theirs)):
        a["foo"] = "bar"
        a.update({"n": [1, 2.5, None]}, flag=False)
        a.put({**a.asdict(), "nested": {"k": "v"}})
        del a["foo"]
    assert json.loads(ours[".zattrs"]) == json.loads(theirs[".zattrs"])
    assert ours[".zattrs"] == theirs[".zattrs"]
    # and each reads the other's
    assert Attributes(theirs).asdict() == zarr_attrs.Attributes(ours).asdict()


def test_key_at_path_and_validation() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store, key="foo/bar/.zattrs")
    a["x"] = 1
    assert list(store) == ["foo/bar/.zattrs"]
    with pytest.raises(KeyValidationError):
        Attributes(store, key="../.zattrs")


def test_cache_vs_no_cache() -> None:
    store = CountingStore()
    cached = Attributes(store, cache=True)
    fresh = Attributes(store, cache=False)
    writer = Attributes(store, cache=False)
    assert cached.asdict() == {} and fresh.asdict() == {}
    writer["x"] = 1
    assert fresh["x"] == 1  # re-reads
    assert "x" not in cached  # stale until refresh
    reads = store.reads
    for _ in range(3):
        len(cached)
        list(cached)
    assert store.reads == reads  # cached: no store reads
    cached.refresh()
    assert cached["x"] == 1
    for _ in range(3):
        len(fresh)
    assert store.reads == reads + 1 + 3
    fresh.refresh()  # no-op without cache
    # a cached object's own writes update its cache
    cached["y"] = 2
    assert cached.asdict() == {"x": 1, "y": 2}


def test_writes_reread_store_not_cache() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store)
    b = Attributes(store)
    a["x"] = 1
    b["y"] = 2  # b read {} earlier? no: a write re-reads the store, so x is kept
    assert stored(store) == {"x": 1, "y": 2}
    a.asdict()
    b["z"] = 3
    a["w"] = 4  # a's cache lacks z, but the write re-reads the store
    assert stored(store) == {"x": 1, "y": 2, "z": 3, "w": 4}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_nan_raises_and_store_unchanged(bad: Any) -> None:
    store = CountingStore()
    a = Attributes(store)
    a["keep"] = 1
    writes = store.writes
    before = store[".zattrs"]
    with pytest.raises(ValueError, match=r"'x'.*not valid JSON.*None or a string"):
        a["x"] = bad
    with pytest.raises(ValueError, match=r"x\[1\]\['y'\]"):
        a.update(x=[1, {"y": bad}])
    with pytest.raises(ValueError, match="not valid JSON"):
        a.put({"x": np.array([1.0, bad])})
    assert store.writes == writes and store[".zattrs"] == before
    assert a.asdict() == {"keep": 1}


def test_non_serialisable_raises_and_store_unchanged() -> None:
    store = CountingStore()
    a = Attributes(store)
    a["keep"] = 1
    writes = store.writes
    with pytest.raises(TypeError, match=r"'x'.*object"):
        a["x"] = object()
    with pytest.raises(TypeError, match="'y'"):
        a.update(ok=2, y={1, 2})
    with pytest.raises(TypeError, match="'b'"):
        a["b"] = b"bytes"
    assert store.writes == writes
    assert a.asdict() == {"keep": 1} and stored(store) == {"keep": 1}


def test_non_str_key_raises() -> None:
    store = CountingStore()
    a = Attributes(store)
    with pytest.raises(TypeError, match="1"):
        a[1] = "x"  # type: ignore[index]
    with pytest.raises(TypeError, match="2"):
        a.put({2: "x"})
    with pytest.raises(TypeError, match=r"\(1, 2\)"):
        a.update({(1, 2): "x"})
    with pytest.raises(TypeError, match="'nested'.*3"):
        a["nested"] = {3: "x"}
    assert store.writes == 0 and ".zattrs" not in store


def test_read_only() -> None:
    store: dict[str, bytes] = {".zattrs": b'{"a": 1}'}
    a = Attributes(store, read_only=True)
    assert a["a"] == 1
    for op in (
        lambda: a.__setitem__("b", 2),
        lambda: a.__delitem__("a"),
        lambda: a.put({}),
        lambda: a.update(b=2),
        lambda: a.clear(),
    ):
        with pytest.raises(ReadOnlyError, match=".zattrs"):
            op()
    with pytest.raises(PermissionError):
        a["c"] = 3
    assert store[".zattrs"] == b'{"a": 1}'


@pytest.mark.parametrize("data", [b"", b"{", b"[1, 2]", b"not json", b"\xff\xfe"])
def test_corrupt_zattrs_raises_metadata_error(data: bytes) -> None:
    store = CountingStore({"grp/.zattrs": data})
    a = Attributes(store, key="grp/.zattrs")
    with pytest.raises(MetadataError, match="grp/.zattrs"):
        a.asdict()
    with pytest.raises(MetadataError, match="grp/.zattrs"):
        a["x"] = 1  # never rewrite what could not be parsed
    assert store.writes == 0 and store["grp/.zattrs"] == data


def test_bare_nan_from_other_tools_is_readable() -> None:
    a = Attributes({".zattrs": b'{"x": NaN, "y": 1}'})
    assert np.isnan(a["x"]) and a["y"] == 1


def test_numpy_values_converted() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store)
    a.update(
        i=np.int64(3),
        u=np.uint8(200),
        f=np.float32(1.5),
        b=np.bool_(True),
        s=np.str_("hi"),
        arr=np.arange(4).reshape(2, 2),
        t=(1, (2, 3)),
        farr=np.array([0.5, 1.0]),
    )
    expected = {
        "i": 3, "u": 200, "f": 1.5, "b": True, "s": "hi",
        "arr": [[0, 1], [2, 3]], "t": [1, [2, 3]], "farr": [0.5, 1.0],
    }
    assert stored(store) == expected
    assert a.asdict() == expected
    assert type(a["i"]) is int and type(a["b"]) is bool and type(a["f"]) is float
    assert normalize_attrs({"x": np.int32(1)}) == {"x": 1}


def test_update_is_one_write() -> None:
    store = CountingStore()
    a = Attributes(store)
    a.update({"a": 1, "b": 2}, c=3, d=4)
    assert store.writes == 1
    a.put({"z": 0})
    assert store.writes == 2
    a.clear()
    assert store.writes == 3


def test_refresh() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store)
    assert a.asdict() == {}
    store[".zattrs"] = b'{"new": true}'
    assert a.asdict() == {}
    a.refresh()
    assert a.asdict() == {"new": True}
    del store[".zattrs"]
    a.refresh()
    assert a.asdict() == {}


def test_returned_values_do_not_alias_cache() -> None:
    a = Attributes({})
    a["l"] = [1, 2]
    a["l"].append(3)
    d = a.asdict()
    d["l"].append(4)
    d["new"] = 1
    assert a.asdict() == {"l": [1, 2]}


def test_on_change_called_after_successful_writes_only() -> None:
    calls: list[dict[str, Any]] = []
    store: dict[str, bytes] = {}
    a = Attributes(store, on_change=lambda: calls.append(stored(store)))
    a["x"] = 1
    a.update(y=2)
    with pytest.raises(ValueError):
        a["z"] = float("nan")
    with pytest.raises(KeyError):
        del a["missing"]
    del a["x"]
    assert calls == [{"x": 1}, {"x": 1, "y": 2}, {"y": 2}]


class RecordingSync:
    def __init__(self) -> None:
        self.inner = ThreadSynchronizer()
        self.keys: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.keys.append(key)
        return self.inner[key]


def test_writes_use_synchronizer_for_attrs_key() -> None:
    sync = RecordingSync()
    a = Attributes({}, key="g/.zattrs", synchronizer=sync)
    a["x"] = 1
    a.update(y=2)
    a.asdict()
    assert sync.keys == ["g/.zattrs", "g/.zattrs"]


def test_concurrent_updates_not_lost_with_synchronizer() -> None:
    store: dict[str, bytes] = {}
    sync = ThreadSynchronizer()
    n_threads, n = 8, 25

    def work(i: int) -> None:
        a = Attributes(store, synchronizer=sync, cache=False)
        for j in range(n):
            a[f"t{i}_{j}"] = j

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stored(store)) == n_threads * n


def test_repr_like_dict() -> None:
    a = Attributes({})
    a["foo"] = "bar"
    assert repr(a) == repr({"foo": "bar"})


def test_pickle() -> None:
    store: dict[str, bytes] = {}
    a = Attributes(store, key="g/.zattrs", read_only=False, cache=False, synchronizer=ThreadSynchronizer())
    a["x"] = 1
    b = pickle.loads(pickle.dumps(a))
    assert b.key == "g/.zattrs" and b.cache is False and b.read_only is False
    assert isinstance(b.synchronizer, ThreadSynchronizer)
    assert b.asdict() == {"x": 1}
    b["y"] = 2  # the copy has its own store copy
    assert stored(b.store, "g/.zattrs") == {"x": 1, "y": 2}
    ro = pickle.loads(pickle.dumps(Attributes(store, read_only=True)))
    with pytest.raises(ReadOnlyError):
        ro["z"] = 1
