"""Pure indexer tests: selections -> chunk projections, with no store and no codecs.

Invariants checked with hypothesis for every indexer (basic, orthogonal, block,
coordinate, mask):

* the ``out_selection``s cover the output exactly once;
* every ``chunk_selection`` stays inside the in-bounds part of its chunk;
* assembling the output from numpy chunks through the projections gives what
  numpy's own indexing gives;
* ``is_full`` is only claimed for chunks the selection covers completely.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zarrdask.errors import BoundsCheckError
from zarrdask.grid import ChunkGrid
from zarrdask.indexing import BasicIndexer, BlockIndexer, OrthogonalIndexer
from zarrdask.indexing_points import (
    CoordinateIndexer,
    MaskIndexer,
    is_coordinate_selection,
    is_mask_selection,
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PAD = -99  # marks chunk elements outside the array: must never reach the output


# ------------------------------------------------------------------- helpers


def _chunk_of(a: np.ndarray, grid: ChunkGrid, coords: tuple[int, ...]) -> np.ndarray:
    """A full-size chunk of ``a``, padded with PAD past the array's edge."""
    region = grid.chunk_region(coords)
    chunk = np.full(grid.chunks, PAD, dtype=a.dtype)
    inner = tuple(slice(0, r.stop - r.start) for r in region)
    chunk[inner] = a[region]
    return chunk


def assemble(a: np.ndarray, grid: ChunkGrid, indexer: Any) -> np.ndarray:
    """Read ``a`` through an indexer's projections, as chunk I/O does."""
    out = np.full(indexer.shape, -1, dtype=a.dtype)
    for p in indexer:
        value = _chunk_of(a, grid, p.chunk_coords)[p.chunk_selection]
        if indexer.drop_axes:
            value = value.squeeze(axis=indexer.drop_axes)
        out[p.out_selection] = value
    assert not (out == PAD).any(), "a chunk selection reached past the array's edge"
    return out


def assert_covers_once(indexer: Any) -> None:
    """Every output element is written by exactly one projection."""
    count = np.zeros(indexer.shape, dtype=np.int64)
    for p in indexer:
        np.add.at(count, p.out_selection, 1)
    assert (count == 1).all(), f"output coverage counts: {np.unique(count)}"


def assert_is_full_honest(grid: ChunkGrid, indexer: Any) -> None:
    """A projection marked full selects every in-bounds element of its chunk."""
    for p in indexer:
        if not p.is_full:
            continue
        hit = np.zeros(grid.chunks, dtype=bool)
        hit[p.chunk_selection] = True
        region = grid.chunk_region(p.chunk_coords)
        inner = tuple(slice(0, r.stop - r.start) for r in region)
        assert hit[inner].all(), f"chunk {p.chunk_coords} marked full but not covered"


def assert_chunks_once(indexer: Any) -> None:
    coords = [p.chunk_coords for p in indexer]
    assert len(coords) == len(set(coords)), "a chunk appears in more than one projection"


# ---------------------------------------------------------------- strategies


@st.composite
def grids(draw: st.DrawFn, min_ndim: int = 1, max_ndim: int = 3) -> tuple[np.ndarray, ChunkGrid]:
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(0, 10), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(1, s + 1))) for s in shape)
    a = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    return a, ChunkGrid.from_shapes(shape, chunks)


def _int_array(draw: st.DrawFn, extent: int, max_size: int = 8) -> np.ndarray:
    if extent == 0:
        return np.zeros(0, dtype=np.int64)
    values = draw(st.lists(st.integers(-extent, extent - 1), max_size=max_size))
    return np.array(values, dtype=draw(st.sampled_from([np.int64, np.int32, np.uint16]))
                    if all(v >= 0 for v in values) else np.int64)


@st.composite
def basic_cases(draw: st.DrawFn) -> tuple[np.ndarray, ChunkGrid, tuple[Any, ...]]:
    a, grid = draw(grids(min_ndim=0))
    sel: list[Any] = []
    for s in a.shape:
        if s and draw(st.booleans()):
            sel.append(draw(st.integers(-s, s - 1)))
        else:
            sel.append(slice(draw(st.one_of(st.none(), st.integers(-s - 2, s + 2))),
                             draw(st.one_of(st.none(), st.integers(-s - 2, s + 2))),
                             draw(st.one_of(st.none(), st.integers(1, 4)))))
    return a, grid, tuple(sel)


@st.composite
def orthogonal_cases(draw: st.DrawFn) -> tuple[np.ndarray, ChunkGrid, tuple[Any, ...]]:
    a, grid = draw(grids())
    sel: list[Any] = []
    for s in a.shape:
        kind = draw(st.sampled_from(["int", "slice", "ints", "bools"]) if s
                    else st.sampled_from(["slice", "ints", "bools"]))
        if kind == "int":
            sel.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            sel.append(slice(draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.integers(1, 3))))
        elif kind == "ints":
            sel.append(_int_array(draw, s))
        else:
            sel.append(np.array(draw(st.lists(st.booleans(), min_size=s, max_size=s)),
                                dtype=bool))
    return a, grid, tuple(sel)


def _numpy_orthogonal(a: np.ndarray, selection: tuple[Any, ...]) -> np.ndarray:
    """numpy's result for an orthogonal selection: one axis at a time."""
    result = a
    axis = 0
    for sel in selection:
        if isinstance(sel, int | np.integer):
            result = np.take(result, sel, axis=axis)
            continue
        index = [slice(None)] * result.ndim
        index[axis] = sel
        result = result[tuple(index)]
        axis += 1
    return result


@st.composite
def coordinate_cases(draw: st.DrawFn) -> tuple[np.ndarray, ChunkGrid, tuple[Any, ...]]:
    a, grid = draw(grids())
    a_nonempty = all(s > 0 for s in a.shape)
    n = draw(st.integers(0, 12)) if a_nonempty else 0
    broadcast = a.ndim > 1 and draw(st.booleans())
    sel: list[Any] = []
    for axis, s in enumerate(a.shape):
        if broadcast and axis == 0:
            # a column against rows: exercises broadcasting of the index arrays
            m = draw(st.integers(0, 3)) if a_nonempty else 0
            values = draw(st.lists(st.integers(-s, s - 1), min_size=m, max_size=m)) if s else []
            sel.append(np.array(values, dtype=np.int64).reshape(-1, 1))
        elif a_nonempty and draw(st.integers(0, 4)) == 0:
            sel.append(draw(st.integers(-s, s - 1)))  # a scalar broadcasts too
        else:
            values = draw(st.lists(st.integers(-s, s - 1), min_size=n, max_size=n)) if s else []
            sel.append(np.array(values, dtype=np.int64))
    return a, grid, tuple(sel)


@st.composite
def mask_cases(draw: st.DrawFn) -> tuple[np.ndarray, ChunkGrid, np.ndarray]:
    a, grid = draw(grids())
    flat = draw(st.lists(st.booleans(), min_size=a.size, max_size=a.size))
    return a, grid, np.array(flat, dtype=bool).reshape(a.shape)


@st.composite
def block_cases(draw: st.DrawFn) -> tuple[np.ndarray, ChunkGrid, tuple[Any, ...]]:
    a, grid = draw(grids())
    sel: list[Any] = []
    for n in grid.cdata_shape:
        if n and draw(st.booleans()):
            sel.append(draw(st.integers(-n, n - 1)))
        else:
            sel.append(slice(draw(st.one_of(st.none(), st.integers(-n - 1, n + 1))),
                             draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))))
    return a, grid, tuple(sel)


def _numpy_block(a: np.ndarray, grid: ChunkGrid, selection: tuple[Any, ...]) -> np.ndarray:
    index = []
    for sel, d in zip(selection, grid.dims, strict=True):
        if isinstance(sel, int):
            c = sel % d.nchunks
            index.append(slice(c * d.chunk_len, (c + 1) * d.chunk_len))
        else:
            start, stop, _ = sel.indices(d.nchunks)
            index.append(slice(start * d.chunk_len, max(start, stop) * d.chunk_len))
    return a[tuple(index)]


# --------------------------------------------------------------------- tests


@SETTINGS
@given(basic_cases())
def test_basic_indexer_invariants(case: Any) -> None:
    a, grid, sel = case
    ix = BasicIndexer(sel, grid)
    assert ix.shape == a[sel].shape
    assert_covers_once(ix)
    assert_chunks_once(ix)
    assert_is_full_honest(grid, ix)
    np.testing.assert_array_equal(assemble(a, grid, ix), a[sel])


@SETTINGS
@given(orthogonal_cases())
def test_orthogonal_indexer_invariants(case: Any) -> None:
    a, grid, sel = case
    ix = OrthogonalIndexer(sel, grid)
    expected = _numpy_orthogonal(a, sel)
    assert ix.shape == expected.shape
    assert_covers_once(ix)
    assert_is_full_honest(grid, ix)
    np.testing.assert_array_equal(assemble(a, grid, ix), expected)


@SETTINGS
@given(block_cases())
def test_block_indexer_invariants(case: Any) -> None:
    a, grid, sel = case
    ix = BlockIndexer(sel, grid)
    expected = _numpy_block(a, grid, sel)
    assert ix.shape == expected.shape
    assert_covers_once(ix)
    assert_chunks_once(ix)
    assert_is_full_honest(grid, ix)
    np.testing.assert_array_equal(assemble(a, grid, ix), expected)


@SETTINGS
@given(coordinate_cases())
def test_coordinate_indexer_invariants(case: Any) -> None:
    a, grid, sel = case
    ix = CoordinateIndexer(sel, grid)
    expected = a[sel]
    assert ix.shape == (expected.size,)
    assert_covers_once(ix)
    assert_chunks_once(ix)
    assert_is_full_honest(grid, ix)
    result = ix.reshape_result(assemble(a, grid, ix))
    if expected.shape == ():
        expected = expected.reshape(1)  # zarr 2.x: scalar coordinates give shape (1,)
    np.testing.assert_array_equal(result, expected)
    assert result.shape == expected.shape


@SETTINGS
@given(mask_cases())
def test_mask_indexer_invariants(case: Any) -> None:
    a, grid, mask = case
    ix = MaskIndexer(mask, grid)
    assert ix.shape == (int(mask.sum()),)
    assert_covers_once(ix)
    assert_chunks_once(ix)
    assert_is_full_honest(grid, ix)
    np.testing.assert_array_equal(assemble(a, grid, ix), a[mask])


# ------------------------------------------------------ coordinate specifics


def test_points_grouped_per_chunk_and_order_kept() -> None:
    grid = ChunkGrid.from_shapes((10, 10), (5, 5))
    rows = np.array([9, 0, 9, 1, 0, 6])
    cols = np.array([9, 0, 8, 7, 1, 2])
    ix = CoordinateIndexer((rows, cols), grid)
    projections = list(ix)
    assert [p.chunk_coords for p in projections] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    first = projections[0]
    # within a chunk, points keep their original order (a stable sort)
    assert first.chunk_selection[0].tolist() == [0, 0]
    assert first.chunk_selection[1].tolist() == [0, 1]
    assert np.asarray(first.out_selection[0]).tolist() == [1, 4]
    assert ix.nchunks == 4


def test_sorted_points_use_slices_and_skip_the_sort() -> None:
    grid = ChunkGrid.from_shapes((100,), (10,))
    ix = CoordinateIndexer((np.arange(0, 100, 3),), grid)
    assert all(isinstance(p.out_selection[0], slice) for p in ix)
    assert ix._order is None


def test_full_chunk_in_order_is_full() -> None:
    grid = ChunkGrid.from_shapes((10,), (5,))
    ix = CoordinateIndexer((np.arange(10),), grid)
    assert [p.is_full for p in ix] == [True, True]
    # the same points reversed cover the chunks but are not in chunk order
    ix = CoordinateIndexer((np.arange(10)[::-1],), grid)
    assert [p.is_full for p in ix] == [False, False]
    # repeated points never make a chunk full
    ix = CoordinateIndexer((np.array([0, 0, 1, 2, 3]),), grid)
    assert [p.is_full for p in ix] == [False]


def test_nd_full_cover_in_any_order_is_full() -> None:
    grid = ChunkGrid.from_shapes((2, 2), (2, 2))
    ix = CoordinateIndexer((np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])), grid)
    assert [p.is_full for p in ix] == [True]


def test_repeated_points_keep_every_output_position() -> None:
    grid = ChunkGrid.from_shapes((4,), (2,))
    ix = CoordinateIndexer(([3, 3, 0, 3],), grid)
    assert ix.shape == (4,)
    assert_covers_once(ix)


def test_large_point_selection_is_vectorised() -> None:
    rng = np.random.default_rng(0)
    grid = ChunkGrid.from_shapes((10000, 10000), (1000, 1000))
    points = tuple(rng.integers(0, 10000, 100_000) for _ in range(2))
    ix = CoordinateIndexer(points, grid)
    projections = list(ix)
    assert len(projections) == 100  # each touched chunk appears once
    assert sum(p.chunk_selection[0].size for p in projections) == 100_000
    assert_covers_once(ix)


def test_huge_grid_falls_back_to_lexsort() -> None:
    big = 2**40
    grid = ChunkGrid.from_shapes((big, big), (1, 1))
    ix = CoordinateIndexer(([5, 1, 5], [2, 3, 2]), grid)
    assert [p.chunk_coords for p in ix] == [(1, 3), (5, 2)]
    assert_covers_once(ix)


def test_input_index_arrays_are_not_modified() -> None:
    grid = ChunkGrid.from_shapes((10,), (3,))
    idx = np.array([-1, -2, 3])
    CoordinateIndexer((idx,), grid)
    assert idx.tolist() == [-1, -2, 3]


def test_flatten_value() -> None:
    grid = ChunkGrid.from_shapes((5, 5), (2, 2))
    ix = CoordinateIndexer((np.array([[0], [1]]), np.array([1, 2, 3])), grid)
    assert ix.sel_shape == (2, 3)
    assert ix.flatten_value(np.arange(6).reshape(2, 3)).tolist() == list(range(6))
    assert ix.flatten_value(np.arange(3)).tolist() == [0, 1, 2, 0, 1, 2]  # broadcast
    assert ix.flatten_value(7) == 7
    sub = ix.flatten_value(np.zeros((2, 3, 4)))  # a sub-array field value
    assert sub.shape == (6, 4)
    one = ix.flatten_value(np.arange(4), np.dtype(("i2", (4,))))  # one value for all points
    assert one.shape == (6, 4)
    with pytest.raises(ValueError, match=r"shape \(3, 2\) .* shape \(2, 3\)"):
        ix.flatten_value(np.ones((3, 2)))


def test_zero_d_grid() -> None:
    grid = ChunkGrid.from_shapes((), ())
    ix = CoordinateIndexer((), grid)
    assert ix.shape == (1,)
    assert [p.chunk_coords for p in ix] == [()]
    assert MaskIndexer(np.array(False), grid).shape == (0,)
    assert list(MaskIndexer(np.array(False), grid)) == []


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("selection", "error", "words"),
    [
        (([0, 5], [1, 2]), BoundsCheckError, ["axis 0", "index 5", "size 3"]),
        (([0, 1], [1, -6]), BoundsCheckError, ["axis 1", "index -6", "size 5"]),
        (([0.5, 1], [1, 2]), IndexError, ["axis 0", "float64"]),
        (([True, False], [1, 2]), IndexError, ["axis 0", "bool"]),
        (([0], [1], [2]), IndexError, ["3 index arrays", "2-d"]),
        (([0],), IndexError, ["1 index arrays", "2-d"]),
        ((slice(None), [1]), IndexError, ["axis 0", "slice"]),
        (([0, 1], [1, 2, 3]), ValueError, ["broadcast", "(2,)", "(3,)"]),
    ],
)
def test_coordinate_errors(selection: Any, error: type, words: list[str]) -> None:
    grid = ChunkGrid.from_shapes((3, 5), (2, 2))
    with pytest.raises(error) as info:
        CoordinateIndexer(selection, grid)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("selection", "words"),
    [
        (np.ones((3, 4), dtype=bool), ["(3, 5)", "shape (3, 4)"]),
        (np.ones((3, 5), dtype=int), ["int64"]),
        ((np.ones((3, 5), dtype=bool), np.ones((3, 5), dtype=bool)), ["2 items"]),
    ],
)
def test_mask_errors(selection: Any, words: list[str]) -> None:
    grid = ChunkGrid.from_shapes((3, 5), (2, 2))
    with pytest.raises(IndexError) as info:
        MaskIndexer(selection, grid)
    for word in words:
        assert word in str(info.value)


def test_selection_kind_predicates() -> None:
    assert is_coordinate_selection(([0, 1], 2), 2)
    assert not is_coordinate_selection(([0, 1],), 2)
    assert not is_coordinate_selection(([0.0], [1]), 2)
    assert is_mask_selection([[True, False]], (1, 2))  # nested lists become one mask
    assert not is_mask_selection(np.zeros((1, 2), dtype=bool), (2, 1))
