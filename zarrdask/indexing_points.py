"""Point selections -> chunk projections: coordinate and mask indexers, and ``vindex``.

A *point selection* picks individual elements: one integer array per axis
(broadcast together, as numpy's advanced indexing does) or one boolean mask of
the array's shape. :class:`CoordinateIndexer` groups the points by the chunk
that holds them with vectorised numpy operations (no Python loop per point), so
every touched chunk is read once; :class:`MaskIndexer` is a coordinate indexer
over the mask's ``True`` positions. :func:`vindex_get` and :func:`vindex_set`
decide, as zarr-python 2.18 does, whether a ``z.vindex[...]`` selection is a
coordinate or a mask selection. Pure functions of shapes, except the two
``vindex_*`` entry points which call the array's public methods.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from zarrdask.errors import BoundsCheckError, VindexInvalidSelectionError
from zarrdask.grid import ChunkGrid
from zarrdask.indexing import ChunkProjection

if TYPE_CHECKING:  # pragma: no cover - typing only
    from zarrdask.core import Array

__all__ = [
    "CoordinateIndexer",
    "MaskIndexer",
    "is_coordinate_selection",
    "is_mask_selection",
    "vindex_get",
    "vindex_set",
]


# ----------------------------------------------------------------- normalisation


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


def _as_array(x: Any) -> Any:
    """Lists and tuples become arrays; an empty list becomes an empty int array."""
    if isinstance(x, list | tuple):
        arr = np.asarray(x)
        if arr.size == 0 and arr.dtype.kind not in "uib":
            arr = arr.astype(np.intp)
        return arr
    return x


def _as_tuple(selection: Any) -> tuple[Any, ...]:
    if isinstance(selection, tuple):
        return selection
    return (selection,)


def _is_int_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind in "ui"


def _is_bool_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "b"


def is_coordinate_selection(selection: Any, ndim: int) -> bool:
    """Whether ``selection`` is one integer or integer array per axis.

    Lists count as arrays.

    Examples
    --------
    >>> is_coordinate_selection(([0, 2], [1, 3]), 2)
    True
    >>> is_coordinate_selection(([0, 2], slice(None)), 2)
    False
    """
    sel = tuple(_as_array(s) for s in _as_tuple(selection))
    return len(sel) == ndim and all(_is_int(s) or _is_int_array(s) for s in sel)


def is_mask_selection(selection: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``selection`` is one boolean array of exactly ``shape``.

    Examples
    --------
    >>> is_mask_selection(np.zeros((2, 3), dtype=bool), (2, 3))
    True
    >>> is_mask_selection(np.zeros((2, 2), dtype=bool), (2, 3))
    False
    """
    sel = tuple(_as_array(s) for s in _as_tuple(selection))
    return len(sel) == 1 and _is_bool_array(sel[0]) and sel[0].shape == tuple(shape)


def _describe(selection: Any) -> str:
    text = repr(selection)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_item(item: Any, axis: int, ndim: int) -> np.ndarray:
    """One axis of a coordinate selection as an int64 array (ints become shape ``(1,)``)."""
    if _is_int(item):
        return np.array([int(item)], dtype=np.int64)
    arr = _as_array(item)
    if _is_int_array(arr):
        return arr
    if isinstance(arr, np.ndarray):
        what = f"an array of dtype {arr.dtype}"
    else:
        what = f"{type(item).__name__} {_describe(item)}"
    raise IndexError(
        f"invalid coordinate selection: axis {axis} got {what}; expected one integer "
        f"(coordinate) array per dimension of the {ndim}-d array"
    )


def _wrap_and_check(idx: np.ndarray, extent: int, axis: int) -> np.ndarray:
    """Resolve negative indices (on a copy) and check bounds, naming axis and index."""
    out = idx.astype(np.int64, copy=True)
    if out.size == 0:
        return out
    neg = out < 0
    if neg.any():
        out[neg] += extent
    bad = (out < 0) | (out >= extent)
    if bad.any():
        first = int(idx.reshape(-1)[np.argmax(bad.reshape(-1))])
        raise BoundsCheckError(
            f"index {first} is out of bounds for axis {axis} with size {extent}"
        )
    return out


# --------------------------------------------------------------------- indexers


class CoordinateIndexer:
    """Indexer for coordinate (point) selections: one integer array per axis.

    The index arrays are broadcast together; negative indices count from the
    end; points may be unsorted and repeated. Points are grouped per chunk with
    a stable sort of their raveled chunk index, so each touched chunk appears in
    exactly one projection and, within a chunk, points keep their order (for
    repeated points in a write, the last value wins, as in numpy).

    Each projection's ``chunk_selection`` is a tuple of per-axis int arrays
    (chunk-local), and its ``out_selection`` is a 1-tuple holding the output
    positions of those points: a slice when they are consecutive, otherwise an
    int array. The output is flat (``shape == (npoints,)``); use
    :meth:`reshape_result` to give it the broadcast shape of the index arrays.

    Parameters
    ----------
    selection : tuple
        One integer, integer array or list of integers per axis.
    grid : ChunkGrid
        The array's chunk grid.

    Raises
    ------
    IndexError
        If the selection is not one integer (array) per axis.
    BoundsCheckError
        If an index is out of bounds (naming the axis and the index).
    ValueError
        If the index arrays cannot be broadcast together (as zarr 2.18 raises).

    Examples
    --------
    >>> grid = ChunkGrid.from_shapes((10,), (4,))
    >>> ix = CoordinateIndexer(([9, 1, 2],), grid)
    >>> ix.shape, [(p.chunk_coords, p.chunk_selection[0].tolist()) for p in ix]
    ((3,), [((0,), [1, 2]), ((2,), [1])])
    """

    shape: tuple[int, ...]
    drop_axes: tuple[int, ...]

    def __init__(self, selection: Any, grid: ChunkGrid) -> None:
        self.grid = grid
        ndim = len(grid.shape)
        sel = _as_tuple(selection)
        if len(sel) != ndim:
            raise IndexError(
                f"invalid coordinate selection: got {len(sel)} index arrays for a "
                f"{ndim}-d array; expected one integer (coordinate) array per dimension"
            )
        if ndim == 0:
            self._init_0d(1)
            return
        arrays = [
            _wrap_and_check(_check_item(s, axis, ndim), extent, axis)
            for axis, (s, extent) in enumerate(zip(sel, grid.shape, strict=True))
        ]
        try:
            broadcast = np.broadcast_arrays(*arrays)
        except ValueError:
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(
                f"coordinate index arrays cannot be broadcast to a single shape: "
                f"their shapes are {shapes}"
            ) from None
        self.sel_shape: tuple[int, ...] = broadcast[0].shape or (1,)
        self._set_points([a.reshape(-1) for a in broadcast])

    def _init_0d(self, npoints: int) -> None:
        """A 0-d array: its one element, selected ``npoints`` (0 or 1) times."""
        self.sel_shape = (npoints,)
        self.shape = (npoints,)
        self.drop_axes = ()
        self._points: tuple[np.ndarray, ...] = ()
        self._order: np.ndarray | None = None
        self._chunk_ids: tuple[np.ndarray, ...] = ()
        self._bounds = np.array([0, npoints], dtype=np.intp) if npoints else np.zeros(1, np.intp)

    def _set_points(self, points: list[np.ndarray]) -> None:
        """Group flat per-axis point indices by chunk (vectorised, no loop per point)."""
        grid = self.grid
        n = int(points[0].size)
        self.shape = (n,)
        self.drop_axes = ()
        chunk_ids = [p // d.chunk_len if d.chunk_len > 1 else p
                     for p, d in zip(points, grid.dims, strict=True)]
        order: np.ndarray | None = None
        starts = np.zeros(0, dtype=np.intp)
        if n > 1:
            key = _chunk_sort_key(chunk_ids, grid.cdata_shape)
            if key is None:  # grid too large to ravel: sort lexicographically
                order = np.lexsort(tuple(reversed(chunk_ids)))
                chunk_ids = [c[order] for c in chunk_ids]
                changes = np.zeros(n - 1, dtype=bool)
                for c in chunk_ids:
                    changes |= c[1:] != c[:-1]
            else:
                if bool(np.any(key[1:] < key[:-1])):
                    # stable: within a chunk, points keep their order (radix sort for
                    # the small integer keys of grids up to 65536 chunks)
                    order = np.argsort(key, kind="stable")
                    key = key[order]
                    chunk_ids = [c[order] for c in chunk_ids]
                changes = key[1:] != key[:-1]
            if order is not None:
                points = [p[order] for p in points]
            starts = np.flatnonzero(changes) + 1
        self._points = tuple(points)
        self._chunk_ids = tuple(chunk_ids)
        self._order = order
        self._bounds = (np.concatenate(([0], starts, [n])).astype(np.intp) if n
                        else np.zeros(1, np.intp))

    @property
    def nchunks(self) -> int:
        """Number of chunks the selection touches."""
        return len(self._bounds) - 1

    def __iter__(self) -> Iterator[ChunkProjection]:
        grid = self.grid
        bounds = self._bounds.tolist()
        if not self._points:  # 0-d array: a new axis makes the one element a 1-d selection
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                yield ChunkProjection((), (np.newaxis,), (slice(a, b),), True)
            return
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            coords = tuple(int(c[a]) for c in self._chunk_ids)
            chunk_sel = tuple(
                p[a:b] - c * d.chunk_len
                for p, c, d in zip(self._points, coords, grid.dims, strict=True)
            )
            out_sel = self._out_selection(a, b)
            full = self._covers_chunk(coords, chunk_sel, out_sel)
            yield ChunkProjection(coords, chunk_sel, (out_sel,), full)

    def _out_selection(self, a: int, b: int) -> slice | np.ndarray:
        if self._order is None:
            return slice(a, b)
        positions = self._order[a:b]
        first = int(positions[0])
        if int(positions[-1]) - first == b - a - 1 and bool(np.all(np.diff(positions) == 1)):
            return slice(first, first + b - a)
        return positions

    def _covers_chunk(self, coords: tuple[int, ...], chunk_sel: tuple[np.ndarray, ...],
                      out_sel: slice | np.ndarray) -> bool:
        """Whether the points hit every in-bounds element of the chunk.

        For a 1-d array the points must moreover be the chunk in order with a
        slice of output (so the chunk can be decoded straight into the output,
        or the values encoded as the chunk).
        """
        dims = self.grid.dims
        extents = [d.chunk_extent(c) for d, c in zip(dims, coords, strict=True)]
        n_inbounds = math.prod(extents)
        npts = int(chunk_sel[0].size)
        if npts < n_inbounds:
            return False
        if len(dims) == 1:
            return (npts == n_inbounds and isinstance(out_sel, slice)
                    and bool(np.array_equal(chunk_sel[0], np.arange(n_inbounds))))
        flat = np.ravel_multi_index(chunk_sel, extents)
        return int(np.unique(flat).size) == n_inbounds

    def reshape_result(self, result: Any) -> Any:
        """Give a flat read result the broadcast shape of the index arrays.

        Trailing axes (sub-array fields) are kept.
        """
        if not isinstance(result, np.ndarray):
            return result
        return result.reshape(self.sel_shape + result.shape[1:])

    def flatten_value(self, value: Any, dtype: np.dtype | None = None) -> Any:
        """Turn a value for a write into the flat order of the points.

        Scalars pass through. An array of the selection's broadcast shape (plus
        any sub-array field axes) is flattened; an array that broadcasts to the
        selection's shape is broadcast then flattened. Values that do not
        convert to an array are returned unchanged for the caller to report.

        Parameters
        ----------
        value : scalar or array-like
            The value to write.
        dtype : numpy.dtype, optional
            The dtype being written (of the selected fields), used to convert
            lists: e.g. a list of tuples for a structured dtype.
        """
        if np.isscalar(value) or value is None:
            return value
        try:
            if isinstance(value, np.ndarray):
                arr = value
            elif dtype is not None and not dtype.hasobject:
                arr = np.asarray(value, dtype=dtype.base if dtype.shape else dtype)
            else:
                arr = np.asarray(value)
        except (ValueError, TypeError):
            return value
        if arr.ndim == 0:
            return arr
        k = len(self.sel_shape)
        if arr.shape[:k] == self.sel_shape:
            return arr.reshape(self.shape + arr.shape[k:])
        sub_shape = () if dtype is None else dtype.shape
        target = self.sel_shape + sub_shape
        try:
            return np.broadcast_to(arr, target).reshape(self.shape + sub_shape)
        except ValueError:
            raise ValueError(
                f"value of shape {arr.shape} cannot be broadcast to the coordinate "
                f"selection's shape {target}"
            ) from None


def _chunk_sort_key(chunk_ids: list[np.ndarray], cdata_shape: tuple[int, ...]) -> np.ndarray | None:
    """The raveled chunk index of every point in the smallest unsigned dtype that holds it.

    None when the grid has too many chunks to ravel.
    """
    nchunks = math.prod(cdata_shape)
    if nchunks >= 2**62:
        return None
    if len(cdata_shape) == 1:
        key = chunk_ids[0]
    else:
        key = np.ravel_multi_index(tuple(chunk_ids), cdata_shape)
    for dtype in (np.uint8, np.uint16, np.uint32):
        if nchunks <= np.iinfo(dtype).max:
            return key.astype(dtype)
    return key


class MaskIndexer(CoordinateIndexer):
    """Indexer for a boolean mask of the array's shape: the points where it is True.

    The output is flat, in C order of the mask.

    Raises
    ------
    IndexError
        If the selection is not one boolean array of the array's shape.

    Examples
    --------
    >>> grid = ChunkGrid.from_shapes((2, 3), (1, 2))
    >>> MaskIndexer(np.array([[True, False, False], [False, False, True]]), grid).shape
    (2,)
    """

    def __init__(self, selection: Any, grid: ChunkGrid) -> None:
        self.grid = grid
        sel = tuple(_as_array(s) for s in _as_tuple(selection))
        if not is_mask_selection(sel, grid.shape):
            got = (f"a {sel[0].dtype} array of shape {sel[0].shape}"
                   if len(sel) == 1 and isinstance(sel[0], np.ndarray)
                   else f"{len(sel)} items {_describe(selection)}")
            raise IndexError(
                f"invalid mask selection: expected one Boolean (mask) array with the same "
                f"shape as the target array {tuple(grid.shape)}, got {got}"
            )
        mask = sel[0]
        if mask.ndim == 0:
            self._init_0d(int(bool(mask)))
            return
        points = [p.astype(np.int64, copy=False) for p in np.nonzero(mask)]
        self.sel_shape = (int(points[0].size),)
        self._set_points(points)


# ------------------------------------------------------------------------ vindex


def _vindex_kind(array: Array, selection: Any) -> tuple[str, tuple[Any, ...]]:
    sel = tuple(_as_array(s) for s in _as_tuple(selection))
    if is_coordinate_selection(sel, array.ndim):
        return "coordinate", sel
    if is_mask_selection(sel, array.shape):
        return "mask", sel
    raise VindexInvalidSelectionError(
        "unsupported selection for vectorized indexing (vindex): expected a coordinate "
        f"selection (one integer array per dimension, {array.ndim} in all, no slices) or a "
        f"mask selection (one Boolean array of shape {tuple(array.shape)}); "
        f"got {_describe(selection)}"
    )


def vindex_get(array: Array, selection: Any, fields: Any = None) -> Any:
    """``array.vindex[selection]``: a coordinate or a mask selection.

    Raises
    ------
    VindexInvalidSelectionError
        If the selection is neither (e.g. it mixes slices and arrays).
    """
    kind, sel = _vindex_kind(array, selection)
    if kind == "coordinate":
        return array.get_coordinate_selection(sel, fields=fields)
    return array.get_mask_selection(sel, fields=fields)


def vindex_set(array: Array, selection: Any, value: Any, fields: Any = None) -> None:
    """``array.vindex[selection] = value``: a coordinate or a mask selection.

    Raises
    ------
    VindexInvalidSelectionError
        If the selection is neither (e.g. it mixes slices and arrays).
    """
    kind, sel = _vindex_kind(array, selection)
    if kind == "coordinate":
        array.set_coordinate_selection(sel, value, fields=fields)
    else:
        array.set_mask_selection(sel, value, fields=fields)
