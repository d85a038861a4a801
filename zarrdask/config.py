"""Run-time settings of zarrdask, read when used (never bound at import time).

Examples
--------
>>> import zarrdask
>>> zarrdask.config.codec_threads >= 1
True
>>> with zarrdask.config.set(codec_threads=1):
...     zarrdask.config.codec_threads
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["batch_chunks", "codec_threads", "min_parallel_chunk_bytes", "read_ahead_bytes",
           "read_ahead_files", "set"]

#: Number of threads that encode and decode chunks within one read or write.
codec_threads: int = max(1, os.cpu_count() or 1)

#: Chunks smaller than this many bytes count as small: reads decode them on one
#: thread (GIL hand-offs cost more than a second thread saves), writes to a
#: directory store start one codec thread fewer (the calling thread writes the
#: files), and writes to other stores hand each thread one batch of them.
min_parallel_chunk_bytes: int = 256 * 1024

#: Upper bound on chunks fetched and decoded in one batch (bounds memory).
batch_chunks: int = 256

#: Local folder stores: bytes of chunks (counted uncompressed) that a read asks the
#: kernel to fetch ahead of the chunk being decoded, so the disk works on many at once.
read_ahead_bytes: int = 64 * 1024 * 1024

#: ...and at most this many chunk files ahead (each holds a file descriptor until read).
read_ahead_files: int = 256

_NAMES = ("codec_threads", "min_parallel_chunk_bytes", "batch_chunks", "read_ahead_bytes",
          "read_ahead_files")


@contextmanager
def set(**settings: Any) -> Iterator[None]:  # noqa: A001 - mirrors dask.config.set
    """Change settings for the duration of a ``with`` block.

    Raises
    ------
    KeyError
        For an unknown setting name.
    """
    g = globals()
    old = {}
    for name, value in settings.items():
        if name not in _NAMES:
            raise KeyError(f"unknown zarrdask setting {name!r}; known: {', '.join(_NAMES)}")
        old[name] = g[name]
        g[name] = value
    try:
        yield
    finally:
        g.update(old)
