"""``RedisStore``: keys as Redis strings named ``<prefix>:<key>``.

The prefix is taken literally: listings use ``SCAN`` (never the blocking
``KEYS``) with the prefix's glob characters escaped, and every result is
checked against the exact prefix. Batched reads use one ``MGET`` per 1000 keys,
batched writes one ``MSET`` (atomic in Redis) and batched deletes one ``DEL``.
Keys are stored UTF-8 encoded. A connection or server error propagates; only a
key Redis does not have is a :class:`KeyError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes

__all__ = ["RedisStore"]

_BATCH = 1000
_SCAN_COUNT = 1000


def _escape_glob(text: str) -> str:
    """Escape Redis glob characters (``* ? [ ] \\``) so ``text`` matches only itself.

    Examples
    --------
    >>> _escape_glob("a?[b]*")
    'a\\\\?\\\\[b\\\\]\\\\*'
    """
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class RedisStore(BaseStore):
    """A store in a Redis database, each key a Redis string ``<prefix>:<key>``.

    Parameters
    ----------
    prefix : str, optional
        Name prefix of this store's Redis keys (``"zarr"`` by default). It is
        literal: ``"a?"`` never sees the keys of a store with prefix ``"ab"``.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    read_only : bool, optional
        Refuse every write and delete.
    **kwargs
        Passed to :class:`redis.Redis` (``host``, ``port``, ``db``, ``password``...).

    Notes
    -----
    The store pickles by its arguments (a new connection pool on unpickling).
    ``getsize`` and ``listdir`` scan the prefix with ``SCAN``.

    Examples
    --------
    >>> store = RedisStore(prefix="doc", host="127.0.0.1", port=6379)  # doctest: +SKIP
    >>> store["foo/0.0"] = b"abc"  # doctest: +SKIP
    """

    def __init__(
        self,
        prefix: str = "zarr",
        dimension_separator: str | None = None,
        *,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        import redis

        if not isinstance(prefix, str):
            raise TypeError(f"RedisStore prefix must be a str, not {type(prefix).__name__}")
        check_dimension_separator(dimension_separator)
        self._prefix = prefix
        self._dimension_separator = dimension_separator
        self.read_only = bool(read_only)
        self._kwargs = kwargs
        self.client = redis.Redis(**kwargs)
        self._head = f"{prefix}:".encode()

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._prefix, self._dimension_separator, self.read_only, self._kwargs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        prefix, separator, read_only, kwargs = state
        RedisStore.__init__(self, prefix, separator, read_only=read_only, **kwargs)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RedisStore) and other._prefix == self._prefix
                and other._kwargs == self._kwargs)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # -- names -------------------------------------------------------------------------

    def _name(self, key: str) -> bytes:
        return self._head + validate_key(key).encode("utf-8")

    def _scan(self, path_prefix: str) -> Iterator[str]:
        """Yield this store's keys that start with ``path_prefix`` (exact)."""
        head = self._head + path_prefix.encode("utf-8")
        pattern = _escape_glob(f"{self._prefix}:{path_prefix}") + "*"
        n = len(self._head)
        for name in self.client.scan_iter(match=pattern, count=_SCAN_COUNT):
            if name.startswith(head):  # the escaped pattern already is exact; be sure
                yield name[n:].decode("utf-8")

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        value = self.client.get(self._name(key))
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        self.client.set(self._name(key), ensure_bytes(value))

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        if self.client.delete(self._name(key)) == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self.client.exists(self._name(key)))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._scan("")))

    def __len__(self) -> int:
        return sum(1 for _ in self._scan(""))

    def keys(self) -> Any:
        """Return the store's keys (one SCAN of the prefix)."""
        return list(self._scan(""))

    def clear(self) -> None:
        """Remove every key of this store (and no other)."""
        self.rmdir("")

    # -- batched I/O -------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys with ``MGET`` (1000 per round trip); missing keys are left out."""
        keys = list(keys)
        out: dict[str, bytes] = {}
        for batch in _batches(keys):
            values = self.client.mget([self._name(k) for k in batch])
            out.update((k, bytes(v)) for k, v in zip(batch, values, strict=True) if v is not None)
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys with ``MSET`` (each batch of 1000 is atomic)."""
        pairs = [(k, v) for k, v in items.items()]
        for key, _ in pairs:
            self._check_writable(key)
        named = [(self._name(k), ensure_bytes(v)) for k, v in pairs]
        for batch in _batches(named):
            self.client.mset(dict(batch))

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys with ``DEL`` (1000 per round trip); missing keys are ignored."""
        names = []
        for key in keys:
            self._check_writable(key)
            names.append(self._name(key))
        for batch in _batches(names):
            self.client.delete(*batch)

    # -- hierarchy ---------------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path`` (SCAN of ``path/``)."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in self._scan(prefix) if len(k) > n})

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""``: every key of the store)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        doomed = list(self._scan(prefix_of(path)))
        for batch in _batches(doomed):
            self.client.delete(*[self._name(k) for k in batch])

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the key ``path``, or the total size of the keys directly under it."""
        path = normalize_storage_path(path)
        if path:
            size = self.client.strlen(self._name(path))
            if size or path in self:
                return int(size)
        prefix = prefix_of(path)
        n = len(prefix)
        direct = [k for k in self._scan(prefix) if "/" not in k[n:]]
        total = 0
        for batch in _batches(direct):
            pipe = self.client.pipeline(transaction=False)
            for key in batch:
                pipe.strlen(self._name(key))
            total += sum(int(s) for s in pipe.execute())
        return total
