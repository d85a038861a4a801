"""Stores: the store classes, the store helpers and ``normalize_store_arg``.

One store family per module (``memory``, ``directory``, ...); this package
re-exports them, holds the ``default_compressor`` setting (created lazily on
first access, read by array creation each time an array is created, so
``zarrdask.storage.default_compressor = Zstd(level=1)`` works as in zarr 2) and turns a
user's ``store`` argument into a store.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from zarrdask.storage._base import (
    BaseStore,
    contains_array,
    contains_group,
    delitems,
    getitems,
    getsize,
    is_readonly,
    listdir,
    rename,
    rmdir,
    setitems,
    store_type_name,
)
from zarrdask.storage.abs import ABSStore
from zarrdask.storage.cache import LRUStoreCache
from zarrdask.storage.dbm import DBMStore
from zarrdask.storage.directory import DirectoryStore, NestedDirectoryStore, TempStore
from zarrdask.storage.fsspec import FSStore
from zarrdask.storage.lmdb import LMDBStore
from zarrdask.storage.memory import KVStore, MemoryStore
from zarrdask.storage.mongodb import MongoDBStore
from zarrdask.storage.n5 import N5FSStore, N5Store
from zarrdask.storage.redis import RedisStore
from zarrdask.storage.sqlite import SQLiteStore
from zarrdask.storage.zip import ZipStore

__all__ = [
    "ABSStore",
    "BaseStore",
    "DBMStore",
    "DirectoryStore",
    "FSStore",
    "KVStore",
    "LMDBStore",
    "LRUStoreCache",
    "MemoryStore",
    "MongoDBStore",
    "N5FSStore",
    "N5Store",
    "NestedDirectoryStore",
    "RedisStore",
    "SQLiteStore",
    "TempStore",
    "ZipStore",
    "contains_array",
    "contains_group",
    "default_compressor",
    "delitems",
    "getitems",
    "getsize",
    "is_readonly",
    "listdir",
    "normalize_store_arg",
    "rename",
    "rmdir",
    "setitems",
    "store_type_name",
]


def __getattr__(name: str) -> Any:
    """Create ``default_compressor`` on first use (keeps numcodecs out of store-only imports).

    ``default_compressor`` is the compressor used for new arrays when none is
    given: ``Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE)``. Assigning
    ``zarrdask.storage.default_compressor = ...`` replaces it.
    """
    if name == "default_compressor":
        import numcodecs

        value = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        globals()["default_compressor"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_url(path: str) -> bool:
    return "://" in path or "::" in path


def _store_from_path(
    path: str,
    storage_options: dict[str, Any] | None,
    mode: str,
    dimension_separator: str | None,
) -> MutableMapping[str, bytes]:
    """Choose the store for a path string, as zarr 2 does (URL, ``.zip``, ``.n5``, folder).

    URLs (``s3://...``, ``simplecache::s3://...``) become an ``FSStore`` (an
    ``N5FSStore`` when the URL ends in ``.n5``) with ``mode`` and
    ``storage_options``; local paths ending in ``.zip`` a ``ZipStore`` opened in
    ``mode``, in ``.n5`` an ``N5Store``, anything else a ``DirectoryStore``.
    Store modules are imported only when chosen.
    """
    if _is_url(path):
        options = dict(storage_options or {})
        if path.rstrip("/").endswith(".n5"):
            from zarrdask.storage.n5 import N5FSStore

            return N5FSStore(path, mode=mode, dimension_separator=dimension_separator,
                             **options)
        from zarrdask.storage.fsspec import FSStore

        return FSStore(path, mode=mode, dimension_separator=dimension_separator, **options)
    if storage_options:
        raise ValueError(
            f"storage_options were given with the local path {path!r}; they are only "
            "used with fsspec URLs such as 's3://bucket/data.zarr'"
        )
    if path.endswith(".zip"):
        from zarrdask.storage.zip import ZipStore

        return ZipStore(path, mode=mode, dimension_separator=dimension_separator)
    if path.rstrip("/" + os.sep).endswith(".n5"):
        from zarrdask.storage.n5 import N5Store

        return N5Store(path, dimension_separator=dimension_separator)
    # Opening never creates the folder: a missing path in mode 'r' is left to the caller.
    return DirectoryStore(path, dimension_separator=dimension_separator)


def normalize_store_arg(
    store: Any,
    storage_options: dict[str, Any] | None = None,
    mode: str = "r",
    dimension_separator: str | None = None,
) -> MutableMapping[str, bytes]:
    """Turn a user's ``store`` argument into a store.

    Parameters
    ----------
    store : None, str, os.PathLike or MutableMapping
        ``None`` gives a new :class:`MemoryStore`; a URL (``://`` or ``::``)
        an ``FSStore`` (``N5FSStore`` if it ends in ``.n5``); a path ending in
        ``.zip`` a ``ZipStore``, in ``.n5`` an ``N5Store``, any other path a
        :class:`DirectoryStore`; a mapping is returned as it is (a ``dict``
        stays a ``dict``).
    storage_options : dict, optional
        Options for fsspec URLs; an error with a local path.
    mode : str, optional
        The caller's open mode (``'r'``, ``'r+'``, ``'a'``, ``'w'``, ``'w-'``).
        Nothing is created on disk here, whatever the mode.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk separator of a newly made store.

    Returns
    -------
    MutableMapping
        The store.

    Raises
    ------
    TypeError
        If ``store`` is none of the above.

    Examples
    --------
    >>> normalize_store_arg(None)
    <MemoryStore: 0 keys>
    >>> d = {}
    >>> normalize_store_arg(d) is d
    True
    """
    if store is None:
        return MemoryStore(dimension_separator=dimension_separator)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if isinstance(store, str):
        return _store_from_path(store, storage_options, mode, dimension_separator)
    if isinstance(store, MutableMapping):
        return store
    raise TypeError(
        "store must be None, a path (str or os.PathLike) or a MutableMapping, "
        f"not {type(store).__module__}.{type(store).__qualname__}"
    )
