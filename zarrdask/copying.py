"""Copying: ``copy``/``copy_all`` between zarrdask and h5py groups, ``copy_store`` between stores.

Arrays are copied block by block along the destination's chunks, so memory
use is bounded by one chunk whatever the array size; ``copy_store`` copies
raw encoded values key by key without decoding them. Each function logs one
line per object (the zarr tutorial's lines), returns ``(n_copied, n_skipped,
n_bytes_copied)`` and, with ``progress=True`` on a terminal, draws a progress bar.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from zarrdask.errors import CopyError
from zarrdask.keys import normalize_storage_path, prefix_of, validate_key

__all__ = ["copy", "copy_all", "copy_store"]

_IF_EXISTS = ("raise", "replace", "skip", "skip_initialized")
_BLOCK_BYTES = 16 * 2**20  # block size when the destination has no chunks (contiguous HDF5)


# ----------------------------------------------------------------------------- logging, progress


class _Log:
    """Where log lines go: nowhere, a callable, an open file, or a file path (opened here)."""

    def __init__(self, log: Any) -> None:
        self._func: Callable[[str], Any] | None = None
        self._file: IO[str] | None = None
        self._owned = False
        if log is None:
            return
        if callable(log):
            self._func = log
        elif isinstance(log, (str, os.PathLike)):
            self._file = open(log, "w")  # noqa: SIM115 - closed in __exit__
            self._owned = True
        elif hasattr(log, "write"):
            self._file = log
        else:
            raise TypeError(f"log must be a callable, a file path or a file-like object, "
                            f"not {type(log).__name__}: {log!r}")

    def __enter__(self) -> _Log:
        return self

    def __exit__(self, *args: Any) -> None:
        if self._owned and self._file is not None:
            self._file.close()

    def __call__(self, message: str) -> None:
        if self._file is not None:
            print(message, file=self._file)
            flush = getattr(self._file, "flush", None)
            if callable(flush):
                flush()
        elif self._func is not None:
            self._func(message)

    def summary(self, dry_run: bool, copied: int, skipped: int, nbytes: int) -> None:
        """Log the final line, as zarr-python 2.x words it."""
        if dry_run:
            self(f"dry run: {copied:,} copied, {skipped:,} skipped")
        else:
            self(f"all done: {copied:,} copied, {skipped:,} skipped, {nbytes:,} bytes copied")


class _Progress:
    """A one-line progress bar drawn on a stream (only when one is given)."""

    _WIDTH = 30

    def __init__(self, progress: Any, total: int, unit: str) -> None:
        stream = None
        if hasattr(progress, "write"):
            stream = progress
        elif progress:
            isatty = getattr(sys.stderr, "isatty", None)
            stream = sys.stderr if callable(isatty) and isatty() else None
        self.stream: IO[str] | None = stream
        self.total = max(int(total), 0)
        self.unit = unit
        self.done = 0
        self._shown = -1

    def update(self, n: int) -> None:
        """Advance by ``n`` units and redraw when the percentage changed."""
        self.done += n
        if self.stream is None:
            return
        pct = 100 if self.total == 0 else min(100, self.done * 100 // self.total)
        if pct != self._shown:
            self._shown = pct
            filled = pct * self._WIDTH // 100
            bar = "#" * filled + "." * (self._WIDTH - filled)
            self.stream.write(f"\rcopying [{bar}] {pct:3d}% {self.done:,}/{self.total:,} "
                              f"{self.unit}")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.stream is not None:
            if self._shown < 0:
                self.update(0)
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------------------- copy_store


def copy_store(
    source: Mapping[str, Any],
    dest: MutableMapping[str, Any],
    source_path: str = "",
    dest_path: str = "",
    excludes: str | list[str] | None = None,
    includes: str | list[str] | None = None,
    flags: int = 0,
    if_exists: str = "raise",
    dry_run: bool = False,
    log: Any = None,
    *,
    progress: Any = False,
) -> tuple[int, int, int]:
    """Copy raw store values (no decoding or re-encoding) from ``source`` to ``dest``.

    Parameters
    ----------
    source, dest : MutableMapping
        Stores.
    source_path, dest_path : str, optional
        Copy the keys under ``source_path/`` to the same keys under ``dest_path/``.
    excludes, includes : str or list of str, optional
        Regular expressions (``re.search``) of keys to leave out, and of excluded
        keys to copy anyway.
    flags : int, optional
        ``re`` flags for the expressions.
    if_exists : {"raise", "replace", "skip"}
        What to do with a key that exists in ``dest``.
    dry_run : bool, optional
        Log what would happen, change nothing.
    log : callable, file path or file-like, optional
        Receives one line per key and a summary.
    progress : bool or file-like, optional
        Draw a progress bar on stderr when it is a terminal (or on the given stream).

    Returns
    -------
    tuple of int
        ``(n_copied, n_skipped, n_bytes_copied)``.

    Raises
    ------
    CopyError
        With ``if_exists="raise"``, on the first key that exists in ``dest``.

    Examples
    --------
    >>> copy_store({"a/x": b"12", "b": b"3"}, d := {}, source_path="a", dest_path="c")
    (1, 0, 2)
    >>> d
    {'c/x': b'12'}
    """
    if if_exists not in ("raise", "replace", "skip"):
        raise ValueError(f"if_exists must be 'raise', 'replace' or 'skip', got {if_exists!r}")
    src_prefix = prefix_of(normalize_storage_path(source_path))
    dst_prefix = prefix_of(normalize_storage_path(dest_path))
    excludes = [excludes] if isinstance(excludes, str) else list(excludes or ())
    includes = [includes] if isinstance(includes, str) else list(includes or ())
    exclude_res = [re.compile(e, flags) for e in excludes]
    include_res = [re.compile(i, flags) for i in includes]

    def wanted(key: str) -> bool:
        if not key.startswith(src_prefix):
            return False
        if any(r.search(key) for r in exclude_res):
            return any(r.search(key) for r in include_res)
        return True

    keys = [k for k in sorted(source.keys()) if wanted(k)]
    copied = skipped = nbytes = 0
    bar = _Progress(progress, len(keys), "keys")
    with _Log(log) as logger:
        for key in keys:
            dest_key = validate_key(dst_prefix + key[len(src_prefix):])
            descr = key if dest_key == key else f"{key} -> {dest_key}"
            if if_exists != "replace" and dest_key in dest:
                if if_exists == "raise":
                    raise CopyError(f"key {dest_key!r} exists in the destination; pass "
                                    "if_exists='replace' or 'skip'")
                logger(f"skip {descr}")
                skipped += 1
            else:
                logger(f"copy {descr}")
                if not dry_run:
                    value = source[key]
                    nbytes += memoryview(value).nbytes
                    dest[dest_key] = value
                copied += 1
            bar.update(1)
        bar.close()
        logger.summary(dry_run, copied, skipped, nbytes)
    return copied, skipped, nbytes


# ----------------------------------------------------------------------------- copy, copy_all


def _is_h5py(obj: Any) -> bool:
    return obj is not None and type(obj).__module__.startswith("h5py")


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype")


@dataclass(slots=True)
class _Copier:
    """The settings of one ``copy``/``copy_all`` call and its running counts."""

    log: _Log
    bar: _Progress
    shallow: bool
    without_attrs: bool
    if_exists: str
    dry_run: bool
    create_kws: dict[str, Any]
    copied: int = 0
    skipped: int = 0
    nbytes: int = 0

    def node(self, source: Any, dest: Any, name: str, root: bool) -> None:
        if _is_array(source):
            self.array(source, dest, name)
        elif root or not self.shallow:
            self.group(source, dest, name)

    def group(self, source: Any, dest: Any, name: str) -> None:
        existing = dest[name] if dest is not None and name in dest else None
        array_in_way = existing is not None and _is_array(existing)
        if array_in_way and self.if_exists == "raise":
            raise CopyError(f"an array {name!r} already exists in destination {dest.name!r}")
        if array_in_way and self.if_exists == "skip":
            self.log(f"skip {source.name}")
            self.skipped += 1
            return
        self.log(f"copy {source.name}")
        if self.dry_run:
            grp = None if array_in_way else existing
        else:
            if array_in_way:
                del dest[name]
            grp = dest.require_group(name)
            if not self.without_attrs:
                grp.attrs.update(_attrs_for(dest, source.attrs))
        for key in source.keys():
            self.node(source[key], grp, key, root=False)
        self.copied += 1

    def array(self, source: Any, dest: Any, name: str) -> None:
        exists = dest is not None and name in dest
        descr = f"{source.name} {tuple(source.shape)} {source.dtype}"
        if exists and self.if_exists == "raise":
            raise CopyError(f"an object {name!r} already exists in destination {dest.name!r}")
        skip = exists and (self.if_exists == "skip" or (
            self.if_exists == "skip_initialized" and _fully_initialized(dest[name])))
        if skip:
            self.log(f"skip {descr}")
            self.skipped += 1
            self.bar.update(_nbytes(source))
            return
        self.log(f"copy {descr}")
        if not self.dry_run:
            if exists:
                del dest[name]
            reader, kws = _creation_args(source, dest, self.create_kws)
            ds = dest.create_dataset(name, shape=source.shape, **kws)
            for sel in _blocks(tuple(ds.shape), ds.chunks, ds.dtype.itemsize):
                ds[sel] = reader[sel]
                self.bar.update(math.prod(s.stop - s.start for s in sel) * ds.dtype.itemsize)
            self.nbytes += _nbytes(ds)
            if not self.without_attrs:
                ds.attrs.update(_attrs_for(dest, source.attrs))
        else:
            self.bar.update(_nbytes(source))
        self.copied += 1


def _nbytes(a: Any) -> int:
    return math.prod(a.shape) * a.dtype.itemsize


def _fully_initialized(obj: Any) -> bool:
    return _is_array(obj) and obj.nchunks_initialized == obj.nchunks


def _blocks(shape: tuple[int, ...], chunks: Any, itemsize: int) -> Iterator[tuple[slice, ...]]:
    """Slices of the destination's chunks (or of ~16 MiB blocks when it has none)."""
    if not chunks:
        chunks = list(shape)
        for axis in range(len(chunks)):  # shrink leading axes until a block is small enough
            rest = math.prod(chunks[axis + 1:]) * itemsize
            chunks[axis] = max(1, min(chunks[axis], _BLOCK_BYTES // max(rest, 1)))
            if math.prod(chunks) * itemsize <= _BLOCK_BYTES:
                break
    offsets = [range(0, s, c) for s, c in zip(shape, chunks, strict=True)]
    for start in itertools.product(*offsets):
        yield tuple(slice(o, min(o + c, s)) for o, c, s in zip(start, chunks, shape, strict=True))


def _creation_args(source: Any, dest: Any,
                   create_kws: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The reader of ``source`` and the ``create_dataset`` arguments for its copy in ``dest``."""
    kws = dict(create_kws)
    kws.setdefault("chunks", source.chunks)
    kws.setdefault("dtype", source.dtype)
    reader = source
    src_h5, dst_h5 = _is_h5py(source), _is_h5py(dest)
    if src_h5:
        import h5py

        is_str = source.dtype.kind == "O" and h5py.check_string_dtype(source.dtype) is not None
        if dst_h5:
            for opt in ("compression", "compression_opts", "shuffle", "fletcher32"):
                kws.setdefault(opt, getattr(source, opt))
            kws.setdefault("fillvalue", source.fillvalue)
        else:
            if is_str:
                import numcodecs

                kws["dtype"] = object
                kws.setdefault("object_codec", numcodecs.VLenUTF8())
                reader = source.asstr()
            else:
                kws.setdefault("fill_value", source.fillvalue)
    elif dst_h5:
        import h5py

        shape = tuple(source.shape)
        if "chunks" not in create_kws:  # HDF5 chunks must fit the shape; none for empty data
            kws["chunks"] = None if not shape or 0 in shape else tuple(
                min(c, s) for c, s in zip(source.chunks, shape, strict=True))
        if source.dtype.kind == "O":
            kws["dtype"] = h5py.string_dtype()
        if shape:  # HDF5 scalars take no chunk or filter options
            kws.setdefault("compression", "gzip")
            kws.setdefault("compression_opts", 1)
            kws.setdefault("shuffle", False)
        if source.fill_value is not None and source.dtype.kind != "O":
            kws.setdefault("fillvalue", source.fill_value)
    else:
        for opt in ("compressor", "filters", "order", "fill_value"):
            kws.setdefault(opt, getattr(source, opt))
    return reader, kws


def _plain(value: Any) -> Any:
    """An HDF5 attribute value as JSON-compatible Python (bytes decoded as UTF-8)."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.dtype.kind in "OS" else value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _attrs_for(dest: Any, attrs: Any) -> dict[str, Any]:
    items = dict(attrs.asdict() if hasattr(attrs, "asdict") else attrs.items())
    if _is_h5py(dest):
        return items
    return {k: _plain(v) for k, v in items.items()}


def _check_dest(dest: Any) -> None:
    if not hasattr(dest, "create_dataset") or not hasattr(dest, "require_group"):
        raise ValueError(f"dest must be a group (zarrdask or h5py), got {dest!r}")


def _total(source: Any, shallow: bool, root: bool) -> int:
    if _is_array(source):
        return _nbytes(source)
    if shallow and not root:
        return 0
    return sum(_total(source[k], shallow, False) for k in source.keys())


def _run(dest: Any, members: list[tuple[Any, str, bool]], shallow: bool, without_attrs: bool,
         log: Any, if_exists: str, dry_run: bool, progress: Any,
         create_kws: dict[str, Any]) -> _Copier:
    """Check the arguments, copy each ``(source, name, is_root)`` into ``dest``, log a summary."""
    _check_dest(dest)
    if if_exists not in _IF_EXISTS:
        raise ValueError(f"if_exists must be one of {_IF_EXISTS}, got {if_exists!r}")
    if if_exists == "skip_initialized" and _is_h5py(dest):
        raise ValueError("if_exists='skip_initialized' can only be used when copying to zarr")
    total = sum(_total(s, shallow, root) for s, _, root in members) if progress else 0
    with _Log(log) as logger:
        copier = _Copier(logger, _Progress(progress, total, "bytes"), shallow, without_attrs,
                         if_exists, dry_run, create_kws)
        for src, name, root in members:
            copier.node(src, dest, name, root)
        copier.bar.close()
        logger.summary(dry_run, copier.copied, copier.skipped, copier.nbytes)
    return copier


def copy(
    source: Any,
    dest: Any,
    name: str | None = None,
    shallow: bool = False,
    without_attrs: bool = False,
    log: Any = None,
    if_exists: str = "raise",
    dry_run: bool = False,
    *,
    progress: Any = False,
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy an array or group (zarrdask or h5py) into the group ``dest`` (zarrdask or h5py).

    Parameters
    ----------
    source : group or array
        What to copy.
    dest : group
        Where to put it.
    name : str, optional
        Name of the copy in ``dest`` (default: the source's basename).
    shallow : bool, optional
        Copy only the immediate children of a group.
    without_attrs : bool, optional
        Leave user attributes out.
    log : callable, file path or file-like, optional
        Receives one line per object and a summary.
    if_exists : {"raise", "replace", "skip", "skip_initialized"}
        What to do with an array that exists in ``dest``; ``skip_initialized``
        skips it only if all its chunks are stored (zarr destinations only).
    dry_run : bool, optional
        Log what would happen, change nothing.
    progress : bool or file-like, optional
        Draw a progress bar on stderr when it is a terminal (or on the given stream).
    **create_kws
        Passed to ``dest.create_dataset`` (e.g. ``compressor``, ``chunks``).

    Returns
    -------
    tuple of int
        ``(n_copied, n_skipped, n_bytes_copied)``.

    Raises
    ------
    CopyError
        With ``if_exists="raise"``, when something is in the way.
    TypeError
        If ``source`` is a root group and no ``name`` is given.

    Examples
    --------
    >>> import zarrdask
    >>> src = zarrdask.group()
    >>> _ = src.create_dataset("foo/bar", data=np.arange(10), chunks=5)
    >>> copy(src["foo"], zarrdask.group(), log=print)
    copy /foo
    copy /foo/bar (10,) int64
    all done: 2 copied, 0 skipped, 80 bytes copied
    (2, 0, 80)
    """
    if name is None:
        name = (getattr(source, "name", None) or "").rsplit("/", 1)[-1]
        if not name:
            raise TypeError("source has no name (it is a root group); pass name= to say "
                            "what to call the copy")
    c = _run(dest, [(source, name, True)], shallow, without_attrs, log, if_exists,
             dry_run, progress, create_kws)
    return c.copied, c.skipped, c.nbytes


def copy_all(
    source: Any,
    dest: Any,
    shallow: bool = False,
    without_attrs: bool = False,
    log: Any = None,
    if_exists: str = "raise",
    dry_run: bool = False,
    *,
    progress: Any = False,
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy every member of the group ``source`` into the group ``dest``, and its attributes.

    The parameters and the result are those of :func:`copy`.

    Examples
    --------
    >>> import zarrdask
    >>> src = zarrdask.group()
    >>> _ = src.create_dataset("spam", data=np.arange(4), chunks=2)
    >>> copy_all(src, zarrdask.group())
    (1, 0, 32)
    """
    members = [(source[k], k, False) for k in source.keys()]
    c = _run(dest, members, shallow, without_attrs, log, if_exists, dry_run,
             progress, create_kws)
    if not dry_run and not without_attrs:
        dest.attrs.update(_attrs_for(dest, source.attrs))
    return c.copied, c.skipped, c.nbytes
