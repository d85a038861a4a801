"""Groups: the h5py-style :class:`Group` and the functions that create, open and save groups.

A group is a ``.zgroup`` document at a path of a store; its members are the
arrays and groups one level below. Member names are checked (no ``..``
segments, no reserved metadata names) before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import numpy as np

from zarrdask import creation
from zarrdask.attrs import Attributes
from zarrdask.consolidated import consolidating
from zarrdask.core import Array
from zarrdask.errors import (
    ArrayNotFoundError,
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    KeyValidationError,
    ReadOnlyError,
)
from zarrdask.group_io import LazyLoader, save_group
from zarrdask.group_members import MemberMethods
from zarrdask.info import InfoReporter
from zarrdask.keys import (
    ATTRS_KEY,
    GROUP_META_KEY,
    RESERVED_NAMES,
    join_path,
    normalize_storage_path,
)
from zarrdask.meta import GroupMeta, parse_group_meta
from zarrdask.node import Node, normalize_node_path
from zarrdask.readahead import MetadataReadAhead
from zarrdask.storage import normalize_store_arg
from zarrdask.storage._base import (
    contains_array,
    contains_group,
    listdir,
    read_document,
    rmdir,
    store_type_name,
)
from zarrdask.tree import TreeViewer

__all__ = ["Group", "LazyLoader", "group", "open_group", "save_group", "tree"]

_MODES = ("r", "r+", "a", "w", "w-", "x")


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _check_member_name(name: Any) -> str:
    """Normalise a member name given by the user; refuse empty, ``..`` and reserved names."""
    if not isinstance(name, str):
        raise TypeError(f"member names must be str, not {type(name).__name__}: {name!r}")
    path = normalize_storage_path(name)  # KeyValidationError for '.', '..', NUL
    if not path:
        raise KeyValidationError(f"member name {name!r} is empty; give a name such as 'foo'")
    for segment in path.split("/"):
        if segment in RESERVED_NAMES:
            raise KeyValidationError(
                f"member name {name!r} uses the reserved name {segment!r}; "
                f"{', '.join(sorted(RESERVED_NAMES))} are Zarr metadata keys"
            )
    return path


def _check_zarr_version(zarr_version: Any) -> None:
    if zarr_version not in (None, 2):
        raise ValueError(
            f"zarrdask implements Zarr format 2 only; got zarr_version={zarr_version!r}")


class Group(Node, MemberMethods, MutableMapping[str, Any]):
    """A group of arrays and groups in a store, with the h5py-style API of zarr 2.x.

    Parameters
    ----------
    store : MutableMapping
        The store holding the group.
    path : str, optional
        Path of the group in the store (the root by default).
    read_only : bool, optional
        Refuse every change to the group, its members and their attributes.
    chunk_store : MutableMapping, optional
        A separate store for the chunks of member arrays.
    cache_attrs : bool, optional
        Keep attributes in memory once read.
    synchronizer : object, optional
        Locks for concurrent writers (``ThreadSynchronizer``, ``ProcessSynchronizer``).

    Raises
    ------
    GroupNotFoundError
        If there is no group at ``path``.
    ContainsArrayError
        If there is an array at ``path``.
    MetadataError
        If ``.zgroup`` is invalid (the message names the key).

    Examples
    --------
    >>> import zarrdask
    >>> root = zarrdask.group()
    >>> z = root.zeros("foo/bar", shape=(4,), dtype="i4")
    >>> root["foo"], z
    (<zarrdask.hierarchy.Group '/foo'>, <zarrdask.core.Array '/foo/bar' (4,) int32>)
    """

    def __init__(
        self,
        store: MutableMapping[str, Any],
        path: str | None = None,
        read_only: bool = False,
        chunk_store: MutableMapping[str, Any] | None = None,
        cache_attrs: bool = True,
        synchronizer: Any = None,
        zarr_version: int | None = None,
        *,
        meta_array: Any = None,
    ) -> None:
        _check_zarr_version(zarr_version)
        self._set_location(store, path, chunk_store, read_only, synchronizer)
        # whether every ancestor of this group is known to be a group (then members
        # are created without looking the ancestors up again)
        self._ancestors_checked = False
        self._read_ahead = MetadataReadAhead(store)
        key = self._prefix + GROUP_META_KEY
        try:
            data = read_document(store, key)
        except KeyError:
            if contains_array(store, self._path):
                raise ContainsArrayError(self._path, "open it as an array instead") from None
            raise GroupNotFoundError(self._path) from None
        self._meta: GroupMeta = parse_group_meta(data, key)
        self._attrs = Attributes(store, key=self._prefix + ATTRS_KEY, read_only=read_only,
                                 cache=cache_attrs, synchronizer=synchronizer)

    # ---------------------------------------------------------------- properties

    @property
    def chunk_store(self) -> MutableMapping[str, Any] | None:
        """The separate chunk store of member arrays, or None."""
        return self._chunk_store

    @property
    def name(self) -> str:
        """Absolute name of the group, ``"/"`` for the root."""
        return "/" + self._path

    @property
    def basename(self) -> str:
        """Last segment of the name (``""`` for the root)."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def read_only(self) -> bool:
        """Whether changes are refused."""
        return self._read_only

    @property
    def meta_array(self) -> Any:
        """Kept for zarr 2.x compatibility: arrays are always numpy here."""
        return np.empty(())

    # ------------------------------------------------------------------ helpers

    def _item_path(self, item: Any) -> str:
        if not isinstance(item, str):
            raise TypeError(f"member names must be str, not {type(item).__name__}: {item!r}")
        path = normalize_node_path(item)
        if item.startswith("/") or not self._path:
            return path
        return join_path(self._path, path)

    def _member_path(self, name: Any) -> str:
        path = _check_member_name(name)
        return path if name.startswith("/") else join_path(self._path, path)

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"group {self.name!r} is read-only")
        if getattr(self._store, "metadata_read_only", False):
            raise ReadOnlyError(
                f"group {self.name!r} was opened with open_consolidated, whose metadata is "
                "read-only: members cannot be created, deleted or moved; open the store "
                "with open_group to change the hierarchy"
            )

    def _write_op(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a change to the group under the synchronizer's lock on ``.zgroup``."""
        self._check_writable()
        if self._synchronizer is None:
            return f(*args, **kwargs)
        with self._synchronizer[self._prefix + GROUP_META_KEY]:
            return f(*args, **kwargs)

    def _array(self, path: str) -> Array:
        return Array(self._store, path=path, read_only=self._read_only,
                     chunk_store=self._chunk_store, synchronizer=self._synchronizer,
                     cache_attrs=self._attrs.cache)

    def _group(self, path: str) -> Group:
        child = Group(self._store, path=path, read_only=self._read_only,
                      chunk_store=self._chunk_store, cache_attrs=self._attrs.cache,
                      synchronizer=self._synchronizer)
        if self._ancestors_checked and path.rpartition("/")[0] == self._path:
            child._ancestors_checked = True  # a direct child: its ancestors are ours and us
        return child

    def _node(self, path: str) -> Array | Group | None:
        """The array or group at ``path``, or None; an array costs one metadata read.

        On local folders, a lookup that had to wait for the disk starts reading its
        siblings' metadata ahead (:mod:`zarrdask.readahead`).
        """
        folder = path.rpartition("/")[0]
        start = self._read_ahead.start(folder)
        try:
            return self._load_node(path)
        finally:
            self._read_ahead.finish(folder, start)

    def _load_node(self, path: str) -> Array | Group | None:
        try:
            return self._array(path)
        except ContainsGroupError:  # no .zarray, but a .zgroup
            return self._group(path)
        except ArrayNotFoundError:
            return None

    def _names(self) -> Iterator[tuple[str, str]]:
        for name in listdir(self._store, self._path):
            if name not in RESERVED_NAMES:
                yield name, self._prefix + name

    # ------------------------------------------------------------------ mapping

    def __iter__(self) -> Iterator[str]:
        for name, path in self._names():
            if contains_array(self._store, path) or contains_group(self._store, path):
                yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, item: object) -> bool:
        try:
            path = self._item_path(item)
        except (TypeError, ValueError):
            return False
        return contains_array(self._store, path) or contains_group(self._store, path)

    def __getitem__(self, item: str) -> Array | Group:
        node = self._node(self._item_path(item))
        if node is None:
            raise KeyError(item)
        return node

    def __setitem__(self, item: str, value: Any) -> None:
        self.array(item, value, overwrite=True)

    def __delitem__(self, item: str) -> None:
        path = self._member_path(item)
        self._write_op(self._delitem_nosync, item, path)

    def _delitem_nosync(self, item: str, path: str) -> None:
        if not (contains_array(self._store, path) or contains_group(self._store, path)):
            raise KeyError(item)
        rmdir(self._store, path)
        if self._chunk_store is not None:
            rmdir(self._chunk_store, path)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        try:
            return self[item]
        except (KeyError, TypeError, ValueError):
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute or member {item!r}"
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self if k.isidentifier()})

    def _ipython_key_completions_(self) -> list[str]:
        return sorted(self)

    def group_keys(self) -> Iterator[str]:
        """Names of the member groups, sorted."""
        for name, path in self._names():
            if contains_group(self._store, path):
                yield name

    def groups(self) -> Iterator[tuple[str, Group]]:
        """``(name, group)`` for each member group, sorted by name."""
        for name in self.group_keys():
            yield name, self._group(self._prefix + name)

    def array_keys(self, recurse: bool = False) -> Iterator[str]:
        """Names of member arrays; with ``recurse`` also of deeper ones (basenames, as zarr 2)."""
        for name, _ in self._array_iter(recurse):
            yield name

    def arrays(self, recurse: bool = False) -> Iterator[tuple[str, Array]]:
        """``(name, array)`` for each member array (with ``recurse``, of subgroups too)."""
        for name, path in self._array_iter(recurse):
            yield name, self._array(path)

    def _array_iter(self, recurse: bool) -> Iterator[tuple[str, str]]:
        for name, path in self._names():
            start = self._read_ahead.start(self._path)
            is_array = contains_array(self._store, path)
            self._read_ahead.finish(self._path, start)
            if is_array:
                yield name, path
            elif recurse and contains_group(self._store, path):
                yield from self._group(path)._array_iter(recurse)

    def _walk(self) -> Iterator[tuple[str, Array | Group]]:
        """Every member at any depth, pre-order, as (path relative to this group, node)."""
        for name in self:
            node = self[name]
            yield name, node
            if isinstance(node, Group):
                for sub, child in node._walk():
                    yield f"{name}/{sub}", child

    def visitvalues(self, func: Callable[[Any], Any]) -> Any:
        """Call ``func(node)`` for every member at any depth; stop at the first non-None result."""
        for _, node in self._walk():
            result = func(node)
            if result is not None:
                return result
        return None

    def visititems(self, func: Callable[[str, Any], Any]) -> Any:
        """Call ``func(path, node)`` for every member at any depth; stop at the first non-None."""
        for path, node in self._walk():
            result = func(path, node)
            if result is not None:
                return result
        return None

    def visit(self, func: Callable[[str], Any]) -> Any:
        """Call ``func(path)`` for every member at any depth; stop at the first non-None."""
        return self.visititems(lambda path, _: func(path))

    visitkeys = visit

    # --------------------------------------------------------------- diagnostics

    def info_items(self) -> list[tuple[str, str]]:
        """The rows of :attr:`info` as (name, value) pairs."""
        items = [("Name", self.name), ("Type", _type_name(self))]
        if self._read_only:
            items.append(("Read-only", "True"))
        if self._synchronizer is not None:
            items.append(("Synchronizer type", _type_name(self._synchronizer)))
        items.append(("Store type", store_type_name(self._store)))
        if self._chunk_store is not None:
            items.append(("Chunk store type", store_type_name(self._chunk_store)))
        array_keys = list(self.array_keys())
        group_keys = list(self.group_keys())
        items += [("No. members", str(len(array_keys) + len(group_keys))),
                  ("No. arrays", str(len(array_keys))), ("No. groups", str(len(group_keys)))]
        if array_keys:
            items.append(("Arrays", ", ".join(array_keys)))
        if group_keys:
            items.append(("Groups", ", ".join(group_keys)))
        return items

    @property
    def info(self) -> InfoReporter:
        """Diagnostics in the zarr tutorial's layout (text, and HTML in Jupyter)."""
        return InfoReporter(self.info_items)

    def tree(self, expand: bool = False, level: int | None = None) -> TreeViewer:
        """A tree of the hierarchy below this group (text; an ipytree widget in Jupyter)."""
        return TreeViewer(self, expand=expand, level=level)

    def __repr__(self) -> str:
        ro = " read-only" if self._read_only else ""
        return f"<{_type_name(self)} {self.name!r}{ro}>"

    # ------------------------------------------------------------------ protocols

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Group) and self._store == other._store
                and self._read_only == other._read_only and self._path == other._path)

    __hash__ = None  # type: ignore[assignment]

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *args: Any) -> None:
        close = getattr(self._store, "close", None)
        if callable(close):
            close()

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self._store, "path": self._path, "read_only": self._read_only,
                "chunk_store": self._chunk_store, "cache_attrs": self._attrs.cache,
                "synchronizer": self._synchronizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def group(
    store: Any = None,
    overwrite: bool = False,
    chunk_store: Any = None,
    cache_attrs: bool = True,
    synchronizer: Any = None,
    path: str | None = None,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
) -> Group:
    """Create a group, or open the existing one at ``path``.

    Parameters
    ----------
    store : MutableMapping or str, optional
        Store or path (a directory store); a new MemoryStore by default.
    overwrite : bool, optional
        Remove everything at ``path`` first.
    chunk_store, cache_attrs, synchronizer, path
        See :class:`Group`.

    Raises
    ------
    ContainsArrayError
        If an array is at ``path`` and ``overwrite`` is False.

    Examples
    --------
    >>> import zarrdask
    >>> zarrdask.group()
    <zarrdask.hierarchy.Group '/'>
    """
    _check_zarr_version(zarr_version)
    store = consolidating(normalize_store_arg(store, mode="w"))
    if chunk_store is not None:
        chunk_store = normalize_store_arg(chunk_store, mode="w")
    path = normalize_storage_path(path)
    if overwrite or not contains_group(store, path):
        creation.init_group(store, overwrite=overwrite, path=path, chunk_store=chunk_store)
    return Group(store, path=path, read_only=False, chunk_store=chunk_store,
                 cache_attrs=cache_attrs, synchronizer=synchronizer)


def open_group(
    store: Any = None,
    mode: str = "a",
    cache_attrs: bool = True,
    synchronizer: Any = None,
    path: str | None = None,
    chunk_store: Any = None,
    storage_options: dict[str, Any] | None = None,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
) -> Group:
    """Open a group, creating it when the mode allows.

    Parameters
    ----------
    store : MutableMapping or str, optional
        Store or path (a directory store).
    mode : {"r", "r+", "a", "w", "w-", "x"}
        ``r`` read-only, must exist; ``r+`` read/write, must exist; ``a``
        read/write, created if missing; ``w`` created, replacing what is there;
        ``w-``/``x`` created, failing if something exists.

    Raises
    ------
    GroupNotFoundError
        ``r``/``r+`` where there is no group.
    ContainsArrayError
        If an array is at ``path`` (any mode but ``w``).
    ContainsGroupError
        ``w-``/``x`` where a group exists.

    Notes
    -----
    When the store holds consolidated metadata (``.zmetadata``) and the mode is
    not ``r``, metadata changes made through the group rewrite ``.zmetadata``.
    """
    _check_zarr_version(zarr_version)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    store = normalize_store_arg(store, storage_options=storage_options, mode=mode)
    if mode != "r":
        store = consolidating(store)
    if chunk_store is not None:
        chunk_store = normalize_store_arg(chunk_store, storage_options=storage_options,
                                          mode=mode)
    path = normalize_storage_path(path)
    if mode == "w":
        creation.init_group(store, overwrite=True, path=path, chunk_store=chunk_store)
    elif contains_array(store, path):
        raise ContainsArrayError(path, "open it with open_array, or use mode='w' to replace it")
    elif contains_group(store, path):
        if mode in ("w-", "x"):
            raise ContainsGroupError(path, f"mode {mode!r} refuses to open an existing group")
    elif mode in ("r", "r+"):
        raise GroupNotFoundError(path)
    else:
        creation.init_group(store, path=path, chunk_store=chunk_store)
    return Group(store, path=path, read_only=mode == "r", chunk_store=chunk_store,
                 cache_attrs=cache_attrs, synchronizer=synchronizer)


def tree(grp: Any, expand: bool = False, level: int | None = None) -> TreeViewer:
    """A tree of a zarrdask or h5py group (text; an ipytree widget in Jupyter).

    Examples
    --------
    >>> import zarrdask
    >>> root = zarrdask.group()
    >>> _ = root.zeros("foo/bar", shape=3, dtype="i2")
    >>> zarrdask.tree(root)
    /
     └── foo
         └── bar (3,) int16
    """
    return TreeViewer(grp, expand=expand, level=level)
