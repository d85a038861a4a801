"""In-memory stores: ``MemoryStore`` (a flat dict of bytes) and ``KVStore`` (wraps a mapping).

Both pickle with their data, so arrays on them can be sent to dask workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import (
    BaseStore,
    _generic_rename,
    check_dimension_separator,
    ensure_bytes,
    metadata_verbatim,
)

__all__ = ["KVStore", "MemoryStore"]


def _flatten(root: Mapping[str, Any], prefix: str, out: dict[str, bytes]) -> None:
    """Copy ``root`` into ``out``; nested mappings (zarr 2's tree form) become ``a/b`` keys."""
    for name, value in root.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            _flatten(value, f"{key}/", out)
        else:
            out[validate_key(key)] = ensure_bytes(value)


class MemoryStore(BaseStore):
    """A store holding its keys in a flat ``dict`` of ``bytes``.

    Parameters
    ----------
    root : mapping, optional
        Initial contents: flat ``{key: bytes}`` or zarr 2's nested dict form.
        It is copied.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    read_only : bool, optional
        Refuse every write and delete.

    Notes
    -----
    Single-key reads and writes are plain dict operations (atomic under the
    GIL), so threads may write different keys at once. Multi-key operations
    (``rename``, ``rmdir``) take a lock. Values are stored as ``bytes``.

    Examples
    --------
    >>> import pickle
    >>> store = MemoryStore()
    >>> store["foo/0.0"] = b"abc"
    >>> store.listdir("foo")
    ['0.0']
    >>> pickle.loads(pickle.dumps(store)) == store
    True
    """

    #: Chunk I/O reads keys one by one on its decoding threads (see ``has_batch_io``).
    _prefer_per_key_io = True

    def __init__(
        self,
        root: Mapping[str, Any] | None = None,
        dimension_separator: str | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        data: dict[str, bytes] = {}
        if root is not None:
            _flatten(root, "", data)
        self._data = data
        self._dimension_separator = check_dimension_separator(dimension_separator)
        self.read_only = bool(read_only)
        self._lock = threading.RLock()

    # -- pickling ---------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {
            "data": dict(self._data),
            "dimension_separator": self._dimension_separator,
            "read_only": self.read_only,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state["data"]
        self._dimension_separator = state["dimension_separator"]
        self.read_only = state["read_only"]
        self._lock = threading.RLock()

    # -- mapping ----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        validate_key(key)
        self._data[key] = ensure_bytes(value)

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryStore) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<MemoryStore: {len(self._data)} keys>"

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable("")
        self._data.clear()

    # -- capabilities -----------------------------------------------------------------

    def getitems(self, keys: Any) -> dict[str, bytes]:
        """Read several keys; missing keys are left out."""
        data = self._data
        return {k: data[k] for k in keys if k in data}

    def listdir(self, path: str | None = "") -> list[str]:
        """Return sorted child names one level under ``path`` (a prefix scan)."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in list(self._data)
                       if len(k) > n and k.startswith(prefix)})

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""`` removes all)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        prefix = prefix_of(path)
        with self._lock:
            for key in [k for k in list(self._data) if k.startswith(prefix)]:
                self._data.pop(key, None)

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the value at ``path``, or the sum of values directly under it."""
        path = normalize_storage_path(path)
        data = self._data
        if path in data:
            return len(data[path])
        prefix = prefix_of(path)
        n = len(prefix)
        return sum(
            len(v)
            for k, v in list(data.items())
            if len(k) > n and k.startswith(prefix) and "/" not in k[n:]
        )

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` and everything under ``src_path/`` to ``dst_path``."""
        src_path = normalize_storage_path(src_path)
        dst_path = normalize_storage_path(dst_path)
        self._check_writable(src_path)
        with self._lock:
            _generic_rename(self, src_path, dst_path)


class KVStore(BaseStore):
    """Wrap any ``MutableMapping`` (a plain ``dict``...) as a zarrdask store.

    Every operation is delegated; keys are validated on write and delete.
    The store pickles if the wrapped mapping does.

    Parameters
    ----------
    mutablemapping : MutableMapping
        The mapping to wrap (not copied).
    read_only : bool, optional
        Refuse every write and delete.

    Examples
    --------
    >>> d = {}
    >>> store = KVStore(d)
    >>> store["a/b"] = b"1"
    >>> d
    {'a/b': b'1'}
    """

    def __init__(self, mutablemapping: MutableMapping[str, Any], *,
                 read_only: bool = False) -> None:
        if not isinstance(mutablemapping, MutableMapping):
            raise TypeError(
                f"KVStore wraps a MutableMapping, not {type(mutablemapping).__name__}"
            )
        self._mutable_mapping = mutablemapping
        self.read_only = bool(read_only)

    @property
    def metadata_verbatim(self) -> bool:  # type: ignore[override]
        """Whether the wrapped mapping returns metadata as written."""
        return metadata_verbatim(self._mutable_mapping)

    def __getitem__(self, key: str) -> bytes:
        return self._mutable_mapping[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        validate_key(key)
        self._mutable_mapping[key] = value

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)
        del self._mutable_mapping[key]

    def __contains__(self, key: object) -> bool:
        return key in self._mutable_mapping

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._mutable_mapping))

    def __len__(self) -> int:
        return len(self._mutable_mapping)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KVStore) and self._mutable_mapping == other._mutable_mapping

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<KVStore: {type(self._mutable_mapping).__name__} with {len(self)} keys>"

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable("")
        self._mutable_mapping.clear()
