"""What arrays and groups share: the properties of a node in a store hierarchy."""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from typing import Any

from zarrdask.attrs import Attributes
from zarrdask.keys import normalize_storage_path, prefix_of

__all__ = ["Node", "normalize_node_path"]


@functools.lru_cache(maxsize=4096)
def _normalize_str(path: str) -> str:
    return normalize_storage_path(path)


def normalize_node_path(path: Any) -> str:
    """:func:`~zarrdask.keys.normalize_storage_path`, remembered for ``str`` paths.

    Opening the members of a hierarchy normalises the same paths again and again.

    Examples
    --------
    >>> normalize_node_path("/foo//bar/"), normalize_node_path(None)
    ('foo/bar', '')
    """
    if type(path) is str:
        return _normalize_str(path)
    return normalize_storage_path(path)


class Node:
    """Base of :class:`~zarrdask.core.Array` and :class:`~zarrdask.hierarchy.Group`.

    Subclasses call :meth:`_set_location` and set ``_attrs``.
    """

    _store: MutableMapping[str, Any]
    _chunk_store: MutableMapping[str, Any] | None
    _path: str
    _prefix: str
    _read_only: bool
    _synchronizer: Any
    _attrs: Attributes

    def _set_location(self, store: MutableMapping[str, Any], path: Any,
                      chunk_store: MutableMapping[str, Any] | None, read_only: bool,
                      synchronizer: Any) -> None:
        """Set where the node lives and how it may be used (both subclasses' constructors)."""
        self._store = store
        self._chunk_store = chunk_store
        self._path = normalize_node_path(path)
        self._prefix = prefix_of(self._path)
        self._read_only = bool(read_only)
        self._synchronizer = synchronizer

    @property
    def store(self) -> MutableMapping[str, Any]:
        """The store holding the node's metadata."""
        return self._store

    @property
    def path(self) -> str:
        """Path of the node in the store (``""`` for the root)."""
        return self._path

    @property
    def synchronizer(self) -> Any:
        """The synchronizer, or None."""
        return self._synchronizer

    @property
    def attrs(self) -> Attributes:
        """User attributes (``.zattrs``)."""
        return self._attrs
