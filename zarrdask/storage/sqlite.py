"""SQLiteStore: a store in one SQLite table, with exact prefix operations and batch transactions.

The table is zarr-python's: ``zarr(k TEXT PRIMARY KEY, v BLOB)``, so files
written by either library open in the other. Prefix operations use range
predicates (``k >= 'a/' AND k < 'a0'``), never ``LIKE``: ``_`` and ``%`` in
names are plain characters and case matters. Every ``setitems``,
``delitems``, ``rmdir`` and ``rename`` is one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import (
    BaseStore,
    _plan_rename,
    check_dimension_separator,
    ensure_bytes,
)

__all__ = ["SQLiteStore"]

_MEMORY = ":memory:"
_MAX_VARIABLES = 500  # keys per "IN (...)" query, well under SQLite's limit


def _range(prefix: str) -> tuple[str, str] | None:
    """``(low, high)`` with ``low <= k < high`` exactly the keys starting with ``prefix``."""
    if not prefix:
        return None
    # prefix ends with '/', and the next code point is '0': a BINARY-collation range.
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SQLiteStore(BaseStore):
    """A store in an SQLite database file.

    Parameters
    ----------
    path : str or os.PathLike
        The database file, or ``':memory:'`` for a private in-memory database.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    read_only : bool, optional
        Open the file read-only (it must exist) and refuse writes.
    **kwargs
        Passed to :func:`sqlite3.connect` (``timeout``...).

    Notes
    -----
    One connection is shared by the store's threads under a lock. SQLite's
    defaults are kept (rollback journal, ``synchronous=FULL``): a crash or a
    full disk ("database or disk is full") rolls back the whole current batch
    and leaves every earlier one intact. Several processes may use one file;
    SQLite serialises their writes. An in-memory store cannot be pickled.

    Examples
    --------
    >>> store = SQLiteStore(":memory:")
    >>> store.setitems({"a_c/0": b"1", "abc/0": b"2"})
    >>> store.rmdir("a_c")
    >>> list(store)
    ['abc/0']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dimension_separator: str | None = None,
        *,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        check_dimension_separator(dimension_separator)
        path = os.fspath(path)
        if path != _MEMORY:
            path = os.path.abspath(path)
        self.path = path
        self._dimension_separator = dimension_separator
        self.read_only = bool(read_only)
        self.kwargs = dict(kwargs)
        self._lock = threading.RLock()
        options = {"check_same_thread": False, **kwargs, "isolation_level": None}
        if self.read_only and path != _MEMORY:
            if not os.path.exists(path):
                raise FileNotFoundError(f"no SQLite database at {path!r} (read_only=True)")
            from urllib.request import pathname2url

            options["uri"] = True
            target = f"file:{pathname2url(path)}?mode=ro"
        else:
            target = path
        self._connect_args = (target, options)
        self._pid = os.getpid()
        self.db: sqlite3.Connection | None = sqlite3.connect(target, **options)
        if not self.read_only:
            with self._lock:
                self.db.execute("CREATE TABLE IF NOT EXISTS zarr(k TEXT PRIMARY KEY, v BLOB)")

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        if self.path == _MEMORY:
            raise TypeError(
                "an SQLiteStore on ':memory:' cannot be pickled: its data lives only in this "
                "connection; use a file path"
            )
        return (self.path, self._dimension_separator, self.read_only, self.kwargs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        path, separator, read_only, kwargs = state
        SQLiteStore.__init__(self, path, separator, read_only=read_only, **kwargs)

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and self.path != _MEMORY
                and other.path == self.path)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- connection helpers ------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        db = self.db
        if db is None:
            raise ValueError(f"{self!r} is closed")
        if self._pid != os.getpid() and self.path != _MEMORY:
            # forked: an SQLite connection must not be used across a fork
            target, options = self._connect_args
            self.db = db = sqlite3.connect(target, **options)
            self._pid = os.getpid()
        return db

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn().execute(sql, params).fetchall()

    def _transaction(self, what: str, body: Any) -> None:
        """Run ``body(connection)`` in one write transaction (all or nothing)."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                body(db)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if not isinstance(exc, KeyError):
                    exc.add_note(
                        f"SQLiteStore: {what} in {self.path!r} failed; nothing of it was written"
                    )
                raise

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            db, self.db = self.db, None
            if db is not None:
                db.close()

    def flush(self) -> None:
        """Nothing to do: every batch is committed when it returns."""
        self._conn()

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        rows = self._query("SELECT v FROM zarr WHERE k = ?", (key,))
        if not rows:
            raise KeyError(key)
        return bytes(rows[0][0])

    def __setitem__(self, key: str, value: bytes) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        validate_key(key)

        def body(db: sqlite3.Connection) -> None:
            if db.execute("DELETE FROM zarr WHERE k = ?", (key,)).rowcount == 0:
                raise KeyError(key)

        self._transaction(f"deleting key {key!r}", body)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self._query("SELECT 1 FROM zarr WHERE k = ?", (key,)))

    def _keys(self, prefix: str = "") -> list[str]:
        bounds = _range(prefix)
        if bounds is None:
            return [k for (k,) in self._query("SELECT k FROM zarr ORDER BY k")]
        return [k for (k,) in self._query(
            "SELECT k FROM zarr WHERE k >= ? AND k < ? ORDER BY k", bounds)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def keys(self) -> Any:
        """Return the keys (a snapshot, in sorted order)."""
        return self._keys()

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM zarr")[0][0])

    def clear(self) -> None:
        """Remove every key (one transaction)."""
        self.rmdir("")

    # -- batches -------------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys with a few ``IN (...)`` queries; missing keys are left out."""
        wanted = [k for k in dict.fromkeys(keys) if isinstance(k, str)]
        out: dict[str, bytes] = {}
        for i in range(0, len(wanted), _MAX_VARIABLES):
            part = wanted[i:i + _MAX_VARIABLES]
            marks = ",".join("?" * len(part))
            for k, v in self._query(f"SELECT k, v FROM zarr WHERE k IN ({marks})", part):
                out[k] = bytes(v)
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys in one transaction (all or nothing)."""
        rows = []
        for key, value in items.items():
            self._check_writable(key)
            validate_key(key)
            rows.append((key, ensure_bytes(value)))
        if not rows:
            return
        what = f"writing key {rows[0][0]!r}" if len(rows) == 1 else (
            f"writing {len(rows)} keys ({rows[0][0]!r}, ...)")
        self._transaction(
            what, lambda db: db.executemany("REPLACE INTO zarr(k, v) VALUES (?, ?)", rows))

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys in one transaction; missing keys are ignored."""
        doomed = []
        for key in keys:
            self._check_writable(key)
            doomed.append((validate_key(key),))
        if doomed:
            self._transaction(f"deleting {len(doomed)} keys",
                              lambda db: db.executemany("DELETE FROM zarr WHERE k = ?", doomed))

    # -- prefix operations (exact ranges, never LIKE) -------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path``."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in self._keys(prefix) if len(k) > n})

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` in one transaction (exact prefix, case-sensitive)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        bounds = _range(prefix_of(path))
        if bounds is None:
            self._transaction("removing every key", lambda db: db.execute("DELETE FROM zarr"))
        else:
            self._transaction(f"removing {path!r}", lambda db: db.execute(
                "DELETE FROM zarr WHERE k >= ? AND k < ?", bounds))

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the value at ``path``, or the sum of values directly under it."""
        path = normalize_storage_path(path)
        if path:
            rows = self._query("SELECT length(v) FROM zarr WHERE k = ?", (path,))
            if rows:
                return int(rows[0][0] or 0)
        prefix = prefix_of(path)
        n = len(prefix)
        bounds = _range(prefix)
        if bounds is None:
            rows = self._query("SELECT k, length(v) FROM zarr")
        else:
            rows = self._query("SELECT k, length(v) FROM zarr WHERE k >= ? AND k < ?", bounds)
        return sum(int(size or 0) for k, size in rows if "/" not in k[n:])

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` and every key under it to ``dst_path`` in one transaction."""
        src = normalize_storage_path(src_path)
        dst = normalize_storage_path(dst_path)
        self._check_writable(src)
        moves = _plan_rename(src, dst, self._keys, self.__contains__)
        if not moves:
            return

        def body(db: sqlite3.Connection) -> None:
            for old, new in moves.items():
                db.execute("REPLACE INTO zarr(k, v) SELECT ?, v FROM zarr WHERE k = ?", (new, old))
            db.executemany("DELETE FROM zarr WHERE k = ?", [(old,) for old in moves])

        self._transaction(f"renaming {src!r} to {dst!r}", body)
