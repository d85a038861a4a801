"""What arrays and groups share: the properties of a node in a store hierarchy."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from zarrdask.attrs import Attributes

__all__ = ["Node"]


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
