"""The :class:`Array`: a handle on one Zarr v2 array in a store.

It owns the array's metadata, turns user selections into indexers, and hands
the resulting projections to :mod:`zarrdask.chunkio`. Writes go through one
seam, :meth:`Array._write_op`, which takes the synchronizer's lock on
``.zarray`` for resize and append; chunk locks are taken by chunk I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeVar

import numpy as np

from zarrdask.attrs import Attributes
from zarrdask.chunkio import ChunkIO, read_chunks, write_chunks
from zarrdask.codecs import ChunkSpec, CodecPipeline
from zarrdask.errors import ArrayNotFoundError, ContainsGroupError, ReadOnlyError
from zarrdask.grid import ChunkGrid
from zarrdask.indexing import (
    BasicIndexer,
    BlockIndexer,
    Indexer,
    OrthogonalIndexer,
    check_fields,
)
from zarrdask.info import InfoReporter, human_readable_size
from zarrdask.keys import ARRAY_META_KEY, ATTRS_KEY
from zarrdask.meta import ArrayMeta, encode_array_meta, parse_array_meta
from zarrdask.node import Node
from zarrdask.selection import dispatch_selection, pop_fields
from zarrdask.storage._base import contains_group, delitems, getsize, listdir, store_type_name

__all__ = ["Array"]

T = TypeVar("T")


class Array(Node):
    """A Zarr v2 array: chunked, compressed, N-dimensional, in any MutableMapping store.

    Parameters
    ----------
    store : MutableMapping
        Where the array's metadata (and, by default, its chunks) live.
    path : str, optional
        Path of the array within the store.
    read_only : bool
        Refuse every write.
    chunk_store : MutableMapping, optional
        A separate store for chunks.
    synchronizer : object, optional
        Maps store keys to locks (``ThreadSynchronizer``, ``ProcessSynchronizer``).
    cache_metadata : bool
        Keep ``.zarray`` in memory; when False it is re-read before every operation
        (for arrays that other processes resize).
    cache_attrs : bool
        Keep ``.zattrs`` in memory.
    write_empty_chunks : bool
        Store chunks that hold only the fill value (default False: such chunks are
        not stored, and an existing one is deleted).

    Examples
    --------
    >>> import zarrdask
    >>> z = zarrdask.zeros((4, 4), chunks=(2, 2), dtype="i4")
    >>> z[1:3, 1:3] = 7
    >>> z[:, 1]
    array([0, 7, 7, 0], dtype=int32)
    """

    def __init__(
        self,
        store: MutableMapping[str, Any],
        path: str | None = None,
        read_only: bool = False,
        chunk_store: MutableMapping[str, Any] | None = None,
        synchronizer: Any = None,
        cache_metadata: bool = True,
        cache_attrs: bool = True,
        partial_decompress: bool | None = None,
        write_empty_chunks: bool = False,
        meta_array: Any = None,
        *,
        _meta: ArrayMeta | None = None,
    ) -> None:
        self._set_location(store, path, chunk_store, read_only, synchronizer)
        self._cache_metadata = cache_metadata
        self._write_empty_chunks = write_empty_chunks
        self._meta: ArrayMeta
        self._pipeline: CodecPipeline | None = None
        self._io: ChunkIO | None = None
        if _meta is None:
            self._load_metadata()
        else:  # just written by creation, to a store that keeps metadata verbatim
            self._meta = _meta
        self._attrs = Attributes(
            store, key=self._prefix + ATTRS_KEY, read_only=read_only, cache=cache_attrs,
            synchronizer=synchronizer,
        )

    # ------------------------------------------------------------------ metadata

    def _load_metadata(self) -> None:
        key = self._prefix + ARRAY_META_KEY
        # a store with the capability (consolidated metadata) hands out parsed metadata
        get_array_meta = getattr(self._store, "get_array_meta", None)
        try:
            if get_array_meta is not None:
                meta = get_array_meta(key)
            else:
                data = self._store[key]
        except KeyError:
            if contains_group(self._store, self._path):
                raise ContainsGroupError(self._path) from None
            raise ArrayNotFoundError(self._path) from None
        if get_array_meta is None:
            meta = parse_array_meta(data, key=key)
        current = getattr(self, "_meta", None)
        if current is None or (current is not meta and current != meta):
            self._meta = meta
            self._pipeline = None
            self._io = None

    def _refresh(self) -> ArrayMeta:
        if not self._cache_metadata:
            self._load_metadata()
        return self._meta

    @property
    def _chunkio(self) -> ChunkIO:
        meta = self._refresh()
        if self._io is None:
            if self._pipeline is None:
                self._pipeline = CodecPipeline.from_configs(meta.filters, meta.compressor)
            self._io = ChunkIO(
                chunk_store=self.chunk_store,
                prefix=self._prefix,
                separator=meta.separator,
                spec=ChunkSpec(meta.chunks, meta.dtype, meta.order),
                pipeline=self._pipeline,
                fill_value=meta.fill_value,
                write_empty_chunks=self._write_empty_chunks,
                synchronizer=self._synchronizer,
            )
        return self._io

    def _write_meta_nosync(self, meta: ArrayMeta) -> None:
        self._check_writable()
        self._store[self._prefix + ARRAY_META_KEY] = encode_array_meta(meta)
        self._meta = meta
        self._io = None

    def _write_op(self, f: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a metadata-changing body under the ``.zarray`` lock (the one lock seam)."""
        self._check_writable()
        if getattr(self._store, "metadata_read_only", False):  # opened with open_consolidated
            raise ReadOnlyError(f"the metadata of array {self.name or '/'} is read-only "
                                "(opened with open_consolidated): resize and append are refused")
        if self._synchronizer is None:
            return f(*args, **kwargs)
        with self._synchronizer[self._prefix + ARRAY_META_KEY]:
            self._load_metadata()
            return f(*args, **kwargs)

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"array {self.name or '/'} is read-only")

    # ---------------------------------------------------------------- properties

    @property
    def chunk_store(self) -> MutableMapping[str, Any]:
        """The store holding the chunks (the metadata store unless a separate one was given)."""
        return self._store if self._chunk_store is None else self._chunk_store

    @property
    def name(self) -> str | None:
        """Absolute name of the array (``"/foo/bar"``), or None at the store root."""
        return "/" + self._path if self._path else None

    @property
    def basename(self) -> str | None:
        """Last segment of the name."""
        return self._path.rsplit("/", 1)[-1] if self._path else None

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._read_only = bool(value)
        self._attrs.read_only = bool(value)

    @property
    def meta(self) -> ArrayMeta:
        """The parsed ``.zarray`` metadata."""
        return self._refresh()

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape."""
        return self._refresh().shape

    @shape.setter
    def shape(self, value: Any) -> None:
        self.resize(value)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape."""
        return self._refresh().chunks

    @property
    def dtype(self) -> np.dtype:
        """Data type."""
        return self._refresh().dtype

    @property
    def compressor(self) -> Any:
        """Primary compressor (a numcodecs codec), or None."""
        self._chunkio  # noqa: B018 - builds the pipeline
        assert self._pipeline is not None
        return self._pipeline.compressor

    @property
    def filters(self) -> list[Any] | None:
        """Filters (numcodecs codecs), or None."""
        self._chunkio  # noqa: B018
        assert self._pipeline is not None
        return list(self._pipeline.filters) or None

    @property
    def fill_value(self) -> Any:
        """Value of uninitialised parts of the array."""
        return self._refresh().fill_value

    @property
    def order(self) -> str:
        """Memory layout within chunks, "C" or "F"."""
        return self._refresh().order

    @property
    def write_empty_chunks(self) -> bool:
        """Whether chunks holding only the fill value are stored."""
        return self._write_empty_chunks

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the whole array, uncompressed."""
        return self.size * self.itemsize

    @property
    def nbytes_stored(self) -> int:
        """Bytes stored for the array (metadata and chunks); -1 when the store cannot tell."""
        m = getsize(self._store, self._path)
        if self._chunk_store is None:
            return m
        n = getsize(self._chunk_store, self._path)
        return -1 if m < 0 or n < 0 else m + n

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return self._grid.cdata_shape

    @property
    def nchunks(self) -> int:
        """Number of chunks in the grid."""
        return self._grid.nchunks

    @property
    def _grid(self) -> ChunkGrid:
        meta = self._refresh()
        return ChunkGrid.from_shapes(meta.shape, meta.chunks)

    @property
    def nchunks_initialized(self) -> int:
        """Number of chunks present in the chunk store."""
        return sum(1 for _ in self._iter_chunk_keys())

    initialized = nchunks_initialized

    def _iter_chunk_keys(self) -> Iterator[str]:
        """Keys of the stored chunks of this array (never temp or metadata files)."""
        meta = self._refresh()
        ndim = max(1, len(meta.shape))
        sep = re.escape(meta.separator)
        pattern = re.compile(r"\d+(?:" + sep + r"\d+){" + str(ndim - 1) + "}$")
        store = self.chunk_store
        if meta.separator == "." or ndim == 1:
            names = listdir(store, self._path)
        else:
            names = [k[len(self._prefix):] for k in list(store.keys())
                     if k.startswith(self._prefix)]
        for name in names:
            if pattern.match(name):
                yield self._prefix + name

    # -------------------------------------------------------------- diagnostics

    def info_items(self) -> list[tuple[str, str]]:
        """The rows of :attr:`info` as (name, value) pairs."""
        meta = self._refresh()
        items = []
        if self.name:
            items.append(("Name", self.name))
        items.append(("Type", f"{type(self).__module__}.{type(self).__qualname__}"))
        items.append(("Data type", str(meta.dtype)))
        items.append(("Shape", str(meta.shape)))
        items.append(("Chunk shape", str(meta.chunks)))
        items.append(("Order", meta.order))
        if self._read_only:
            items.append(("Read-only", "True"))
        for i, f in enumerate(self.filters or ()):
            items.append((f"Filter [{i}]", repr(f)))
        items.append(("Compressor", repr(self.compressor)))
        items.append(("Store type", store_type_name(self._store)))
        if self._chunk_store is not None:
            items.append(("Chunk store type", store_type_name(self._chunk_store)))
        items.append(("No. bytes", human_readable_size(self.nbytes, always=False)))
        stored = self.nbytes_stored
        if stored > 0:
            items.append(("No. bytes stored", human_readable_size(stored, always=False)))
            items.append(("Storage ratio", f"{self.nbytes / stored:.1f}"))
        items.append(("Chunks initialized", f"{self.nchunks_initialized}/{self.nchunks}"))
        return items

    @property
    def info(self) -> InfoReporter:
        """Diagnostics in the zarr tutorial's layout (text, and HTML in Jupyter)."""
        return InfoReporter(self.info_items)

    def _repr_html_(self) -> str:
        return InfoReporter(self.info_items)._repr_html_()

    def digest(self, hashname: str = "sha1") -> bytes:
        """A digest of the stored chunks, metadata and attributes."""
        h = hashlib.new(hashname)
        io = self._chunkio
        for coords in itertools.product(*(range(n) for n in self.cdata_shape)):
            h.update(bytes(self.chunk_store.get(io.key(coords), b"")))
        mh = hashlib.new(hashname)
        mh.update(bytes(self._store.get(self._prefix + ARRAY_META_KEY, b"")))
        h.update(mh.digest())
        h.update(bytes(self._store.get(self._prefix + ATTRS_KEY, b"")))
        return h.digest()

    def hexdigest(self, hashname: str = "sha1") -> str:
        """Hex form of :meth:`digest`."""
        return self.digest(hashname).hex()

    # ------------------------------------------------------------------ protocols

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        ro = " read-only" if self._read_only else ""
        cls = f"{type(self).__module__}.{type(self).__qualname__}"
        return f"<{cls}{name} {self.shape} {self.dtype}{ro}>"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self[...]
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Array)
            and self.store == other.store
            and self.read_only == other.read_only
            and self.path == other.path
        )

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Any]:
        return self.islice()

    def islice(self, start: int | None = None, end: int | None = None) -> Iterator[Any]:
        """Iterate over the first axis from ``start`` to ``end``, one chunk row read at a time."""
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        start, end, _ = slice(start, end).indices(self.shape[0])
        step = self.chunks[0]
        block = None
        block_start = -1
        for i in range(start, end):
            if block is None or i >= block_start + len(block):
                block_start = i
                block_end = min(end, (i // step + 1) * step)
                block = self[block_start:block_end]
            yield block[i - block_start]

    def __reduce__(self) -> tuple[Any, ...]:
        # positional and short: dask and xarray pickle arrays into every task
        args: tuple[Any, ...] = (self._store, self._path, self._read_only, self._chunk_store,
                                 self._synchronizer, self._cache_metadata, self._attrs.cache,
                                 None, self._write_empty_chunks)
        while len(args) > 1 and args[-1] == _REDUCE_DEFAULTS[len(args) - 1]:
            args = args[:-1]
        return (type(self), args)

    # ----------------------------------------------------------------- selection

    def _read(self, indexer: Indexer, fields: Any = None, out: np.ndarray | None = None) -> Any:
        meta = self._refresh()
        out_dtype = check_fields(fields, meta.dtype)
        if out is None:
            out = np.empty(indexer.shape, dtype=out_dtype, order=meta.order)  # type: ignore[call-overload]
        elif out.shape[: len(indexer.shape)] != indexer.shape:
            raise ValueError(f"out has shape {out.shape}; the selection has shape {indexer.shape}")
        read_chunks(self._chunkio, indexer, out, drop_axes=indexer.drop_axes, fields=fields)
        if out.shape == () and out_dtype.shape == ():
            return out[()]
        return out

    def _write(self, indexer: Indexer, value: Any, fields: Any = None) -> None:
        self._check_writable()
        meta = self._refresh()
        dtype = check_fields(fields, meta.dtype)
        value = _prepare_value(value, indexer.shape, dtype,
                               lazy_ok=isinstance(indexer, BasicIndexer))
        write_chunks(self._chunkio, indexer, value, drop_axes=indexer.drop_axes, fields=fields)

    def get_basic_selection(self, selection: Any = Ellipsis, out: np.ndarray | None = None,
                            fields: Any = None) -> Any:
        """Read a basic selection (integers, slices with step >= 1, Ellipsis).

        Examples
        --------
        >>> import zarrdask
        >>> z = zarrdask.array(np.arange(10), chunks=3)
        >>> z.get_basic_selection(slice(2, 8, 2))
        array([2, 4, 6])
        """
        return self._read(BasicIndexer(selection, self._grid), fields, out)

    def set_basic_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        """Write a basic selection; scalars and arrays broadcast."""
        self._write(BasicIndexer(selection, self._grid), value, fields)

    def get_orthogonal_selection(self, selection: Any, out: np.ndarray | None = None,
                                 fields: Any = None) -> Any:
        """Read an orthogonal selection: per axis an int, slice, int array or bool array."""
        return self._read(OrthogonalIndexer(selection, self._grid), fields, out)

    def set_orthogonal_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        """Write an orthogonal selection."""
        self._write(OrthogonalIndexer(selection, self._grid), value, fields)

    def get_block_selection(self, selection: Any, out: np.ndarray | None = None,
                            fields: Any = None) -> Any:
        """Read whole chunks by chunk index or chunk slice along each axis."""
        return self._read(BlockIndexer(selection, self._grid), fields, out)

    def set_block_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        """Write whole chunks by chunk index or chunk slice along each axis."""
        self._write(BlockIndexer(selection, self._grid), value, fields)

    def get_coordinate_selection(self, selection: Any, out: np.ndarray | None = None,
                                 fields: Any = None) -> Any:
        """Read points given by one integer array per axis (broadcast together)."""
        from zarrdask.indexing_points import CoordinateIndexer

        indexer = CoordinateIndexer(selection, self._grid)
        result = self._read(indexer, fields, None if out is None else out.reshape(-1))
        return indexer.reshape_result(result) if out is None else out

    def set_coordinate_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        """Write points given by one integer array per axis."""
        from zarrdask.indexing_points import CoordinateIndexer

        indexer = CoordinateIndexer(selection, self._grid)
        value = indexer.flatten_value(value, check_fields(fields, self.dtype))
        self._write(indexer, value, fields)

    def get_mask_selection(self, selection: Any, out: np.ndarray | None = None,
                           fields: Any = None) -> Any:
        """Read the points where a boolean mask of the array's shape is True."""
        from zarrdask.indexing_points import MaskIndexer

        return self._read(MaskIndexer(selection, self._grid), fields, out)

    def set_mask_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        """Write the points where a boolean mask of the array's shape is True."""
        from zarrdask.indexing_points import MaskIndexer

        self._write(MaskIndexer(selection, self._grid), value, fields)

    @property
    def oindex(self) -> _Accessor:
        """Orthogonal indexing: ``z.oindex[[0, 2], :]``."""
        return _Accessor(self.get_orthogonal_selection, self.set_orthogonal_selection)

    @property
    def vindex(self) -> _Accessor:
        """Vectorised (coordinate or mask) indexing: ``z.vindex[[0, 2], [1, 3]]``."""
        from zarrdask.indexing_points import vindex_get, vindex_set

        return _Accessor(lambda s, fields=None: vindex_get(self, s, fields),
                         lambda s, v, fields=None: vindex_set(self, s, v, fields))

    @property
    def blocks(self) -> _Accessor:
        """Block indexing: ``z.blocks[0, 1:3]`` selects whole chunks."""
        return _Accessor(self.get_block_selection, self.set_block_selection)

    def __getitem__(self, selection: Any) -> Any:
        fields, selection = pop_fields(selection)
        kind = dispatch_selection(selection, self.ndim)
        if kind == "basic":
            return self.get_basic_selection(selection, fields=fields)
        if kind == "orthogonal":
            return self.get_orthogonal_selection(selection, fields=fields)
        return self.vindex.get(selection, fields=fields)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, selection = pop_fields(selection)
        kind = dispatch_selection(selection, self.ndim)
        if kind == "basic":
            self.set_basic_selection(selection, value, fields=fields)
        elif kind == "orthogonal":
            self.set_orthogonal_selection(selection, value, fields=fields)
        else:
            self.vindex.set(selection, value, fields=fields)

    # ------------------------------------------------------------ resize/append

    def resize(self, *args: Any) -> None:
        """Change the shape; chunks wholly outside the new shape are deleted.

        Parts of edge chunks that fall outside a shrunk shape are reset to the
        fill value, so growing again never shows stale data.

        Examples
        --------
        >>> import zarrdask
        >>> z = zarrdask.zeros((10, 10), chunks=(5, 5))
        >>> z.resize(20, 5)
        >>> z.shape
        (20, 5)
        """
        shape = args[0] if len(args) == 1 and isinstance(args[0], tuple | list) else args
        self._write_op(self._resize_nosync, _normalize_shape(shape, self.ndim))

    def _resize_nosync(self, new_shape: tuple[int, ...]) -> None:
        meta = self._meta
        old_shape = meta.shape
        if len(new_shape) != len(old_shape):
            raise ValueError(f"cannot resize a {len(old_shape)}-d array to shape {new_shape}: "
                             "the number of dimensions must stay the same")
        old_grid = ChunkGrid.from_shapes(old_shape, meta.chunks)
        # reset the overhang of chunks that the shrink cuts through
        for axis, (old, new, c) in enumerate(zip(old_shape, new_shape, meta.chunks, strict=True)):
            stop = min(old, -(-new // c) * c)
            if new < stop:
                region = tuple(slice(None) if i != axis else slice(new, stop)
                               for i in range(len(old_shape)))
                self._write(BasicIndexer(region, old_grid), meta.fill_value
                            if meta.fill_value is not None else 0)
        self._write_meta_nosync(meta.replace(shape=new_shape))
        new_cdata = ChunkGrid.from_shapes(new_shape, meta.chunks).cdata_shape
        doomed = _chunks_outside(old_grid.cdata_shape, new_cdata)
        if doomed:
            io = self._chunkio
            delitems(self.chunk_store, [io.key(c) for c in doomed])

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Append ``data`` along ``axis``; return the new shape.

        Examples
        --------
        >>> import zarrdask
        >>> z = zarrdask.array(np.arange(4), chunks=2)
        >>> z.append(np.arange(3))
        (7,)
        """
        return self._write_op(self._append_nosync, data, axis)

    def _append_nosync(self, data: Any, axis: int) -> tuple[int, ...]:
        data = np.asanyarray(data) if not hasattr(data, "shape") else data
        shape = self._meta.shape
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"axis {axis} is out of range for a {len(shape)}-d array")
        axis %= len(shape)
        if len(data.shape) != len(shape) or any(
            a != b for i, (a, b) in enumerate(zip(data.shape, shape, strict=True)) if i != axis
        ):
            raise ValueError(f"cannot append data of shape {data.shape} to an array of shape "
                             f"{shape} along axis {axis}: other dimensions must match")
        new_shape = tuple(s + data.shape[axis] if i == axis else s for i, s in enumerate(shape))
        self._resize_nosync(new_shape)
        region = tuple(slice(shape[axis], new_shape[axis]) if i == axis else slice(None)
                       for i in range(len(shape)))
        self._write(BasicIndexer(region, self._grid), data)
        return new_shape

    def astype(self, dtype: Any) -> np.ndarray:
        """Read the whole array cast to ``dtype`` (no view support yet)."""
        return self[...].astype(dtype)

    # ---------------------------------------------------------------------- dask

    def to_dask(self, selection: Any = None, chunks: Any = None, name: str | None = None) -> Any:
        """This array (or a selection of it) as a chunk-aligned dask array.

        See :func:`zarrdask.dask_array.to_dask`; dask is imported only here.
        """
        return _integration("dask_array").to_dask(self, selection=selection, chunks=chunks,
                                                  name=name)

    def __dask_tokenize__(self) -> Any:
        """A dask token that changes when the data or metadata change.

        Path, a digest of the current ``.zarray`` and a change marker of the chunk
        store (see :func:`zarrdask.dask_plan.store_change_marker`).
        """
        return _integration("dask_plan").array_token(self)


def _integration(name: str) -> Any:
    """An integration module above this layer (``dask_array``...), imported on first use."""
    import importlib

    return importlib.import_module(f"zarrdask.{name}")


_REDUCE_DEFAULTS = (None, "", False, None, None, True, True, None, False)


class _Accessor:
    """The object behind ``oindex``, ``vindex`` and ``blocks``."""

    __slots__ = ("get", "set")

    def __init__(self, get: Callable[..., Any], set: Callable[..., None]) -> None:  # noqa: A002
        self.get = get
        self.set = set

    def __getitem__(self, selection: Any) -> Any:
        fields, selection = pop_fields(selection)
        return self.get(selection, fields=fields)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, selection = pop_fields(selection)
        self.set(selection, value, fields=fields)


def _normalize_shape(shape: Any, ndim: int | None = None) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    out = tuple(int(s) for s in shape)
    if any(s < 0 for s in out):
        raise ValueError(f"shape {out} has a negative dimension")
    return out


def _chunks_outside(old: tuple[int, ...], new: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Chunk coordinates of grid ``old`` that are not in grid ``new``; cost ~ their number."""
    doomed: list[tuple[int, ...]] = []
    for axis in range(len(old)):
        if new[axis] >= old[axis]:
            continue
        ranges = [range(min(o, n)) if i < axis else range(o) for i, (o, n) in
                  enumerate(zip(old, new, strict=True))]
        ranges[axis] = range(new[axis], old[axis])
        doomed.extend(itertools.product(*ranges))
    return doomed


def _prepare_value(value: Any, shape: tuple[int, ...], dtype: np.dtype,
                   lazy_ok: bool = False) -> Any:
    """Cast and broadcast a value for writing.

    With ``lazy_ok``, an array-like of exactly the selection's shape that is not
    a numpy array (another Array, an h5py Dataset) is read region by region.
    """
    if dtype.hasobject and shape == () and not (isinstance(value, np.ndarray)
                                                and value.ndim == 0):
        # one element of an object array holds the value itself (a list, a dict, an array)
        arr = np.empty((), dtype=object)
        arr[()] = value
        return arr
    if (not lazy_ok or isinstance(value, np.ndarray | np.generic)
            or not hasattr(value, "__getitem__") or not getattr(value, "shape", ())):
        try:
            arr = np.asarray(value, dtype=dtype if dtype.shape == () else dtype.base)
        except (ValueError, TypeError) as e:
            raise type(e)(f"cannot store value {value!r:.80} as {dtype}: {e}") from e
        if arr.ndim == 0 and dtype.shape == ():
            return arr
        target = shape + dtype.shape
        try:
            return np.broadcast_to(arr, target)
        except ValueError:
            raise ValueError(f"value of shape {arr.shape} cannot be broadcast to the "
                             f"selection's shape {target}") from None
    if tuple(value.shape) != tuple(shape):
        return _prepare_value(np.asarray(value), shape, dtype)
    return _LazySource(value, dtype)


class _LazySource:
    """An array-like (another Array, an h5py Dataset) read region by region while writing."""

    __slots__ = ("dtype", "ndim", "shape", "source")

    def __init__(self, source: Any, dtype: np.dtype) -> None:
        self.source = source
        self.shape = tuple(source.shape)
        self.ndim = len(self.shape)
        self.dtype = dtype

    def __getitem__(self, selection: Any) -> np.ndarray:
        return np.asarray(self.source[selection], dtype=self.dtype)
