"""The store conformance suite: one set of pytest tests that every store must pass.

Subclass :class:`StoreTests` in a test module (its name must start with
``Test``) and implement :meth:`StoreTests.make_store`; optionally
:meth:`StoreTests.reopen_store` (enables the read-only and persistence tests)
and the ``capabilities`` class attribute (what the store cannot do)::

    from zarrdask.storage import DirectoryStore
    from zarrdask.testing import StoreTests

    class TestMyStore(StoreTests):
        def make_store(self):
            return DirectoryStore(self.tmp_path / "store")

        def reopen_store(self, store, read_only):
            return DirectoryStore(store.path, read_only=read_only)

To run the suite over many stores from one class, override the
``store_factory`` fixture with a parametrised one returning a
:class:`StoreFactory` per store (as ``tests/test_conformance.py`` does).

What is checked: reads, writes, missing keys (only ``KeyError``), listing,
deletes, exact prefix operations (``rmdir``/``listdir``/``getsize``/
``rename`` on names with ``_ % * ? [``), the unicode-key rule (``str`` keys,
non-ASCII allowed, stored UTF-8), pickling, concurrent writes from threads,
batched ``getitems``/``setitems``/``delitems``, read-only behaviour, key
validation and an array round trip through zarrdask.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarrdask import storage as _storage
from zarrdask.testing.factory import StoreCapabilities, StoreFactory, _Opened, close_store

__all__ = ["BAD_KEYS", "StoreCapabilities", "StoreFactory", "StoreTests", "close_store"]

Store = MutableMapping[str, Any]

#: Keys every validating store must refuse (ValueError) on write and delete.
BAD_KEYS = ("", "/abs", "../evil", "a/../../evil", "a//b", "a/", "a\\b", "a\x00b", "a/./b")

#: Names that are wildcards in SQL LIKE, globs in Redis/fsspec, or look alike in case.
SPECIAL_NAMES = ("a_c", "abc", "a%c", "a*c", "a?c", "a[c]")

_UNICODE_KEYS = ("ünï/cødé", "数据/块", "emoji/🙂", "ascii/plain")


def _fill(store: Store, items: dict[str, bytes]) -> None:
    for key, value in items.items():
        store[key] = value


def _contents(store: Store) -> dict[str, bytes]:
    return {key: bytes(memoryview(store[key]).cast("B")) for key in list(store.keys())}


_TREE = {"a/b": b"1", "a/c/d": b"22", "ab/e": b"333", "x": b"4444"}


class StoreTests:
    """The conformance tests; subclass and implement :meth:`make_store`.

    Inside the hooks, ``self.tmp_path`` (a fresh folder) and ``self.request``
    (the pytest request, for ``getfixturevalue``) are available.
    """

    capabilities: StoreCapabilities = StoreCapabilities()
    tmp_path: Path
    request: pytest.FixtureRequest

    # -- hooks --------------------------------------------------------------------------

    def make_store(self) -> Store:
        """Return a new, empty store (override)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_store()")

    def reopen_store(self, store: Store, read_only: bool) -> Store | None:
        """Return a new handle on the (closed) ``store``'s data; None if impossible."""
        return None

    # -- fixtures -----------------------------------------------------------------------

    @pytest.fixture
    def store_factory(self, tmp_path: Path, request: pytest.FixtureRequest) -> StoreFactory:
        """The factory built from the hooks; override to parametrise over stores."""
        self.tmp_path = tmp_path
        self.request = request
        probe = type(self).reopen_store is StoreTests.reopen_store

        def reopen(store: Store, read_only: bool) -> Store:
            new = self.reopen_store(store, read_only)
            if new is None:
                pytest.skip(f"{type(self).__name__}.reopen_store returned None")
            return new

        return StoreFactory(self.make_store, None if probe else reopen, self.capabilities,
                            type(self).__name__)

    @pytest.fixture
    def opened(self, store_factory: StoreFactory) -> Iterator[_Opened]:
        tracker = _Opened(store_factory)
        yield tracker
        tracker.close_all()

    @pytest.fixture
    def store(self, opened: _Opened) -> Store:
        return opened.make()

    # -- read and write -----------------------------------------------------------------

    def test_new_store_is_empty(self, store: Store) -> None:
        assert len(store) == 0
        assert list(store.keys()) == []
        assert "a" not in store
        assert _storage.listdir(store, "") == []

    @pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "u1", "f8", "empty"])
    def test_set_get_roundtrip(self, store: Store, kind: str) -> None:
        data = np.arange(300, dtype="f8")
        value: Any = {
            "bytes": b"\x00\x01zarr\xff", "bytearray": bytearray(b"abc\x00"),
            "memoryview": memoryview(b"mv-data"), "u1": np.arange(256, dtype="u1"),
            "f8": data, "empty": b"",
        }[kind]
        expected = bytes(memoryview(value).cast("B"))
        store["foo/bar"] = value
        got = store["foo/bar"]
        assert bytes(memoryview(got).cast("B")) == expected
        assert "foo/bar" in store

    def test_large_value(self, store: Store) -> None:
        value = np.random.default_rng(0).integers(0, 256, 3 * 2**20, dtype="u1").tobytes()
        store["big"] = value
        assert bytes(store["big"]) == value

    def test_missing_key_is_keyerror(self, store: Store) -> None:
        store["present"] = b"1"
        with pytest.raises(KeyError):
            store["missing"]
        with pytest.raises(KeyError):
            store["present/below"]
        assert "missing" not in store
        assert store.get("missing") is None
        assert _storage.getitems(store, ["missing", "present"]) == {"present": b"1"}

    def test_overwrite(self, store: Store, opened: _Opened) -> None:
        store["k"] = b"first"
        if not opened.caps.overwrites:
            with pytest.raises(Exception) as info:
                store["k"] = b"second"
            assert not isinstance(info.value, KeyError)
            assert bytes(store["k"]) == b"first"
            return
        store["k"] = b"second, longer"
        store["k"] = b"3"
        assert bytes(store["k"]) == b"3"
        assert len(store) == 1

    def test_delete(self, store: Store, opened: _Opened) -> None:
        _fill(store, _TREE)
        if not opened.caps.deletes:
            with pytest.raises(Exception) as info:
                del store["a/b"]
            assert not isinstance(info.value, KeyError)
            assert _contents(store) == _TREE
            return
        del store["a/b"]
        assert "a/b" not in store
        with pytest.raises(KeyError):
            store["a/b"]
        with pytest.raises(KeyError):
            del store["a/b"]
        assert _contents(store) == {k: v for k, v in _TREE.items() if k != "a/b"}

    def test_clear(self, store: Store, opened: _Opened) -> None:
        if not opened.caps.deletes:
            pytest.skip("the store cannot delete keys")
        _fill(store, _TREE)
        store.clear()
        assert len(store) == 0 and list(store) == []

    def test_metadata_documents(self, store: Store) -> None:
        docs = {".zgroup": {"zarr_format": 2}, "g/.zgroup": {"zarr_format": 2},
                "g/.zattrs": {"title": "t", "n": [1, 2]}}
        for key, doc in docs.items():
            store[key] = json.dumps(doc).encode()
        for key, doc in docs.items():
            assert json.loads(bytes(store[key])) == doc
        assert set(store.keys()) == set(docs)
        assert _storage.contains_group(store, "g")

    # -- listing and prefix operations --------------------------------------------------

    def test_keys_and_len(self, store: Store) -> None:
        _fill(store, _TREE)
        keys = list(store.keys())
        assert sorted(keys) == sorted(_TREE) and len(keys) == len(set(keys))
        assert len(store) == len(_TREE)
        assert sorted(store) == sorted(_TREE)
        assert _contents(store) == _TREE

    def test_listdir(self, store: Store) -> None:
        _fill(store, _TREE)
        assert _storage.listdir(store, "") == ["a", "ab", "x"]
        assert _storage.listdir(store, "a") == ["b", "c"]
        assert _storage.listdir(store, "a/c") == ["d"]
        assert _storage.listdir(store, "/a/") == ["b", "c"]
        assert _storage.listdir(store, "nothing") == []

    def test_rmdir_is_exact(self, store: Store, opened: _Opened) -> None:
        _fill(store, _TREE)
        if not opened.caps.deletes:
            with pytest.raises(Exception):  # noqa: B017 - each store refuses in its own way
                _storage.rmdir(store, "a")
            assert _contents(store) == _TREE
            return
        _storage.rmdir(store, "a")
        assert _contents(store) == {"ab/e": b"333", "x": b"4444"}
        _storage.rmdir(store, "nothing")
        _storage.rmdir(store, "")
        assert len(store) == 0

    def test_special_characters_in_prefixes(self, store: Store, opened: _Opened) -> None:
        items = {f"{name}/k": name.encode() for name in SPECIAL_NAMES}
        items.update({"ABC/k": b"upper", "a_c_d/k": b"longer"})
        _fill(store, items)
        assert _contents(store) == items
        assert _storage.listdir(store, "") == sorted([*SPECIAL_NAMES, "ABC", "a_c_d"])
        for name in SPECIAL_NAMES:
            assert _storage.listdir(store, name) == ["k"]
            assert _storage.getsize(store, name) == len(name)
        if not opened.caps.deletes:
            return
        for name in ("a_c", "a%c", "a*c", "a?c", "a[c]"):
            _storage.rmdir(store, name)
            del items[f"{name}/k"]
            assert _contents(store) == items, f"rmdir({name!r}) removed other keys"

    def test_getsize(self, store: Store) -> None:
        _fill(store, _TREE)
        assert _storage.getsize(store, "a/c/d") == 2
        assert _storage.getsize(store, "a") == 1  # direct children only
        assert _storage.getsize(store, "") == 4
        assert _storage.getsize(store, "nothing") == 0

    def test_rename(self, store: Store, opened: _Opened) -> None:
        _fill(store, _TREE)
        if not opened.caps.deletes:
            with pytest.raises(Exception):  # noqa: B017 - each store refuses in its own way
                _storage.rename(store, "a", "q")
            assert _contents(store) == _TREE
            return
        _storage.rename(store, "a", "q")
        assert _contents(store) == {"q/b": b"1", "q/c/d": b"22", "ab/e": b"333", "x": b"4444"}
        with pytest.raises(KeyError):
            _storage.rename(store, "nothing", "elsewhere")

    # -- keys -----------------------------------------------------------------------------

    def test_unicode_keys(self, store: Store) -> None:
        items = {key: key.encode("utf-8") for key in _UNICODE_KEYS}
        _fill(store, items)
        assert _contents(store) == items
        assert _storage.listdir(store, "ünï") == ["cødé"]
        assert _storage.listdir(store, "") == sorted(k.split("/")[0] for k in _UNICODE_KEYS)
        assert all(isinstance(k, str) for k in store.keys())

    @pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
    def test_bad_keys_refused(self, store: Store, opened: _Opened, key: str) -> None:
        if not opened.caps.validates:
            pytest.skip("the store does not validate keys")
        store["good"] = b"1"
        with pytest.raises(ValueError):
            store[key] = b"evil"
        if opened.caps.deletes:
            with pytest.raises(ValueError):
                del store[key]
        with pytest.raises(ValueError):
            _storage.setitems(store, {"fine": b"2", key: b"evil"})
        assert _contents(store).get("good") == b"1"
        assert all(k in ("good", "fine") for k in store.keys())

    def test_non_str_keys_refused(self, store: Store, opened: _Opened) -> None:
        if not opened.caps.validates:
            pytest.skip("the store does not validate keys")
        with pytest.raises(TypeError):
            store[b"bytes-key"] = b"1"  # type: ignore[index]
        assert len(store) == 0

    def test_non_bytes_values_refused(self, store: Store, opened: _Opened) -> None:
        if not opened.caps.checks_values:
            pytest.skip("the store passes values through unchecked")
        for value in ("text", 12, None, [1, 2]):
            with pytest.raises(TypeError):
                store["v"] = value
        assert len(store) == 0

    # -- batches, pickling, threads -------------------------------------------------------

    def test_batched_io(self, store: Store, opened: _Opened) -> None:
        import zarrdask

        # chunk keys inside a real array: format stores (N5) give them meaning only there
        z = zarrdask.create((20, 1), chunks=(1, 1), dtype="u1", store=store, path="arr",
                            compressor=None, fill_value=0, dimension_separator=".")
        z[:, 0] = np.arange(1, 21, dtype="u1")  # no chunk equals the fill value
        keys = [f"arr/{i}.0" for i in range(20)]
        got = {k: bytes(v) for k, v in _storage.getitems(store, [*keys, "arr/99.0", "x"]).items()}
        assert sorted(got) == sorted(keys)
        assert all(got[k] == bytes(store[k]) for k in keys)
        own = getattr(store, "getitems", None)
        if callable(own):
            assert {k: bytes(v) for k, v in own([*keys, "arr/99.0"]).items()} == got
        if not opened.caps.deletes:
            return
        _storage.delitems(store, [*keys[:5], "arr/99.0"])
        assert zarrdask.open_array(store, mode="r", path="arr")[:, 0].tolist() == \
            [0] * 5 + list(range(6, 21))
        _storage.setitems(store, {k: got[k] for k in keys[:5]})
        assert zarrdask.open_array(store, mode="r", path="arr")[:, 0].tolist() == \
            list(range(1, 21))

    def test_pickle(self, store: Store, opened: _Opened) -> None:
        if not opened.caps.pickles:
            pytest.skip("the store does not pickle")
        _fill(store, _TREE)
        clone = pickle.loads(pickle.dumps(store))
        try:
            assert _contents(clone) == _TREE
            assert type(clone) is type(store)
        finally:
            if clone is not store:
                close_store(clone)
        assert _contents(store) == _TREE

    def test_threads_write_distinct_keys(self, store: Store, opened: _Opened) -> None:
        if not opened.caps.threads:
            pytest.skip("the store is not thread-safe")

        def work(t: int) -> None:
            for i in range(12):
                store[f"t{t}/{i}"] = f"{t}:{i}".encode() * 50

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        expected = {f"t{t}/{i}": f"{t}:{i}".encode() * 50 for t in range(8) for i in range(12)}
        assert _contents(store) == expected

    def test_threads_write_one_key(self, store: Store, opened: _Opened) -> None:
        if not (opened.caps.threads and opened.caps.overwrites):
            pytest.skip("the store is not thread-safe or cannot overwrite")
        values = [bytes([t]) * 32768 for t in range(8)]
        barrier = threading.Barrier(8)

        def work(t: int) -> None:
            barrier.wait()
            for _ in range(5):
                store["hot"] = values[t]

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        assert bytes(store["hot"]) in values  # one writer's whole value, never a mix
        assert list(store.keys()) == ["hot"]

    # -- reopening: persistence and read-only ---------------------------------------------

    def test_reopen_keeps_data(self, store: Store, opened: _Opened) -> None:
        _fill(store, _TREE)
        again = opened.reopen(store, read_only=False)
        assert _contents(again) == _TREE

    def test_read_only(self, store: Store, opened: _Opened) -> None:
        _fill(store, _TREE)
        ro = opened.reopen(store, read_only=True)
        assert _storage.is_readonly(ro)
        assert _contents(ro) == _TREE
        attempts: list[Callable[[], Any]] = [
            lambda: ro.__setitem__("new", b"1"),
            lambda: ro.__setitem__("a/b", b"changed"),
            lambda: ro.__delitem__("a/b"),
            lambda: _storage.setitems(ro, {"new": b"1"}),
            lambda: _storage.delitems(ro, ["a/b"]),
            lambda: _storage.rmdir(ro, "a"),
            lambda: _storage.rename(ro, "a", "q"),
            ro.clear,
        ]
        for attempt in attempts:
            with pytest.raises(PermissionError):
                attempt()
        assert _contents(ro) == _TREE

    # -- through zarrdask -----------------------------------------------------------------

    def test_array_roundtrip(self, store: Store, opened: _Opened) -> None:
        import zarrdask

        data = np.arange(20 * 30, dtype="i4").reshape(20, 30)
        z = zarrdask.create((20, 30), chunks=(7, 8), dtype="i4", store=store, path="g/arr")
        z[...] = data
        assert z.nchunks_initialized == z.nchunks == 12
        r = zarrdask.open_array(store, mode="r", path="g/arr")
        np.testing.assert_array_equal(r[...], data)
        np.testing.assert_array_equal(r[3:17, 5:9], data[3:17, 5:9])
        assert _storage.contains_group(store, "g") and _storage.contains_array(store, "g/arr")
        if opened.factory.reopen is not None:
            again = opened.reopen(store, read_only=True)
            np.testing.assert_array_equal(zarrdask.open_array(again, mode="r", path="g/arr")[...],
                                          data)
