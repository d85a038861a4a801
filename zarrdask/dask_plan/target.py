"""Task bodies of the dask graphs, and the compact target they carry.

A :class:`ChunkTarget` is what a read or write task needs about one array:
its stores, path and ``.zarray`` bytes. It pickles as a digest plus a small
payload and is rebuilt from a per-process cache, so a worker parses metadata
and builds the codec pipeline once, and never reads ``.zarray`` from the store.
Task functions are plain module-level functions (they pickle by reference).
Imports no dask.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import pickle
import threading
from collections.abc import MutableMapping
from typing import Any

import numpy as np

from zarrdask.chunkio import ChunkIO, read_chunks, write_chunks
from zarrdask.codecs import ChunkSpec, CodecPipeline
from zarrdask.core import Array
from zarrdask.creation import init_array
from zarrdask.dask_plan.reads import block_projections, block_shape
from zarrdask.dask_plan.writes import AxisBlock
from zarrdask.errors import UnsafeWriteError
from zarrdask.grid import ChunkGrid
from zarrdask.indexing import BasicIndexer
from zarrdask.keys import ARRAY_META_KEY, normalize_storage_path, prefix_of
from zarrdask.meta import ArrayMeta, encode_array_meta, parse_array_meta
from zarrdask.storage import KVStore, MemoryStore
from zarrdask.sync import ThreadSynchronizer

__all__ = ["ChunkTarget", "done", "in_memory", "init_task", "process_local", "read_task",
           "resize_task", "single_writer", "write_task"]

_THREAD_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _unwrap(store: Any) -> Any:
    """The store a wrapper (KVStore, LRUStoreCache) delegates to, or None."""
    if isinstance(store, KVStore):
        return store._mutable_mapping
    inner = getattr(store, "_store", None)
    return inner if isinstance(inner, MutableMapping) else None


def in_memory(store: Any) -> bool:
    """Whether a store lives in this process's memory (a copy of it loses writes)."""
    if isinstance(store, dict | MemoryStore):
        return True
    inner = _unwrap(store)
    return inner is not None and in_memory(inner)


#: Stores kept in one file that only one process may write at a time.
SINGLE_WRITER_STORES = frozenset({"ZipStore", "DBMStore"})


def single_writer(store: Any) -> bool:
    """Whether a store is one file that several processes must not write at once."""
    if type(store).__name__ in SINGLE_WRITER_STORES and type(store).__module__.startswith(
            "zarrdask.storage"):
        return True
    inner = _unwrap(store)
    return inner is not None and single_writer(inner)


def process_local(lock: Any) -> bool:
    """Whether a lock or synchronizer excludes only the threads of one process.

    ``ThreadSynchronizer``, ``threading`` locks, dask's ``SerializableLock``
    (recognised by name, without importing dask) and a global-lock wrapper of
    any of those.
    """
    if lock is None:
        return False
    if isinstance(lock, (ThreadSynchronizer, *_THREAD_LOCK_TYPES)):
        return True
    inner = getattr(lock, "global_lock", None)
    if inner is not None:
        return process_local(inner)
    cls = type(lock)
    return cls.__name__ == "SerializableLock" and cls.__module__.startswith("dask.")


class ChunkTarget:
    """What a task needs to read or write one array: stores, path and ``.zarray`` bytes.

    Pickles as a digest plus a compact payload; unpickling looks the digest up
    in a per-process cache first, so a worker builds the codec pipeline once
    and never reads metadata from the store.

    Parameters
    ----------
    store : MutableMapping
        The metadata store.
    chunk_store : MutableMapping or None
        A separate chunk store.
    path : str
        Path of the array.
    meta_bytes : bytes
        The ``.zarray`` document the tasks use.
    write_empty_chunks : bool
        Whether chunks equal to the fill value are stored.
    synchronizer : object, optional
        The array's synchronizer (locks partly written chunks).
    """

    __slots__ = ("_copy", "_digest", "_io", "_meta", "_payload", "chunk_store", "meta_bytes",
                 "path", "store", "synchronizer", "write_empty_chunks")

    def __init__(self, store: MutableMapping[str, Any], chunk_store: Any, path: str,
                 meta_bytes: bytes, write_empty_chunks: bool = False,
                 synchronizer: Any = None) -> None:
        self.store = store
        self.chunk_store = chunk_store
        self.path = normalize_storage_path(path)
        self.meta_bytes = bytes(meta_bytes)
        self.write_empty_chunks = bool(write_empty_chunks)
        self.synchronizer = synchronizer
        self._meta: ArrayMeta | None = None
        self._io: ChunkIO | None = None
        self._payload: bytes | None = None
        self._digest: str | None = None
        self._copy = False

    @classmethod
    def from_array(cls, a: Array, meta_bytes: bytes | None = None) -> ChunkTarget:
        """The target of a zarrdask Array (its current metadata unless ``meta_bytes``)."""
        if meta_bytes is None:
            meta_bytes = encode_array_meta(a.meta)
        return cls(a.store, a._chunk_store, a.path, meta_bytes, a.write_empty_chunks,
                   a.synchronizer)

    # -- lazily built state ------------------------------------------------------------

    @property
    def meta(self) -> ArrayMeta:
        """Parsed metadata."""
        if self._meta is None:
            self._meta = parse_array_meta(self.meta_bytes, key=prefix_of(self.path)
                                          + ARRAY_META_KEY)
        return self._meta

    @property
    def grid(self) -> ChunkGrid:
        """The chunk grid."""
        return ChunkGrid.from_shapes(self.meta.shape, self.meta.chunks)

    @property
    def io(self) -> ChunkIO:
        """Chunk I/O context (built once per process)."""
        if self._io is None:
            meta = self.meta
            self._io = ChunkIO(
                chunk_store=self.store if self.chunk_store is None else self.chunk_store,
                prefix=prefix_of(self.path), separator=meta.separator,
                spec=ChunkSpec(meta.chunks, meta.dtype, meta.order),
                pipeline=CodecPipeline.from_configs(meta.filters, meta.compressor),
                fill_value=meta.fill_value, write_empty_chunks=self.write_empty_chunks,
                synchronizer=self.synchronizer,
            )
        return self._io

    # -- pickling ----------------------------------------------------------------------

    def _pickled(self) -> tuple[str, bytes]:
        if self._payload is None:
            self._payload = pickle.dumps(
                (self.store, self.chunk_store, self.path, self.meta_bytes,
                 self.write_empty_chunks, self.synchronizer), protocol=pickle.HIGHEST_PROTOCOL)
            self._digest = hashlib.sha256(self._payload).hexdigest()
        assert self._digest is not None
        return self._digest, self._payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_target, self._pickled())

    @property
    def identity(self) -> str:
        """Which stores and path this is (never their contents); names locks and tokens."""
        parts = []
        for s in (self.store, self.chunk_store):
            where = getattr(s, "path", None)
            parts.append(f"{type(s).__qualname__}:{where if isinstance(where, str) else id(s)}")
        return "|".join(parts) + "|" + self.path

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        # cheap: never pickles the store (an in-memory store would pickle its contents)
        return ("ChunkTarget", self.identity, hashlib.sha256(self.meta_bytes).hexdigest(),
                self.write_empty_chunks, repr(self.synchronizer))

    def __repr__(self) -> str:
        return f"<ChunkTarget {self.path or '/'} {self.meta.shape} {self.meta.dtype}>"

    # -- safety ------------------------------------------------------------------------

    def check_writable_here(self) -> None:
        """Refuse to write through a copy of an in-memory store or a process-local lock.

        Raises
        ------
        UnsafeWriteError
            If this target was unpickled (it is a copy) and its store lives in
            memory, or its synchronizer only excludes threads of one process.
        """
        if not self._copy:
            return
        for s in (self.store, self.chunk_store):
            if s is not None and in_memory(s):
                raise UnsafeWriteError(
                    f"a write task received a copy of the in-memory store {type(s).__name__} "
                    f"of array {self.path or '/'!r}: the write would be lost. Use a store "
                    "every worker can reach (DirectoryStore, fsspec) or a threaded scheduler")
        if process_local(self.synchronizer):
            raise UnsafeWriteError(
                f"a write task received a copy of the process-local synchronizer "
                f"{self.synchronizer!r} of array {self.path or '/'!r}: it would not exclude "
                "the other workers; use a ProcessSynchronizer or DistributedSynchronizer")

    # -- task bodies -------------------------------------------------------------------

    def read(self, dims: tuple[Any, ...], use_ix: bool, drop_axes: tuple[int, ...]) -> np.ndarray:
        """Read one output block given its per-axis projections."""
        meta = self.meta
        out = np.empty(block_shape(dims), dtype=meta.dtype, order=meta.order)  # type: ignore[call-overload]
        read_chunks(self.io, block_projections(dims, use_ix), out, drop_axes=drop_axes)
        return out

    def write(self, box: tuple[slice, ...], value: np.ndarray, shared: tuple[tuple[int, ...], ...],
              lock: Any = None) -> None:
        """Write ``value`` into ``box``; chunks listed in ``shared`` go under ``lock``."""
        self.check_writable_here()
        indexer = BasicIndexer(box, self.grid)
        if tuple(value.shape) != indexer.shape:
            raise ValueError(f"block of shape {value.shape} does not fit the region {box} "
                             f"of shape {indexer.shape}")
        io = self.io
        if lock is None or not any(shared):
            write_chunks(io, indexer, value)
            return
        sets = [frozenset(s) for s in shared]
        mine, theirs = [], []
        for p in indexer:
            is_shared = any(c in s for c, s in zip(p.chunk_coords, sets, strict=True))
            (theirs if is_shared else mine).append(p)
        write_chunks(io, mine, value)
        # take the lock objects here, on the task's thread: a distributed.Lock must be
        # made on a worker thread, not on a codec thread
        locks = _Resolved({io.key(p.chunk_coords): lock[io.key(p.chunk_coords)]
                           for p in theirs})
        write_chunks(dataclasses.replace(io, synchronizer=locks), theirs, value)


class _Resolved(dict):  # type: ignore[type-arg]
    """Locks already looked up, by store key (a synchronizer)."""


_TARGETS: dict[str, ChunkTarget] = {}
_TARGETS_LOCK = threading.Lock()


def _restore_target(digest: str, payload: bytes) -> ChunkTarget:
    target = _TARGETS.get(digest)
    if target is not None:
        return target
    store, chunk_store, path, meta_bytes, write_empty, sync = pickle.loads(payload)
    target = ChunkTarget(store, chunk_store, path, meta_bytes, write_empty, sync)
    target._payload, target._digest, target._copy = payload, digest, True
    with _TARGETS_LOCK:
        if len(_TARGETS) >= 256:
            _TARGETS.pop(next(iter(_TARGETS)))
        return _TARGETS.setdefault(digest, target)


def read_task(target: ChunkTarget, dims: tuple[Any, ...], use_ix: bool,
              drop_axes: tuple[int, ...]) -> np.ndarray:
    """Read task: one output block."""
    return target.read(dims, use_ix, drop_axes)


def write_task(target: ChunkTarget, blocks: tuple[AxisBlock, ...], lock: Any,
               *sources: Any) -> None:
    """Write task: assemble one write block from its source pieces and write it."""
    dtype = target.meta.dtype
    box = tuple(slice(b.start, b.stop) for b in blocks)
    if len(sources) == 1 and all(b.whole for b in blocks):
        value = np.asarray(sources[0], dtype=dtype)
    else:
        value = np.empty(tuple(b.stop - b.start for b in blocks), dtype=dtype)
        combos = itertools.product(*(b.pieces for b in blocks))
        for source, combo in zip(sources, combos, strict=True):
            value[tuple(p[2] for p in combo)] = np.asarray(source)[tuple(p[1] for p in combo)]
    target.write(box, value, tuple(b.shared for b in blocks), lock)


def done(*_: Any) -> None:
    """The "all writes finished" task."""
    return None


def init_task(target: ChunkTarget, overwrite: bool, init_kwargs: dict[str, Any]) -> ChunkTarget:
    """Write the metadata of a new array (the first task of a deferred ``to_zarr``)."""
    target.check_writable_here()
    init_array(target.store, path=target.path, overwrite=overwrite,
               chunk_store=target.chunk_store, **init_kwargs)
    written = bytes(target.store[prefix_of(target.path) + ARRAY_META_KEY])
    if parse_array_meta(written) != target.meta:
        raise RuntimeError(f"metadata written for {target.path or '/'!r} differs from the "
                           "planned metadata; was the store changed concurrently?")
    return target


def resize_task(array: Array, old_shape: tuple[int, ...], new_shape: tuple[int, ...],
                target: ChunkTarget) -> ChunkTarget:
    """Grow an array under its metadata lock (the first task of a deferred ``append``)."""
    target.check_writable_here()

    def body() -> None:
        array._load_metadata()
        if array.meta.shape != old_shape:
            raise RuntimeError(f"array {array.path or '/'!r} has shape {array.meta.shape}, "
                               f"not {old_shape} as when the append was planned")
        array._resize_nosync(new_shape)

    array._write_op(body)
    return target
