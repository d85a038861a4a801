"""zarrdask: the Zarr v2 format and the zarr 2.x API, built for parallel work.

``import zarrdask as zarr`` gives the zarr-python 2.x API. This module only
re-exports public names.
"""

from __future__ import annotations

from typing import Any

from zarrdask import config, errors, storage
from zarrdask.attrs import Attributes
from zarrdask.codecs import CodecPipeline
from zarrdask.consolidated import consolidate_metadata, open_consolidated
from zarrdask.convenience import load, open, save, save_array
from zarrdask.copying import copy, copy_all, copy_store
from zarrdask.core import Array
from zarrdask.creation import (
    array,
    create,
    empty,
    empty_like,
    full,
    full_like,
    ones,
    ones_like,
    open_array,
    open_like,
    zeros,
    zeros_like,
)
from zarrdask.hierarchy import Group, group, open_group, save_group, tree
from zarrdask.storage import (
    ABSStore,
    DBMStore,
    DirectoryStore,
    FSStore,
    KVStore,
    LMDBStore,
    LRUStoreCache,
    MemoryStore,
    MongoDBStore,
    N5FSStore,
    N5Store,
    NestedDirectoryStore,
    RedisStore,
    SQLiteStore,
    TempStore,
    ZipStore,
)
from zarrdask.sync import ProcessSynchronizer, ThreadSynchronizer

__version__ = "0.1.0"

__all__ = [
    "ABSStore",
    "Array",
    "Attributes",
    "CodecPipeline",
    "DBMStore",
    "DirectoryStore",
    "FSStore",
    "Group",
    "KVStore",
    "LMDBStore",
    "LRUStoreCache",
    "MemoryStore",
    "MongoDBStore",
    "N5FSStore",
    "N5Store",
    "NestedDirectoryStore",
    "ProcessSynchronizer",
    "RedisStore",
    "SQLiteStore",
    "TempStore",
    "ThreadSynchronizer",
    "ZipStore",
    "__version__",
    "array",
    "config",
    "consolidate_metadata",
    "copy",
    "copy_all",
    "copy_store",
    "create",
    "empty",
    "empty_like",
    "errors",
    "full",
    "full_like",
    "group",
    "load",
    "ones",
    "ones_like",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
    "open_like",
    "save",
    "save_array",
    "save_group",
    "storage",
    "tree",
    "zeros",
    "zeros_like",
]

_DASK_NAMES = ("initialize", "store", "to_dask", "to_zarr")


def __getattr__(name: str) -> Any:
    """The dask functions, imported on first use (``import zarrdask`` never imports dask)."""
    if name in _DASK_NAMES:
        from zarrdask import dask_array

        return getattr(dask_array, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
