"""LMDBStore: a store in an LMDB environment (the ``lmdb`` package), with safe defaults.

Keys are stored UTF-8 encoded and kept sorted by LMDB, so prefix operations
(``listdir``, ``rmdir``, ``getsize``) are exact cursor range scans. Each
``setitems``/``delitems``/``rmdir`` is one write transaction: all or nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.errors import KeyValidationError
from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import (
    BaseStore,
    _plan_rename,
    check_dimension_separator,
    ensure_bytes,
)

__all__ = ["LMDBStore"]

# One environment per (process, path): LMDB forbids opening the same one twice in a process.
_ENVS: dict[tuple[int, str], list[Any]] = {}  # -> [env, refcount, readonly]
_ENVS_LOCK = threading.Lock()


def _encode_key(key: str) -> bytes:
    """Store keys are UTF-8 (undecodable foreign bytes survive a round trip)."""
    return key.encode("utf-8", "surrogateescape")


def _decode_key(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogateescape")


def _free_bytes(path: str) -> int | None:
    """Bytes available to us on the filesystem holding ``path`` (None if unknown)."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        return None
    return st.f_bavail * st.f_frsize


def _acquire_env(path: str, kwargs: dict[str, Any]) -> Any:
    import lmdb

    ident = (os.getpid(), os.path.realpath(path))
    readonly = bool(kwargs.get("readonly", False))
    with _ENVS_LOCK:
        for other in [k for k in _ENVS if k[1] == ident[1] and k[0] != ident[0]]:
            # Inherited over fork: unusable here, and lmdb refuses a second open while it
            # exists. Closing it in the child releases only the child's reader slots.
            stale = _ENVS.pop(other)[0]
            try:
                stale.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
        entry = _ENVS.get(ident)
        if entry is not None:
            if entry[2] and not readonly:
                raise ValueError(
                    f"the LMDB environment {path!r} is already open read-only in this process; "
                    "close the other LMDBStore on it before opening it for writing"
                )
            entry[1] += 1
            return entry[0]
        env = lmdb.open(path, **kwargs)
        _ENVS[ident] = [env, 1, readonly]
        return env


def _release_env(path: str, env: Any) -> None:
    ident = (os.getpid(), os.path.realpath(path))
    with _ENVS_LOCK:
        entry = _ENVS.get(ident)
        if entry is None or entry[0] is not env:  # not ours (e.g. inherited over fork)
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _ENVS[ident]
            env.close()


class LMDBStore(BaseStore):
    """A store in a Lightning Memory-Mapped Database (LMDB) environment.

    Parameters
    ----------
    path : str or os.PathLike
        The environment: a folder (``data.mdb``, ``lock.mdb``), or a file with
        ``subdir=False``.
    buffers : bool, optional
        Accepted for compatibility with zarr 2. Values are always returned as
        ``bytes`` copied inside the read transaction: a zero-copy buffer would
        point into the map after its transaction ended.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.
    **kwargs
        Passed to :func:`lmdb.open`. Defaults: ``map_size=2**40`` (``2**28``
        on 32-bit; the file grows as needed), ``writemap=False``,
        ``sync=False``, ``metasync=False``, ``map_async=False``,
        ``meminit=False``, ``max_spare_txns=os.cpu_count()``. ``readonly=True``
        makes the store read-only.

    Notes
    -----
    ``writemap=False`` is the safe choice: with ``writemap=True`` a full disk
    kills the process with SIGBUS; with the default the write raises
    ``lmdb.DiskError`` and the database keeps its last committed state. With
    ``sync=False`` the last commits may be lost on a power failure (the
    database stays consistent); pass ``sync=True`` for durable commits, or call
    :meth:`flush`. Keys longer than the environment's limit (511 bytes in
    UTF-8 by default) raise :class:`~zarrdask.errors.KeyValidationError`.
    Stores on the same path in one process share one environment.

    Examples
    --------
    >>> import tempfile
    >>> with LMDBStore(tempfile.mkdtemp()) as store:
    ...     store["foo/0.0"] = b"abc"
    ...     store["foo/0.0"], store.listdir("foo")
    (b'abc', ['0.0'])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        buffers: bool = True,
        dimension_separator: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_dimension_separator(dimension_separator)
        self.path = os.path.abspath(os.fspath(path))
        self.buffers = bool(buffers)
        self._dimension_separator = dimension_separator
        self.kwargs = dict(kwargs)
        options: dict[str, Any] = {
            "map_size": 2**40 if sys.maxsize >= 2**32 else 2**28,
            "writemap": False,
            "sync": False,
            "metasync": False,
            "map_async": False,
            "meminit": False,
            "max_spare_txns": os.cpu_count() or 1,
        }
        options.update(kwargs)
        self.read_only = bool(options.get("readonly", False))
        self._options = options
        self._env: Any = _acquire_env(self.path, options)
        self._pid = os.getpid()
        self._max_key = self._env.max_key_size()

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        if self._env is not None and not self.read_only:
            self.flush()
        return (self.path, self.buffers, self._dimension_separator, self.kwargs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        path, buffers, separator, kwargs = state
        LMDBStore.__init__(self, path, buffers, separator, **kwargs)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.path == self.path  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LMDBStore({self.path!r})"

    # -- life cycle --------------------------------------------------------------------

    @property
    def db(self) -> Any:
        """The ``lmdb.Environment`` (shared by stores on the same path in this process)."""
        return self._handle()

    def _handle(self) -> Any:
        env = self._env
        if env is None:
            raise ValueError(f"{self!r} is closed")
        if self._pid != os.getpid():  # forked: LMDB handles must not cross a fork
            self._env = env = _acquire_env(self.path, self._options)
            self._pid = os.getpid()
        return env

    def close(self) -> None:
        """Release the environment (closed when its last store closes); idempotent."""
        env, self._env = self._env, None
        if env is not None:
            _release_env(self.path, env)

    def flush(self) -> None:
        """Force committed transactions to disk (``env.sync(True)``)."""
        env = self._handle()
        if not self.read_only:
            env.sync(True)

    # -- keys --------------------------------------------------------------------------

    def _raw(self, key: str, write: bool) -> bytes:
        if write:
            self._check_writable(key)
            validate_key(key)
        raw = _encode_key(key)
        if len(raw) > self._max_key:
            if not write:
                raise KeyError(key)
            raise KeyValidationError(
                f"store key {key!r} is {len(raw)} bytes in UTF-8; LMDB keys are limited "
                f"to {self._max_key} bytes"
            )
        return raw

    def _write(self, what: str, body: Any, nbytes: int = 0) -> None:
        """Run ``body(txn)`` in one write transaction, naming the store in any error."""
        try:
            with self._handle().begin(write=True) as txn:
                body(txn)
        except KeyError:
            raise
        except Exception as exc:
            note = f"LMDBStore: {what} in {self.path!r} failed; nothing of it was written"
            free = _free_bytes(self.path)
            if free is not None and free <= nbytes + (1 << 16):
                # LMDB often reports ENOSPC as a bare "Input/output error"
                note += f"; the disk is full ({free} bytes free)"
            exc.add_note(note)
            raise

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        raw = self._raw(key, write=False)
        with self._handle().begin() as txn:
            value = txn.get(raw)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: bytes) -> None:
        self.setitems({key: value})

    def __delitem__(self, key: str) -> None:
        raw = self._raw(key, write=True)

        def body(txn: Any) -> None:
            if not txn.delete(raw):
                raise KeyError(key)

        self._write(f"deleting key {key!r}", body)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            raw = self._raw(key, write=False)
        except KeyError:
            return False
        with self._handle().begin() as txn:
            return txn.get(raw) is not None

    def _scan(self, prefix: str) -> list[tuple[str, int]]:
        """Keys starting with ``prefix`` and their value sizes, in key order."""
        start = _encode_key(prefix)
        out: list[tuple[str, int]] = []
        with self._handle().begin(buffers=True) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(start):
                return out
            for raw, value in cursor:
                raw = bytes(raw)
                if not raw.startswith(start):
                    break
                out.append((_decode_key(raw), len(value)))
        return out

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._scan("")])

    def keys(self) -> Any:
        """Return the keys (a snapshot, in sorted order)."""
        return [key for key, _ in self._scan("")]

    def __len__(self) -> int:
        return int(self._handle().stat()["entries"])

    def clear(self) -> None:
        """Remove every key (one transaction)."""
        self.rmdir("")

    # -- batches -------------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys in one read transaction; missing keys are left out."""
        out: dict[str, bytes] = {}
        with self._handle().begin() as txn:
            for key in keys:
                try:
                    raw = self._raw(key, write=False)
                except (KeyError, AttributeError):  # too long, or not a str
                    continue
                value = txn.get(raw)
                if value is not None:
                    out[key] = value
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys in one write transaction (all or nothing)."""
        staged = [(self._raw(key, write=True), ensure_bytes(value)) for key, value in items.items()]
        if not staged:
            return

        def body(txn: Any) -> None:
            for raw, data in staged:
                txn.put(raw, data)

        first = next(iter(items))
        what = f"writing key {first!r}" if len(staged) == 1 else (
            f"writing {len(staged)} keys ({first!r}, ...)")
        self._write(what, body, sum(len(data) for _, data in staged))

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys in one write transaction; missing keys are ignored."""
        raws = [self._raw(key, write=True) for key in keys]
        if raws:
            self._write(f"deleting {len(raws)} keys", lambda txn: [txn.delete(r) for r in raws])

    # -- prefix operations ---------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path`` (a cursor range scan)."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({key[n:].split("/", 1)[0] for key, _ in self._scan(prefix)
                       if len(key) > n})

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` in one transaction (exact prefix)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        start = _encode_key(prefix_of(path))

        def body(txn: Any) -> None:
            cursor = txn.cursor()
            if not cursor.set_range(start):
                return
            while bytes(cursor.key()).startswith(start):
                if not cursor.delete():  # moves to the next key
                    break
                if not cursor.key():
                    break

        self._write(f"removing {path or 'every key'!r}", body)

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the value at ``path``, or the sum of values directly under it."""
        path = normalize_storage_path(path)
        if path:
            with self._handle().begin(buffers=True) as txn:
                value = txn.get(_encode_key(path))
                if value is not None:
                    return len(value)
        prefix = prefix_of(path)
        n = len(prefix)
        return sum(size for key, size in self._scan(prefix) if len(key) > n and "/" not in key[n:])

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` and every key under it to ``dst_path`` in one transaction."""
        src = normalize_storage_path(src_path)
        dst = normalize_storage_path(dst_path)
        self._check_writable(src)
        moves = _plan_rename(src, dst, lambda prefix: [k for k, _ in self._scan(prefix)],
                             self.__contains__)
        if not moves:
            return
        raws = {self._raw(old, write=False): self._raw(new, write=True)
                for old, new in moves.items()}

        def body(txn: Any) -> None:
            for old, new in raws.items():
                txn.put(new, txn.get(old))
                txn.delete(old)

        self._write(f"renaming {src!r} to {dst!r}", body)
