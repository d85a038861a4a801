"""Saving numpy arrays as a group (``save_group``), loading its arrays lazily (``LazyLoader``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import numpy as np

from zarrdask.core import Array
from zarrdask.errors import KeyValidationError
from zarrdask.keys import normalize_storage_path
from zarrdask.storage import normalize_store_arg

if TYPE_CHECKING:
    from zarrdask.hierarchy import Group

__all__ = ["LazyLoader", "save_group"]


def save_group(store: Any, *args: Any, path: str | None = None,
               zarr_version: int | None = None, **kwargs: Any) -> None:
    """Save numpy arrays as members of a group (``arr_0``, ... and keyword names).

    Everything at ``path`` is replaced. Names are checked before anything is written.

    Examples
    --------
    >>> import zarrdask
    >>> store = {}
    >>> save_group(store, np.arange(3), b=np.ones(2))
    >>> sorted(zarrdask.load(store))
    ['arr_0', 'b']
    """
    from zarrdask.hierarchy import _check_member_name, _check_zarr_version, group

    _check_zarr_version(zarr_version)
    if not args and not kwargs:
        raise ValueError("at least one array must be given to save_group")
    arrays = {f"arr_{i}": a for i, a in enumerate(args)}
    for name, a in kwargs.items():
        _check_member_name(name)
        if "/" in normalize_storage_path(name):
            raise KeyValidationError(f"array name {name!r} may not contain '/'")
        arrays[name] = a
    may_close = isinstance(store, (str, os.PathLike))
    store = normalize_store_arg(store, mode="w")
    try:
        grp = group(store, overwrite=True, path=path)
        for name, a in arrays.items():
            grp.create_dataset(name, data=a, overwrite=True)
    finally:
        close = getattr(store, "close", None)
        if may_close and callable(close):
            close()


class LazyLoader(Mapping[str, np.ndarray]):
    """The arrays of a group, each read into memory on first access (what ``load`` returns).

    Parameters
    ----------
    grp : Group or MutableMapping
        The group, or a store holding one at ``path``.
    path : str, optional
        Path of the group when a store is given.
    """

    def __init__(self, grp: Group | MutableMapping[str, Any], path: str | None = None) -> None:
        from zarrdask.hierarchy import Group

        if not isinstance(grp, Group):
            grp = Group(grp, path=path, read_only=True)
        self._group = grp
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, item: str) -> np.ndarray:
        if item not in self._cache:
            node = self._group[item]
            if not isinstance(node, Array):
                raise KeyError(item)
            self._cache[item] = node[...]
        return self._cache[item]

    def __iter__(self) -> Iterator[str]:
        return self._group.array_keys()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, item: object) -> bool:
        return item in set(self)

    def __repr__(self) -> str:
        return f"<LazyLoader: {', '.join(self)}>"
