"""Per-key locks that serialise writes to one store key: synchronizers.

A *synchronizer* maps a store key (``"foo/0.0"``, ``"foo/.zattrs"``...) to a
context manager that holds an exclusive lock on that key. Arrays and
attributes wrap their read-modify-write bodies in ``with synchronizer[key]:``.

* :class:`ThreadSynchronizer` excludes the threads of one process.
* :class:`ProcessSynchronizer` excludes threads *and* processes (including
  processes on other machines sharing a file system with working ``fcntl``
  locks): a file lock per key, plus a process-wide thread lock per key file,
  because file locks belong to a process and would otherwise let two threads of
  one process both "hold" the lock.

Both locks are re-entrant for the thread that holds them, so a nested
``with sync[k]:`` in one thread cannot deadlock. Both are safe to use after
``os.fork``: the child starts with fresh lock tables.

This module imports neither numpy nor any store.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import time
import weakref
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from zarrdask.keys import validate_key

if TYPE_CHECKING:
    import fasteners

__all__ = ["ProcessSynchronizer", "Synchronizer", "ThreadSynchronizer", "lock_file_name"]


@runtime_checkable
class Synchronizer(Protocol):
    """Anything that maps a store key to a lock usable in a ``with`` statement."""

    def __getitem__(self, key: str) -> AbstractContextManager[Any]:
        """Return the lock (a context manager) for ``key``."""
        ...


# --------------------------------------------------------------------------- #
# Thread locks
# --------------------------------------------------------------------------- #


class _KeyLock:
    """A re-entrant lock for one key, usable as a context manager.

    Held in weak-value tables, so a key's lock lives only as long as someone
    holds or waits for it, and a table never grows with every chunk key seen.
    """

    __slots__ = ("_lock", "key", "__weakref__")

    def __init__(self, key: str) -> None:
        self.key = key
        self._lock = threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire the lock; return whether it was acquired."""
        return self._lock.acquire(blocking, -1 if timeout is None or not blocking else timeout)

    def release(self) -> None:
        """Release the lock (must be held by the calling thread)."""
        self._lock.release()

    def __enter__(self) -> _KeyLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"


class ThreadSynchronizer:
    """Provide one lock per store key, excluding the threads of one process.

    Locks are created on demand (under a mutex) and forgotten when no thread
    holds or waits for them. A lock is re-entrant for the thread holding it.

    Pickling gives a *fresh* instance with new, unheld locks: thread locks do
    not cross processes. Use :class:`ProcessSynchronizer` to exclude processes.

    Examples
    --------
    >>> sync = ThreadSynchronizer()
    >>> with sync["foo/0.0"]:
    ...     pass
    """

    def __init__(self) -> None:
        self._reset()
        _THREAD_SYNCHRONIZERS.add(self)

    def _reset(self) -> None:
        self._mutex = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, _KeyLock] = weakref.WeakValueDictionary()

    def __getitem__(self, key: str) -> _KeyLock:
        """Return the lock for ``key`` (creating it if no one holds it).

        Parameters
        ----------
        key : str
            A store key; it is not validated (any string names a lock).
        """
        with self._mutex:
            lock = self._locks.get(key)
            if lock is None:
                lock = _KeyLock(key)
                self._locks[key] = lock
            return lock

    def __reduce__(self) -> tuple[type[ThreadSynchronizer], tuple[()]]:
        return (type(self), ())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------- #
# Process locks
# --------------------------------------------------------------------------- #

_LOCK_SUFFIX = ".lock"
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_NAME = 200
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)


def lock_file_name(key: str) -> str:
    """Return the lock file name for a store key.

    Every character other than lowercase ASCII letters, digits, ``_``, ``.``
    and ``-`` is percent-encoded (UTF-8 bytes, uppercase hex), so ``/`` becomes
    ``%2F`` and ``%`` itself becomes ``%25``: distinct keys give distinct names,
    even on case-insensitive file systems. Names that would be too long end in
    a SHA-256 digest of the key instead.

    Parameters
    ----------
    key : str
        A valid store key (see :func:`zarrdask.keys.validate_key`).

    Returns
    -------
    str
        A single, safe file name ending in ``.lock``.

    Raises
    ------
    KeyValidationError
        If ``key`` is not a valid store key (``..`` segments, absolute...).

    Examples
    --------
    >>> lock_file_name("a/0.0")
    'a%2F0.0.lock'
    >>> lock_file_name("a_0.0")
    'a_0.0.lock'
    >>> lock_file_name("A%2F")
    '%41%252%46.lock'
    """
    validate_key(key)
    parts: list[str] = []
    for char in key:
        if char in _LITERAL:
            parts.append(char)
        else:
            parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    name = "".join(parts)
    stem = name.split(".", 1)[0]
    if stem in _WINDOWS_RESERVED:
        name = f"%{ord(name[0]):02X}{name[1:]}"
    if len(name) > _MAX_NAME:
        # "~" is always percent-encoded above, so a hashed name never equals a plain one.
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        name = f"{name[:100]}~{digest}"
    return name + _LOCK_SUFFIX


class _ProcessKeyLock:
    """Thread lock plus file lock for one lock file, shared by the whole process.

    The thread lock is taken first, then the file lock; they are released in
    the reverse order. The file lock is taken only by the outermost
    acquisition of the holding thread (re-entrant use only counts).
    """

    __slots__ = ("_depth", "_file_lock", "_thread_lock", "path", "__weakref__")

    def __init__(self, path: str) -> None:
        import fasteners

        self.path = path
        self._thread_lock = threading.RLock()
        self._file_lock: fasteners.InterProcessLock = fasteners.InterProcessLock(path)
        self._depth = 0

    @property
    def held(self) -> bool:
        """Whether some thread of this process holds the lock."""
        return self._depth > 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire the thread lock, then the file lock; return whether both were acquired.

        Parameters
        ----------
        blocking : bool
            Wait for the lock; if False, try once.
        timeout : float, optional
            Give up after this many seconds in total (``None``: wait forever).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = -1 if timeout is None or not blocking else timeout
        if not self._thread_lock.acquire(blocking, wait):
            return False
        if self._depth > 0:
            self._depth += 1
            return True
        try:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            got = self._file_lock.acquire(
                blocking=blocking, delay=0.001, max_delay=0.02, timeout=remaining
            )
        except BaseException:
            self._thread_lock.release()
            raise
        if not got:
            self._thread_lock.release()
            return False
        self._depth = 1
        return True

    def release(self) -> None:
        """Release the file lock (outermost level only), then the thread lock."""
        if self._depth <= 0:
            raise RuntimeError(f"lock file {self.path!r} is not held by this process")
        self._depth -= 1
        try:
            if self._depth == 0:
                self._file_lock.release()
        finally:
            self._thread_lock.release()

    def __enter__(self) -> _ProcessKeyLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


class _ProcessLockTable:
    """The process-wide table: one :class:`_ProcessKeyLock` per lock file path."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.locks: weakref.WeakValueDictionary[str, _ProcessKeyLock] = (
            weakref.WeakValueDictionary())

    def get(self, path: str) -> _ProcessKeyLock:
        with self.mutex:
            lock = self.locks.get(path)
            if lock is None:
                lock = _ProcessKeyLock(path)
                self.locks[path] = lock
            return lock

    def held_under(self, directory: str) -> list[str]:
        prefix = directory.rstrip(os.sep) + os.sep
        with self.mutex:
            return [p for p, lock in list(self.locks.items()) if p.startswith(prefix) and lock.held]


_PROCESS_LOCKS = _ProcessLockTable()
_THREAD_SYNCHRONIZERS: weakref.WeakSet[ThreadSynchronizer] = weakref.WeakSet()


def _reset_after_fork() -> None:
    """Give a forked child fresh, unheld lock tables."""
    global _PROCESS_LOCKS
    _PROCESS_LOCKS = _ProcessLockTable()
    for sync in list(_THREAD_SYNCHRONIZERS):
        sync._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class ProcessSynchronizer:
    """Provide one lock per store key, excluding threads and processes.

    Each key has a lock file in the directory ``path``, which must lie outside
    the store (``"data/example.sync"`` beside ``"data/example.zarr"``). The file
    name is the key, percent-encoded (see :func:`lock_file_name`). A lock is a
    ``fasteners.InterProcessLock`` on that file *and* a thread lock shared by
    every thread of the process, so threads of one process exclude each other
    too. The lock is re-entrant for the holding thread.

    Lock files are left in place after use (deleting a lock file that another
    process may be waiting on breaks the lock); remove them with
    :meth:`remove_lock_files` once no process uses the synchronizer.

    Parameters
    ----------
    path : str or os.PathLike
        Directory for the lock files; created when a lock is first acquired. Stored as an
        absolute path, which is what the synchronizer pickles to.
    cleanup : bool, optional
        If True, remove this directory's lock files when the interpreter exits
        (see :meth:`remove_lock_files`). Not carried over by pickling.

    Raises
    ------
    FileExistsError
        If ``path`` exists and is not a directory.

    Examples
    --------
    >>> import tempfile, os
    >>> sync = ProcessSynchronizer(os.path.join(tempfile.mkdtemp(), "example.sync"))
    >>> with sync["foo/0.0"]:
    ...     pass
    """

    def __init__(self, path: str | os.PathLike[str], *, cleanup: bool = False) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise FileExistsError(
                f"synchronizer path {self.path!r} exists and is not a directory; "
                "give a directory outside the store for the lock files"
            )
        self.cleanup = cleanup
        if cleanup:
            atexit.register(_remove_at_exit, self.path, os.getpid())

    def lock_path(self, key: str) -> str:
        """Return the lock file path for ``key`` (validated; see :func:`lock_file_name`)."""
        return os.path.join(self.path, lock_file_name(key))

    def __getitem__(self, key: str) -> _ProcessKeyLock:
        """Return the lock for ``key``.

        Raises
        ------
        KeyValidationError
            If ``key`` is not a valid store key (``"../x"``, ``"/x"``...).
        """
        return _PROCESS_LOCKS.get(self.lock_path(key))

    def remove_lock_files(self) -> None:
        """Delete this synchronizer's lock files, and its directory if then empty.

        Only files named like lock files (``*.lock``) are removed. Call this only
        when no process is using the synchronizer.

        Raises
        ------
        RuntimeError
            If a thread of this process holds one of the locks.
        """
        held = _PROCESS_LOCKS.held_under(self.path)
        if held:
            raise RuntimeError(
                f"cannot remove lock files under {self.path!r}: still held: {sorted(held)}"
            )
        _remove_lock_dir(self.path)

    def __reduce__(self) -> tuple[type[ProcessSynchronizer], tuple[str]]:
        return (type(self), (self.path,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


def _remove_lock_dir(path: str) -> None:
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(_LOCK_SUFFIX):
            try:
                os.remove(os.path.join(path, name))
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty: other files live there, leave them alone


def _remove_at_exit(path: str, pid: int) -> None:
    """Remove lock files at exit, only in the process that asked for it (not forked children)."""
    if os.getpid() != pid:
        return
    try:
        _remove_lock_dir(path)
    except OSError:
        pass
