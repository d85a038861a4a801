"""Write plan: which store chunks each source block writes, and the write blocks.

For a source of known block sizes written into a region of a store grid, it
counts exactly the store chunks written by one block (fully or partly) and by
several, and lays out the write blocks of a policy: ``"align"`` snaps every
source boundary to the nearest store chunk boundary (so each store chunk has
one writer); the other policies keep the source blocks and list, per block and
axis, the store chunks it shares. Per-axis work only. Imports no dask.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["POLICIES", "AxisBlock", "AxisPlan", "Policy", "WritePlan", "normalize_region",
           "plan_write"]

Policy = Literal["align", "lock", "error", "unsafe"]
POLICIES: tuple[str, ...] = ("align", "lock", "error", "unsafe")


def normalize_region(region: Any, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Resolve a write region to one ``slice(start, stop)`` per axis (step 1).

    Raises
    ------
    ValueError
        If an entry is not a slice with step 1, or there are too many entries.

    Examples
    --------
    >>> normalize_region((slice(2, None),), (10, 4))
    (slice(2, 10, None), slice(0, 4, None))
    """
    if region is None:
        region = ()
    if not isinstance(region, tuple):
        region = (region,)
    if len(region) > len(shape):
        raise ValueError(f"region {region!r} has {len(region)} entries; the target has "
                         f"{len(shape)} dimensions")
    out = []
    for axis, extent in enumerate(shape):
        sel = region[axis] if axis < len(region) else slice(None)
        if not isinstance(sel, slice):
            raise ValueError(f"region entries must be slices, got {sel!r} on axis {axis}")
        start, stop, step = sel.indices(extent)
        if step != 1:
            raise ValueError(f"region slices must have step 1, got {sel!r} on axis {axis}")
        out.append(slice(start, max(start, stop)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AxisBlock:
    """One write block along one axis.

    Attributes
    ----------
    start, stop : int
        Absolute positions in the target array.
    pieces : tuple of (int, slice, slice)
        For each source block it draws from: the source block index, the slice
        inside the source block and the slice inside this write block.
    shared : tuple of int
        Store chunk indices (along this axis) that other write blocks also write.
    whole : bool
        Whether the block is exactly one whole source block (no copy needed).
    """

    start: int
    stop: int
    pieces: tuple[tuple[int, slice, slice], ...]
    shared: tuple[int, ...] = ()
    whole: bool = False


@dataclass(frozen=True, slots=True)
class AxisPlan:
    """The write analysis along one axis.

    Attributes
    ----------
    first_chunk : int
        First store chunk index touched by the region.
    writers : tuple of int
        Number of source blocks writing into each touched store chunk.
    full : tuple of bool
        Whether the region covers each touched store chunk completely along this axis.
    blocks : tuple of AxisBlock
        The write blocks chosen by the policy.
    """

    first_chunk: int
    writers: tuple[int, ...]
    full: tuple[bool, ...]
    blocks: tuple[AxisBlock, ...]

    @property
    def n_exclusive(self) -> int:
        """Touched store chunks with exactly one writer along this axis."""
        return sum(1 for w in self.writers if w == 1)

    @property
    def n_exclusive_full(self) -> int:
        """Touched store chunks with one writer and complete coverage along this axis."""
        return sum(1 for w, f in zip(self.writers, self.full, strict=True) if w == 1 and f)


@dataclass(frozen=True, slots=True)
class WritePlan:
    """How a source of blocks is written into a region of a store grid.

    Counts are exact: a store chunk is *shared* when two or more source
    blocks write into it, *exclusive* otherwise; *full* when the region covers
    all of its in-bounds elements (no read of the old chunk needed).

    Attributes
    ----------
    policy : str
        ``"align"``, ``"lock"``, ``"error"`` or ``"unsafe"``.
    region : tuple of slice
        The target region.
    n_chunks : int
        Store chunks touched by the region.
    n_exclusive_full, n_exclusive_partial, n_shared : int
        Store chunks by class, for the *source* blocks as given.
    n_source_blocks : int
        Source blocks (dask chunks).
    n_tasks : int
        Write tasks the policy produces.
    write_chunks : tuple of tuple of int
        Sizes of the write blocks along each axis.
    first_shared : tuple of int or None
        Grid coordinates of one shared store chunk, for messages.
    """

    policy: str
    region: tuple[slice, ...]
    n_chunks: int
    n_exclusive_full: int
    n_exclusive_partial: int
    n_shared: int
    n_source_blocks: int
    n_tasks: int
    write_chunks: tuple[tuple[int, ...], ...]
    first_shared: tuple[int, ...] | None
    axes: tuple[AxisPlan, ...]

    def __repr__(self) -> str:
        return (f"WritePlan(policy={self.policy!r}, n_chunks={self.n_chunks}, "
                f"n_exclusive_full={self.n_exclusive_full}, "
                f"n_exclusive_partial={self.n_exclusive_partial}, n_shared={self.n_shared}, "
                f"n_source_blocks={self.n_source_blocks}, n_tasks={self.n_tasks})")

    @property
    def aligned(self) -> bool:
        """Whether no store chunk is written by more than one source block."""
        return self.n_shared == 0


def _snap(p: int, c: int) -> int:
    """Nearest multiple of ``c`` to ``p`` (ties go down)."""
    q, r = divmod(p, c)
    return (q + 1) * c if 2 * r > c else q * c


def _pieces(a: int, b: int, spans: Sequence[tuple[int, int, int]],
            starts: Sequence[int]) -> tuple[tuple[int, slice, slice], ...]:
    """Source pieces of the write block ``[a, b)``; ``spans`` are (index, start, stop)."""
    i = bisect.bisect_right(starts, a) - 1
    out = []
    while i < len(spans) and spans[i][1] < b:
        k, s, e = spans[i]
        lo, hi = max(a, s), min(b, e)
        if lo < hi:
            out.append((k, slice(lo - s, hi - s), slice(lo - a, hi - a)))
        i += 1
    return tuple(out)


def _plan_axis(sizes: Sequence[int], r0: int, r1: int, extent: int, c: int,
               policy: str) -> AxisPlan:
    spans = []  # non-empty source blocks: (index, abs start, abs stop)
    pos = r0
    for k, s in enumerate(sizes):
        if s:
            spans.append((k, pos, pos + s))
        pos += s
    if r1 <= r0:
        return AxisPlan(r0 // c, (), (), ())
    first, last = r0 // c, (r1 - 1) // c
    writers = [0] * (last - first + 1)
    for _, s, e in spans:
        for cc in range(s // c, (e - 1) // c + 1):
            writers[cc - first] += 1
    full = tuple(r0 <= cc * c and r1 >= min((cc + 1) * c, extent)
                 for cc in range(first, last + 1))
    starts = [s for _, s, _ in spans]
    if policy == "align":
        edges = {r0, r1}
        for _, s, _ in spans[1:]:
            q = s if s % c == 0 else _snap(s, c)
            if r0 < q < r1:
                edges.add(q)
        ordered = sorted(edges)
        exact = {(s, e) for _, s, e in spans}
        blocks = tuple(AxisBlock(a, b, _pieces(a, b, spans, starts), (), (a, b) in exact)
                       for a, b in itertools.pairwise(ordered))
    else:
        blocks = tuple(
            AxisBlock(s, e, ((k, slice(0, e - s), slice(0, e - s)),),
                      tuple(cc for cc in range(s // c, (e - 1) // c + 1)
                            if writers[cc - first] > 1), True)
            for k, s, e in spans)
    return AxisPlan(first, tuple(writers), full, blocks)


def plan_write(
    source_chunks: Sequence[Sequence[int]],
    region: tuple[slice, ...],
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    policy: str = "align",
) -> WritePlan:
    """Plan a write of a blocked source into ``region`` of an array with the given grid.

    Parameters
    ----------
    source_chunks : sequence of sequences of int
        Block sizes of the source along each axis (dask ``.chunks``).
    region : tuple of slice
        From :func:`normalize_region`; its shape must equal the source's.
    shape, chunks : tuple of int
        The target's shape and chunk shape.
    policy : {"align", "lock", "error", "unsafe"}
        ``"align"`` merges the writers of shared store chunks into one task (the
        write blocks snap each source boundary to the nearest store chunk
        boundary); the others keep one task per source block.

    Returns
    -------
    WritePlan

    Raises
    ------
    ValueError
        For an unknown policy, or a source whose shape is not the region's.

    Examples
    --------
    >>> plan = plan_write([[7] * 30], (slice(0, 210),), (210,), (100,))
    >>> plan.n_shared, plan.n_exclusive_full, plan.write_chunks
    (3, 0, ((100, 100, 10),))
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    src_shape = tuple(sum(int(s) for s in axis) for axis in source_chunks)
    reg_shape = tuple(r.stop - r.start for r in region)
    if src_shape != reg_shape:
        raise ValueError(f"source of shape {src_shape} does not match the region "
                         f"{region} of shape {reg_shape}")
    axes = tuple(
        _plan_axis([int(s) for s in sizes], r.start, r.stop, extent, c,
                   "align" if policy == "align" else "keep")
        for sizes, r, extent, c in zip(source_chunks, region, shape, chunks, strict=True))
    n_chunks = math.prod(len(a.writers) for a in axes)
    n_excl = math.prod(a.n_exclusive for a in axes)
    n_excl_full = math.prod(a.n_exclusive_full for a in axes)
    first_shared = None
    if n_excl < n_chunks:
        # one coordinate: a multi-writer index on one axis, any index on the others
        for axis, a in enumerate(axes):
            multi = [i for i, w in enumerate(a.writers) if w > 1]
            if multi:
                first_shared = tuple(
                    (b.first_chunk + (multi[0] if j == axis else 0)) for j, b in enumerate(axes))
                break
    return WritePlan(
        policy=policy, region=region, n_chunks=n_chunks, n_exclusive_full=n_excl_full,
        n_exclusive_partial=n_excl - n_excl_full, n_shared=n_chunks - n_excl,
        n_source_blocks=math.prod(len(s) for s in source_chunks),
        n_tasks=math.prod(len(a.blocks) for a in axes) if n_chunks else 0,
        write_chunks=tuple(tuple(b.stop - b.start for b in a.blocks) for a in axes),
        first_shared=first_shared, axes=axes,
    )
