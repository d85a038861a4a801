"""Selections -> chunk projections, with no I/O.

An *indexer* turns a user selection on an array of a given shape and chunk
grid into a stream of :class:`ChunkProjection` ``(chunk_coords,
chunk_selection, out_selection, is_full)``. The synchronous :class:`Array` and
the dask graph builder both consume these projections.

This module holds selection normalisation, the per-axis indexers (int, slice,
int array, bool array) and the basic, orthogonal and block indexers. Point
selections (coordinate and mask) live in :mod:`zarrdask.indexing_points`.
Imports only numpy, :mod:`zarrdask.grid` and :mod:`zarrdask.errors`.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

import numpy as np

from zarrdask.errors import BoundsCheckError, NegativeStepError
from zarrdask.grid import ChunkGrid, DimGrid

__all__ = [
    "BasicIndexer",
    "BlockIndexer",
    "ChunkProjection",
    "DimProjection",
    "Indexer",
    "OrthogonalIndexer",
    "is_basic_selection",
    "normalize_integer",
    "replace_ellipsis",
]

DimSelection: TypeAlias = "int | slice | np.ndarray"


class ChunkProjection(NamedTuple):
    """How one chunk takes part in a selection.

    Attributes
    ----------
    chunk_coords : tuple of int
        Position of the chunk in the grid.
    chunk_selection : tuple
        Selection inside the chunk (numpy indexing).
    out_selection : tuple
        Where the selected items go in the output (numpy indexing).
    is_full : bool
        True when the selection covers every in-bounds element of the chunk,
        so a write need not read the old chunk.
    """

    chunk_coords: tuple[int, ...]
    chunk_selection: tuple[Any, ...]
    out_selection: tuple[Any, ...]
    is_full: bool


class DimProjection(NamedTuple):
    """How one chunk along one axis takes part in a per-axis selection."""

    dim_chunk_ix: int
    dim_chunk_sel: Any
    dim_out_sel: Any  # None where the axis is dropped (an integer selection)
    nitems: int
    is_full: bool


class Indexer(Protocol):
    """What every indexer offers its consumers."""

    shape: tuple[int, ...]
    drop_axes: tuple[int, ...]

    def __iter__(self) -> Iterator[ChunkProjection]: ...


def _ceildiv(a: int, b: int) -> int:
    return -(-a // b)


def _is_integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


def _is_integer_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind in "ui"


def _is_bool_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "b"


def normalize_integer(index: Any, extent: int, axis: int) -> int:
    """Resolve a (possibly negative) integer index and check its bounds.

    Raises
    ------
    BoundsCheckError
        Naming the axis, the index and the valid range.
    """
    i = int(index)
    if i < 0:
        i += extent
    if not 0 <= i < extent:
        raise BoundsCheckError(
            f"index {int(index)} is out of bounds for axis {axis} with size {extent}"
        )
    return i


def _check_scalar_type(sel: Any, axis: int) -> None:
    if isinstance(sel, float | np.floating):
        raise IndexError(f"float index {sel!r} on axis {axis}: only integers, slices, "
                         "Ellipsis and integer or boolean arrays are valid indices")
    if isinstance(sel, str | bytes):
        raise IndexError(f"string index {sel!r} on axis {axis} is not valid here; "
                         "to select a field of a structured array use z[field] or fields=")
    if sel is None or sel is np.newaxis:
        raise IndexError(f"np.newaxis/None on axis {axis} is not supported")


def replace_ellipsis(selection: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Expand Ellipsis and pad a selection to one entry per axis.

    Raises
    ------
    IndexError
        If there are more indices than axes or more than one Ellipsis.

    Examples
    --------
    >>> replace_ellipsis((Ellipsis, 1), (2, 3, 4))
    (slice(None, None, None), slice(None, None, None), 1)
    """
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = sum(1 for s in selection if s is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError(f"an index can only have a single ellipsis ('...'), got {n_ellipsis}")
    if n_ellipsis == 1:
        i = next(i for i, s in enumerate(selection) if s is Ellipsis)
        n_fill = len(shape) - (len(selection) - 1)
        selection = selection[:i] + (slice(None),) * max(n_fill, 0) + selection[i + 1:]
    if len(selection) > len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {len(selection)} were indexed"
        )
    return tuple(selection) + (slice(None),) * (len(shape) - len(selection))


def _unwrap_0d(sel: Any) -> Any:
    if isinstance(sel, np.ndarray) and sel.ndim == 0:
        return sel[()]
    return sel


def is_basic_selection(selection: Any) -> bool:
    """Whether a selection is basic: ints, slices and Ellipsis only (0-d arrays count as ints)."""
    if not isinstance(selection, tuple):
        selection = (selection,)
    for s in selection:
        s = _unwrap_0d(s)
        if not (_is_integer(s) or isinstance(s, slice) or s is Ellipsis):
            return False
    return True


# --------------------------------------------------------------------------- per-axis


def _int_dim(sel: Any, dim: DimGrid, axis: int) -> tuple[list[DimProjection], int | None]:
    i = normalize_integer(sel, dim.extent, axis)
    c = i // dim.chunk_len
    full = dim.chunk_extent(c) == 1
    return [DimProjection(c, i - dim.chunk_offset(c), None, 1, full)], None


def _slice_dim(sel: slice, dim: DimGrid, axis: int) -> tuple[list[DimProjection], int]:
    if sel.step is not None:
        step = int(sel.step)
        if step == 0:
            raise ValueError(f"slice step cannot be zero (axis {axis})")
        if step < 0:
            raise NegativeStepError(
                f"slice {sel!r} on axis {axis} has a negative step; only steps >= 1 are supported"
            )
    for bound in (sel.start, sel.stop):
        if bound is not None and not _is_integer(_unwrap_0d(bound)):
            raise IndexError(f"slice bounds must be integers, got {bound!r} on axis {axis}")
    start, stop, step = sel.indices(dim.extent)
    nitems = max(0, _ceildiv(stop - start, step))
    projections: list[DimProjection] = []
    if nitems == 0:
        return projections, 0
    stop = start + (nitems - 1) * step + 1
    first, last = start // dim.chunk_len, _ceildiv(stop, dim.chunk_len)
    for c in range(first, last):
        offset = dim.chunk_offset(c)
        limit = offset + dim.chunk_extent(c)
        if start < offset:
            out_offset = _ceildiv(offset - start, step)
            chunk_start = start + out_offset * step - offset
        else:
            out_offset = 0
            chunk_start = start - offset
        chunk_stop = min(stop, limit) - offset
        if chunk_start >= chunk_stop:
            continue
        n = _ceildiv(chunk_stop - chunk_start, step)
        full = chunk_start == 0 and step == 1 and chunk_stop == limit - offset
        projections.append(
            DimProjection(c, slice(chunk_start, chunk_stop, step),
                          slice(out_offset, out_offset + n), n, full)
        )
    return projections, nitems


def _int_array_dim(sel: np.ndarray, dim: DimGrid, axis: int) -> tuple[list[DimProjection], int]:
    if sel.ndim != 1:
        raise IndexError(
            f"orthogonal selection arrays must be 1-d, got {sel.ndim}-d on axis {axis}"
        )
    idx = sel.astype(np.int64, copy=True)
    idx[idx < 0] += dim.extent
    bad = (idx < 0) | (idx >= dim.extent)
    if bad.any():
        first_bad = int(sel[np.argmax(bad)])
        raise BoundsCheckError(
            f"index {first_bad} is out of bounds for axis {axis} with size {dim.extent}"
        )
    nitems = idx.size
    if nitems == 0:
        return [], 0
    chunk_ids = idx // dim.chunk_len
    increasing = bool(np.all(np.diff(chunk_ids) >= 0)) if nitems > 1 else True
    order: np.ndarray | None = None
    if not increasing:
        order = np.argsort(chunk_ids, kind="stable")
        idx, chunk_ids = idx[order], chunk_ids[order]
    bounds = np.flatnonzero(np.diff(chunk_ids)) + 1
    starts = np.concatenate(([0], bounds))
    stops = np.concatenate((bounds, [nitems]))
    projections = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        c = int(chunk_ids[a])
        chunk_sel = idx[a:b] - dim.chunk_offset(c)
        out_sel: Any = slice(a, b) if order is None else order[a:b]
        extent = dim.chunk_extent(c)
        full = (b - a == extent and order is None
                and bool(np.array_equal(chunk_sel, np.arange(extent))))
        projections.append(DimProjection(c, chunk_sel, out_sel, b - a, full))
    return projections, nitems


def _bool_array_dim(sel: np.ndarray, dim: DimGrid, axis: int) -> tuple[list[DimProjection], int]:
    if sel.ndim != 1 or sel.shape[0] != dim.extent:
        raise IndexError(
            f"boolean index on axis {axis} has shape {sel.shape}; expected ({dim.extent},)"
        )
    return _int_array_dim(np.flatnonzero(sel), dim, axis)


def _as_array(sel: Any) -> Any:
    if isinstance(sel, list | np.ndarray) or (
        hasattr(sel, "__array__") and not isinstance(sel, slice)
    ):
        arr = np.asarray(sel)
        if arr.size == 0 and arr.dtype.kind not in "uib":
            arr = arr.astype(np.int64)
        return arr
    return sel


def _dim_projections(
    sel: Any, dim: DimGrid, axis: int, *, allow_arrays: bool
) -> tuple[list[DimProjection], int | None]:
    sel = _unwrap_0d(sel)
    if _is_integer(sel):
        return _int_dim(sel, dim, axis)
    if isinstance(sel, slice):
        return _slice_dim(sel, dim, axis)
    _check_scalar_type(sel, axis)
    if allow_arrays:
        arr = _as_array(sel)
        if _is_bool_array(arr):
            return _bool_array_dim(arr, dim, axis)
        if _is_integer_array(arr):
            return _int_array_dim(arr, dim, axis)
        if isinstance(arr, np.ndarray):
            raise IndexError(f"arrays used as indices must be of integer or boolean type, "
                             f"got dtype {arr.dtype} on axis {axis}")
    raise IndexError(
        f"unsupported selection item {sel!r} on axis {axis} for this selection method; "
        "basic selections take integers, slices and Ellipsis "
        "(use z.oindex[...] or z.vindex[...] for array selections)"
    )


class _ProductIndexer:
    """Shared machinery: the product of per-axis projections."""

    shape: tuple[int, ...]
    drop_axes: tuple[int, ...]

    def __init__(self, selection: tuple[Any, ...], grid: ChunkGrid, *, allow_arrays: bool) -> None:
        self.grid = grid
        per_dim = []
        out_shape = []
        drop = []
        for axis, (sel, dim) in enumerate(zip(selection, grid.dims, strict=True)):
            projections, nitems = _dim_projections(sel, dim, axis, allow_arrays=allow_arrays)
            per_dim.append(projections)
            if nitems is None:
                drop.append(axis)
            else:
                out_shape.append(nitems)
        self.dim_projections: tuple[list[DimProjection], ...] = tuple(per_dim)
        self.shape = tuple(out_shape)
        self.int_axes = tuple(drop)
        self.drop_axes = ()

    @property
    def nchunks(self) -> int:
        """Number of chunks touched."""
        return math.prod(len(p) for p in self.dim_projections)

    def __iter__(self) -> Iterator[ChunkProjection]:
        for dims in itertools.product(*self.dim_projections):
            yield ChunkProjection(
                tuple(d.dim_chunk_ix for d in dims),
                tuple(d.dim_chunk_sel for d in dims),
                tuple(d.dim_out_sel for d in dims if d.dim_out_sel is not None),
                all(d.is_full for d in dims),
            )


class BasicIndexer(_ProductIndexer):
    """Indexer for basic selections: integers, slices with step >= 1, Ellipsis.

    Examples
    --------
    >>> grid = ChunkGrid.from_shapes((10,), (4,))
    >>> [p.chunk_coords for p in BasicIndexer(slice(2, 9), grid)]
    [(0,), (1,), (2,)]
    """

    def __init__(self, selection: Any, grid: ChunkGrid) -> None:
        super().__init__(replace_ellipsis(selection, grid.shape), grid, allow_arrays=False)


class OrthogonalIndexer(_ProductIndexer):
    """Indexer for orthogonal selections: per axis an int, slice, int array or bool array.

    When more than one axis holds an array, or an array is combined with an
    integer, selections are turned into open meshes (``np.ix_``); integer axes
    then keep length 1 inside the chunk and
    are listed in ``drop_axes`` for the consumer to squeeze (read) or expand
    (write).
    """

    def __init__(self, selection: Any, grid: ChunkGrid) -> None:
        super().__init__(replace_ellipsis(selection, grid.shape), grid, allow_arrays=True)
        n_arrays = sum(
            1 for p in self.dim_projections
            if p and isinstance(p[0].dim_chunk_sel, np.ndarray)
        )
        # numpy moves the axes of advanced indices (arrays, and integers next to an
        # array) to the front when they are not adjacent: open meshes avoid that
        self._use_ix = n_arrays > 1 or (n_arrays == 1 and bool(self.int_axes))
        if self._use_ix:
            self.drop_axes = self.int_axes

    def __iter__(self) -> Iterator[ChunkProjection]:
        if not self._use_ix:
            yield from super().__iter__()
            return
        for p in super().__iter__():
            chunk_sel = np.ix_(*[_as_index_array(s) for s in p.chunk_selection])
            out_sel = np.ix_(*[_as_index_array(s) for s in p.out_selection])
            yield p._replace(chunk_selection=chunk_sel, out_selection=out_sel)


def _as_index_array(sel: Any) -> np.ndarray:
    if isinstance(sel, slice):
        return np.arange(sel.start, sel.stop, sel.step or 1)
    if _is_integer(sel):
        return np.array([sel])
    return np.asarray(sel)


class BlockIndexer(BasicIndexer):
    """Indexer for block selections: per axis a chunk index or a slice of chunk indices.

    Examples
    --------
    >>> grid = ChunkGrid.from_shapes((10,), (4,))
    >>> BlockIndexer(slice(1, None), grid).shape
    (6,)
    """

    def __init__(self, selection: Any, grid: ChunkGrid) -> None:
        selection = replace_ellipsis(selection, grid.shape)
        array_selection = []
        for axis, (sel, dim) in enumerate(zip(selection, grid.dims, strict=True)):
            sel = _unwrap_0d(sel)
            if _is_integer(sel):
                c = normalize_integer(sel, dim.nchunks, axis)
                array_selection.append(slice(dim.chunk_offset(c),
                                             dim.chunk_offset(c) + dim.chunk_extent(c)))
            elif isinstance(sel, slice):
                if sel.step not in (None, 1):
                    raise IndexError(f"block selections support only step 1, got {sel!r} "
                                     f"on axis {axis}")
                start, stop, _ = sel.indices(dim.nchunks)
                stop = max(start, stop)
                array_selection.append(slice(min(dim.chunk_offset(start), dim.extent),
                                             min(dim.chunk_offset(stop), dim.extent)))
            else:
                _check_scalar_type(sel, axis)
                raise IndexError(f"block selections take integers and slices, got {sel!r} "
                                 f"on axis {axis}")
        super().__init__(tuple(array_selection), grid)


def check_fields(fields: str | Sequence[str] | None, dtype: np.dtype) -> np.dtype:
    """Return the dtype of the selected fields, or ``dtype`` when no fields are given.

    Raises
    ------
    IndexError
        If the array is not structured or a field does not exist.
    """
    if fields is None:
        return dtype
    if dtype.names is None:
        raise IndexError(f"fields {fields!r} were given but the array dtype {dtype} "
                         "has no fields")
    names = [fields] if isinstance(fields, str) else list(fields)
    for name in names:
        if name not in dtype.names:
            raise IndexError(f"no field named {name!r}; the fields are {list(dtype.names)}")
    if isinstance(fields, str):
        field_dtype = dtype[fields]
        # a sub-array field adds axes: callers read it through the structured view
        return field_dtype
    return np.dtype([(n, dtype.fields[n][0]) for n in names])  # type: ignore[index]
