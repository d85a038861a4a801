"""``FSStore``: a store over any fsspec filesystem (``s3://``, ``file://``, ``memory://``, chains).

Keys map to paths under a root URL. Only a *missing* file (``FileNotFoundError``
and, for local folders, ``IsADirectoryError``/``NotADirectoryError``) reads as a
missing key; permission, network and other errors propagate with a note naming
the key, so a failure can never turn into fill values. ``getitems``/``setitems``
go through fsspec's batched ``cat``/``pipe``, which fetch or send many keys
concurrently on async filesystems such as S3. On the local filesystem every
write is atomic (temp file + ``os.replace``, through :class:`DirectoryStore`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.keys import RESERVED_NAMES, normalize_storage_path, validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes
from zarrdask.storage.directory import DirectoryStore, is_temp_name

__all__ = ["FSStore"]

#: Exceptions that mean "this key does not exist" unless the caller says otherwise.
DEFAULT_MISSING_EXCEPTIONS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
)
_CHUNK_NAME = re.compile(r"\d+(\.\d+)*\Z")
_MODES = ("r", "r+", "a", "w", "w-", "x")


def _note(exc: BaseException, key: str, url: str) -> BaseException:
    """Add a note naming the store key to an exception that will propagate."""
    exc.add_note(f"while accessing store key {key!r} of FSStore({url!r})")
    return exc


class FSStore(BaseStore):
    """A store over an fsspec filesystem, addressed by a URL.

    Parameters
    ----------
    url : str
        Root of the store: ``"s3://bucket/data.zarr"``, ``"file:///tmp/x.zarr"``,
        ``"memory://x"``, a chained URL such as ``"simplecache::s3://bucket/x"``,
        or, when ``fs`` is given, a path inside ``fs``.
    normalize_keys : bool, optional
        Lower-case every key.
    key_separator : {None, '.', '/'}, optional
        Deprecated alias of ``dimension_separator`` (zarr 2 name).
    mode : str, optional
        ``'r'`` makes the store read-only; any other mode allows writes.
    exceptions : tuple of exception types, optional
        zarr 2 name of ``missing_exceptions``; kept for compatibility.
    dimension_separator : {None, '.', '/'}, optional
        Chunk key separator. With ``'/'``, the chunk key ``0.0`` is stored at the
        path ``0/0`` (as zarr 2's FSStore does).
    fs : fsspec.AbstractFileSystem, optional
        A ready filesystem; ``url`` is then a path in it and ``storage_options``
        must be empty.
    check : bool, optional
        Check that the root exists and is writable (touch and remove a file).
    create : bool, optional
        Create the root folder if it is missing.
    missing_exceptions : tuple of exception types, optional
        Exceptions that mean "key does not exist". Default:
        ``(FileNotFoundError, IsADirectoryError, NotADirectoryError)``.
        Never add ``PermissionError`` or ``OSError`` here: an unreadable chunk
        would then read as fill values.
    **storage_options
        Passed to fsspec (``key``, ``secret``, ``client_kwargs``, ...; for chained
        URLs, one dict per protocol: ``{"s3": {...}}``).

    Notes
    -----
    Keys are ``str``; non-ASCII keys are allowed and stored as the filesystem
    stores UTF-8 names. The store pickles by its constructor arguments.

    Examples
    --------
    >>> store = FSStore("memory://fsstore-doc")
    >>> store["foo/.zarray"] = b"{}"
    >>> store["foo/0.0"] = b"abc"
    >>> sorted(store), store.listdir("foo")
    (['foo/.zarray', 'foo/0.0'], ['.zarray', '0.0'])
    >>> store.getitems(["foo/0.0", "foo/9.9"])
    {'foo/0.0': b'abc'}
    >>> store.rmdir("")
    """

    def __init__(
        self,
        url: str,
        normalize_keys: bool = False,
        key_separator: str | None = None,
        mode: str = "w",
        exceptions: tuple[type[BaseException], ...] | None = None,
        dimension_separator: str | None = None,
        fs: Any = None,
        check: bool = False,
        create: bool = False,
        missing_exceptions: tuple[type[BaseException], ...] | None = None,
        **storage_options: Any,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")
        separator = key_separator if key_separator is not None else dimension_separator
        check_dimension_separator(separator)
        url = str(url)
        fs_given = fs is not None
        if fs is None:
            from fsspec.core import url_to_fs

            fs, root = url_to_fs(url, **storage_options)
        else:
            if storage_options:
                raise ValueError(
                    "FSStore got both fs= and storage_options "
                    f"({sorted(storage_options)}); configure the filesystem instead"
                )
            root = fs._strip_protocol(url)
        self.url = url
        self.fs = fs
        self.path = root.rstrip("/") if root not in ("", "/") else root
        self.normalize_keys = bool(normalize_keys)
        self.key_separator = separator or "."
        self._dimension_separator = separator
        self.mode = mode
        self.read_only = mode == "r"
        self.missing_exceptions = tuple(
            missing_exceptions or exceptions or DEFAULT_MISSING_EXCEPTIONS
        )
        self.storage_options = storage_options
        self._explicit_fs = fs if fs_given else None  # pickled only if the caller gave it
        self._prefix = f"{self.path}/" if self.path not in ("", "/") else self.path
        # What the filesystem prints before a key in listings (memory:// adds a '/').
        self._listed_prefix = fs._strip_protocol(self._prefix + "x")[:-1]
        self._local: DirectoryStore | None = None
        if _is_local(fs):
            self._local = DirectoryStore(self.path or "/", read_only=self.read_only)
            self._prefer_per_key_io = True
        if create:
            self._check_writable(self.path)
            fs.mkdirs(self.path, exist_ok=True)
        if check:
            self._check_root()

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.url, self.normalize_keys, self._dimension_separator, self.mode,
                self.missing_exceptions, self._explicit_fs, self.storage_options)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        url, normalize_keys, separator, mode, missing, fs, options = state
        FSStore.__init__(self, url, normalize_keys=normalize_keys,
                         dimension_separator=separator, mode=mode, fs=fs,
                         missing_exceptions=missing, **options)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FSStore) and other.fs == self.fs
                and other.path == self.path and other.key_separator == self.key_separator)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FSStore({self.url!r}, mode={self.mode!r})"

    @property
    def map(self) -> Any:
        """An ``fsspec.FSMap`` over the same root (for code written against zarr 2)."""
        return self.fs.get_mapper(self.path)

    # -- keys <-> paths ----------------------------------------------------------------

    def _normalize_key(self, key: str) -> str:
        """Validate ``key``; apply lower-casing and the ``/`` chunk separator rule."""
        validate_key(key)
        if self.key_separator == "/":
            head, _, last = key.rpartition("/")
            if last not in RESERVED_NAMES and _CHUNK_NAME.match(last):
                last = last.replace(".", "/")
                key = f"{head}/{last}" if head else last
        return key.lower() if self.normalize_keys else key

    def _key_path(self, key: str) -> str:
        return self._prefix + self._normalize_key(key)

    def _dir_path(self, path: str | None) -> tuple[str, str]:
        """Normalise a hierarchy path; return it and its full path in the filesystem."""
        path = normalize_storage_path(path)
        if self.normalize_keys:
            path = path.lower()
        if not path:
            return path, self.path
        return path, self._prefix + path

    def _relative(self, full: str) -> str | None:
        """Turn a listed path back into a key (None if it is outside the root)."""
        for prefix in (self._listed_prefix, self._prefix):
            if full.startswith(prefix) and len(full) > len(prefix):
                return full[len(prefix):]
        return None

    def _check_root(self) -> None:
        if not self.fs.exists(self.path):
            raise FileNotFoundError(
                f"FSStore root {self.url!r} does not exist; pass create=True to make it"
            )
        if not self.read_only:
            probe = self._prefix + ".zarrdask-check"
            self.fs.touch(probe)
            self.fs.rm_file(probe)

    # -- mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        path = self._key_path(key)
        try:
            return bytes(self.fs.cat_file(path))
        except self.missing_exceptions:
            raise KeyError(key) from None
        except Exception as exc:
            _note(exc, key, self.url)
            raise

    def __setitem__(self, key: str, value: bytes) -> None:
        self._check_writable(key)
        nkey = self._normalize_key(key)
        if self._local is not None:
            self._local[nkey] = value
            return
        try:
            self.fs.pipe_file(self._prefix + nkey, ensure_bytes(value))
        except Exception as exc:
            _note(exc, key, self.url)
            raise

    def __delitem__(self, key: str) -> None:
        self._check_writable(key)
        nkey = self._normalize_key(key)
        if self._local is not None:
            try:
                del self._local[nkey]
            except KeyError:
                raise KeyError(key) from None
            return
        path = self._prefix + nkey
        if not self._isfile(path, key):
            raise KeyError(key)
        try:
            self.fs.rm_file(path)
        except self.missing_exceptions:
            raise KeyError(key) from None
        except Exception as exc:
            _note(exc, key, self.url)
            raise

    def _isfile(self, path: str, key: str) -> bool:
        # s3fs answers info() from listings it has cached: ask the server afresh, so a
        # key written by another process since the last listing is seen.
        self.fs.invalidate_cache(path)
        try:
            info = self.fs.info(path)
        except self.missing_exceptions:
            return False
        except Exception as exc:
            _note(exc, key, self.url)
            raise
        return info.get("type") == "file"

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._isfile(self._key_path(key), key)

    def _find(self, path: str) -> list[str]:
        self.fs.invalidate_cache(path)
        try:
            return list(self.fs.find(path))
        except self.missing_exceptions:
            return []

    def __iter__(self) -> Iterator[str]:
        for full in self._find(self.path):
            key = self._relative(full)
            if key and not is_temp_name(key.rpartition("/")[2]):
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> Any:
        """Return the stored keys (a list: one listing of the filesystem)."""
        return list(self)

    def clear(self) -> None:
        """Remove every key under the root."""
        self.rmdir("")

    # -- batched I/O -------------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys concurrently (fsspec ``cat``); missing keys are left out.

        Raises
        ------
        Exception
            The first error that is not a missing key (permission, network, ...),
            with a note naming the key.
        """
        keys = list(keys)
        if not keys:
            return {}
        paths = {self.fs._strip_protocol(self._key_path(k)): k for k in keys}
        literal = [p for p in paths if not _has_glob(p)]
        found: dict[str, Any] = {}
        if literal:
            found.update(self.fs.cat(literal, on_error="return"))
        for p in paths:
            if p not in literal:  # a key with glob characters: fetch it on its own
                try:
                    found[p] = self.fs.cat_file(p)
                except Exception as exc:  # sorted below like cat's results
                    found[p] = exc
        out: dict[str, bytes] = {}
        for path, key in paths.items():
            value = found.get(path, FileNotFoundError(path))
            if isinstance(value, BaseException):
                if isinstance(value, self.missing_exceptions):
                    continue
                raise _note(value, key, self.url)
            out[key] = bytes(value)
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys; sent concurrently (fsspec ``pipe``) on async filesystems."""
        if not items:
            return
        for key in items:
            self._check_writable(key)
        if self._local is not None:
            for key, value in items.items():
                self._local[self._normalize_key(key)] = value
            return
        data = {self._key_path(k): ensure_bytes(v) for k, v in items.items()}
        self.fs.pipe(data)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys in one batch where the filesystem can; missing keys are ignored."""
        keys = list(keys)
        for key in keys:
            self._check_writable(key)
        if not keys:
            return
        if self._local is not None:
            self._local.delitems([self._normalize_key(k) for k in keys])
            return
        self._rm_paths([self._key_path(k) for k in keys])

    # -- hierarchy ---------------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path``.

        With the ``/`` separator, nested chunk folders of an array are listed as
        their chunk keys (``0/1`` as ``0.1``), as zarr 2's FSStore does.
        """
        rel, full = self._dir_path(path)
        self.fs.invalidate_cache(full)
        try:
            entries = self.fs.ls(full, detail=False)
        except self.missing_exceptions:
            return []
        names = sorted({
            name for name in (str(e).rstrip("/").rpartition("/")[2] for e in entries)
            if name and not is_temp_name(name)
        })
        if self.key_separator != "/" or ".zarray" not in names:
            return names
        out: list[str] = []
        for name in names:
            if name.isdigit() and name not in RESERVED_NAMES:
                nested = [self._relative(f) for f in self._find(f"{full}/{name}")]
                inner = [n[len(rel) + 1 if rel else 0:] for n in nested if n]
                if inner:
                    out.extend(n.replace("/", ".") for n in inner)
                    continue
            out.append(name)
        return sorted(out)

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""`` removes every key)."""
        rel, full = self._dir_path(path)
        self._check_writable(rel)
        if self._local is not None:
            self._local.rmdir(rel)
            return
        prefix = full.rstrip("/") + "/" if full not in ("", "/") else ""
        doomed = [p for p in self._find(full) if p.startswith(prefix) or not prefix]
        self._rm_paths(doomed)

    def _rm_paths(self, paths: list[str]) -> None:
        """Delete files by full path: one batch for plain names, one by one for names
        with glob characters (fsspec's batch ``rm`` would expand them)."""
        literal = [p for p in paths if not _has_glob(p)]
        single = [p for p in paths if _has_glob(p)]
        if literal:
            try:
                self.fs.rm(literal)
            except self.missing_exceptions:  # some backends refuse a batch with a missing path
                single.extend(literal)
        for p in single:
            try:
                self.fs.rm_file(p)
            except self.missing_exceptions:
                continue

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the key ``path``, or the total size of the keys directly under it."""
        rel, full = self._dir_path(path)
        self.fs.invalidate_cache(full)
        try:
            info = self.fs.info(full)
        except self.missing_exceptions:
            return 0
        if info.get("type") == "file":
            return int(info.get("size") or 0)
        try:
            entries = self.fs.ls(full, detail=True)
        except self.missing_exceptions:
            return 0
        return sum(
            int(e.get("size") or 0) for e in entries
            if e.get("type") == "file" and not is_temp_name(str(e["name"]).rpartition("/")[2])
        )

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` and everything under it to ``dst_path``."""
        if self._local is not None:
            self._check_writable(normalize_storage_path(src_path))
            self._local.rename(src_path, dst_path)
            return
        super().rename(src_path, dst_path)


def _has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)
