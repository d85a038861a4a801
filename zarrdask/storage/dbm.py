"""DBMStore: a store in any dbm-style key/value database (``dbm``, ``dbm.dumb``, Berkeley DB).

The database is opened with ``open(path, flag, mode, **open_kwargs)``, where
``open`` is :func:`dbm.open` by default or any compatible opener such as
``berkeleydb.btopen`` or :func:`dbm.dumb.open`. Keys are stored UTF-8 encoded
(the zarrdask rule for every store), values as bytes.
"""

from __future__ import annotations

import dbm
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from zarrdask.keys import validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes

__all__ = ["DBMStore"]


def _encode_key(key: str) -> bytes:
    """Store keys are UTF-8 (undecodable foreign bytes survive a round trip)."""
    return key.encode("utf-8", "surrogateescape")


def _decode_key(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")


class DBMStore(BaseStore):
    """A store in a dbm-style database file.

    Parameters
    ----------
    path : str or os.PathLike
        The database file (some backends add suffixes, e.g. ``dbm.dumb``
        writes ``path.dat`` and ``path.dir``).
    flag : str, optional
        ``'r'`` read only, ``'w'`` read/write an existing database, ``'c'``
        (default) read/write, creating it if needed, ``'n'`` always start a new
        empty database. Backend-specific modifiers may follow.
    mode : int, optional
        Permission bits of new files (default ``0o666``, masked by the umask).
    open : callable, optional
        The opener, ``open(path, flag, mode, **open_kwargs)``; :func:`dbm.open`
        by default. Must be picklable (a module-level function) for the store
        to pickle.
    write_lock : bool, optional
        Guard every operation with a thread lock (default True). Most dbm
        handles are not safe to share between threads without it.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    **open_kwargs
        Passed to ``open``.

    Notes
    -----
    ``close()`` (or ``with``) is required: several backends keep data in memory
    until ``flush()``/``close()``. Fault behaviour is the backend's:
    :mod:`dbm.dumb` (what :func:`dbm.open` falls back to on Pythons without
    gdbm) raises ``OSError`` on a full disk but is not crash safe (its index is
    written on ``flush``/``close``); Berkeley DB opened with ``btopen`` has no
    transactions, and after a write fails on a full disk the file may hold
    garbage. Prefer :class:`~zarrdask.storage.SQLiteStore` or
    :class:`~zarrdask.storage.LMDBStore` where faults matter. Pickling flushes
    the database, and the copy reopens it (flag ``'n'`` becomes ``'c'`` so the
    copy does not empty it); two handles writing the same file at once are not
    supported by these backends.

    Examples
    --------
    >>> import dbm.dumb, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.db")
    >>> with DBMStore(path, open=dbm.dumb.open) as store:
    ...     store["foo/0.0"] = b"abc"
    ...     store["foo/0.0"], store.listdir("foo")
    (b'abc', ['0.0'])
    """

    #: Chunk I/O reads keys one by one on its decoding threads (see ``has_batch_io``).
    _prefer_per_key_io = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        flag: str = "c",
        mode: int = 0o666,
        open: Callable[..., Any] | None = None,  # noqa: A002 - zarr's name
        write_lock: bool = True,
        dimension_separator: str | None = None,
        **open_kwargs: Any,
    ) -> None:
        check_dimension_separator(dimension_separator)
        if not isinstance(flag, str) or not flag or flag[0] not in "rwcn":
            raise ValueError(f"DBMStore flag must start with 'r', 'w', 'c' or 'n', not {flag!r}")
        self.path = os.path.abspath(os.fspath(path))
        self.flag = flag
        self.mode = mode
        self.open = dbm.open if open is None else open
        self.write_lock = bool(write_lock)
        self.open_kwargs = open_kwargs
        self._dimension_separator = dimension_separator
        self.read_only = flag[0] == "r"
        self._lock: AbstractContextManager[Any] = (
            threading.RLock() if self.write_lock else nullcontext()
        )
        self.db: Any = self.open(self.path, flag, mode, **open_kwargs)

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        if self.db is not None and not self.read_only:
            self.flush()  # the copy reopens the file: let it see everything written so far
        flag = "c" + self.flag[1:] if self.flag[0] == "n" else self.flag
        return (self.path, flag, self.mode, self.open, self.write_lock,
                self._dimension_separator, self.open_kwargs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        path, flag, mode, opener, write_lock, separator, open_kwargs = state
        DBMStore.__init__(self, path, flag, mode, opener, write_lock, separator, **open_kwargs)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.path == self.path  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        opener = getattr(self.open, "__module__", "?") + "." + getattr(self.open, "__name__", "?")
        return f"DBMStore({self.path!r}, flag={self.flag!r}, open={opener})"

    # -- life cycle --------------------------------------------------------------------

    def _handle(self) -> Any:
        db = self.db
        if db is None:
            raise ValueError(f"{self!r} is closed")
        return db

    def close(self) -> None:
        """Flush and close the database; idempotent."""
        with self._lock:
            db, self.db = self.db, None
            if db is not None:
                db.close()

    def flush(self) -> None:
        """Write buffered changes to disk (``sync()``, or close and reopen without it)."""
        with self._lock:
            db = self._handle()
            if self.read_only:
                return
            sync = getattr(db, "sync", None)
            if callable(sync):
                sync()
                return
            db.close()
            self.db = None
            flag = "c" + self.flag[1:] if self.flag[0] == "n" else self.flag
            self.db = self.open(self.path, flag, self.mode, **self.open_kwargs)

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        raw = _encode_key(key)
        with self._lock:
            value = self._handle()[raw]
        return value if isinstance(value, bytes) else bytes(value)

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        raw = _encode_key(validate_key(key))
        data = ensure_bytes(value)
        with self._lock:
            db = self._handle()
            try:
                db[raw] = data
            except BaseException as exc:
                exc.add_note(f"DBMStore: writing key {key!r} to {self.path!r} failed")
                raise

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        raw = _encode_key(validate_key(key))
        with self._lock:
            db = self._handle()
            try:
                del db[raw]
            except KeyError:
                raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        raw = _encode_key(key)
        with self._lock:
            return raw in self._handle()

    def _keys(self) -> list[str]:
        with self._lock:
            return [_decode_key(k) for k in self._handle().keys()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        with self._lock:
            return len(self._handle())

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable("")
        with self._lock:
            db = self._handle()
            for raw in list(db.keys()):
                del db[raw]

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys (one at a time: dbm has no transactions)."""
        for key, value in items.items():
            self[key] = value
