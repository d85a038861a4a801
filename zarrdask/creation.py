"""Array creation: ``create``, ``zeros``, ``array``, ``open_array``, the ``*_like`` family.

Every argument is checked and the whole ``.zarray`` document is built before
anything is written, so a bad argument changes nothing in the store.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import MutableMapping
from typing import Any

import numpy as np

from zarrdask.codecs import normalize_compressor
from zarrdask.core import Array
from zarrdask.errors import (
    ArrayNotFoundError,
    ContainsArrayError,
    ContainsGroupError,
    ReadOnlyError,
)
from zarrdask.keys import ARRAY_META_KEY, GROUP_META_KEY, normalize_storage_path, prefix_of
from zarrdask.meta import (
    ArrayMeta,
    encode_array_meta,
    encode_fill_value,
    encode_group_meta,
    normalize_dtype,
    normalize_fill_value,
    parse_array_meta,
)
from zarrdask.storage import normalize_store_arg
from zarrdask.storage._base import (
    contains_array,
    contains_group,
    is_readonly,
    metadata_verbatim,
    rmdir,
)

__all__ = [
    "array",
    "create",
    "empty",
    "empty_like",
    "full",
    "full_like",
    "guess_chunks",
    "init_array",
    "init_group",
    "normalize_chunks",
    "ones",
    "ones_like",
    "open_array",
    "open_like",
    "zeros",
    "zeros_like",
]

_CHUNK_BASE = 256 * 1024  # target chunk size for a 1 MiB array
_CHUNK_MIN = 128 * 1024
_CHUNK_MAX = 64 * 1024 * 1024
_MAX_CHUNK_ELEMENTS = 2**31 - 1  # numcodecs codecs cannot encode buffers of 2 GiB or more


def guess_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Guess a chunk shape: grows with the array size, from 128 KiB up to 64 MiB.

    The target size doubles for every tenfold increase of the array size
    (256 KiB for a 1 MiB array); axes are halved in turn until a chunk is near it.

    Examples
    --------
    >>> guess_chunks((10000, 10000), 4)
    (625, 625)
    """
    if not shape:
        return ()
    chunks = [max(1, s) for s in shape]
    total = math.prod(chunks) * itemsize
    target = _CHUNK_BASE * 2 ** math.log10(max(total, 1) / 1024**2)
    target = min(max(target, _CHUNK_MIN), _CHUNK_MAX)
    axis = 0
    while True:
        nbytes = math.prod(chunks) * itemsize
        if nbytes < target or abs(nbytes - target) / target < 0.5 or math.prod(chunks) == 1:
            break
        i = axis % len(chunks)
        chunks[i] = math.ceil(chunks[i] / 2)
        axis += 1
    return tuple(int(c) for c in chunks)


def normalize_chunks(chunks: Any, shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Turn the ``chunks`` argument into a chunk shape.

    ``True`` or ``None`` guesses; ``False`` makes one chunk; an int applies to
    every axis; a shorter tuple is padded with the array shape; ``None`` or
    ``-1`` along an axis means the whole axis.

    Raises
    ------
    ValueError
        For zero or negative lengths (other than -1), or more axes than the shape.

    Examples
    --------
    >>> normalize_chunks((100, None), (10000, 10000), 4)
    (100, 10000)
    >>> normalize_chunks(False, (10, 20), 4)
    (10, 20)
    """
    if chunks is None or chunks is True:
        return guess_chunks(shape, itemsize)
    if chunks is False:
        return tuple(max(1, s) for s in shape)
    if isinstance(chunks, numbers.Integral) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * len(shape)
    try:
        chunks = tuple(chunks)
    except TypeError:
        raise TypeError(f"chunks must be an int, a tuple, True, False or None; got "
                        f"{chunks!r}") from None
    if len(chunks) > len(shape):
        raise ValueError(f"chunks {chunks} have more dimensions than the shape {shape}")
    chunks = chunks + tuple(shape[len(chunks):])
    out = []
    for axis, (c, s) in enumerate(zip(chunks, shape, strict=True)):
        if c is None or (isinstance(c, numbers.Integral) and c == -1):
            c = s
        if isinstance(c, bool) or not isinstance(c, numbers.Integral):
            raise TypeError(f"chunk length {c!r} on axis {axis} is not an integer")
        c = int(c)
        if c == 0 and s == 0:
            c = 1
        if c <= 0:
            raise ValueError(f"chunk length {c} on axis {axis} must be positive "
                             "(or -1/None for the whole axis)")
        out.append(c)
    if math.prod(out) > _MAX_CHUNK_ELEMENTS:
        raise ValueError(
            f"chunks {tuple(out)} hold {math.prod(out)} elements; the codecs cannot handle "
            f"more than {_MAX_CHUNK_ELEMENTS} per chunk: choose smaller chunks"
        )
    return tuple(out)


def _normalize_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None
    out = []
    for axis, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"shape {shape} has a non-integer length {s!r} on axis {axis}")
        if s < 0:
            raise ValueError(f"shape {shape} has a negative length on axis {axis}")
        if s >= 2**63:
            raise ValueError(f"shape {shape}: length {s} on axis {axis} is too large "
                             "(must be < 2**63)")
        out.append(int(s))
    return tuple(out)


def _build_meta(
    shape: Any, chunks: Any, dtype: Any, compressor: Any, fill_value: Any, order: str,
    filters: Any, object_codec: Any, dimension_separator: str | None,
) -> ArrayMeta:
    shape = _normalize_shape(shape)
    dtype, object_codec = normalize_dtype(dtype, object_codec)
    if dtype.shape:  # a sub-array dtype adds trailing axes, as in numpy
        shape, dtype = shape + dtype.shape, dtype.base
    chunks = normalize_chunks(chunks, shape, dtype.itemsize)
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    if dimension_separator not in (None, ".", "/"):
        raise ValueError(f"dimension_separator must be '.' or '/', got {dimension_separator!r}")
    if isinstance(compressor, str) and compressor == "default":
        from zarrdask import storage  # read when an array is created, never at import

        compressor = storage.default_compressor
    compressor = normalize_compressor(compressor)
    if not shape:
        compressor = None  # a 0-d array is never compressed (as zarr-python writes it)
    filters = [normalize_compressor(f) for f in filters or ()]
    if any(f is None for f in filters):
        raise ValueError("filters may not contain None")
    if dtype.hasobject:
        if object_codec is None:
            if not filters:
                raise ValueError(
                    "missing object_codec for an object array: pass object_codec=, e.g. "
                    "numcodecs.VLenUTF8() for strings, numcodecs.VLenBytes(), "
                    "numcodecs.JSON(), numcodecs.MsgPack() or numcodecs.Pickle()"
                )
        else:
            filters = [object_codec, *filters]
    fill = normalize_fill_value(fill_value, dtype)
    # check the fill value encodes (object fill values go through the object codec)
    encode_fill_value(fill, dtype, filters[0] if dtype.hasobject else None)
    return ArrayMeta(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        compressor=None if compressor is None else compressor.get_config(),
        fill_value=fill,
        order=order,
        filters=tuple(f.get_config() for f in filters) or None,
        dimension_separator=dimension_separator,
    )


def _known_prefix(path: str, known_group: str | None) -> int:
    """How many leading ancestors of ``path`` are known to be groups (0 if none are).

    ``known_group`` is a group whose ancestors are all groups too; it counts only
    when it is an ancestor of ``path``.
    """
    if known_group is None:
        return 0
    if not known_group:
        return 1 if path else 0
    if not path.startswith(known_group + "/"):
        return 0
    return known_group.count("/") + 2  # the root, then each level down to known_group


def _require_parent_groups(store: MutableMapping[str, Any], path: str,
                           known_group: str | None = None) -> list[str]:
    """Check ancestors of ``path``; return the ``.zgroup`` keys that must be written.

    Ancestors at or above ``known_group`` (a group whose ancestors are groups) are
    not looked up.
    """
    parts = path.split("/") if path else []
    missing = []
    for i in range(_known_prefix(path, known_group), len(parts)):
        parent = "/".join(parts[:i])
        if contains_array(store, parent):
            raise ContainsArrayError(parent, f"cannot create {path!r} inside an array")
        if not contains_group(store, parent):
            missing.append(prefix_of(parent) + GROUP_META_KEY)
    return missing


def _prepare_node(store: MutableMapping[str, Any], path: str, overwrite: bool,
                  chunk_store: MutableMapping[str, Any] | None,
                  known_group: str | None = None) -> list[str]:
    if is_readonly(store):
        raise ReadOnlyError("the store is read-only")
    if not overwrite:
        if contains_array(store, path):
            raise ContainsArrayError(path, "pass overwrite=True or mode='w' to replace it")
        if contains_group(store, path):
            raise ContainsGroupError(path, "pass overwrite=True or mode='w' to replace it")
    return _require_parent_groups(store, path, known_group)


def _write_node(store: MutableMapping[str, Any], path: str, overwrite: bool,
                chunk_store: MutableMapping[str, Any] | None, parents: list[str],
                key: str, document: bytes) -> None:
    if overwrite:
        rmdir(store, path)
        if chunk_store is not None:
            rmdir(chunk_store, path)
    for parent_key in parents:
        store[parent_key] = encode_group_meta()
    store[key] = document


def init_array(
    store: MutableMapping[str, Any],
    shape: Any,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = None,
    order: str = "C",
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: MutableMapping[str, Any] | None = None,
    filters: Any = None,
    object_codec: Any = None,
    dimension_separator: str | None = None,
) -> None:
    """Write the metadata of a new array (and any missing parent groups) to a store.

    Raises
    ------
    ContainsArrayError, ContainsGroupError
        If something exists at ``path`` and ``overwrite`` is False, or a parent is an array.
    ValueError, TypeError
        For bad arguments; nothing is written then.
    """
    _init_array(store, shape, chunks=chunks, dtype=dtype, compressor=compressor,
                fill_value=fill_value, order=order, overwrite=overwrite, path=path,
                chunk_store=chunk_store, filters=filters, object_codec=object_codec,
                dimension_separator=dimension_separator)


def _init_array(store: MutableMapping[str, Any], shape: Any, *, chunks: Any, dtype: Any,
                compressor: Any, fill_value: Any, order: str, overwrite: bool,
                path: str | None, chunk_store: MutableMapping[str, Any] | None,
                filters: Any, object_codec: Any, dimension_separator: str | None,
                known_group: str | None = None) -> ArrayMeta:
    """:func:`init_array`, returning the metadata written, as read back from its JSON.

    ``known_group`` is a group path whose ancestors are known to be groups (the
    group creating a member); those are not looked up again.
    """
    path = normalize_storage_path(path)
    if dimension_separator is None:
        dimension_separator = getattr(store, "_dimension_separator", None)
    meta = _build_meta(shape, chunks, dtype, compressor, fill_value, order, filters,
                       object_codec, dimension_separator)
    document = encode_array_meta(meta)
    key = prefix_of(path) + ARRAY_META_KEY
    parents = _prepare_node(store, path, overwrite, chunk_store, known_group)
    _write_node(store, path, overwrite, chunk_store, parents, key, document)
    return _as_read_back(meta, document, key)


_PLAIN = (str, int, bool, type(None))


def _as_read_back(meta: ArrayMeta, document: bytes, key: str) -> ArrayMeta:
    """What reading ``document`` (the encoding of ``meta``) back from the store gives.

    JSON changes nothing for the common case, a plain numeric dtype with no filters
    and a flat compressor config of strings, integers, booleans and finite floats:
    then ``meta`` itself is returned. Otherwise (tuples become lists, numpy scalars
    become numbers, and so on) the document is parsed again.
    """
    compressor = meta.compressor
    if (meta.filters is None and meta.dtype.kind in "biuf"
            and (compressor is None or all(
                type(v) in _PLAIN or (type(v) is float and math.isfinite(v))
                for v in compressor.values()))):
        return meta
    return parse_array_meta(document, key)


def init_group(
    store: MutableMapping[str, Any],
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: MutableMapping[str, Any] | None = None,
    *,
    _known_group: str | None = None,
) -> None:
    """Write the metadata of a new group (and any missing parent groups) to a store.

    ``_known_group`` (internal) is a group path whose ancestors are known to be
    groups; those are not looked up again.
    """
    path = normalize_storage_path(path)
    parents = _prepare_node(store, path, overwrite, chunk_store, _known_group)
    _write_node(store, path, overwrite, chunk_store, parents,
                prefix_of(path) + GROUP_META_KEY, encode_group_meta())


def create(
    shape: Any,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = 0,
    order: str = "C",
    store: Any = None,
    synchronizer: Any = None,
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: Any = None,
    filters: Any = None,
    cache_metadata: bool = True,
    cache_attrs: bool = True,
    read_only: bool = False,
    object_codec: Any = None,
    dimension_separator: str | None = None,
    write_empty_chunks: bool = False,
    *,
    meta_array: Any = None,
    storage_options: dict[str, Any] | None = None,
    _known_group: str | None = None,
    **kwargs: Any,
) -> Array:
    """Create an array.

    Parameters
    ----------
    shape : int or tuple of int
        Array shape.
    chunks : int, tuple, bool or None
        Chunk shape; True guesses one, False makes a single chunk, None or -1
        along an axis spans it.
    dtype : str or dtype, optional
        Data type (default float64). ``str``, ``bytes`` and ``'array:T'`` are
        shorthands for object arrays with the matching object codec.
    compressor : Codec or None
        Primary compressor; ``"default"`` is ``zarrdask.storage.default_compressor``.
    fill_value : object
        Value of uninitialised chunks (None leaves them undefined; they read as zeros).
    order : {"C", "F"}
        Memory layout inside chunks.
    store : MutableMapping or str, optional
        Where to store the array; a path means a directory store; default a new MemoryStore.
    synchronizer : object, optional
        Locks for concurrent writers.
    overwrite : bool
        Replace whatever is at ``path``.
    path : str, optional
        Path within the store.
    chunk_store : MutableMapping, optional
        A separate store for chunks.
    filters : list of Codec, optional
        Filters applied before the compressor.
    cache_metadata, cache_attrs : bool
        Keep metadata and attributes in memory.
    read_only : bool
        Open read-only once created.
    object_codec : Codec, optional
        Codec for object arrays.
    dimension_separator : {".", "/"}, optional
        Chunk key separator.
    write_empty_chunks : bool
        Store chunks that hold only the fill value (default False).
    _known_group : str, optional
        Internal: a group path whose ancestors are known to be groups (the group
        creating this array); they are not looked up again.

    Returns
    -------
    Array

    Examples
    --------
    >>> import zarrdask
    >>> zarrdask.create((10000, 10000), chunks=(1000, 1000), dtype="i4")
    <zarrdask.core.Array (10000, 10000) int32>
    """
    if kwargs:
        raise TypeError(f"create() got unexpected keyword arguments: {sorted(kwargs)}")
    mode = "w" if overwrite else "a"
    store = normalize_store_arg(store, storage_options=storage_options, mode=mode,
                                dimension_separator=dimension_separator)
    if chunk_store is not None:
        chunk_store = normalize_store_arg(chunk_store, storage_options=storage_options,
                                          mode=mode)
    meta = _init_array(store, shape, chunks=chunks, dtype=dtype, compressor=compressor,
                       fill_value=fill_value, order=order, overwrite=overwrite, path=path,
                       chunk_store=chunk_store, filters=filters, object_codec=object_codec,
                       dimension_separator=dimension_separator, known_group=_known_group)
    return Array(store, path=path, chunk_store=chunk_store, synchronizer=synchronizer,
                 cache_metadata=cache_metadata, cache_attrs=cache_attrs, read_only=read_only,
                 write_empty_chunks=write_empty_chunks,
                 _meta=meta if metadata_verbatim(store) else None)


def empty(shape: Any, **kwargs: Any) -> Array:
    """Create an array whose chunks are uninitialised (fill value None; they read as zeros)."""
    return create(shape=shape, fill_value=None, **kwargs)


def zeros(shape: Any, **kwargs: Any) -> Array:
    """Create an array filled with zeros.

    Examples
    --------
    >>> import zarrdask
    >>> zarrdask.zeros((10000, 10000), chunks=(1000, 1000), dtype="i4")
    <zarrdask.core.Array (10000, 10000) int32>
    """
    return create(shape=shape, fill_value=0, **kwargs)


def ones(shape: Any, **kwargs: Any) -> Array:
    """Create an array filled with ones."""
    return create(shape=shape, fill_value=1, **kwargs)


def full(shape: Any, fill_value: Any, **kwargs: Any) -> Array:
    """Create an array filled with ``fill_value``."""
    return create(shape=shape, fill_value=fill_value, **kwargs)


def _like_args(a: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    shape = getattr(a, "shape", None)
    if shape is None:
        a = np.asanyarray(a)
        shape = a.shape
    kwargs.setdefault("shape", tuple(shape))
    chunks = getattr(a, "chunks", None)
    if chunks is None and hasattr(a, "chunklen"):
        chunks = (a.chunklen,) + tuple(shape[1:])
    if isinstance(chunks, tuple) and all(isinstance(c, int) for c in chunks):
        kwargs.setdefault("chunks", chunks)
    if hasattr(a, "dtype"):
        kwargs.setdefault("dtype", a.dtype)
    if isinstance(a, Array):
        kwargs.setdefault("compressor", a.compressor)
        kwargs.setdefault("order", a.order)
        kwargs.setdefault("filters", a.filters)
    else:
        kwargs.setdefault("compressor", "default")
        kwargs.setdefault("order", "C")
    return kwargs


def empty_like(a: Any, **kwargs: Any) -> Array:
    """Create an empty array like ``a`` (shape, chunks, dtype, compressor, order, filters)."""
    return empty(**_like_args(a, kwargs))


def zeros_like(a: Any, **kwargs: Any) -> Array:
    """Create a zero-filled array like ``a``."""
    return zeros(**_like_args(a, kwargs))


def ones_like(a: Any, **kwargs: Any) -> Array:
    """Create an array of ones like ``a``."""
    return ones(**_like_args(a, kwargs))


def full_like(a: Any, **kwargs: Any) -> Array:
    """Create an array like ``a`` filled with ``fill_value`` (default: ``a``'s fill value)."""
    kwargs = _like_args(a, kwargs)
    if "fill_value" not in kwargs:
        if not hasattr(a, "fill_value"):
            raise ValueError("fill_value must be given when a has none")
        kwargs["fill_value"] = a.fill_value
    return full(**kwargs)


def open_like(a: Any, path: Any, **kwargs: Any) -> Array:
    """Open or create a persistent array like ``a``."""
    kwargs = _like_args(a, kwargs)
    if isinstance(a, Array):
        kwargs.setdefault("fill_value", a.fill_value)
    return open_array(path, **kwargs)


def array(data: Any, **kwargs: Any) -> Array:
    """Create an array filled with ``data``.

    Examples
    --------
    >>> import zarrdask
    >>> z = zarrdask.array(np.arange(10))
    >>> z[:]
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        data = np.asanyarray(data, dtype=kwargs.get("dtype"))
    kwargs.setdefault("dtype", data.dtype)
    chunks = getattr(data, "chunks", None)
    if "chunks" not in kwargs and isinstance(chunks, tuple) and all(
            isinstance(c, int) for c in chunks):
        kwargs["chunks"] = chunks
    z = create(shape=data.shape, **kwargs)
    z[...] = data
    return z


_MODES = ("r", "r+", "a", "w", "w-", "x")


def open_array(
    store: Any = None,
    mode: str = "a",
    shape: Any = None,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = 0,
    order: str = "C",
    synchronizer: Any = None,
    filters: Any = None,
    cache_metadata: bool = True,
    cache_attrs: bool = True,
    path: str | None = None,
    object_codec: Any = None,
    chunk_store: Any = None,
    storage_options: dict[str, Any] | None = None,
    partial_decompress: bool | None = None,
    write_empty_chunks: bool = False,
    *,
    dimension_separator: str | None = None,
    meta_array: Any = None,
    **kwargs: Any,
) -> Array:
    """Open an array, creating it when the mode allows.

    Parameters
    ----------
    store : MutableMapping or str
        Store or path (a path opens a directory store).
    mode : {"r", "r+", "a", "w", "w-", "x"}
        ``r`` read-only, must exist; ``r+`` read/write, must exist; ``a``
        read/write, created if missing; ``w`` created, replacing what is there;
        ``w-``/``x`` created, failing if something exists.
    shape, chunks, dtype, compressor, fill_value, order, filters, object_codec, dimension_separator
        Used when the array is created (see :func:`create`).

    Raises
    ------
    ArrayNotFoundError
        ``r``/``r+`` on a path with no array.
    ContainsArrayError, ContainsGroupError
        ``w-`` on an existing array or group; ``a``/``r`` on a group.

    Examples
    --------
    >>> import zarrdask, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> z = zarrdask.open_array(os.path.join(d, "a.zarr"), mode="w", shape=(4,), dtype="i2")
    >>> z[:] = 3
    >>> zarrdask.open_array(os.path.join(d, "a.zarr"), mode="r")[:]
    array([3, 3, 3, 3], dtype=int16)
    """
    if kwargs:
        raise TypeError(f"open_array() got unexpected keyword arguments: {sorted(kwargs)}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    store = normalize_store_arg(store, storage_options=storage_options, mode=mode,
                                dimension_separator=dimension_separator)
    if chunk_store is not None:
        chunk_store = normalize_store_arg(chunk_store, storage_options=storage_options,
                                          mode=mode)
    path = normalize_storage_path(path)
    create_args = dict(shape=shape, chunks=chunks, dtype=dtype, compressor=compressor,
                       fill_value=fill_value, order=order, path=path, chunk_store=chunk_store,
                       filters=filters, object_codec=object_codec,
                       dimension_separator=dimension_separator)
    meta: ArrayMeta | None = None
    if mode in ("r", "r+"):
        if not contains_array(store, path):
            if contains_group(store, path):
                raise ContainsGroupError(path)
            raise ArrayNotFoundError(path)
    elif mode == "w":
        _require_shape(shape)
        meta = _init_array(store, overwrite=True, **create_args)
    elif mode == "a":
        if not contains_array(store, path):
            if contains_group(store, path):
                raise ContainsGroupError(path)
            _require_shape(shape)
            meta = _init_array(store, overwrite=False, **create_args)
    else:  # w-, x
        _require_shape(shape)
        meta = _init_array(store, overwrite=False, **create_args)
    if meta is not None and not metadata_verbatim(store):
        meta = None  # read what the store made of it
    return Array(store, path=path, read_only=mode == "r", chunk_store=chunk_store,
                 synchronizer=synchronizer, cache_metadata=cache_metadata,
                 cache_attrs=cache_attrs, write_empty_chunks=write_empty_chunks, _meta=meta)


def _require_shape(shape: Any) -> None:
    if shape is None:
        raise TypeError("shape is required to create an array")
