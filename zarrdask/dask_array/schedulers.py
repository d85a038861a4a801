"""Which scheduler a computation runs on, what is safe there, and the locks for it.

A write into an in-memory store, or under a lock that excludes only the
threads of one process, is refused up front when the scheduler runs tasks in
several processes. :class:`DistributedSynchronizer` gives one
``distributed.Lock`` per chunk key for clusters without a shared file system.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import dask.local
import dask.multiprocessing
from dask.base import get_scheduler
from dask.delayed import Delayed

from zarrdask.dask_plan import ChunkTarget, in_memory, process_local, single_writer
from zarrdask.errors import UnsafeWriteError
from zarrdask.sync import ThreadSynchronizer

__all__ = ["DistributedSynchronizer", "check_scheduler", "compute_write", "default_lock",
           "normalize_lock", "scheduler_kind"]


def client_of(scheduler: Any) -> Any:
    """The distributed Client behind a scheduler choice, or None."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is optional
        return None
    if isinstance(scheduler, Client):
        return scheduler
    try:
        get = get_scheduler(scheduler=scheduler)
    except Exception:
        return None
    owner = getattr(get, "__self__", None)
    return owner if isinstance(owner, Client) else None


def scheduler_kind(scheduler: Any = None) -> str:
    """Classify the scheduler a computation would use.

    Parameters
    ----------
    scheduler : optional
        What would be passed to ``compute(scheduler=...)``; None means the
        configured default (a distributed Client if one is active).

    Returns
    -------
    str
        ``"sync"``, ``"threads"``, ``"processes"``, ``"distributed"`` (workers in
        other processes) or ``"distributed-inproc"``.

    Examples
    --------
    >>> scheduler_kind("processes"), scheduler_kind("sync")
    ('processes', 'sync')
    """
    if isinstance(scheduler, ProcessPoolExecutor):
        return "processes"
    client = client_of(scheduler)
    if client is not None:
        try:
            workers = client.scheduler_info()["workers"]
        except Exception:
            return "distributed"
        if workers and all(str(w).startswith("inproc://") for w in workers):
            return "distributed-inproc"
        return "distributed"
    get = get_scheduler(scheduler=scheduler)
    if get is dask.multiprocessing.get:
        return "processes"
    if get is dask.local.get_sync:
        return "sync"
    return "threads"


def check_scheduler(kind: str, target: ChunkTarget, lock: Any) -> None:
    """Refuse writes that a multi-process scheduler would lose or corrupt.

    Raises
    ------
    UnsafeWriteError
        For an in-memory store, or a process-local synchronizer or lock, when
        ``kind`` runs tasks in several processes or on unpickled copies (any
        distributed cluster, also with in-process workers).
    """
    if kind not in ("processes", "distributed", "distributed-inproc"):
        return  # distributed pickles tasks even for in-process workers: they get copies
    for s in (target.store, target.chunk_store):
        if s is not None and in_memory(s):
            raise UnsafeWriteError(
                f"cannot write into the in-memory store {type(s).__name__} with the "
                f"{kind} scheduler: each worker would write into its own copy of the store "
                "and the writes would be lost. Use a DirectoryStore (or another store every "
                "worker can reach), or scheduler='threads'")
        if s is not None and single_writer(s):
            raise UnsafeWriteError(
                f"cannot write into the {type(s).__name__} with the {kind} scheduler: it is "
                "one file that only one process may write at a time, and the workers would "
                "corrupt it. Write with scheduler='threads', or into a DirectoryStore")
    for what, obj in (("synchronizer", target.synchronizer), ("lock", lock)):
        if process_local(obj):
            raise UnsafeWriteError(
                f"the {what} {obj!r} only excludes threads of one process, but the {kind} "
                "scheduler runs tasks in several processes (or on unpickled copies). Use "
                "zarrdask.ProcessSynchronizer(path) on a shared file system, or "
                "zarrdask.dask_array.DistributedSynchronizer() on a cluster")


class GlobalLock:
    """A synchronizer giving one lock for every key (wraps a user's single lock)."""

    __slots__ = ("global_lock",)

    def __init__(self, lock: Any) -> None:
        self.global_lock = lock

    def __getitem__(self, key: str) -> Any:
        return self.global_lock

    def __repr__(self) -> str:
        return f"GlobalLock({self.global_lock!r})"


class DistributedSynchronizer:
    """One ``distributed.Lock`` per store key, for clusters without a shared file system.

    The locks live in the scheduler, so they exclude every thread of every
    worker. Pickles as its name prefix. Locks are made on first use in each
    process (they need a worker or client connection).

    Parameters
    ----------
    prefix : str
        Prefix of the lock names (``prefix + key``); use distinct prefixes for
        unrelated stores that share key names.

    Notes
    -----
    ``distributed.Lock`` is built on leases that expire when a worker stops
    refreshing them (``distributed.scheduler.locks.lease-timeout``); a worker
    that hangs while holding a lock can therefore lose it.

    Examples
    --------
    >>> DistributedSynchronizer("mydata/")
    DistributedSynchronizer('mydata/')
    """

    def __init__(self, prefix: str = "zarrdask-lock/") -> None:
        self.prefix = prefix
        self._locks: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        lock = self._locks.get(key)
        if lock is None:
            from distributed import Lock

            if len(self._locks) > 4096:
                self._locks.clear()
            lock = self._locks.setdefault(key, Lock(self.prefix + key))
        return lock

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.prefix,))

    def __repr__(self) -> str:
        return f"DistributedSynchronizer({self.prefix!r})"


def default_lock(kind: str, target: ChunkTarget) -> Any:
    """The synchronizer for shared chunks when the user gave none.

    Raises
    ------
    UnsafeWriteError
        Under the processes scheduler (no lock there is shared by default).
    """
    if target.synchronizer is not None:
        return target.synchronizer
    if kind in ("sync", "threads"):
        return ThreadSynchronizer()
    if kind.startswith("distributed"):
        digest = hashlib.sha256(target.identity.encode()).hexdigest()[:20]
        return DistributedSynchronizer(f"zarrdask-lock/{digest}/")
    raise UnsafeWriteError(
        "policy='lock' with the processes scheduler needs a lock every process shares: "
        "pass lock=zarrdask.ProcessSynchronizer(path) (a folder outside the store)")


def normalize_lock(lock: Any) -> Any:
    """A user's ``lock=`` as a synchronizer (None for None/True/False)."""
    if lock is None or lock is False or lock is True:
        return None
    if hasattr(lock, "__getitem__"):
        return lock
    if hasattr(lock, "__enter__"):
        return GlobalLock(lock)
    raise TypeError(f"lock must be None, a bool, a synchronizer or a lock, not {lock!r}")


def compute_write(obj: Delayed, scheduler: Any, progress: bool) -> None:
    """Compute a write, with a progress bar when asked (dask's, or distributed's)."""
    if progress:
        client = client_of(scheduler)
        if client is not None:
            from distributed import progress as show_progress

            future = client.compute(obj)
            show_progress(future)
            future.result()
            return
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            obj.compute(scheduler=scheduler)
        return
    obj.compute(scheduler=scheduler)
