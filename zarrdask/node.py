"""What arrays and groups share: the properties of a node in a store hierarchy."""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from typing import Any

from zarrdask.attrs import Attributes
from zarrdask.keys import normalize_storage_path

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

    Subclasses set ``_store``, ``_path``, ``_synchronizer`` and ``_attrs``.
    """

    _store: MutableMapping[str, Any]
    _path: str
    _synchronizer: Any
    _attrs: Attributes

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
