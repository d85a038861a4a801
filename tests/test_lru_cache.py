"""LRUStoreCache: value and key caching, eviction, invalidation, counters, threads, staleness."""

from __future__ import annotations

import pickle
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import zarrdask
from zarrdask.errors import KeyValidationError
from zarrdask.storage import LRUStoreCache, MemoryStore
from zarrdask.storage._base import has_batch_io


class CountingStore(MemoryStore):
    """A MemoryStore that counts calls by operation (and can stall reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.after_read: Any = None

    def __getitem__(self, key: str) -> bytes:
        self.calls["get"] += 1
        value = super().__getitem__(key)
        if self.after_read is not None:
            self.after_read(key)
        return value

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        self.calls["getitems"] += 1
        return super().getitems(keys)

    def __contains__(self, key: object) -> bool:
        self.calls["contains"] += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.calls["iter"] += 1
        return super().__iter__()

    def listdir(self, path: str | None = "") -> list[str]:
        self.calls["listdir"] += 1
        return super().listdir(path)


@pytest.fixture
def inner() -> CountingStore:
    return CountingStore()


def test_values_are_cached_and_counted(inner: CountingStore) -> None:
    inner["a"] = b"1"
    cache = LRUStoreCache(inner, max_size=None)
    assert [cache["a"] for _ in range(5)] == [b"1"] * 5
    assert inner.calls["get"] == 1
    assert (cache.hits, cache.misses) == (4, 1)
    with pytest.raises(KeyError):
        cache["missing"]
    assert cache.misses == 2


def test_lru_eviction_by_bytes(inner: CountingStore) -> None:
    for name in "abcd":
        inner[name] = name.encode() * 10
    cache = LRUStoreCache(inner, max_size=30)
    cache["a"], cache["b"], cache["c"]
    cache["a"]  # a is now the most recently used
    cache["d"]  # evicts b, the least recently used
    inner.calls.clear()
    cache["a"], cache["c"], cache["d"]
    assert inner.calls["get"] == 0
    cache["b"]
    assert inner.calls["get"] == 1


def test_value_larger_than_max_size_is_not_cached(inner: CountingStore) -> None:
    inner["big"] = b"x" * 100
    cache = LRUStoreCache(inner, max_size=99)
    cache["big"], cache["big"]
    assert inner.calls["get"] == 2 and cache.hits == 0


def test_zero_max_size_caches_no_values(inner: CountingStore) -> None:
    inner["a"] = b"1"
    cache = LRUStoreCache(inner, max_size=0)
    cache["a"], cache["a"]
    assert inner.calls["get"] == 2


def test_keys_contains_and_listdir_are_cached(inner: CountingStore) -> None:
    inner.update({"g/a": b"1", "g/b": b"2"})
    cache = LRUStoreCache(inner, max_size=None)
    for _ in range(3):
        assert sorted(cache.keys()) == ["g/a", "g/b"] and len(cache) == 2
        assert cache.listdir("g") == ["a", "b"]
        assert "g/zzz" not in cache
    assert inner.calls["iter"] == 1 and inner.calls["listdir"] == 1
    # once the key list is cached, `in` is answered from it
    assert inner.calls["contains"] <= 1
    cache["g/c"] = b"3"  # a write through the cache drops the key caches
    assert cache.listdir("g") == ["a", "b", "c"] and "g/c" in cache and len(cache) == 3
    del cache["g/a"]
    assert cache.listdir("g") == ["b", "c"] and "g/a" not in cache


def test_writes_go_through_and_invalidate_the_value(inner: CountingStore) -> None:
    cache = LRUStoreCache(inner, max_size=None)
    cache["k"] = b"old"
    assert cache["k"] == b"old"
    cache["k"] = b"new"
    assert inner["k"] == b"new" and cache["k"] == b"new"
    cache.setitems({"k": b"batch", "j": b"2"})
    assert cache["k"] == b"batch" and cache.getitems(["j", "k", "x"]) == {"j": b"2", "k": b"batch"}
    cache.delitems(["k", "nothing"])
    assert "k" not in inner
    with pytest.raises(KeyError):
        cache["k"]


def test_another_writer_is_seen_only_after_invalidate(inner: CountingStore) -> None:
    inner.update({"k": b"v1", "g/a": b""})
    cache = LRUStoreCache(inner, max_size=None)
    assert cache["k"] == b"v1" and cache.listdir("g") == ["a"]
    inner["k"] = b"v2"  # written behind the cache's back
    inner["g/b"] = b""
    assert cache["k"] == b"v1" and cache.listdir("g") == ["a"]  # stale, as documented
    cache.invalidate_values()
    assert cache["k"] == b"v2" and cache.listdir("g") == ["a"]
    cache.invalidate_keys()
    assert cache.listdir("g") == ["a", "b"]
    inner["k"] = b"v3"
    cache.invalidate()
    assert cache["k"] == b"v3"


def test_getitems_batches_only_the_misses(inner: CountingStore) -> None:
    inner.update({f"c/{i}": bytes([i]) for i in range(10)})
    cache = LRUStoreCache(inner, max_size=None)
    cache["c/0"], cache["c/1"]
    got = cache.getitems([f"c/{i}" for i in range(12)])
    assert got == {f"c/{i}": bytes([i]) for i in range(10)}
    assert inner.calls["getitems"] == 1
    assert (cache.hits, cache.misses) == (2, 12)
    cache.getitems([f"c/{i}" for i in range(10)])
    assert inner.calls["getitems"] == 1 and cache.hits == 12


def test_a_read_racing_a_write_does_not_cache_the_old_value(inner: CountingStore) -> None:
    inner["k"] = b"old"
    cache = LRUStoreCache(inner, max_size=None)
    fetched = threading.Event()
    written = threading.Event()

    def stall(key: str) -> None:  # the reader has read "old" but not returned yet
        fetched.set()
        assert written.wait(5)

    inner.after_read = stall
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(cache["k"]))
    reader.start()
    assert fetched.wait(5)
    cache["k"] = b"new"  # lands while the reader holds the old value
    written.set()
    reader.join(5)
    inner.after_read = None
    assert result == [b"old"]
    assert cache["k"] == b"new"  # the old value was not cached after the write


def test_threads(inner: CountingStore) -> None:
    cache = LRUStoreCache(inner, max_size=4000)
    for i in range(50):
        inner[f"k{i}"] = bytes([i]) * 100

    def work(t: int) -> None:
        for n in range(300):
            i = (n * 7 + t) % 50
            if n % 10 == 0:
                cache[f"k{i}"] = bytes([i]) * 100
            assert cache[f"k{i}"] == bytes([i]) * 100

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert cache.hits + cache.misses == 8 * 300
    assert cache._current_size == sum(len(v) for v in cache._values_cache.values()) <= 4000


def test_pickle_is_compact_and_starts_cold(inner: CountingStore) -> None:
    store = MemoryStore()
    store["a"] = b"1"
    cache = LRUStoreCache(store, max_size=1000)
    cache["a"]
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.max_size == 1000 and clone.hits == 0 and clone["a"] == b"1"
    assert clone.misses == 1
    assert cache.__getstate__() == (store, 1000)


def test_bad_arguments_and_keys() -> None:
    with pytest.raises(TypeError):
        LRUStoreCache([1, 2], max_size=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LRUStoreCache({}, max_size=-1)
    cache = LRUStoreCache({}, max_size=10)  # a plain dict does not validate: the cache does
    for key in ("../evil", "/abs", "a//b"):
        with pytest.raises(KeyValidationError):
            cache[key] = b"x"
    assert cache.store == {}


def test_read_only_store_passes_its_errors_through() -> None:
    inner = MemoryStore({"a": b"1"}, read_only=True)
    cache = LRUStoreCache(inner, max_size=None)
    assert cache.read_only and cache["a"] == b"1"
    with pytest.raises(PermissionError):
        cache["a"] = b"2"
    with pytest.raises(PermissionError):
        cache.rmdir("")
    assert cache["a"] == b"1"


def test_batch_io_follows_the_wrapped_store() -> None:
    assert not has_batch_io(LRUStoreCache(MemoryStore(), max_size=None))
    fsspec_module = pytest.importorskip("zarrdask.storage.fsspec")
    remote_like = fsspec_module.FSStore("memory://lru-batch")
    assert has_batch_io(LRUStoreCache(remote_like, max_size=None)) == has_batch_io(remote_like)


def test_array_through_the_cache(inner: CountingStore) -> None:
    data = np.arange(100, dtype="f8").reshape(10, 10)
    cache = LRUStoreCache(inner, max_size=2**20)
    z = zarrdask.array(data, chunks=(5, 5), store=cache)
    np.testing.assert_array_equal(z[...], data)
    inner.calls.clear()
    r = zarrdask.open_array(cache, mode="r")
    np.testing.assert_array_equal(r[...], data)
    assert inner.calls["get"] == 0 and inner.calls["getitems"] == 0  # all from the cache
    z[0, 0] = -1  # written through the cache: the next read sees it
    assert r[0, 0] == -1
