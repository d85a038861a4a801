"""Reading a folder's member metadata ahead, once a lookup shows the disk is cold.

Whoever opens one member of a group usually opens its siblings next (xarray opens
every variable of a group). From a cold local disk each metadata read waits on its
own; asking the kernel to fetch all of them at once lets the reads overlap. From
the page cache the same read-ahead would only compete with the reader, so it
starts only after a lookup took longer than :data:`PREFETCH_AFTER`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, MutableMapping
from typing import Any

from zarrdask.keys import ARRAY_META_KEY, ATTRS_KEY, GROUP_META_KEY, RESERVED_NAMES, join_path
from zarrdask.parallel import run_in_background
from zarrdask.storage._base import listdir

__all__ = ["PREFETCH_AFTER", "PREFETCH_MEMBERS", "MetadataReadAhead"]

#: Members of one folder whose metadata is read ahead.
PREFETCH_MEMBERS = 256
#: A lookup slower than this (seconds) means the disk is cold.
#: Measured here: 30-85 us from the page cache, 250-450 us from a cold disk.
PREFETCH_AFTER = 150e-6


class MetadataReadAhead:
    """Per hierarchy object: which folders were read ahead, and the timing rule.

    Parameters
    ----------
    store : MutableMapping
        The metadata store; only stores with a ``prefetch(keys)`` method (local
        folders) are read ahead, any other makes every method a no-op.

    Examples
    --------
    >>> ahead = MetadataReadAhead({})
    >>> start = ahead.start("g")  # None: a dict cannot prefetch
    >>> ahead.finish("g", start)
    """

    __slots__ = ("_done", "_store")

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self._store = store if callable(getattr(store, "prefetch", None)) else None
        self._done: set[str] = set()

    def start(self, folder: str) -> float | None:
        """Start timing a lookup in ``folder`` (None when there is nothing to decide)."""
        if self._store is None or folder in self._done:
            return None
        return time.perf_counter()

    def finish(self, folder: str, start: float | None,
               names: Iterable[str] | None = None) -> None:
        """End the timing; read ``folder``'s members ahead if the lookup was slow.

        ``names`` are the members when the caller already listed them.
        """
        if start is not None and time.perf_counter() - start > PREFETCH_AFTER:
            self.prefetch(folder, names)

    def prefetch(self, folder: str, names: Iterable[str] | None = None) -> None:
        """In the background, read ahead the metadata of up to :data:`PREFETCH_MEMBERS`
        members of ``folder`` (once per folder)."""
        if self._store is None or folder in self._done:
            return
        self._done.add(folder)
        if names is None:
            names = listdir(self._store, folder)
        members = [n for n in names if n not in RESERVED_NAMES][:PREFETCH_MEMBERS]
        if len(members) < 2:
            return
        keys = [join_path(folder, name, meta) for name in members
                for meta in (ARRAY_META_KEY, GROUP_META_KEY, ATTRS_KEY)]
        run_in_background(self._store.prefetch, keys)  # type: ignore[attr-defined]
