"""Read layout: a selection's chunk projections grouped into dask output blocks.

Works per axis on an indexer's ``dim_projections``, so the cost grows with the
number of chunks along each axis, never with their product. Imports no dask.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zarrdask.indexing import ChunkProjection, DimProjection

__all__ = ["ReadLayout", "auto_group", "block_projections", "block_shape", "plan_read"]


@dataclass(frozen=True, slots=True)
class ReadLayout:
    """Output blocks of a selection: what each read task reads and where it goes.

    Attributes
    ----------
    blocks : tuple
        Per array axis, the list of blocks; a block is a tuple of
        :class:`DimProjection` whose ``dim_out_sel`` is relative to the block.
        Axes dropped by an integer selection have exactly one block.
    chunks : tuple of tuple of int
        dask chunks of the output (kept axes only).
    kept_axes : tuple of int
        Array axes that remain in the output.
    use_ix : bool
        Whether chunk and output selections are open meshes (``np.ix_``).
    drop_axes : tuple of int
        Axes of a chunk selection result to squeeze (with ``use_ix``).
    split : bool
        Whether some store chunk is read by more than one task.
    """

    blocks: tuple[list[tuple[DimProjection, ...]], ...]
    chunks: tuple[tuple[int, ...], ...]
    kept_axes: tuple[int, ...]
    use_ix: bool
    drop_axes: tuple[int, ...]
    split: bool

    @property
    def nblocks(self) -> int:
        """Number of read tasks."""
        return math.prod(len(b) for b in self.blocks)


def _shift(sel: Any, offset: int) -> Any:
    if isinstance(sel, slice):
        return slice(sel.start - offset, sel.stop - offset)
    return sel - offset


def _is_monotonic(projs: Sequence[DimProjection]) -> bool:
    """Whether output positions of the projections are contiguous and increasing."""
    return all(isinstance(p.dim_out_sel, slice) for p in projs)


def _group_axis(projs: Sequence[DimProjection], k: int) -> list[tuple[DimProjection, ...]]:
    """Blocks of ``k`` consecutive projections (monotonic axes only)."""
    blocks = []
    for i in range(0, len(projs), k):
        group = projs[i:i + k]
        start = group[0].dim_out_sel.start
        blocks.append(tuple(p._replace(dim_out_sel=_shift(p.dim_out_sel, start)) for p in group))
    return blocks


def _split_slice_proj(p: DimProjection, a: int, b: int, lo: int) -> DimProjection:
    """The part of a projection with output positions in ``[a, b)``, relative to ``lo``."""
    s = p.dim_out_sel.start
    n = b - a
    sel = p.dim_chunk_sel
    if isinstance(sel, slice):
        step = sel.step or 1
        start = sel.start + (a - s) * step
        chunk_sel: Any = slice(start, start + (n - 1) * step + 1, step)
    else:
        chunk_sel = sel[a - s:b - s]
    full = p.is_full and n == p.nitems
    return DimProjection(p.dim_chunk_ix, chunk_sel, slice(a - lo, b - lo), n, full)


def _split_axis(projs: Sequence[DimProjection], sizes: Sequence[int]) -> tuple[
        list[tuple[DimProjection, ...]], bool]:
    """Cut an axis into output blocks of the given sizes; return them and whether a chunk split."""
    edges = [0, *itertools.accumulate(sizes)]
    blocks: list[list[DimProjection]] = [[] for _ in sizes]
    split = False
    for p in projs:
        out = p.dim_out_sel
        if isinstance(out, slice):
            s, e = out.start, out.stop
            first = bisect.bisect_right(edges, s) - 1
            last = bisect.bisect_left(edges, e) - 1
            if first != last:
                split = True
            for j in range(first, last + 1):
                lo, hi = edges[j], edges[j + 1]
                a, b = max(s, lo), min(e, hi)
                if a < b:
                    blocks[j].append(_split_slice_proj(p, a, b, lo))
        else:  # scattered output positions (an unsorted integer array)
            pos = np.asarray(out)
            which = np.searchsorted(edges, pos, side="right") - 1
            touched = np.unique(which)
            if len(touched) > 1:
                split = True
            for j in touched.tolist():
                mask = which == j
                blocks[j].append(DimProjection(p.dim_chunk_ix, p.dim_chunk_sel[mask],
                                               pos[mask] - edges[j], int(mask.sum()), False))
    return [tuple(b) for b in blocks], split


def auto_group(per_axis_items: Sequence[int], per_axis_n: Sequence[int], itemsize: int,
               target_bytes: int) -> list[int]:
    """How many consecutive store chunks per task along each axis to reach ``target_bytes``.

    Parameters
    ----------
    per_axis_items : sequence of int
        Items one store chunk contributes along each axis.
    per_axis_n : sequence of int
        Number of store chunks along each axis.
    itemsize : int
        Bytes per item.
    target_bytes : int
        Wanted bytes per task (dask's ``array.chunk-size``).

    Returns
    -------
    list of int
        The group size per axis (at least 1, at most the number of chunks).

    Examples
    --------
    >>> auto_group([1000, 1000], [8, 8], 4, 16_000_000)
    [2, 2]
    """
    k = [1] * len(per_axis_n)
    per_chunk = itemsize * math.prod(per_axis_items)
    growable = [i for i, n in enumerate(per_axis_n) if n > 1]
    while growable:
        # grow the axis whose block is shortest, keeping blocks roughly square
        i = min(growable, key=lambda a: k[a] * per_axis_items[a])
        others = per_chunk * math.prod(k) // k[i]
        allowed = target_bytes // max(others, 1)
        new = min(per_axis_n[i], 2 * k[i], allowed)
        if new <= k[i]:
            growable.remove(i)
            continue
        k[i] = new
        if k[i] == per_axis_n[i]:
            growable.remove(i)
    return k


def plan_read(
    dim_projections: Sequence[Sequence[DimProjection]],
    *,
    use_ix: bool,
    int_axes: Sequence[int],
    group: Sequence[int] | None = None,
    sizes: Sequence[Sequence[int]] | None = None,
) -> ReadLayout:
    """Group an indexer's per-axis projections into output blocks.

    Parameters
    ----------
    dim_projections : sequence of sequences of DimProjection
        ``indexer.dim_projections``.
    use_ix : bool
        Whether the indexer combines several array axes with ``np.ix_``.
    int_axes : sequence of int
        Axes selected by an integer (dropped from the output).
    group : sequence of int, optional
        Store chunks per block along each kept axis (default 1).
    sizes : sequence of sequences of int, optional
        Explicit output block sizes along each kept axis (overrides ``group``);
        they may cut store chunks, which are then read by several tasks.

    Returns
    -------
    ReadLayout
    """
    kept = tuple(i for i in range(len(dim_projections)) if i not in set(int_axes))
    blocks: list[list[tuple[DimProjection, ...]]] = []
    chunks: list[tuple[int, ...]] = []
    any_split = False
    for axis, projs in enumerate(dim_projections):
        projs = list(projs)
        if axis not in kept:
            blocks.append([tuple(projs)])
            continue
        j = kept.index(axis)
        nitems = sum(p.nitems for p in projs)
        if sizes is not None:
            axis_sizes = [int(s) for s in sizes[j]]
            if sum(axis_sizes) != nitems:
                raise ValueError(f"chunks {tuple(axis_sizes)} along output axis {j} sum to "
                                 f"{sum(axis_sizes)}, but the selection has {nitems} items")
            axis_blocks, split = _split_axis(projs, axis_sizes)
            any_split |= split
        elif not projs:
            axis_blocks, axis_sizes = [()], [0]
        elif _is_monotonic(projs):
            k = 1 if group is None else max(1, int(group[j]))
            axis_blocks = _group_axis(projs, k)
            axis_sizes = [sum(p.nitems for p in b) for b in axis_blocks]
        else:
            k = 1 if group is None else max(1, int(group[j]))
            size = max(1, -(-nitems // len(projs))) * k
            axis_sizes = [size] * (nitems // size) + ([nitems % size] if nitems % size else [])
            axis_blocks, _ = _split_axis(projs, axis_sizes)
        blocks.append(axis_blocks)
        chunks.append(tuple(axis_sizes))
    drop = tuple(int_axes) if use_ix else ()
    return ReadLayout(tuple(blocks), tuple(chunks), kept, use_ix, drop, any_split)


def _as_index_array(sel: Any) -> np.ndarray:
    if isinstance(sel, slice):
        return np.arange(sel.start, sel.stop, sel.step or 1)
    if isinstance(sel, int | np.integer):
        return np.array([sel])
    return np.asarray(sel)


def block_projections(dims: Sequence[Sequence[DimProjection]],
                      use_ix: bool) -> Iterator[ChunkProjection]:
    """The chunk projections of one output block (the product of its per-axis parts).

    Examples
    --------
    >>> d = [DimProjection(0, slice(0, 2), slice(0, 2), 2, True)]
    >>> [p.chunk_coords for p in block_projections([d, d], use_ix=False)]
    [(0, 0)]
    """
    for combo in itertools.product(*dims):
        coords = tuple(d.dim_chunk_ix for d in combo)
        chunk_sel = tuple(d.dim_chunk_sel for d in combo)
        out_sel = tuple(d.dim_out_sel for d in combo if d.dim_out_sel is not None)
        full = all(d.is_full for d in combo)
        if use_ix:
            chunk_sel = np.ix_(*[_as_index_array(s) for s in chunk_sel])
            out_sel = np.ix_(*[_as_index_array(s) for s in out_sel])
        yield ChunkProjection(coords, chunk_sel, out_sel, full)


def block_shape(dims: Sequence[Sequence[DimProjection]]) -> tuple[int, ...]:
    """Output shape of one block (kept axes only)."""
    return tuple(sum(p.nitems for p in d) for d in dims
                 if not d or d[0].dim_out_sel is not None)
