"""Convenience functions: ``open``, ``save``, ``save_array``, ``load``.

``open`` tells an array from a group; group-level functions live in
:mod:`zarrdask.hierarchy` and are imported when a group is involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the doctests use it

from zarrdask.core import Array
from zarrdask.creation import array as _array
from zarrdask.creation import open_array
from zarrdask.errors import PathNotFoundError
from zarrdask.keys import normalize_storage_path
from zarrdask.storage import normalize_store_arg
from zarrdask.storage._base import contains_array, contains_group

__all__ = ["load", "open", "save", "save_array"]


def _open_group(store: Any, mode: str, path: str, **kwargs: Any) -> Any:
    from zarrdask.hierarchy import open_group

    return open_group(store, mode=mode, path=path, **kwargs)


def open(store: Any = None, mode: str = "a", *, path: str | None = None,  # noqa: A001
         **kwargs: Any) -> Any:
    """Open an array or group, creating one where the mode allows.

    With ``r``/``r+`` the store must hold an array or group at ``path``. With
    ``w``/``w-``/``a``, an array is created when ``shape`` is given, else a group.

    Raises
    ------
    PathNotFoundError
        ``r``/``r+`` where nothing exists.

    Examples
    --------
    >>> import zarrdask, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "example.zarr")
    >>> z = zarrdask.open(p, mode="w", shape=(10,), chunks=(5,), dtype="i4")
    >>> zarrdask.open(p, mode="r")
    <zarrdask.core.Array (10,) int32 read-only>
    """
    storage_options = kwargs.pop("storage_options", None)
    store = normalize_store_arg(store, storage_options=storage_options, mode=mode,
                                dimension_separator=kwargs.get("dimension_separator"))
    path = normalize_storage_path(path)
    if mode in ("r", "r+"):
        if contains_array(store, path):
            return open_array(store, mode=mode, path=path, **kwargs)
        if contains_group(store, path):
            return _open_group(store, mode, path, **kwargs)
        raise PathNotFoundError(path)
    if mode == "a" and contains_array(store, path):
        return open_array(store, mode=mode, path=path, **kwargs)
    if mode == "a" and contains_group(store, path):
        return _open_group(store, mode, path, **kwargs)
    if "shape" in kwargs:
        return open_array(store, mode=mode, path=path, **kwargs)
    return _open_group(store, mode, path, **kwargs)


def save_array(store: Any, arr: Any, *, path: str | None = None, **kwargs: Any) -> None:
    """Save a numpy array to a store (a path means a directory store), replacing what is there.

    Examples
    --------
    >>> import zarrdask, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "data.zarr")
    >>> zarrdask.save_array(p, np.arange(10))
    >>> zarrdask.load(p)
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    storage_options = kwargs.pop("storage_options", None)
    opened = normalize_store_arg(store, storage_options=storage_options, mode="w")
    try:
        _array(arr, store=opened, overwrite=True, path=path, **kwargs)
    finally:
        _close_if_opened_here(store, opened)


def _close_if_opened_here(given: Any, store: Any) -> None:
    """Close a store this module opened from a path or URL (a ZipStore writes on close)."""
    if store is not given and hasattr(store, "close"):
        store.close()


def save(store: Any, *args: Any, path: str | None = None, **kwargs: Any) -> None:
    """Save one array (``save_array``) or several (``save_group``) to a store.

    ``storage_options`` (for URLs) is taken as an option, never as an array name.
    """
    storage_options = kwargs.pop("storage_options", None)
    if storage_options is not None:
        store = normalize_store_arg(store, storage_options=storage_options, mode="w")
    if len(args) == 1 and not kwargs:
        save_array(store, args[0], path=path)
        return
    if not args and not kwargs:
        raise ValueError("at least one array must be given to save")
    from zarrdask.hierarchy import save_group

    save_group(store, *args, path=path, **kwargs)


def load(store: Any, *, path: str | None = None, **kwargs: Any) -> Any:
    """Load an array into memory as numpy, or a group as a lazy mapping of arrays.

    Raises
    ------
    PathNotFoundError
        If nothing exists at ``path``.
    """
    storage_options = kwargs.pop("storage_options", None)
    given = store
    store = normalize_store_arg(store, storage_options=storage_options, mode="r")
    path = normalize_storage_path(path)
    if contains_array(store, path):
        try:
            return Array(store, path=path, read_only=True)[...]
        finally:
            _close_if_opened_here(given, store)
    if contains_group(store, path):
        from zarrdask.hierarchy import LazyLoader

        return LazyLoader(store, path)
    raise PathNotFoundError(path)


