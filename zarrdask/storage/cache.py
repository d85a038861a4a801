"""``LRUStoreCache``: an in-memory least-recently-used cache in front of another store.

Values are cached up to ``max_size`` bytes (least recently used evicted
first); the key list, ``in`` answers and ``listdir`` results are cached until
a write, delete or ``invalidate*`` call through this object. Writes go
straight through to the wrapped store. Another process (or another handle)
writing the same store is not seen until :meth:`LRUStoreCache.invalidate` is
called: the cache is for data that does not change under it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from zarrdask.keys import normalize_storage_path, validate_key
from zarrdask.storage import _base
from zarrdask.storage._base import BaseStore, ensure_bytes, has_batch_io, is_readonly

__all__ = ["LRUStoreCache"]


class LRUStoreCache(BaseStore):
    """Cache the values and keys of ``store`` in memory, evicting least recently used values.

    Parameters
    ----------
    store : MutableMapping
        The store to cache (any mapping, a plain ``dict`` included).
    max_size : int or None
        Most bytes of values to keep; ``None`` keeps every value read.

    Attributes
    ----------
    hits, misses : int
        Value reads served from the cache, and reads that went to the store.

    Notes
    -----
    Thread-safe: the caches are guarded by one lock, held only for cache
    bookkeeping, never during store I/O. Written values are not cached (a
    store may transform what it is given, as N5 stores do with metadata); the
    next read fetches them. A value read from the store while a
    write to the same store went through this object is not cached (it may be
    stale). Values are cached as ``bytes``; a value larger than ``max_size``
    is never cached. Pickling keeps ``store`` and ``max_size``; the copy starts
    with empty caches.

    Examples
    --------
    >>> from zarrdask.storage import MemoryStore
    >>> cache = LRUStoreCache(MemoryStore(), max_size=2**20)
    >>> cache["foo/0.0"] = b"abc"
    >>> cache["foo/0.0"], cache["foo/0.0"]
    (b'abc', b'abc')
    >>> cache.hits, cache.misses
    (1, 1)
    >>> cache.invalidate_values()
    >>> _ = cache["foo/0.0"]
    >>> cache.hits, cache.misses
    (1, 2)
    """

    #: Metadata is read back after creating a node, which puts it into the cache.
    metadata_verbatim = False

    def __init__(self, store: MutableMapping[str, Any], max_size: int | None) -> None:
        if not isinstance(store, MutableMapping):
            raise TypeError(f"LRUStoreCache wraps a MutableMapping, not {type(store).__name__}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 0):
            raise ValueError(f"max_size must be None or an int >= 0, not {max_size!r}")
        self._store = store
        self._max_size = max_size
        self._mutex = threading.Lock()
        self._values_cache: OrderedDict[str, bytes] = OrderedDict()
        self._current_size = 0
        self._keys_cache: list[str] | None = None
        self._contains_cache: dict[str, bool] = {}
        self._listdir_cache: dict[str, list[str]] = {}
        self._generation = 0  # bumped by every write or invalidation
        self.hits = 0
        self.misses = 0

    # -- pickling, identity, life cycle ---------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._store, self._max_size)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        LRUStoreCache.__init__(self, *state)

    def __repr__(self) -> str:
        return f"LRUStoreCache({self._store!r}, max_size={self._max_size!r})"

    @property
    def store(self) -> MutableMapping[str, Any]:
        """The wrapped store."""
        return self._store

    @property
    def max_size(self) -> int | None:
        """The most bytes of values kept (None: unbounded)."""
        return self._max_size

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        """Whether the wrapped store refuses writes."""
        return is_readonly(self._store)

    @property
    def _dimension_separator(self) -> str | None:
        return getattr(self._store, "_dimension_separator", None)

    @property
    def _prefer_per_key_io(self) -> bool:
        # batch through us exactly when the wrapped store batches
        return not has_batch_io(self._store)

    def close(self) -> None:
        """Close the wrapped store (if it can be closed)."""
        close = getattr(self._store, "close", None)
        if callable(close):
            close()

    # -- cache bookkeeping (callers hold the mutex) ----------------------------------------

    def _forget_value(self, key: str) -> None:
        value = self._values_cache.pop(key, None)
        if value is not None:
            self._current_size -= len(value)

    def _forget_keys(self) -> None:
        self._keys_cache = None
        self._contains_cache.clear()
        self._listdir_cache.clear()

    def _remember(self, key: str, value: bytes, generation: int) -> None:
        """Cache a value read at ``generation`` unless a write happened since."""
        size = len(value)
        if generation != self._generation or (self._max_size is not None
                                               and size > self._max_size):
            return
        self._forget_value(key)
        if self._max_size is not None:
            while self._current_size + size > self._max_size:
                _, old = self._values_cache.popitem(last=False)
                self._current_size -= len(old)
        self._values_cache[key] = value
        self._current_size += size

    def _written(self, keys: Iterable[str]) -> None:
        with self._mutex:
            self._generation += 1
            for key in keys:
                self._forget_value(key)
            self._forget_keys()

    # -- invalidation ---------------------------------------------------------------------

    def invalidate(self) -> None:
        """Empty every cache (values, keys, ``in`` answers and listings)."""
        with self._mutex:
            self._generation += 1
            self._values_cache.clear()
            self._current_size = 0
            self._forget_keys()

    def invalidate_values(self) -> None:
        """Empty the value cache."""
        with self._mutex:
            self._generation += 1
            self._values_cache.clear()
            self._current_size = 0

    def invalidate_keys(self) -> None:
        """Empty the key, ``in`` and listing caches."""
        with self._mutex:
            self._forget_keys()

    # -- mapping --------------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        with self._mutex:
            value = self._values_cache.get(key)
            if value is not None:
                self._values_cache.move_to_end(key)
                self.hits += 1
                return value
            self.misses += 1
            generation = self._generation
        value = ensure_bytes(self._store[key])  # outside the lock: I/O may be slow
        with self._mutex:
            self._remember(key, value, generation)
        return value

    def __setitem__(self, key: str, value: bytes) -> None:
        validate_key(key)
        try:
            self._store[key] = value
        finally:  # even a failed write may have changed the store
            self._written([key])

    def __delitem__(self, key: str) -> None:
        validate_key(key)
        try:
            del self._store[key]
        finally:
            self._written([key])

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._mutex:
            if key in self._values_cache:
                return True
            if self._keys_cache is not None:
                return key in self._keys_cache
            known = self._contains_cache.get(key)
            if known is not None:
                return known
        found = key in self._store
        with self._mutex:
            self._contains_cache[key] = found
        return found

    def _keys(self) -> list[str]:
        with self._mutex:
            if self._keys_cache is not None:
                return self._keys_cache
        keys = list(self._store.keys())
        with self._mutex:
            self._keys_cache = keys
        return keys

    def keys(self) -> Any:
        """Return the (cached) keys of the wrapped store."""
        return self._keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def clear(self) -> None:
        """Remove every key of the wrapped store and empty the caches."""
        try:
            self._store.clear()
        finally:
            self.invalidate()

    # -- capabilities ---------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys: cached ones from memory, the rest in one batch from the store."""
        out: dict[str, bytes] = {}
        wanted: list[str] = []
        with self._mutex:
            for key in keys:
                value = self._values_cache.get(key)
                if value is None:
                    wanted.append(key)
                else:
                    self._values_cache.move_to_end(key)
                    out[key] = value
            self.hits += len(out)
            self.misses += len(wanted)
            generation = self._generation
        if wanted:
            fetched = {k: ensure_bytes(v) for k, v in _base.getitems(self._store, wanted).items()}
            with self._mutex:
                for key, value in fetched.items():
                    self._remember(key, value, generation)
            out.update(fetched)
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys through to the store (batched if the store batches)."""
        for key in items:
            validate_key(key)
        try:
            _base.setitems(self._store, items)
        finally:
            self._written(items)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys from the store; missing keys are ignored."""
        keys = list(keys)
        for key in keys:
            validate_key(key)
        try:
            _base.delitems(self._store, keys)
        finally:
            self._written(keys)

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the (cached) child names under ``path``."""
        path = normalize_storage_path(path)
        with self._mutex:
            cached = self._listdir_cache.get(path)
            if cached is not None:
                return list(cached)
        names = _base.listdir(self._store, path)
        with self._mutex:
            self._listdir_cache[path] = list(names)
        return names

    def getsize(self, path: str | None = "") -> int:
        """Return the size of ``path`` as the wrapped store reports it (not cached)."""
        return _base.getsize(self._store, path)

    def rmdir(self, path: str | None = "") -> None:
        """Remove everything under ``path`` in the store and empty the caches."""
        try:
            _base.rmdir(self._store, path)
        finally:
            self.invalidate()

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` to ``dst_path`` in the store and empty the caches."""
        try:
            _base.rename(self._store, src_path, dst_path)
        finally:
            self.invalidate()
