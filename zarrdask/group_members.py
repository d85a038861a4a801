"""The methods of a group that add or move members (``create_group``, ``zeros``, ``move``...).

A mixin of :class:`zarrdask.hierarchy.Group`. Each method checks the member
names first, then changes the store under the group's write lock; arrays are
made by the matching :mod:`zarrdask.creation` function with the group's store,
chunk store, synchronizer and attribute caching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import numpy as np

from zarrdask import creation
from zarrdask.attrs import Attributes
from zarrdask.core import Array
from zarrdask.errors import ContainsGroupError
from zarrdask.meta import encode_group_meta
from zarrdask.storage._base import contains_array, contains_group, listdir, rename

if TYPE_CHECKING:
    from zarrdask.hierarchy import Group

__all__ = ["MemberMethods"]


class MemberMethods:
    """Mixin of :class:`zarrdask.hierarchy.Group`: methods that add or move members."""

    _store: MutableMapping[str, Any]
    _path: str
    _prefix: str
    _ancestors_checked: bool
    _chunk_store: MutableMapping[str, Any] | None
    _synchronizer: Any
    _attrs: Attributes
    _member_path: Callable[[Any], str]
    _write_op: Callable[..., Any]
    _array: Callable[[str], Array]
    _group: Callable[[str], Group]

    def _known_group(self) -> str | None:
        """This group's path if its ancestors are known to be groups (see ``_checked``)."""
        return self._path if self._ancestors_checked else None

    def _checked(self, path: str) -> None:
        """Note that a member was created at ``path``: creation checked (or wrote) all
        its ancestors, so if it lies below this group, ours are groups too."""
        if path.startswith(self._prefix):
            self._ancestors_checked = True

    def _create(self, func: Callable[..., Array], name: str, *args: Any, **kwargs: Any) -> Array:
        """Create an array member with a :mod:`zarrdask.creation` function."""
        path = self._member_path(name)
        kwargs.setdefault("synchronizer", self._synchronizer)
        kwargs.setdefault("cache_attrs", self._attrs.cache)
        array = self._write_op(func, *args, store=self._store, path=path,
                               chunk_store=self._chunk_store, _known_group=self._known_group(),
                               **kwargs)
        self._checked(path)
        return array

    def create_dataset(self, name: str, **kwargs: Any) -> Array:
        """Create an array, from ``data`` when given (h5py-style name for :meth:`create`).

        Examples
        --------
        >>> import zarrdask
        >>> g = zarrdask.group()
        >>> g.create_dataset("x", shape=(10, 10), chunks=(5, 5), dtype="i4")
        <zarrdask.core.Array '/x' (10, 10) int32>
        """
        data = kwargs.pop("data", None)
        if data is None:
            return self._create(creation.create, name, **kwargs)
        shape = kwargs.pop("shape", None)
        if shape is not None:
            given = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
            if given != tuple(np.shape(data)):
                raise ValueError(f"shape {given} does not match the shape of data "
                                 f"{tuple(np.shape(data))}")
        return self._create(creation.array, name, data, **kwargs)

    def require_dataset(self, name: str, shape: Any, dtype: Any = None, exact: bool = False,
                        **kwargs: Any) -> Array:
        """Return the array ``name`` if it matches ``shape`` and ``dtype``, else create it.

        Raises
        ------
        TypeError
            If an existing array has another shape, or a dtype that ``dtype`` cannot
            be cast to safely (or is not equal, with ``exact``).
        ContainsGroupError
            If a group is at ``name``.
        """
        path = self._member_path(name)
        if not contains_array(self._store, path):
            if contains_group(self._store, path):
                raise ContainsGroupError(path, "cannot require a dataset there")
            return self._create(creation.create, name, shape=shape, dtype=dtype, **kwargs)
        node = self._array(path)
        wanted = (int(shape),) if isinstance(shape, int | np.integer) else tuple(
            int(s) for s in shape)
        if wanted != node.shape:
            raise TypeError(f"array {node.name!r} exists with shape {node.shape}, "
                            f"not the required {wanted}")
        dtype = np.dtype(dtype)
        if exact and dtype != node.dtype:
            raise TypeError(f"array {node.name!r} exists with dtype {node.dtype}, "
                            f"not the required {dtype}")
        if not exact and not np.can_cast(dtype, node.dtype):
            raise TypeError(f"array {node.name!r} exists with dtype {node.dtype}, which the "
                            f"required dtype {dtype} cannot be cast to safely")
        return node

    def create(self, name: str, **kwargs: Any) -> Array:
        """Create an array (see :func:`zarrdask.create`)."""
        return self._create(creation.create, name, **kwargs)

    def empty(self, name: str, **kwargs: Any) -> Array:
        """Create an array with uninitialised chunks (see :func:`zarrdask.empty`)."""
        return self._create(creation.empty, name, **kwargs)

    def zeros(self, name: str, **kwargs: Any) -> Array:
        """Create an array of zeros (see :func:`zarrdask.zeros`)."""
        return self._create(creation.zeros, name, **kwargs)

    def ones(self, name: str, **kwargs: Any) -> Array:
        """Create an array of ones (see :func:`zarrdask.ones`)."""
        return self._create(creation.ones, name, **kwargs)

    def full(self, name: str, fill_value: Any, **kwargs: Any) -> Array:
        """Create an array filled with ``fill_value`` (see :func:`zarrdask.full`)."""
        return self._create(creation.full, name, fill_value=fill_value, **kwargs)

    def array(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array holding ``data`` (see :func:`zarrdask.array`)."""
        return self._create(creation.array, name, data, **kwargs)

    def empty_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an empty array like ``data``."""
        return self._create(creation.empty_like, name, data, **kwargs)

    def zeros_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array of zeros like ``data``."""
        return self._create(creation.zeros_like, name, data, **kwargs)

    def ones_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array of ones like ``data``."""
        return self._create(creation.ones_like, name, data, **kwargs)

    def full_like(self, name: str, data: Any, **kwargs: Any) -> Array:
        """Create an array like ``data`` filled with ``fill_value`` (default: ``data``'s)."""
        return self._create(creation.full_like, name, data, **kwargs)

    # ------------------------------------------------------------------ groups

    def create_group(self, name: str, overwrite: bool = False) -> Group:
        """Create a subgroup (and missing intermediate groups).

        Raises
        ------
        ContainsGroupError, ContainsArrayError
            If something exists at ``name`` and ``overwrite`` is False.
        """
        path = self._member_path(name)
        return self._write_op(self._create_group_nosync, path, overwrite)

    def _create_group_nosync(self, path: str, overwrite: bool, require: bool = False) -> Group:
        if overwrite or not (require and contains_group(self._store, path)):
            creation.init_group(self._store, overwrite=overwrite, path=path,
                                chunk_store=self._chunk_store, _known_group=self._known_group())
            self._checked(path)
            child = self._group(path)
            child._ancestors_checked = True  # just checked or written by init_group
            return child
        return self._group(path)

    def create_groups(self, *names: str, **kwargs: Any) -> tuple[Group, ...]:
        """Create several subgroups."""
        return tuple(self.create_group(name, **kwargs) for name in names)

    def require_group(self, name: str, overwrite: bool = False) -> Group:
        """Return the subgroup ``name``, creating it if missing.

        Raises
        ------
        ContainsArrayError
            If an array is at ``name``.
        """
        path = self._member_path(name)
        if not overwrite and contains_group(self._store, path):
            return self._group(path)  # no write needed
        return self._write_op(self._create_group_nosync, path, overwrite, True)

    def require_groups(self, *names: str) -> tuple[Group, ...]:
        """Return several subgroups, creating the missing ones."""
        return tuple(self.require_group(name) for name in names)

    # ------------------------------------------------------------------ moving

    def move(self, source: str, dest: str) -> None:
        """Move the member ``source`` to ``dest`` (paths relative to this group).

        Missing groups above ``dest`` are created.

        Raises
        ------
        ValueError
            If nothing is at ``source``, something is at ``dest``, or ``dest``
            lies inside ``source``.
        ContainsArrayError
            If an array is above ``dest``.
        """
        src = self._member_path(source)
        dst = self._member_path(dest)
        self._write_op(self._move_nosync, src, dst)

    def _move_nosync(self, src: str, dst: str) -> None:
        store = self._store
        if not (contains_array(store, src) or contains_group(store, src)):
            raise ValueError(f"cannot move {src!r}: no array or group is there")
        if dst == src or dst.startswith(src + "/"):
            raise ValueError(f"cannot move {src!r} to {dst!r}, a path inside itself")
        if dst in store or listdir(store, dst):
            raise ValueError(f"cannot move {src!r} to {dst!r}: that path already holds keys")
        missing = creation._require_parent_groups(store, dst)  # ContainsArrayError above dst
        rename(store, src, dst)
        if self._chunk_store is not None:
            with contextlib.suppress(KeyError):  # KeyError: no chunks stored there
                rename(self._chunk_store, src, dst)
        for key in missing:
            store[key] = encode_group_meta()
