"""ZipStore: a store in one zip archive, built in a temporary file and moved into place on close.

An archive is never modified in place. Writes go to a temporary archive in the
same folder (``.<name>.<32 hex>.partial``); :meth:`ZipStore.close` (or
:meth:`ZipStore.flush`) finishes it, fsyncs it and moves it over the target with
:func:`os.replace`. A crash or a full disk before that leaves the old archive
as it was. In mode ``'a'`` the old archive is copied into the temporary file on
the first write (reading alone costs nothing).

Zip members cannot be replaced or removed, so the store is write-once: writing
a key again with different bytes, or deleting one, raises
:class:`~zarrdask.errors.WriteOnceError` before anything is written. Rewriting a
key with identical bytes is a no-op.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
import uuid
import warnings
import weakref
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from zarrdask.errors import WriteOnceError
from zarrdask.keys import normalize_storage_path, prefix_of, validate_key
from zarrdask.storage._base import BaseStore, check_dimension_separator, ensure_bytes
from zarrdask.storage.directory import _fsync_dir

__all__ = ["ZipStore"]

# zarr open modes accepted as aliases: 'r+' needs an existing archive, 'w-' is 'x'.
_MODES = {"r": "r", "w": "w", "a": "a", "x": "x", "r+": "a", "w-": "x"}
_MAX_TEMP_STEM = 100


class _FullWriteFile(io.FileIO):
    """An unbuffered file whose ``write`` writes everything or raises.

    Unbuffered, so an error such as ENOSPC surfaces in the write of the member
    it belongs to; looping, because a raw ``write`` may write only part.
    """

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = 0
        while total < len(view):
            written = super().write(view[total:])
            if not written:
                raise OSError(f"short write to {self.name!r}")
            total += written
        return total


class _Archive:
    """The open zip file of a store: a read-only view of the target, or a pending temp archive."""

    __slots__ = ("zf", "fp", "temp", "target", "exclusive", "written")

    def __init__(self, zf: zipfile.ZipFile, fp: Any, temp: str | None, target: str,
                 exclusive: bool = False) -> None:
        self.zf = zf
        self.fp = fp
        self.temp = temp  # None: read-only view of the target
        self.target = target
        self.exclusive = exclusive  # commit must not replace an existing file (mode 'x')
        self.written = 0

    @property
    def pending(self) -> bool:
        return self.temp is not None

    def close_files(self) -> None:
        try:
            self.zf.close()
        finally:
            self.fp.close()

    def discard(self) -> None:
        """Close and delete the temporary archive; the target is left alone."""
        try:
            self.zf.fp = None  # drop the archive without writing its central directory
            self.fp.close()
        finally:
            if self.temp is not None:
                try:
                    os.unlink(self.temp)
                except FileNotFoundError:
                    pass

    def commit(self) -> None:
        """Finish the temporary archive and move it over the target (read-only: just close)."""
        if self.temp is None:
            self.close_files()
            return
        try:
            self.zf.close()  # writes the central directory
            self.fp.flush()
            os.fsync(self.fp.fileno())
            self.fp.close()
            if self.exclusive:
                os.link(self.temp, self.target)  # FileExistsError if someone got there first
                os.unlink(self.temp)
            else:
                os.replace(self.temp, self.target)
        except BaseException as exc:
            self.discard()
            exc.add_note(
                f"ZipStore: the archive {self.target!r} was not written and is unchanged; "
                f"{self.written} key(s) written since the last flush were discarded"
            )
            raise
        _fsync_dir(os.path.dirname(self.target))


def _finalize(state: dict[str, Any]) -> None:
    """Runs when a store is garbage collected (or at exit) without ``close()``: commit."""
    archive: _Archive | None = state.get("archive")
    if archive is None:
        return
    state["archive"] = None
    if archive.pending:
        warnings.warn(f"ZipStore({archive.target!r}) was not closed; writing the archive now",
                      ResourceWarning, stacklevel=1)
    try:
        archive.commit()
    except Exception as exc:  # pragma: no cover - nowhere to raise it
        warnings.warn(f"ZipStore({archive.target!r}): {exc}", RuntimeWarning, stacklevel=1)


class ZipStore(BaseStore):
    """A store kept in a single zip file (write-once keys, atomic replacement on close).

    Parameters
    ----------
    path : str or os.PathLike
        The zip file.
    compression : int, optional
        ``zipfile.ZIP_STORED`` (default) or another :mod:`zipfile` method, such as
        ``zipfile.ZIP_DEFLATED``, for members written by this store.
    allowZip64 : bool, optional
        Allow archives and members over 4 GiB (default True).
    mode : {'a', 'r', 'w', 'x', 'r+', 'w-'}, optional
        ``'r'`` read only; ``'w'`` start a new archive (replacing any file at
        ``path`` on close); ``'x'`` (or ``'w-'``) like ``'w'`` but the file must
        not exist; ``'a'`` (default) add to an existing archive or start one;
        ``'r+'`` like ``'a'`` but the archive must exist.
    dimension_separator : {None, '.', '/'}, optional
        Default chunk key separator for arrays created here.

    Raises
    ------
    FileNotFoundError, FileExistsError
        Mode ``'r'``/``'r+'`` and no file at ``path``; mode ``'x'`` and a file there.

    Notes
    -----
    ``close()`` must be called after writing (or use ``with``): until then the
    file at ``path`` is untouched. A store dropped without ``close()`` writes
    its archive when garbage collected, with a :class:`ResourceWarning`. A
    failed write (say ENOSPC) is rolled back out of the temporary archive, so
    the keys written before it are still saved on close. One process may write
    an archive at a time. Keys may be any valid store key; names are stored
    UTF-8 encoded. ``getsize`` reports stored (compressed) sizes.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.zip")
    >>> with ZipStore(path, mode="w") as store:
    ...     store["foo/0.0"] = b"abc"
    >>> with ZipStore(path, mode="r") as store:
    ...     store["foo/0.0"], store.listdir("foo")
    (b'abc', ['0.0'])
    """

    #: Chunk I/O reads keys one by one on its decoding threads (see ``has_batch_io``).
    _prefer_per_key_io = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,  # noqa: N803 - zarr's name
        mode: str = "a",
        dimension_separator: str | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"ZipStore mode must be one of {sorted(_MODES)}, not {mode!r}")
        check_dimension_separator(dimension_separator)
        self.path = os.path.abspath(os.fspath(path))
        self.compression = compression
        self.allowZip64 = bool(allowZip64)
        self.mode = mode
        self._dimension_separator = dimension_separator
        self.read_only = mode == "r"
        self._lock = threading.RLock()
        self._closed = False
        self._state: dict[str, Any] = {"archive": None}
        zmode = _MODES[mode]
        exists = os.path.exists(self.path)
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"ZipStore path {self.path!r} is a folder, not a zip file")
        if mode in ("r", "r+") and not exists:
            raise FileNotFoundError(f"no zip archive at {self.path!r} (mode {mode!r})")
        if zmode == "x" and exists:
            raise FileExistsError(f"mode {mode!r}: a file already exists at {self.path!r}")
        if zmode in ("r", "a") and exists:
            archive = self._open_view()
        else:
            archive = self._new_temp(copy_from=None, exclusive=zmode == "x")
        self._state["archive"] = archive
        self._finalizer = weakref.finalize(self, _finalize, self._state)

    # -- opening -----------------------------------------------------------------------

    def _open_view(self) -> _Archive:
        fp = open(self.path, "rb")
        try:
            return _Archive(zipfile.ZipFile(fp, "r", allowZip64=self.allowZip64), fp, None,
                            self.path)
        except BaseException:
            fp.close()
            raise

    def _new_temp(self, copy_from: Any, exclusive: bool = False) -> _Archive:
        """Create the temporary archive (a copy of ``copy_from``, an open file, if given)."""
        folder, name = os.path.split(self.path)
        temp = os.path.join(folder, f".{name[:_MAX_TEMP_STEM]}.{uuid.uuid4().hex}.partial")
        fp = _FullWriteFile(temp, "x+")
        try:
            try:
                os.chmod(temp, os.stat(self.path).st_mode & 0o7777)
            except FileNotFoundError:
                pass
            if copy_from is not None:
                copy_from.seek(0)
                shutil.copyfileobj(copy_from, fp, 1 << 20)
                fp.seek(0)
            zmode = "a" if copy_from is not None else "w"
            zf = zipfile.ZipFile(fp, zmode, compression=self.compression,
                                 allowZip64=self.allowZip64)
        except BaseException as exc:
            fp.close()
            os.unlink(temp)
            exc.add_note(f"ZipStore: could not start a temporary archive next to {self.path!r}")
            raise
        return _Archive(zf, fp, temp, self.path, exclusive)

    def _archive(self) -> _Archive:
        archive = self._state["archive"]
        if self._closed or archive is None:
            raise ValueError(f"{self!r} is closed")
        return archive

    def _writable_archive(self) -> _Archive:
        """The pending temp archive, copying the committed one into it on the first write."""
        archive = self._archive()
        if not archive.pending:
            new = self._new_temp(copy_from=archive.fp)
            self._state["archive"] = new
            archive.close_files()
            archive = new
        return archive

    # -- pickling and identity ---------------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        if not self._closed and not self.read_only:
            self.flush()  # the copy must see what was written so far
        mode = "r" if self.read_only else "a"
        return (self.path, self.compression, self.allowZip64, mode, self._dimension_separator)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        ZipStore.__init__(self, *state)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.path == self.path  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ZipStore({self.path!r}, mode={self.mode!r})"

    # -- life cycle --------------------------------------------------------------------

    def close(self) -> None:
        """Write the archive to ``path`` (if anything changed) and close it; idempotent.

        Raises
        ------
        OSError
            If the archive could not be written (the file at ``path`` is then
            unchanged and the writes since the last flush are discarded).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer.detach()
            archive, self._state["archive"] = self._state["archive"], None
            if archive is not None:
                archive.commit()

    def flush(self) -> None:
        """Write everything so far to ``path`` and continue in append mode."""
        with self._lock:
            archive = self._archive()
            if not archive.pending:
                return
            self._state["archive"] = None
            archive.commit()
            self._state["archive"] = self._open_view()

    # -- capabilities ------------------------------------------------------------------

    def is_erasable(self) -> bool:
        """Return False: zip members cannot be deleted."""
        return False

    # -- mapping -----------------------------------------------------------------------

    def _info(self, key: str) -> zipfile.ZipInfo | None:
        try:
            return self._archive().zf.getinfo(key)
        except KeyError:
            return None

    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        with self._lock:
            info = self._info(key)
            if info is None or info.is_dir():
                raise KeyError(key)
            return self._archive().zf.read(info)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            info = self._info(key)
            return info is not None and not info.is_dir()

    def _refusal(self, action: str) -> WriteOnceError:
        return WriteOnceError(
            f"ZipStore {self.path!r} cannot {action}: zip members are write-once, never "
            "replaced or deleted (write each chunk once, or open the archive in mode 'w' "
            "to start over)"
        )

    def _unchanged(self, key: str, data: bytes) -> bool:
        """Whether ``key`` holds exactly ``data``; WriteOnceError if it holds other bytes."""
        info = self._info(key)
        if info is None:
            return False
        if (info.file_size == len(data) and info.CRC == zlib.crc32(data)
                and self._archive().zf.read(info) == data):
            return True
        raise self._refusal(f"rewrite key {key!r} with other bytes")

    def __setitem__(self, key: str, value: bytes) -> None:
        self.setitems({key: value})

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys; every key is checked against the write-once rule first."""
        self._check_writable(next(iter(items), ""))
        staged = []
        with self._lock:
            for key, value in items.items():
                validate_key(key)
                data = ensure_bytes(value)
                if not self._unchanged(key, data):
                    staged.append((key, data))
            for key, data in staged:
                self._write_member(key, data)

    def _write_member(self, key: str, data: bytes) -> None:
        archive = self._writable_archive()
        zf = archive.zf
        start, count = zf.start_dir, len(zf.filelist)
        info = zipfile.ZipInfo(key, date_time=time.localtime(time.time())[:6])
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16
        try:
            zf.writestr(info, data)
        except BaseException as exc:
            self._rollback(archive, start, count)
            exc.add_note(
                f"ZipStore: writing key {key!r} to {self.path!r} failed; the key was not "
                "written, the keys written before it are kept"
            )
            raise
        archive.written += 1

    def _rollback(self, archive: _Archive, start: int, count: int) -> None:
        """Cut a failed member out of the temporary archive (relies on ZipFile's bookkeeping)."""
        zf = archive.zf
        for info in zf.filelist[count:]:
            if zf.NameToInfo.get(info.filename) is info:
                del zf.NameToInfo[info.filename]
        del zf.filelist[count:]
        zf.start_dir = start
        zf._writing = False
        try:
            archive.fp.truncate(start)
            archive.fp.seek(start)
        except OSError:  # cannot even cut it out: give up this archive, keep the target
            self._state["archive"] = None
            self._closed = True
            self._finalizer.detach()
            archive.discard()

    def __delitem__(self, key: str) -> None:
        self.delitems([key], missing_ok=False)

    def delitems(self, keys: Iterable[str], missing_ok: bool = True) -> None:
        """Refuse to delete keys that exist (missing keys are ignored).

        Raises
        ------
        WriteOnceError
            If any of the keys exists.
        """
        keys = list(keys)
        self._check_writable(keys[0] if keys else "")
        with self._lock:
            present = [k for k in keys if k in self]
            if present:
                raise self._refusal(f"delete {present[0]!r}")
            if keys and not missing_ok:
                raise KeyError(keys[0])

    def clear(self) -> None:
        """Refuse to clear a non-empty archive (WriteOnceError); an empty one stays empty."""
        self.rmdir("")

    def _names(self) -> list[str]:
        with self._lock:
            names = self._archive().zf.namelist()
        return [n for n in dict.fromkeys(names) if not n.endswith("/")]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def keylist(self) -> list[str]:
        """Return the sorted keys."""
        return sorted(self._names())

    # -- prefix operations ---------------------------------------------------------------

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted child names one level under ``path``."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in self._names()
                       if len(k) > n and k.startswith(prefix)})

    def rmdir(self, path: str | None = "") -> None:
        """Refuse to remove keys (WriteOnceError) unless nothing is under ``path``."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        prefix = prefix_of(path)
        doomed = [k for k in self._names() if k.startswith(prefix)]
        if doomed:
            raise self._refusal(f"remove {path or 'the root'!r} ({len(doomed)} key(s))")

    def rename(self, src_path: str, dst_path: str) -> None:
        """Refuse to move keys (WriteOnceError); KeyError if nothing is at ``src_path``."""
        src = normalize_storage_path(src_path)
        self._check_writable(src)
        if src not in self and not self.listdir(src):
            raise KeyError(src)
        raise self._refusal(f"rename {src!r}")

    def getsize(self, path: str | None = "") -> int:
        """Return the stored (compressed) size of a key, or of the keys directly under ``path``."""
        path = normalize_storage_path(path)
        with self._lock:
            infos = {i.filename: i for i in self._archive().zf.infolist() if not i.is_dir()}
        if path in infos:
            return infos[path].compress_size
        prefix = prefix_of(path)
        n = len(prefix)
        return sum(i.compress_size for k, i in infos.items()
                   if len(k) > n and k.startswith(prefix) and "/" not in k[n:])
