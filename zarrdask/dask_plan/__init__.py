"""The dask-free half of the dask integration: plans, task bodies, tokens.

* :mod:`~zarrdask.dask_plan.reads`: a selection's chunk projections grouped
  into dask output blocks;
* :mod:`~zarrdask.dask_plan.writes`: the write planner (exact shared-chunk
  analysis and the write blocks of each policy);
* :mod:`~zarrdask.dask_plan.target`: the compact :class:`ChunkTarget` the
  tasks carry and the task functions;
* :mod:`~zarrdask.dask_plan.token`: the change marker behind
  ``Array.__dask_tokenize__``.

Nothing here imports dask: :mod:`zarrdask.dask_array` turns these into graphs.
"""

from __future__ import annotations

from zarrdask.dask_plan.reads import (
    ReadLayout,
    auto_group,
    block_projections,
    block_shape,
    plan_read,
)
from zarrdask.dask_plan.target import ChunkTarget, in_memory, process_local, single_writer
from zarrdask.dask_plan.token import RECENT_NS, array_token, store_change_marker
from zarrdask.dask_plan.writes import (
    POLICIES,
    AxisBlock,
    AxisPlan,
    Policy,
    WritePlan,
    normalize_region,
    plan_write,
)

__all__ = [
    "POLICIES",
    "RECENT_NS",
    "AxisBlock",
    "AxisPlan",
    "ChunkTarget",
    "Policy",
    "ReadLayout",
    "WritePlan",
    "array_token",
    "auto_group",
    "block_projections",
    "block_shape",
    "in_memory",
    "normalize_region",
    "plan_read",
    "plan_write",
    "process_local",
    "single_writer",
    "store_change_marker",
]
