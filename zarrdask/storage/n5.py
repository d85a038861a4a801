"""N5 stores: the N5 on-disk format presented as a Zarr v2 key space.

N5 keeps each node's metadata and user attributes in one ``attributes.json``,
lists axes fastest-varying first (reversed with respect to Zarr's C order),
stores the block at chunk ``(i, j)`` under the path ``j/i``, and prefixes each
block with a big-endian header giving its shape; element data is big-endian.
:class:`N5Store` (a local folder) and :class:`N5FSStore` (any fsspec URL) both
translate between that layout and the Zarr keys ``.zarray``/``.zgroup``/
``.zattrs``/``i.j`` on top of an inner "raw" store, so all the file handling
(atomic writes, key validation) is the inner store's. Blocks are decoded by
:class:`N5ChunkCodec`, which parses the header, pads short edge blocks and
converts byte order.

Rules, where N5 and Zarr differ:

* N5 has no fill value (missing blocks read as 0), no filters and only C order:
  other values are refused when an array is created;
* data types are the N5 ones (``uint8`` ... ``int64``, ``float32``,
  ``float64``); the array's dtype reads back in native byte order;
* the names ``n5``, ``dataType``, ``dimensions``, ``blockSize`` and
  ``compression`` are N5's own and cannot be user attributes;
* ``attributes.json`` is not a valid Zarr key here; a key whose last segment
  looks like a chunk (``1.2``) is always stored as a block path (``2/1``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from zarrdask.errors import KeyValidationError, MetadataError
from zarrdask.keys import (
    ARRAY_META_KEY,
    ATTRS_KEY,
    GROUP_META_KEY,
    join_path,
    normalize_storage_path,
    validate_key,
)
from zarrdask.meta import json_dumps, json_loads
from zarrdask.storage import _base
from zarrdask.storage._base import BaseStore, is_readonly
from zarrdask.storage._n5format import (
    DATASET_KEYS,
    N5_ATTRS_KEY,
    N5_FORMAT,
    NUMBER,
    RESERVED,
    N5ChunkCodec,
    array_meta_from_n5,
    array_meta_to_n5,
    is_dataset,
    user_attrs,
)

__all__ = ["N5ChunkCodec", "N5FSStore", "N5Store"]

_CHUNK_NAME = re.compile(r"[0-9]+(\.[0-9]+)+\Z")
_META_KINDS = {ARRAY_META_KEY: "array", GROUP_META_KEY: "group", ATTRS_KEY: "attrs"}


# ------------------------------------------------------------------ key translation


def _translate(key: str) -> tuple[str, str]:
    """Return ``(kind, raw_key)`` for a Zarr key; kind is array/group/attrs/chunk/plain."""
    validate_key(key)
    head, _, name = key.rpartition("/")
    kind = _META_KINDS.get(name)
    if kind is not None:
        return kind, join_path(head, N5_ATTRS_KEY)
    if N5_ATTRS_KEY in key and N5_ATTRS_KEY in key.split("/"):
        raise KeyValidationError(f"store key {key!r} uses {N5_ATTRS_KEY!r}, the file in which "
                                 "N5 keeps metadata; it is not a valid key in an N5 store")
    if _CHUNK_NAME.match(name):
        return "chunk", join_path(head, "/".join(reversed(name.split("."))))
    return "plain", key


class _N5Base(BaseStore):
    """The N5 <-> Zarr translation over an inner raw store (``self._raw``)."""

    _dimension_separator = "."
    metadata_verbatim = False  # metadata is translated: read back what was written

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._lock = threading.RLock()

    # -- pickling, identity, life cycle -------------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._raw,)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        _N5Base.__init__(self, state[0])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._raw == self._raw  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        """Whether writes are refused (the inner store's setting)."""
        return is_readonly(self._raw)

    @property
    def _prefer_per_key_io(self) -> bool:
        # local folders: read blocks on the decoding threads; remote: batch (has_batch_io)
        return bool(getattr(self._raw, "_prefer_per_key_io", False))

    def close(self) -> None:
        """Close the inner store."""
        close = getattr(self._raw, "close", None)
        if callable(close):
            close()

    # -- attributes.json ------------------------------------------------------------------

    def _load(self, raw_key: str) -> dict[str, Any] | None:
        try:
            data = self._raw[raw_key]
        except KeyError:
            return None
        obj = json_loads(data, raw_key)
        if not isinstance(obj, dict):
            raise MetadataError(f"{raw_key!r} must hold a JSON object, not {type(obj).__name__}")
        return obj

    def _read_meta(self, key: str, kind: str, raw_key: str) -> bytes:
        attrs = self._load(raw_key)
        if attrs is None:
            raise KeyError(key)
        if kind == "array":
            if not is_dataset(attrs):
                raise KeyError(key)
            return json_dumps(array_meta_from_n5(attrs, repr(raw_key)))
        if kind == "group":
            if is_dataset(attrs):
                raise KeyError(key)
            return json_dumps({"zarr_format": 2})
        user = user_attrs(attrs)
        if not user:
            raise KeyError(key)
        return json_dumps(user)

    def _write_meta(self, key: str, kind: str, raw_key: str, value: Any) -> None:
        doc = json_loads(bytes(_base.as_buffer(value)), key)
        if not isinstance(doc, dict):
            raise MetadataError(f"{key!r} must hold a JSON object, not {type(doc).__name__}")
        with self._lock:
            old = self._load(raw_key) or {}
            if kind == "array":
                new = {**user_attrs(old), **array_meta_to_n5(doc, key)}
            elif kind == "group":
                if doc.get("zarr_format") != 2:
                    raise MetadataError(f"{key!r}: zarr_format must be 2, got "
                                        f"{doc.get('zarr_format')!r}")
                new = {k: v for k, v in old.items() if k not in DATASET_KEYS}
            else:
                clash = sorted(RESERVED.intersection(doc))
                if clash:
                    raise ValueError(f"cannot write attributes {clash} to {key!r}: N5 reserves "
                                     f"the names {sorted(RESERVED)} for its metadata")
                new = {**{k: v for k, v in old.items() if k in RESERVED}, **doc}
            if raw_key == N5_ATTRS_KEY:
                new["n5"] = old.get("n5", N5_FORMAT)
            self._raw[raw_key] = json_dumps(new)

    def _delete_meta(self, key: str, kind: str, raw_key: str) -> None:
        with self._lock:
            attrs = self._load(raw_key)
            if attrs is None:
                raise KeyError(key)
            if kind != "attrs" and (kind == "array") != is_dataset(attrs):
                raise KeyError(key)  # .zarray of a group, or .zgroup of an array
            if kind == "attrs":
                if not user_attrs(attrs):
                    raise KeyError(key)
                self._raw[raw_key] = json_dumps({k: v for k, v in attrs.items() if k in RESERVED})
                return
            rest = {k: v for k, v in attrs.items() if k not in DATASET_KEYS}
            if kind == "group" or not user_attrs(rest):
                del self._raw[raw_key]
            else:  # an array's user attributes stay (the node becomes a group)
                self._raw[raw_key] = json_dumps(rest)

    # -- mapping ------------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        kind, raw_key = _translate(key)
        if kind in ("chunk", "plain"):
            try:
                return self._raw[raw_key]
            except KeyError:
                raise KeyError(key) from None
        return self._read_meta(key, kind, raw_key)

    def __setitem__(self, key: str, value: bytes) -> None:
        kind, raw_key = _translate(key)
        self._check_writable(key)
        if kind in ("chunk", "plain"):
            self._raw[raw_key] = value
        else:
            self._write_meta(key, kind, raw_key, value)

    def __delitem__(self, key: str) -> None:
        kind, raw_key = _translate(key)
        self._check_writable(key)
        if kind in ("chunk", "plain"):
            try:
                del self._raw[raw_key]
            except KeyError:
                raise KeyError(key) from None
        else:
            self._delete_meta(key, kind, raw_key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        kind, raw_key = _translate(key)
        if kind in ("chunk", "plain"):
            return raw_key in self._raw
        try:
            self._read_meta(key, kind, raw_key)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        raw_keys = list(self._raw)
        datasets: dict[str, int] = {}
        out: list[str] = []
        for k in raw_keys:
            if k == N5_ATTRS_KEY or k.endswith("/" + N5_ATTRS_KEY):
                folder = k[: -len(N5_ATTRS_KEY)].rstrip("/")
                attrs = self._load(k) or {}
                if is_dataset(attrs):
                    dims = attrs["dimensions"]
                    datasets[folder] = len(dims) if isinstance(dims, list) else -1
                    out.append(join_path(folder, ARRAY_META_KEY))
                else:
                    out.append(join_path(folder, GROUP_META_KEY))
                if user_attrs(attrs):
                    out.append(join_path(folder, ATTRS_KEY))
        for k in raw_keys:
            if not (k == N5_ATTRS_KEY or k.endswith("/" + N5_ATTRS_KEY)):
                out.append(self._zarr_key(k, datasets))
        return iter(out)

    @staticmethod
    def _zarr_key(raw_key: str, datasets: Mapping[str, int]) -> str:
        """Map a raw block path under a dataset back to its dotted chunk key."""
        segments = raw_key.split("/")
        for i in range(len(segments) - 1, -1, -1):
            ndim = datasets.get("/".join(segments[:i]))
            if ndim is not None:
                rest = segments[i:]
                if len(rest) == ndim and all(NUMBER.match(s) for s in rest):
                    return join_path("/".join(segments[:i]), ".".join(reversed(rest)))
                break
        return raw_key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable("")
        _base.rmdir(self._raw, "")

    # -- capabilities -------------------------------------------------------------------

    def _split(self, keys: Iterable[str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        data: dict[str, str] = {}
        meta: list[tuple[str, str, str]] = []
        for key in keys:
            kind, raw_key = _translate(key)
            if kind in ("chunk", "plain"):
                data[raw_key] = key
            else:
                meta.append((key, kind, raw_key))
        return data, meta

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys (block reads batched through the inner store)."""
        data, meta = self._split(keys)
        found = _base.getitems(self._raw, list(data))
        out = {data[r]: v for r, v in found.items()}
        for key, kind, raw_key in meta:
            try:
                out[key] = self._read_meta(key, kind, raw_key)
            except KeyError:
                continue
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys (block writes batched through the inner store)."""
        data, meta = self._split(items)
        for key, _kind, _raw in meta:
            self[key] = items[key]
        if data:
            self._check_writable(next(iter(data.values())))
            _base.setitems(self._raw, {r: items[k] for r, k in data.items()})

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys; missing keys are ignored."""
        data, meta = self._split(list(keys))
        for key, _kind, _raw in meta:
            try:
                del self[key]
            except KeyError:
                continue
        if data:
            self._check_writable(next(iter(data.values())))
            _base.delitems(self._raw, list(data))

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the Zarr names under ``path``: metadata keys, dotted chunk keys, children."""
        path = normalize_storage_path(path)
        children = _base.listdir(self._raw, path)
        if N5_ATTRS_KEY not in children:
            return sorted(children)
        children.remove(N5_ATTRS_KEY)
        attrs = self._load(join_path(path, N5_ATTRS_KEY)) or {}
        names = [ATTRS_KEY] if user_attrs(attrs) else []
        if not is_dataset(attrs):
            return sorted([GROUP_META_KEY, *names, *children])
        names.append(ARRAY_META_KEY)
        ndim = len(attrs["dimensions"]) if isinstance(attrs["dimensions"], list) else 0
        for child in children:
            if NUMBER.match(child):
                names.extend(self._block_names(path, [child], ndim))
            else:
                names.append(child)
        return sorted(names)

    def _block_names(self, path: str, segments: list[str], ndim: int) -> list[str]:
        if len(segments) == ndim:
            return [".".join(reversed(segments))]
        names: list[str] = []
        for child in _base.listdir(self._raw, join_path(path, *segments)):
            if NUMBER.match(child):
                names.extend(self._block_names(path, [*segments, child], ndim))
        return names

    def rmdir(self, path: str | None = "") -> None:
        """Remove everything under ``path`` (exact prefix)."""
        path = normalize_storage_path(path)
        self._check_writable(path)
        _base.rmdir(self._raw, path)

    def getsize(self, path: str | None = "") -> int:
        """Return the size of the key ``path``, or the sum of the keys directly under it."""
        path = normalize_storage_path(path)
        if path and path in self:
            kind, raw_key = _translate(path)
            if kind in ("chunk", "plain"):
                return _base.getsize(self._raw, raw_key)
            return len(self[path])
        total = 0
        for name in self.listdir(path):
            key = join_path(path, name)
            kind, raw_key = _translate(key)
            if kind not in ("chunk", "plain"):
                total += len(self[key]) if key in self else 0
            elif raw_key in self._raw:
                total += _base.getsize(self._raw, raw_key)
        return total

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` and everything under it to ``dst_path``."""
        src_path = normalize_storage_path(src_path)
        dst_path = normalize_storage_path(dst_path)
        self._check_writable(src_path)
        _base.rename(self._raw, src_path, dst_path)


class N5Store(_N5Base):
    """A local folder in the N5 format, used through the Zarr API.

    Parameters
    ----------
    path : str or os.PathLike
        The root folder (created on the first write).
    normalize_keys : bool, optional
        Lower-case every key.
    dimension_separator : {None, '.'}, optional
        Accepted for zarr 2 compatibility; N5 chooses its own block paths.
    durable : bool, optional
        fsync each written file and its folder.
    read_only : bool, optional
        Refuse every write and delete.

    Notes
    -----
    Files are written by a :class:`~zarrdask.storage.DirectoryStore` (temp
    file and ``os.replace``), so a crash leaves every block old or new. A
    node's ``.zarray``/``.zgroup`` and ``.zattrs`` share ``attributes.json``;
    updates to it are serialised within one store object only.

    Examples
    --------
    >>> import tempfile, os, numpy as np, zarrdask
    >>> store = N5Store(os.path.join(tempfile.mkdtemp(), "data.n5"))
    >>> z = zarrdask.zeros((4, 6), chunks=(2, 3), dtype="u2", store=store, compressor=None)
    >>> z[:] = np.arange(24).reshape(4, 6)
    >>> sorted(os.listdir(os.path.join(store.path, "1")))  # chunk (0, 1) is block 1/0
    ['0', '1']
    """

    def __init__(self, path: Any, normalize_keys: bool = False,
                 dimension_separator: str | None = None, durable: bool = False, *,
                 read_only: bool = False) -> None:
        from zarrdask.storage.directory import DirectoryStore

        _check_separator(dimension_separator)
        super().__init__(DirectoryStore(path, normalize_keys=normalize_keys, durable=durable,
                                        read_only=read_only))

    @property
    def path(self) -> str:
        """The absolute root folder."""
        return str(self._raw.path)

    @property
    def normalize_keys(self) -> bool:
        """Whether keys are lower-cased."""
        return bool(self._raw.normalize_keys)

    def __repr__(self) -> str:
        return f"N5Store({self.path!r})"


class N5FSStore(_N5Base):
    """An N5 container at any fsspec URL (``s3://...``, ``file://...``), used through Zarr.

    Parameters
    ----------
    url : str
        The container's URL or local path.
    normalize_keys : bool, optional
        Lower-case every key.
    mode : str, optional
        ``'r'`` for read-only, else writable.
    dimension_separator : {None, '.'}, optional
        Accepted for zarr 2 compatibility; N5 chooses its own block paths.
    **storage_options
        Passed to :class:`~zarrdask.storage.FSStore` (``fs=`` included).

    Notes
    -----
    Block reads are batched through the inner ``FSStore.getitems``.
    """

    def __init__(self, url: str, normalize_keys: bool = False, mode: str = "w",
                 dimension_separator: str | None = None, **storage_options: Any) -> None:
        from zarrdask.storage.fsspec import FSStore

        _check_separator(dimension_separator)
        super().__init__(FSStore(url, normalize_keys=normalize_keys, mode=mode,
                                 **storage_options))

    @property
    def path(self) -> str:
        """The container's path within its filesystem."""
        return str(getattr(self._raw, "path", ""))

    def __repr__(self) -> str:
        return f"N5FSStore({self.path!r})"


def _check_separator(dimension_separator: str | None) -> None:
    if dimension_separator not in (None, "."):
        raise ValueError(
            f"N5 stores choose their own block paths; dimension_separator must be None or "
            f"'.', not {dimension_separator!r}"
        )
