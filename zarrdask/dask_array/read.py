"""Read graphs: a zarrdask array (or a selection of it) as a chunk-aligned dask array.

The graph is a plain dict of dask ``Task`` objects, one per output block,
each ``read_task(target, per-axis projections, ...)``; the per-axis
projection tuples are shared between tasks, so a task costs a few hundred
bytes and a few microseconds to build.
"""

from __future__ import annotations

import gc
import itertools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask._task_spec import Task
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.utils import parse_bytes

from zarrdask.core import Array
from zarrdask.creation import open_array
from zarrdask.dask_plan import ChunkTarget, ReadLayout, auto_group, plan_read
from zarrdask.dask_plan.target import read_task
from zarrdask.indexing import BasicIndexer, OrthogonalIndexer, is_basic_selection
from zarrdask.keys import ARRAY_META_KEY, prefix_of

__all__ = ["gc_paused", "read_graph", "to_dask"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a graph is built.

    Building a graph allocates millions of small acyclic objects; each
    allocation burst triggers collections that traverse every live object, which
    would otherwise cost two thirds of the build time of a big write graph.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _open(array_or_url: Any, component: str | None,
          storage_options: dict[str, Any] | None) -> Array:
    if isinstance(array_or_url, Array):
        return array_or_url
    return open_array(array_or_url, mode="r", path=component, storage_options=storage_options)


def to_dask(array_or_url: Any, selection: Any = None, chunks: Any = None,
            name: str | None = None, storage_options: dict[str, Any] | None = None, *,
            component: str | None = None) -> da.Array:
    """A dask array reading a zarrdask array (or a selection of it), aligned to chunks.

    Parameters
    ----------
    array_or_url : Array, str, os.PathLike or MutableMapping
        An array, or where to open one (read-only).
    selection : optional
        A basic (ints, slices, Ellipsis) or orthogonal selection, as for
        ``z.oindex[...]``: per axis an int, a slice or a 1-d int or bool array,
        each applied independently; integer axes are dropped.
    chunks : None, "auto", int, tuple or dict
        ``None``: one task per store chunk. ``"auto"``: several whole chunks per
        task, about dask's ``array.chunk-size`` (128 MiB) each. Anything else is
        dask chunks of the output; blocks that cut store chunks work but read
        those chunks more than once (a ``PerformanceWarning`` says so).
    name : str, optional
        Graph name; by default ``"zarrdask-" + token``, where the token changes
        when the array's data or metadata change (see ``Array.__dask_tokenize__``).
    storage_options : dict, optional
        For URLs.
    component : str, optional
        Path of the array inside the store.

    Returns
    -------
    dask.array.Array

    Raises
    ------
    IndexError
        For a bad selection (points, i.e. ``vindex`` selections, included).

    Examples
    --------
    >>> import zarrdask, numpy as np
    >>> z = zarrdask.array(np.arange(12).reshape(3, 4), chunks=(2, 2))
    >>> x = to_dask(z)
    >>> x.chunks, int(x.sum().compute())
    (((2, 1), (2, 2)), 66)
    >>> to_dask(z, selection=(1, slice(1, None))).compute()
    array([5, 6, 7])
    """
    a = _open(array_or_url, component, storage_options)
    meta_bytes = bytes(a.store[prefix_of(a.path) + ARRAY_META_KEY])  # fresh, as the token
    target = ChunkTarget.from_array(a, meta_bytes)
    meta = target.meta
    sel = Ellipsis if selection is None else selection
    if is_basic_selection(sel):
        indexer: Any = BasicIndexer(sel, target.grid)
        use_ix = False
    else:  # orthogonal, as z.oindex[...]: one independent index per axis
        indexer = OrthogonalIndexer(sel, target.grid)
        use_ix = indexer._use_ix
    projs = indexer.dim_projections
    kept = [i for i in range(len(projs)) if i not in indexer.int_axes]
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        group = None
        if chunks == "auto":
            items = [max((p.nitems for p in projs[i]), default=1) for i in kept]
            group = auto_group(items, [len(projs[i]) for i in kept], meta.dtype.itemsize,
                               parse_bytes(dask.config.get("array.chunk-size")))
        layout = plan_read(projs, use_ix=use_ix, int_axes=indexer.int_axes, group=group)
    else:
        sizes = da.core.normalize_chunks(chunks, shape=indexer.shape, dtype=meta.dtype,
                                         previous_chunks=tuple(meta.chunks[i] for i in kept))
        layout = plan_read(projs, use_ix=use_ix, int_axes=indexer.int_axes, sizes=sizes)
        if layout.split:
            warnings.warn(
                f"chunks={chunks!r} cut the store chunks {meta.chunks} of "
                f"{a.path or 'the array'!r}: those chunks are read and decoded by several "
                "tasks. Use multiples of the store chunks, or chunks='auto'",
                da.PerformanceWarning, stacklevel=2)
    if name is None:
        name = "zarrdask-" + tokenize(a, selection, chunks)
    hlg = HighLevelGraph.from_collections(name, read_graph(name, target, layout),
                                          dependencies=())
    empty = np.empty((0,) * len(layout.chunks), dtype=meta.dtype)
    return da.Array(hlg, name, layout.chunks, meta=empty)


def read_graph(name: str, target: ChunkTarget, layout: ReadLayout) -> dict[Any, Task]:
    """One ``Task`` per output block, keyed ``(name, i, j, ...)``."""
    use_ix, drop = layout.use_ix, layout.drop_axes
    blocks = layout.blocks
    ranges = [range(len(blocks[i])) for i in layout.kept_axes]
    graph: dict[Any, Task] = {}
    with gc_paused():
        for idx, dims in zip(itertools.product(*ranges), itertools.product(*blocks),
                             strict=True):
            key = (name, *idx)
            graph[key] = Task(key, read_task, target, dims, use_ix, drop, _data_producer=True)
    return graph
