"""Write graphs: dask arrays into zarrdask arrays, through the write planner.

:func:`store` writes into an existing array (or a region of it); :func:`to_zarr`
creates the array inside the graph, so ``compute=False`` touches nothing;
:func:`append` grows an array under its metadata lock and writes the tail;
:func:`initialize` writes metadata only. Every write is planned by
:func:`zarrdask.dask_plan.plan_write`: with the default policy ``"align"`` no
two tasks ever write one store chunk.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import dask.array as da
import numpy as np
from dask._task_spec import Task, TaskRef
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from zarrdask.core import Array
from zarrdask.creation import init_array
from zarrdask.dask_array.read import gc_paused
from zarrdask.dask_array.schedulers import (
    check_scheduler,
    compute_write,
    default_lock,
    normalize_lock,
    scheduler_kind,
)
from zarrdask.dask_plan import POLICIES, ChunkTarget, WritePlan, normalize_region, plan_write
from zarrdask.dask_plan.target import done, init_task, resize_task, write_task
from zarrdask.errors import ContainsArrayError, ContainsGroupError, UnsafeWriteError
from zarrdask.keys import ARRAY_META_KEY, normalize_storage_path
from zarrdask.meta import encode_array_meta, parse_array_meta
from zarrdask.storage import MemoryStore, normalize_store_arg
from zarrdask.storage._base import contains_array, contains_group

__all__ = ["append", "initialize", "plan", "store", "to_zarr"]

_FANIN = 512  # keys per task of the final "all writes done" tree


def _as_dask(source: Any) -> da.Array:
    if isinstance(source, da.Array):
        if any(np.isnan(c) for axis in source.chunks for c in axis):
            raise ValueError("the dask array has unknown chunk sizes (NaN); call "
                             "compute_chunk_sizes() before writing it")
        return source
    return da.asarray(source)


def _write_graph(name: str, source: da.Array, target: ChunkTarget, target_arg: Any,
                 wplan: WritePlan, lock: Any, first: dict[Any, Task] | None = None,
                 ) -> Delayed:
    """The write tasks, the final "done" tree and the optimised source graph, as a Delayed."""
    src_keys = source.__dask_keys__()
    src_graph = source.__dask_optimize__(source.__dask_graph__(), src_keys)
    src_layer = f"sources-{name}"
    layer: dict[Any, Any] = dict(first or {})
    axis_blocks = [a.blocks for a in wplan.axes]
    ranges = [range(len(b)) for b in axis_blocks]
    # per axis and write block, the source block indices it reads
    sources = [[tuple(p[0] for p in b.pieces) for b in blocks] for blocks in axis_blocks]
    src_name = source.name
    product = itertools.product
    write_keys = []
    if wplan.n_tasks:
        for idx, blocks, srcs in zip(product(*ranges), product(*axis_blocks),
                                     product(*sources), strict=True):
            if all(len(s) == 1 for s in srcs):
                refs = [TaskRef((src_name, *[s[0] for s in srcs]))]
            else:
                refs = [TaskRef((src_name, *ks)) for ks in product(*srcs)]
            key = (name, *idx)
            layer[key] = Task(key, write_task, target_arg, blocks, lock, *refs)
            write_keys.append(key)
    elif first:
        write_keys.extend(first)
    level = 0
    keys: list[Any] = write_keys
    while len(keys) > _FANIN:  # a tree, so no task waits on a million keys
        nxt = []
        for i in range(0, len(keys), _FANIN):
            key = (f"done-{name}", level, i // _FANIN)
            layer[key] = Task(key, done, *[TaskRef(k) for k in keys[i:i + _FANIN]])
            nxt.append(key)
        keys, level = nxt, level + 1
    layer[name] = Task(name, done, *[TaskRef(k) for k in keys])
    if isinstance(src_graph, HighLevelGraph):
        layers = dict(src_graph.layers)
        deps = {k: set(v) for k, v in src_graph.dependencies.items()}
        layers[name], deps[name] = MaterializedLayer(layer), set(src_graph.layers)
    else:
        layers = {src_layer: MaterializedLayer(dict(src_graph)), name: MaterializedLayer(layer)}
        deps = {src_layer: set(), name: {src_layer}}
    return Delayed(name, HighLevelGraph(layers, deps))


def _plan(source: Any, target: ChunkTarget, region: Any, lock: Any,
          policy: str | None) -> tuple[WritePlan, da.Array]:
    src = _as_dask(source)
    meta = target.meta
    if len(src.shape) != len(meta.shape):
        raise ValueError(f"cannot write a {src.ndim}-d array into the {len(meta.shape)}-d "
                         f"array {target.path or '/'!r}")
    if policy is None:
        policy = "lock" if lock not in (None, False) else "align"
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    reg = normalize_region(region, meta.shape)
    return plan_write(src.chunks, reg, meta.shape, meta.chunks, policy), src


def _finish(src: da.Array, target: ChunkTarget, wplan: WritePlan, lock: Any, scheduler: Any,
            target_arg: Any, first: dict[Any, Task] | None) -> Delayed:
    kind = scheduler_kind(scheduler)
    sync = normalize_lock(lock)
    if wplan.policy == "error" and wplan.n_shared:
        raise UnsafeWriteError(
            f"{wplan.n_shared} store chunks of {target.path or 'the array'!r} (e.g. chunk "
            f"{wplan.first_shared}) would be written by several tasks: the dask chunks "
            f"{src.chunks} do not align with the store chunks {target.meta.chunks} within "
            f"the region {wplan.region}. Use policy='align' (merges the writers) or "
            "policy='lock', or rechunk the source to multiples of the store chunks")
    if wplan.policy == "lock" and wplan.n_shared:
        sync = sync if sync is not None else default_lock(kind, target)
    else:
        sync = None
    check_scheduler(kind, target, sync)
    # writes are side effects: a fresh name, so a cluster never skips one as "already done"
    name = f"zarrdask-store-{uuid.uuid4().hex}"
    with gc_paused():
        return _write_graph(name, src, target, target if target_arg is None else target_arg,
                            wplan, sync, first)


def store(source: Any, target: Array, region: Any = None, lock: Any = None,
          compute: bool = True, *, policy: str | None = None, dry_run: bool = False,
          progress: bool = False, scheduler: Any = None) -> Any:
    """Write a dask array into an existing zarrdask array (or a region of it).

    Parameters
    ----------
    source : dask.array.Array or array-like
        The data; its shape must equal the region's.
    target : Array
        The destination.
    region : tuple of slice, optional
        Where to write (step-1 slices; missing trailing axes mean everything).
    lock : None, bool, synchronizer or lock
        With ``policy="lock"``: the synchronizer guarding shared chunks (True or
        None picks one for the scheduler: the array's own synchronizer, else a
        ThreadSynchronizer for threads or a DistributedSynchronizer on a cluster).
        Giving a lock implies ``policy="lock"`` unless a policy is given.
    compute : bool
        Write now (True) or return a ``dask.delayed.Delayed`` that writes when
        computed (False); nothing is written before that.
    policy : {"align", "lock", "error", "unsafe"}, optional
        What to do with store chunks that several source blocks write:
        ``"align"`` (default) merges their writers into one task, so no task
        shares a chunk and no lock is needed; ``"lock"`` keeps the source blocks
        and locks the shared chunks only; ``"error"`` raises
        :class:`~zarrdask.errors.UnsafeWriteError`; ``"unsafe"`` writes them
        racily (last writer wins: only for benchmarks and tests).
    dry_run : bool
        Return the :class:`~zarrdask.dask_plan.WritePlan` (chunk counts by class
        and the write blocks) without building a graph.
    progress : bool
        Show a progress bar (dask's diagnostics, or distributed's).
    scheduler : optional
        Passed to ``compute``; also used to check the store and lock suit it.

    Returns
    -------
    None, Delayed or WritePlan

    Raises
    ------
    UnsafeWriteError
        For an in-memory store or process-local lock under a multi-process
        scheduler, or shared chunks with ``policy="error"``.

    Examples
    --------
    >>> import zarrdask, dask.array as da, numpy as np
    >>> z = zarrdask.zeros(20, chunks=10, dtype="i8")
    >>> x = da.arange(20, chunks=7)
    >>> store(x, z, dry_run=True).n_shared
    2
    >>> store(x, z)
    >>> bool((z[:] == np.arange(20)).all())
    True
    """
    target_obj = target if isinstance(target, ChunkTarget) else ChunkTarget.from_array(target)
    if not isinstance(target, ChunkTarget):
        target._check_writable()
    wplan, src = _plan(source, target_obj, region, lock, policy)
    if dry_run:
        return wplan
    delayed = _finish(src, target_obj, wplan, lock, scheduler, None, None)
    if not compute:
        return delayed
    compute_write(delayed, scheduler, progress)
    return None


# ---------------------------------------------------------------------- new arrays

_INIT_ARGS = ("dtype", "compressor", "fill_value", "order", "filters", "object_codec",
              "dimension_separator")
_ARRAY_ARGS = ("synchronizer", "write_empty_chunks", "cache_metadata", "cache_attrs")


def _new_array(shape: tuple[int, ...], dtype: Any, chunks: Any, url_or_store: Any,
               component: str | None, overwrite: bool, storage_options: dict[str, Any] | None,
               create_kwargs: dict[str, Any]) -> tuple[ChunkTarget, dict[str, Any],
                                                       dict[str, Any]]:
    """Plan a new array without touching the store: target, init_array args, Array args."""
    unknown = set(create_kwargs) - set(_INIT_ARGS) - set(_ARRAY_ARGS) - {"chunk_store"}
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
    mode = "w" if overwrite else "a"
    st = normalize_store_arg(url_or_store, storage_options=storage_options, mode=mode,
                             dimension_separator=create_kwargs.get("dimension_separator"))
    chunk_store = create_kwargs.get("chunk_store")
    if chunk_store is not None:
        chunk_store = normalize_store_arg(chunk_store, storage_options=storage_options, mode=mode)
    path = normalize_storage_path(component)
    if not overwrite:
        if contains_array(st, path):
            raise ContainsArrayError(path, "pass overwrite=True to replace it")
        if contains_group(st, path):
            raise ContainsGroupError(path, "pass overwrite=True to replace it")
    init_kwargs: dict[str, Any] = {"dtype": dtype, "fill_value": 0}
    init_kwargs.update({k: v for k, v in create_kwargs.items() if k in _INIT_ARGS})
    if init_kwargs.get("compressor", "default") == "default":
        from zarrdask import storage

        init_kwargs["compressor"] = storage.default_compressor
    if init_kwargs.get("dimension_separator") is None:
        init_kwargs["dimension_separator"] = getattr(st, "_dimension_separator", None)
    scratch = MemoryStore()
    init_array(scratch, shape=shape, chunks=chunks, **init_kwargs)
    init_kwargs["shape"], init_kwargs["chunks"] = shape, parse_array_meta(
        scratch[ARRAY_META_KEY]).chunks
    array_kwargs = {k: v for k, v in create_kwargs.items() if k in _ARRAY_ARGS}
    target = ChunkTarget(st, chunk_store, path, scratch[ARRAY_META_KEY],
                         array_kwargs.get("write_empty_chunks", False),
                         array_kwargs.get("synchronizer"))
    return target, init_kwargs, array_kwargs


def _default_chunks(x: Any) -> Any:
    chunks = getattr(x, "chunks", None)
    if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], tuple):
        return tuple(max(max(c, default=1), 1) for c in chunks)
    return True


def _open_written(target: ChunkTarget, array_kwargs: dict[str, Any]) -> Array:
    return Array(target.store, path=target.path, chunk_store=target.chunk_store, **array_kwargs)


def to_zarr(arr: Any, url_or_store: Any, component: str | None = None, chunks: Any = None,
            overwrite: bool = False, compute: bool = True,
            storage_options: dict[str, Any] | None = None, *, region: Any = None,
            lock: Any = None, policy: str | None = None, progress: bool = False,
            scheduler: Any = None, **create_kwargs: Any) -> Any:
    """Write a dask array to a new zarrdask array (or into an existing one).

    Parameters
    ----------
    arr : dask.array.Array, array-like or xarray.Dataset
        The data. A Dataset (or DataArray) is handed to ``zarrdask.xarray_writer.to_zarr``
        with the arguments given here.
    url_or_store : str, os.PathLike, MutableMapping or Array
        Where to write; an existing :class:`Array` is written into (``region``
        then applies), as with :func:`store`.
    component : str, optional
        Path of the new array in the store.
    chunks : optional
        Store chunks of the new array; default the largest dask block along
        each axis. Dask blocks need not align: the planner merges writers.
    overwrite : bool
        Replace an existing array or group at the path (when computed).
    compute : bool
        With False, return a Delayed; nothing, not even metadata, is written
        until it is computed.
    storage_options : dict, optional
        For fsspec URLs.
    region, lock, policy, progress, scheduler
        As for :func:`store`.
    **create_kwargs
        ``dtype``, ``compressor``, ``fill_value`` (default 0), ``order``,
        ``filters``, ``object_codec``, ``dimension_separator``, ``chunk_store``,
        ``synchronizer``, ``write_empty_chunks``.

    Returns
    -------
    Array or Delayed
        The written array when ``compute`` is True.

    Examples
    --------
    >>> import zarrdask, dask.array as da, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.zarr")
    >>> z = to_zarr(da.ones((10, 10), chunks=3), path, chunks=5)
    >>> z.chunks, float(z[:].sum())
    ((5, 5), 100.0)
    """
    if hasattr(arr, "data_vars") or hasattr(arr, "to_dataset"):  # xarray Dataset/DataArray
        import importlib

        # only the arguments the caller gave, so the xarray writer keeps its own defaults
        given: dict[str, Any] = {"component": component, "chunks": chunks, "region": region,
                                 "storage_options": storage_options}
        given = {k: v for k, v in given.items() if v is not None}
        if overwrite:
            given["overwrite"] = overwrite
        if not compute:
            given["compute"] = compute
        writer = importlib.import_module("zarrdask.xarray_writer")
        return writer.to_zarr(arr, url_or_store, **given, **create_kwargs)
    if isinstance(url_or_store, Array):
        return store(arr, url_or_store, region=region, lock=lock, compute=compute,
                     policy=policy, progress=progress, scheduler=scheduler)
    if region is not None:
        raise ValueError("region= needs an existing array: pass a zarrdask Array as "
                         "url_or_store, or open it first")
    src = _as_dask(arr)
    create_kwargs.setdefault("dtype", src.dtype)
    target, init_kwargs, array_kwargs = _new_array(
        src.shape, create_kwargs.pop("dtype"), chunks if chunks is not None
        else _default_chunks(src), url_or_store, component, overwrite, storage_options,
        create_kwargs)
    wplan, src = _plan(src, target, None, lock, policy)
    init_key = f"zarrdask-init-{uuid.uuid4().hex}"
    first = {init_key: Task(init_key, init_task, target, overwrite, init_kwargs)}
    delayed = _finish(src, target, wplan, lock, scheduler, TaskRef(init_key), first)
    if not compute:
        return delayed
    compute_write(delayed, scheduler, progress)
    return _open_written(target, array_kwargs)


def initialize(template: Any, url_or_store: Any, component: str | None = None,
               chunks: Any = None, overwrite: bool = False,
               storage_options: dict[str, Any] | None = None, **create_kwargs: Any) -> Array:
    """Create an array shaped like ``template``, writing metadata only (no graph, no data).

    Many independent jobs can then fill their own regions with :func:`store`.

    Parameters
    ----------
    template : dask array, numpy array or anything with ``shape`` and ``dtype``
        Gives shape, dtype and (for dask arrays) default chunks; never computed.
    url_or_store, component, chunks, overwrite, storage_options, **create_kwargs
        As for :func:`to_zarr`.

    Returns
    -------
    Array

    Examples
    --------
    >>> import zarrdask, dask.array as da
    >>> z = initialize(da.zeros((100, 100), chunks=50), zarrdask.MemoryStore())
    >>> z.shape, z.chunks, z.nchunks_initialized
    ((100, 100), (50, 50), 0)
    """
    create_kwargs.setdefault("dtype", np.dtype(template.dtype))
    target, init_kwargs, array_kwargs = _new_array(
        tuple(template.shape), create_kwargs.pop("dtype"),
        chunks if chunks is not None else _default_chunks(template), url_or_store, component,
        overwrite, storage_options, create_kwargs)
    init_task(target, overwrite, init_kwargs)
    return _open_written(target, array_kwargs)


def append(target: Array, arr: Any, axis: int = 0, compute: bool = True, *,
           lock: Any = None, policy: str | None = None, progress: bool = False,
           scheduler: Any = None) -> Any:
    """Append a dask array along ``axis``: resize under the metadata lock, write the tail.

    The resize touches only the metadata (growing never deletes chunks), so its
    cost does not grow with the array; the tail is then written in parallel
    through the write planner.

    Parameters
    ----------
    target : Array
        The array to grow.
    arr : dask.array.Array or array-like
        Data whose shape matches the target except along ``axis``.
    axis : int
        The axis to grow.
    compute : bool
        With False the resize is also deferred into the returned Delayed; it
        then checks that the shape is still the one the plan was made for.
    lock, policy, progress, scheduler
        As for :func:`store`.

    Returns
    -------
    tuple of int or Delayed
        The new shape.

    Examples
    --------
    >>> import zarrdask, dask.array as da
    >>> z = zarrdask.zeros(10, chunks=4)
    >>> append(z, da.ones(5, chunks=2))
    (15,)
    """
    target._check_writable()
    src = _as_dask(arr)
    old = target._refresh().shape if compute else target.meta.shape
    ndim = len(old)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a {ndim}-d array")
    axis %= ndim
    if src.ndim != ndim or any(a != b for i, (a, b) in enumerate(zip(src.shape, old,
                                                                     strict=True)) if i != axis):
        raise ValueError(f"cannot append data of shape {src.shape} to an array of shape {old} "
                         f"along axis {axis}: other dimensions must match")

    def grow() -> tuple[int, ...]:
        target._load_metadata()
        shape = target.meta.shape
        new = tuple(s + src.shape[axis] if i == axis else s for i, s in enumerate(shape))
        target._resize_nosync(new)
        return shape

    if compute:
        old = target._write_op(grow)
        new = tuple(s + src.shape[axis] if i == axis else s for i, s in enumerate(old))
        region = tuple(slice(old[i], new[i]) if i == axis else slice(None) for i in range(ndim))
        store(src, target, region=region, lock=lock, policy=policy, progress=progress,
              scheduler=scheduler)
        return new
    new = tuple(s + src.shape[axis] if i == axis else s for i, s in enumerate(old))
    meta_bytes = encode_array_meta(target.meta.replace(shape=new))
    tgt = ChunkTarget.from_array(target, meta_bytes)
    region = tuple(slice(old[i], new[i]) if i == axis else slice(None) for i in range(ndim))
    wplan, src = _plan(src, tgt, region, lock, policy)
    key = f"zarrdask-resize-{uuid.uuid4().hex}"
    first = {key: Task(key, resize_task, target, old, new, tgt)}
    return _finish(src, tgt, wplan, lock, scheduler, TaskRef(key), first)


def plan(source: Any, target: Array, region: Any = None,
         policy: str = "align") -> WritePlan:
    """The write plan of ``store(source, target, region)`` (same as ``dry_run=True``)."""
    return store(source, target, region=region, policy=policy, dry_run=True)
