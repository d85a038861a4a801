"""Directory stores: one file per key under a root folder, written atomically.

``DirectoryStore`` maps key ``a/b/0.0`` to the file ``<root>/a/b/0.0``. Each
write goes to a temporary file in the same folder (named
``.<name>.<32 hex>.partial``, which can never be a valid key) and is moved into
place with :func:`os.replace`, so a crash leaves every key old or new, never
torn; temporary files never show in ``keys()`` or ``listdir``. ``durable=True``
also fsyncs the file and its folder. ``NestedDirectoryStore`` defaults to the
``/`` chunk separator and ``TempStore`` lives in a fresh temporary folder.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.errors import FSPathExistNotDir, KeyValidationError
from zarrdask.keys import normalize_storage_path, validate_key
from zarrdask.storage._base import BaseStore, as_buffer, check_dimension_separator
from zarrdask.storage._filereader import FileReader, prefetch_paths

__all__ = ["ChunkFileWriter", "DirectoryStore", "NestedDirectoryStore", "TempStore", "is_temp_name"]

# Our temp files (".<name>.<hex>.partial") and zarr-python's ("<name>.<hex>.partial").
_TEMP_NAME = re.compile(r"\.[0-9a-f]{32}\.partial\Z")
# Keep temp names well below the usual 255-byte file name limit.
_MAX_TEMP_STEM = 100
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(
    os, "O_BINARY", 0)


class _TempNames:
    """Unique temp-file suffixes: 24 random hex digits per process, then a counter.

    Cheaper than a UUID per write; a forked child draws new random digits.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.token = os.urandom(12).hex()
        self.counter = itertools.count()  # next() is atomic under the GIL

    def suffix(self) -> str:
        return f"{self.token}{next(self.counter) & 0xFFFFFFFF:08x}"


_temp_names = _TempNames()


def is_temp_name(name: str) -> bool:
    """Return whether a file name is an in-progress (or leftover) atomic-write temp file.

    Examples
    --------
    >>> is_temp_name(".0.0." + "ab" * 16 + ".partial")
    True
    >>> is_temp_name("0.0")
    False
    """
    return _TEMP_NAME.search(name) is not None


def _fsync_dir(path: str) -> None:
    """Flush a folder's entries to disk (no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(folder: str, name: str, data: Any, durable: bool,
                  make_folder: Callable[[str], None], key: str) -> None:
    """Write ``data`` to ``folder/name`` atomically: a temp file, then :func:`os.replace`.

    The temp file is made in ``folder`` (so the rename stays on one file system);
    ``make_folder`` makes ``folder`` when it is missing. With ``durable`` the file
    and then the folder are fsynced. On any error the temp file is removed; ``key``
    names the store key in errors.
    """
    target = folder + os.sep + name
    temp = f"{folder}{os.sep}.{name[:_MAX_TEMP_STEM]}.{_temp_names.suffix()}.partial"
    try:
        fd = os.open(temp, _CREATE_FLAGS, 0o666)
    except FileNotFoundError:
        make_folder(folder)
        fd = os.open(temp, _CREATE_FLAGS, 0o666)
    try:
        try:
            if type(data) is not bytes:
                data = memoryview(data).cast("B")
            written = os.write(fd, data)
            if written < len(data):  # short writes: large files, signals, some file systems
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(temp, target)
        except IsADirectoryError:
            # An empty leftover folder may be replaced; a non-empty one is data.
            try:
                os.rmdir(target)
            except OSError:
                raise IsADirectoryError(
                    f"cannot write store key {key!r}: a non-empty folder is in the way "
                    f"at {target!r}"
                ) from None
            os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(folder)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class DirectoryStore(BaseStore):
    """A store keeping each key as a file under a local folder.

    Parameters
    ----------
    path : str or os.PathLike
        The root folder. It need not exist: it is created on the first write.
    normalize_keys : bool, optional
        Lower-case every key.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created in this store.
    durable : bool, optional
        fsync each written file and its folder before returning.
    read_only : bool, optional
        Refuse every write and delete.

    Raises
    ------
    FSPathExistNotDir
        If ``path`` exists and is not a folder.

    Notes
    -----
    Keys are validated on every access (``../evil`` raises
    :class:`~zarrdask.errors.KeyValidationError`) and a write never follows a
    symlink out of the root. A folder where a key's file should be reads as a
    missing key; permission and other OS errors propagate.

    Examples
    --------
    >>> import tempfile
    >>> store = DirectoryStore(tempfile.mkdtemp())
    >>> store["foo/0.0"] = b"abc"
    >>> store["foo/0.0"], list(store), store.listdir("foo")
    (b'abc', ['foo/0.0'], ['0.0'])
    """

    #: Chunk I/O reads keys one by one on its decoding threads (see ``has_batch_io``).
    _prefer_per_key_io = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
        durable: bool = False,
        *,
        read_only: bool = False,
    ) -> None:
        check_dimension_separator(dimension_separator)
        abspath = os.path.abspath(os.fspath(path))
        if os.path.exists(abspath) and not os.path.isdir(abspath):
            raise FSPathExistNotDir(f"path exists but is not a directory: {abspath!r}")
        self.path = abspath
        self.normalize_keys = bool(normalize_keys)
        self._dimension_separator = dimension_separator
        self.durable = bool(durable)
        self.read_only = bool(read_only)

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        # a tuple, not a dict: stores travel inside every dask task, so keep them small
        return (self.path, self.normalize_keys, self._dimension_separator, self.durable,
                self.read_only)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        # Bypass subclass constructors (TempStore must not make a new folder).
        path, normalize_keys, separator, durable, read_only = state
        DirectoryStore.__init__(self, path, normalize_keys, separator, durable,
                                read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.path == self.path  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    # -- key -> file path --------------------------------------------------------------

    def _normalize_key(self, key: str) -> str:
        if self.normalize_keys and isinstance(key, str):
            key = key.lower()
        validate_key(key)
        if _TEMP_NAME.search(key):
            raise KeyValidationError(
                f"store key {key!r} ends like a temporary file ('.<32 hex>.partial'); "
                "such names are reserved by DirectoryStore"
            )
        if os.name == "nt" and ":" in key:  # pragma: no cover - Windows only
            raise KeyValidationError(f"store key {key!r} contains ':'")
        return key

    def _file_path(self, key: str) -> str:
        if os.sep != "/":  # pragma: no cover - Windows only
            key = key.replace("/", os.sep)
        return os.path.join(self.path, key)

    def _dir_path(self, path: str | None) -> tuple[str, str]:
        """Normalise a hierarchy path; return it and its folder on disk."""
        path = normalize_storage_path(path)
        if self.normalize_keys:
            path = path.lower()
        return path, (self._file_path(path) if path else self.path)

    def _check_no_escape(self, rel_dir: str) -> bool:
        """Refuse a folder path (relative, ``/``-separated) that leaves the root via a symlink.

        Returns whether every folder of the path exists (a missing one cannot be a
        symlink, and neither can anything below it).
        """
        if not rel_dir:
            return True
        current = self.path
        for part in rel_dir.split("/"):
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return False
            if stat.S_ISLNK(mode):
                real_root = os.path.realpath(self.path)
                if not _within(os.path.realpath(current), real_root):
                    raise KeyValidationError(
                        f"store path {rel_dir!r} leads outside the store root "
                        f"{self.path!r} through the symlink {current!r}"
                    )
        return True

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        key = self._normalize_key(key)
        try:
            with open(self._file_path(key), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: bytes) -> None:
        key = self._normalize_key(key)
        self._check_writable(key)
        folder_exists = self._check_no_escape(key.rpartition("/")[0])
        data = as_buffer(value)
        self._write_file(key, data, folder_exists)

    def _write_file(self, key: str, data: Any, folder_exists: bool = True) -> None:
        """Write ``data`` to the file of ``key`` atomically (temp file + os.replace).

        ``folder_exists=False`` makes the key's folder first (else it is made when
        the temp file cannot be created for want of it).
        """
        folder, name = os.path.split(self._file_path(key))
        if not folder_exists:
            self._makedirs(folder)
        _write_atomic(folder, name, data, self.durable, self._makedirs, key)

    def _makedirs(self, folder: str) -> None:
        """Create ``folder`` and its missing parents (fsyncing their parents if durable)."""
        if not self.durable:
            try:
                os.mkdir(folder)  # usually only the leaf is missing: one call
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            except FileExistsError:
                if not os.path.isdir(folder):
                    raise
            return
        missing: list[str] = []
        current = folder
        while not os.path.isdir(current):
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for new in reversed(missing):
            try:
                os.mkdir(new)
            except FileExistsError:
                pass
            _fsync_dir(os.path.dirname(new))

    def __delitem__(self, key: str) -> None:
        key = self._normalize_key(key)
        self._check_writable(key)
        self._check_no_escape(key.rpartition("/")[0])
        path = self._file_path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except (IsADirectoryError, PermissionError):
            if os.path.isdir(path) and not os.path.islink(path):
                raise KeyError(key) from None  # a folder is not a key
            raise
        if self.durable:
            _fsync_dir(os.path.dirname(path))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return os.path.isfile(self._file_path(self._normalize_key(key)))

    def _walk(self, folder: str, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, f"{prefix}{entry.name}/")
            elif entry.is_file() and not _TEMP_NAME.search(entry.name):
                yield f"{prefix}{entry.name}"

    def __iter__(self) -> Iterator[str]:
        return self._walk(self.path, "")

    def __len__(self) -> int:
        return sum(1 for _ in self._walk(self.path, ""))

    def clear(self) -> None:
        """Remove every key (the root folder is removed; it is re-created on write)."""
        self._check_writable("")
        try:
            shutil.rmtree(self.path)
        except FileNotFoundError:
            pass

    # -- capabilities ------------------------------------------------------------------

    def chunk_reader(self, size_hint: int = 1 << 20) -> FileReader | None:
        """A reader with read-ahead for chunk I/O, or None when a subclass reads differently.

        It reads exactly what ``self[key]`` returns, for stores that keep this
        class's ``__getitem__``; ``size_hint`` is the expected largest file.
        """
        if type(self).__getitem__ is not DirectoryStore.__getitem__:
            return None
        return FileReader(lambda key: self._file_path(self._normalize_key(key)), size_hint)

    def chunk_writer(self) -> ChunkFileWriter | None:
        """A writer of chunk files for chunk I/O, or None (read-only store, or a subclass
        that writes or deletes keys differently).

        It writes and deletes exactly as ``self[key] = data`` and ``del self[key]``
        do, but checks each folder once instead of every key once, for keys that
        chunk I/O made from an array's (already validated) path.
        """
        cls = type(self)
        if (self.read_only or cls.__setitem__ is not DirectoryStore.__setitem__
                or cls.__delitem__ is not DirectoryStore.__delitem__
                or cls._write_file is not DirectoryStore._write_file):
            return None
        return ChunkFileWriter(self)

    def prefetch(self, keys: Sequence[str]) -> None:
        """Ask the kernel to start reading the files of ``keys`` (they may be missing).

        Speculative and silent: invalid or missing keys are skipped. Groups call
        it, on a background thread, for their members' metadata.
        """
        paths = []
        for key in keys:
            try:
                paths.append(self._file_path(self._normalize_key(key)))
            except (KeyValidationError, TypeError, ValueError):
                continue
        prefetch_paths(paths)

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys; missing keys are left out."""
        out: dict[str, bytes] = {}
        for key in keys:
            try:
                out[key] = self[key]
            except KeyError:
                continue
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys (each atomically)."""
        for key, value in items.items():
            self[key] = value

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted names in the folder ``path`` (without temp files)."""
        _, folder = self._dir_path(path)
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not _TEMP_NAME.search(n))

    def rmdir(self, path: str | None = "") -> None:
        """Remove the folder ``path`` and everything in it (``""``: every key)."""
        rel, folder = self._dir_path(path)
        self._check_writable(rel)
        if not rel:
            self.clear()
            return
        self._check_no_escape(rel)
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder)
            if self.durable:
                _fsync_dir(os.path.dirname(folder))

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the file ``path``, or the sum of files directly in folder ``path``."""
        _, folder = self._dir_path(path)
        if os.path.isfile(folder):
            return os.path.getsize(folder)
        try:
            with os.scandir(folder) as it:
                return sum(
                    e.stat().st_size
                    for e in it
                    if e.is_file() and not _TEMP_NAME.search(e.name)
                )
        except (FileNotFoundError, NotADirectoryError):
            return 0

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move the file or folder ``src_path`` to ``dst_path`` (``os.rename``).

        Raises
        ------
        KeyError
            If nothing exists at ``src_path``.
        ValueError
            If either path is the root or ``dst_path`` lies inside ``src_path``.
        """
        src_rel, src = self._dir_path(src_path)
        dst_rel, dst = self._dir_path(dst_path)
        self._check_writable(src_rel)
        if not src_rel or not dst_rel:
            raise ValueError(
                f"cannot rename the store root: src_path={src_rel!r}, dst_path={dst_rel!r}"
            )
        if dst_rel.startswith(f"{src_rel}/"):
            raise ValueError(f"cannot rename {src_rel!r} to {dst_rel!r}, a path inside itself")
        if src_rel == dst_rel:
            return
        self._check_no_escape(src_rel.rpartition("/")[0])
        self._check_no_escape(dst_rel.rpartition("/")[0])
        if not os.path.lexists(src):
            raise KeyError(src_rel)
        self._makedirs(os.path.dirname(dst))
        os.rename(src, dst)
        if self.durable:
            _fsync_dir(os.path.dirname(dst))
            _fsync_dir(os.path.dirname(src))
        # Prune folders emptied by the move, never the root itself.
        parent = os.path.dirname(src)
        while parent != self.path and _within(parent, self.path):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)


class ChunkFileWriter:
    """Writes chunk files of one :class:`DirectoryStore` for one chunk-I/O call.

    The per-key work of ``store[key] = data`` is validating the key and checking
    that no folder on its path is a symlink leading out of the store. Chunk keys
    are made by chunk I/O from an array path the store has already accepted, so
    only the symlink check remains, and it is done once per folder. Files are
    written atomically by the same code as ``store[key] = data``. Thread-safe.

    Parameters
    ----------
    store : DirectoryStore
        The store; its settings (``normalize_keys``, ``durable``) apply.
    """

    def __init__(self, store: DirectoryStore) -> None:
        self._store = store
        self._checked: set[str] = set()  # key folders found free of escaping symlinks

    def write(self, key: str, data: Any) -> None:
        """Write the chunk ``key`` (a chunk key of an array of this store)."""
        store = self._store
        if store.normalize_keys:
            key = key.lower()
        rel_dir, _, name = key.rpartition("/")
        if rel_dir not in self._checked:
            store._check_no_escape(rel_dir)
            self._checked.add(rel_dir)
        folder = store._file_path(rel_dir) if rel_dir else store.path
        if type(data) is not bytes:
            data = as_buffer(data)
        _write_atomic(folder, name, data, store.durable, store._makedirs, key)

    def delete(self, key: str) -> None:
        """Delete the chunk ``key`` if it exists (a chunk that is all fill value)."""
        try:
            del self._store[key]
        except KeyError:
            pass


class NestedDirectoryStore(DirectoryStore):
    """A :class:`DirectoryStore` whose arrays default to the ``/`` chunk separator.

    Parameters
    ----------
    path : str or os.PathLike
        The root folder.
    normalize_keys : bool, optional
        Lower-case every key.
    dimension_separator : {'/', None}, optional
        Must be ``'/'`` (``None`` means ``'/'``).
    durable : bool, optional
        fsync each written file and its folder.
    read_only : bool, optional
        Refuse every write and delete.

    Raises
    ------
    ValueError
        If ``dimension_separator`` is not ``'/'``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        normalize_keys: bool = False,
        dimension_separator: str | None = "/",
        durable: bool = False,
        *,
        read_only: bool = False,
    ) -> None:
        if dimension_separator is None:
            dimension_separator = "/"
        if dimension_separator != "/":
            raise ValueError(
                "NestedDirectoryStore only supports '/' as dimension_separator, "
                f"not {dimension_separator!r}"
            )
        super().__init__(
            path,
            normalize_keys=normalize_keys,
            dimension_separator=dimension_separator,
            durable=durable,
            read_only=read_only,
        )


def _remove_tree_at_exit(path: str) -> None:  # pragma: no cover - runs at exit
    shutil.rmtree(path, ignore_errors=True)


class TempStore(DirectoryStore):
    """A :class:`DirectoryStore` in a fresh temporary folder removed at interpreter exit.

    Parameters
    ----------
    suffix, prefix, dir : str, optional
        Passed to :func:`tempfile.mkdtemp`.
    normalize_keys : bool, optional
        Lower-case every key.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.

    Notes
    -----
    An unpickled copy points at the same folder and does not remove it.
    """

    def __init__(
        self,
        suffix: str = "",
        prefix: str = "zarr",
        dir: str | os.PathLike[str] | None = None,
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
    ) -> None:
        path = tempfile.mkdtemp(suffix=suffix, prefix=prefix, dir=dir)
        atexit.register(_remove_tree_at_exit, path)
        super().__init__(
            path, normalize_keys=normalize_keys, dimension_separator=dimension_separator
        )
