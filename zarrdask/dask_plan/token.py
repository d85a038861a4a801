"""The change marker behind ``Array.__dask_tokenize__``.

A dask name must change whenever the data it names may have changed, or a
long-lived cluster can hand back a result cached under the old name. The token
combines the array path, a digest of the current ``.zarray`` and a marker of the
chunk store: for local directory stores the newest folder mtime (trusted only
once it is two seconds old); for every other store a random value, so names are
never reused. Imports no dask.

Limits: the marker trusts the file system's folder mtimes and the clock. A
network file system that caches attributes (NFS ``actimeo``) can show a
folder's old mtime for a while after another host wrote into it, and a clock
stepped back by more than two seconds can repeat an mtime; in both cases a
stale name is possible. Pass ``name=`` to :func:`zarrdask.dask_array.to_dask`
(or persist nothing across writes) when that matters.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Any

from zarrdask.keys import ARRAY_META_KEY

__all__ = ["RECENT_NS", "array_token", "store_change_marker"]

#: A folder modified less than this long ago (ns) gives no stable token.
RECENT_NS = 2_000_000_000


def _directory_marker(root: str) -> tuple[int, int] | None:
    """(newest mtime_ns, number) of the folders under ``root``; None if too recent to trust."""
    newest, count = 0, 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            entries = os.scandir(folder)
        except FileNotFoundError:
            continue
        newest, count = max(newest, st.st_mtime_ns), count + 1
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    if time.time_ns() - newest < RECENT_NS:
        return None
    return newest, count


def store_change_marker(store: Any, path: str) -> tuple[Any, ...]:
    """A cheap value that changes whenever the chunks under ``path`` may have changed.

    For a local directory store (any store with a ``path`` attribute naming a
    folder and the directory-store layout) it is the newest modification time
    and the number of the folders holding the array's chunks: every chunk write
    or delete goes through a rename or unlink in one of them, which updates that
    folder's mtime. A folder modified within the last two seconds is not
    trusted (file system timestamps are coarse), and neither is any other kind
    of store: both get a random marker, so their dask names are never reused.

    Returns
    -------
    tuple
        A hashable marker.
    """
    root = getattr(store, "path", None)
    kind = f"{type(store).__module__}.{type(store).__qualname__}"
    if isinstance(root, str) and hasattr(store, "_file_path") and os.path.isdir(root):
        folder = os.path.join(root, *path.split("/")) if path else root
        marker = _directory_marker(folder)
        if marker is not None:
            return (kind, root, marker)
    return (kind, "volatile", uuid.uuid4().hex)


def array_token(array: Any) -> tuple[Any, ...]:
    """The value behind ``Array.__dask_tokenize__``.

    It combines the array's path, a digest of its current ``.zarray`` document
    (read afresh: one small store read) and :func:`store_change_marker` of the
    chunk store, so the token changes when the data or the metadata change.
    """
    try:
        meta = bytes(array.store[array._prefix + ARRAY_META_KEY])
    except KeyError:
        meta = b""
    digest = hashlib.sha256(meta).hexdigest()
    return ("zarrdask.Array", array.path, digest, array.read_only,
            store_change_marker(array.chunk_store, array.path))
