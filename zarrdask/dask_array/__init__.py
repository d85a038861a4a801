"""dask integration: chunk-aligned read graphs, planned writes, cluster locks.

The only zarrdask package that imports dask or distributed.

* :func:`to_dask`: a dask array whose tasks each read one or several whole
  store chunks, built from the same chunk projections as the synchronous
  :class:`~zarrdask.core.Array` (``Array.to_dask`` is a shortcut).
* :func:`store`, :func:`to_zarr`, :func:`append`: writes through the write
  planner of :mod:`zarrdask.dask_plan`; by default the writers of a store
  chunk shared by several source blocks are merged into one task, so no locks
  are needed and a misaligned write never corrupts data.
* :func:`initialize`: metadata only, no graph.
* :class:`DistributedSynchronizer`: a ``distributed.Lock`` per chunk key.

Examples
--------
>>> import zarrdask, dask.array as da, numpy as np
>>> z = zarrdask.zeros(2000, chunks=100, dtype="i8")
>>> store(da.arange(2000, chunks=7), z)
>>> bool((to_dask(z).compute() == np.arange(2000)).all())
True
"""

from __future__ import annotations

from zarrdask.dask_array.read import read_graph, to_dask
from zarrdask.dask_array.schedulers import DistributedSynchronizer, scheduler_kind
from zarrdask.dask_array.write import append, initialize, plan, store, to_zarr
from zarrdask.dask_plan import ChunkTarget, WritePlan

__all__ = [
    "ChunkTarget",
    "DistributedSynchronizer",
    "WritePlan",
    "append",
    "initialize",
    "plan",
    "read_graph",
    "scheduler_kind",
    "store",
    "to_dask",
    "to_zarr",
]
