"""The Dataset writer: xarray's Zarr v2 layout, written by zarrdask.

:func:`to_zarr` writes what ``Dataset.to_zarr`` writes through zarr-python 2.18:
a group, one array per variable (coordinates included) with the
``_ARRAY_DIMENSIONS`` attribute, CF-encoded data and attributes (xarray's own
encoders), and ``.zmetadata``. Dask-backed variables are written through the
write planner of :mod:`zarrdask.dask_array`, so no two tasks ever write one
store chunk: unlike xarray, dask chunks need not line up with the store chunks.

The whole write is planned first (metadata documents in memory, data regions),
then carried out: at once, or, with ``compute=False``, by the returned
``dask.delayed`` object, before which nothing at all is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray import coding, conventions
from xarray.backends.common import ensure_dtype_not_object

from zarrdask.attrs import Attributes
from zarrdask.core import Array
from zarrdask.creation import init_array, init_group
from zarrdask.errors import ContainsArrayError, ContainsGroupError
from zarrdask.keys import ARRAY_META_KEY, ATTRS_KEY, join_path, normalize_storage_path, prefix_of
from zarrdask.meta import encode_array_meta
from zarrdask.storage import normalize_store_arg
from zarrdask.storage._base import contains_array, contains_group, listdir, rmdir, setitems
from zarrdask.xarray_backend import DIMENSION_KEY, ZarrdaskDataStore, store_variable

__all__ = ["MODES", "to_zarr"]

#: Write modes, as in ``Dataset.to_zarr``.
MODES = ("w", "w-", "a", "a-", "r+")

_DATAARRAY_NAME = "__xarray_dataarray_variable__"
_VALID_ENCODING = frozenset({"chunks", "compressor", "compressors", "filters", "object_codec",
                             "dimension_separator", "cache_metadata", "write_empty_chunks"})
_SAFE_TO_DROP = frozenset({"source", "original_shape", "preferred_chunks"})
_ZARR_CODERS = getattr(conventions, "ZARR_CODERS", None)


@dataclass(frozen=True, slots=True)
class _Write:
    """One variable's data and where it goes."""

    path: str
    data: Any
    region: tuple[slice, ...]
    meta_bytes: bytes


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything a write does: deletions, metadata documents, data regions."""

    deletions: tuple[str, ...]
    documents: dict[str, bytes]
    eager: tuple[_Write, ...]
    lazy: tuple[_Write, ...]
    consolidate: bool


# ------------------------------------------------------------------------- arguments


def _choose_mode(mode: str | None, append_dim: Hashable | None, region: Any) -> str:
    if mode is None:
        mode = "a" if append_dim is not None else "r+" if region is not None else "w-"
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if append_dim is not None and mode not in ("a", "a-"):
        raise ValueError(f"append_dim={append_dim!r} needs mode='a' or 'a-' (or None), "
                         f"got mode={mode!r}")
    if region is not None and mode not in ("a", "a-", "r+"):
        raise ValueError(f"region needs mode='a', 'a-' or 'r+' (or None), got mode={mode!r}")
    return mode


def _as_dataset(obj: Any) -> xr.Dataset:
    if isinstance(obj, xr.DataArray):
        name = obj.name if obj.name is not None else _DATAARRAY_NAME
        return obj.to_dataset(name=name)
    if not isinstance(obj, xr.Dataset):
        raise TypeError(f"expected an xarray Dataset or DataArray, got {type(obj).__name__}")
    return obj


def _check_names(ds: xr.Dataset) -> None:
    for name in ds.variables:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"variable name {name!r} cannot be a Zarr array name: names must "
                             "be non-empty strings without '/'")


def _encode_attr(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _encode_variable(var: xr.Variable, name: str) -> xr.Variable:
    """CF-encode a variable as xarray's Zarr backend does (unicode kept, no objects)."""
    if _ZARR_CODERS is not None:
        var = conventions.encode_cf_variable(var, name=name, coders=_ZARR_CODERS)
    else:  # pragma: no cover - older xarray
        var = conventions.encode_cf_variable(var, name=name)
    var = ensure_dtype_not_object(var, name=name)
    var = coding.strings.EncodedStringCoder(allows_unicode=True).encode(var, name=name)
    return coding.strings.ensure_fixed_length_bytes(var)


def _zarr_chunks(enc_chunks: Any, var_chunks: Any, ndim: int, name: str) -> Any:
    """Store chunks from ``encoding['chunks']`` or the dask chunks; True lets zarrdask guess."""
    if enc_chunks:
        chunks = (enc_chunks,) * ndim if isinstance(enc_chunks, int) else tuple(enc_chunks)
        if len(chunks) == ndim:
            if not all(isinstance(c, int | np.integer) for c in chunks):
                raise TypeError(f"encoding['chunks']={enc_chunks!r} of variable {name!r} must "
                                "be an int or a tuple of ints")
            return tuple(int(c) for c in chunks)
    if not var_chunks:
        return True
    for axis in var_chunks:
        if len(set(axis[:-1])) > 1 or axis[0] < axis[-1]:
            raise ValueError(
                f"variable {name!r} has dask chunks {var_chunks!r}; Zarr needs one chunk size "
                "per axis (the last chunk may be smaller). Rechunk with .chunk(), or set "
                "encoding['chunks']")
    return tuple(axis[0] for axis in var_chunks)


def _variable_encoding(var: xr.Variable, name: str, strict: bool) -> dict[str, Any]:
    enc = {k: v for k, v in var.encoding.items() if k not in _SAFE_TO_DROP}
    invalid = sorted(k for k in enc if k not in _VALID_ENCODING)
    if invalid and strict:
        hint = "; set the fill value with the _FillValue attribute" if "fill_value" in invalid \
            else ""
        raise ValueError(f"unexpected encoding for variable {name!r}: {invalid}{hint}")
    enc = {k: v for k, v in enc.items() if k in _VALID_ENCODING}
    if "compressors" in enc:
        codecs = enc.pop("compressors")
        codecs = tuple(codecs) if isinstance(codecs, list | tuple) else (codecs,)
        if len(codecs) > 1:
            raise ValueError(f"variable {name!r}: Zarr v2 takes one compressor, got {codecs!r}")
        enc.setdefault("compressor", codecs[0] if codecs else None)
    enc["chunks"] = _zarr_chunks(enc.get("chunks"), var.chunks, var.ndim, name)
    return enc


# ------------------------------------------------------------------------------ regions


def _detect_region(ds: xr.Dataset, region: Any, data_store: ZarrdaskDataStore,
                   mode: str) -> dict[str, slice]:
    if region == "auto":
        region = dict.fromkeys(ds.dims, "auto")
    if not isinstance(region, Mapping):
        raise TypeError(f"region must be a dict of {{dim: slice}} or 'auto', got {region!r}")
    out: dict[str, slice] = {}
    for dim, sel in region.items():
        if dim not in ds.dims:
            raise ValueError(f"region dimension {dim!r} is not a dimension of the dataset "
                             f"{list(ds.dims)}")
        if isinstance(sel, str) and sel == "auto":
            if mode not in ("a", "r+"):
                raise ValueError(f"region='auto' needs mode 'r+' or 'a', got {mode!r}")
            sel = _auto_slice(ds, dim, data_store)
        if not isinstance(sel, slice):
            raise TypeError(f"region[{dim!r}] must be a slice, got {sel!r}")
        if sel.step not in (None, 1):
            raise ValueError(f"region[{dim!r}]={sel} has a step; only step 1 is allowed")
        out[dim] = sel
    return out


def _auto_slice(ds: xr.Dataset, dim: str, data_store: ZarrdaskDataStore) -> slice:
    if dim not in ds.variables:
        return slice(0, ds.sizes[dim])
    if dim not in data_store.arrays:
        raise KeyError(f"region={{{dim!r}: 'auto'}}: the store has no coordinate {dim!r}")
    stored = conventions.decode_cf_variable(dim, data_store.open_store_variable(dim))
    idx = pd.Index(np.asarray(stored.values)).get_indexer(np.asarray(ds[dim].values))
    if (idx == -1).any():
        raise KeyError(f"region={{{dim!r}: 'auto'}}: some labels of {dim!r} are not in the "
                       "stored coordinate; a region write cannot add labels")
    if len(idx) and (np.diff(idx) != 1).any():
        raise ValueError(f"region={{{dim!r}: 'auto'}}: the labels of {dim!r} are not one "
                         "contiguous, increasing run of the stored coordinate")
    return slice(int(idx[0]), int(idx[-1]) + 1) if len(idx) else slice(0, 0)


# ---------------------------------------------------------------------------- planning


def _existing_arrays(store: MutableMapping[str, Any], path: str) -> dict[str, Array]:
    if not contains_group(store, path):
        return {}
    return {n: Array(store, path=join_path(path, n), read_only=True)
            for n in sorted(listdir(store, path)) if contains_array(store, join_path(path, n))}


def _check_dtype(name: str, existing: xr.Variable, new: xr.Variable) -> None:
    easy = (np.issubdtype(new.dtype, np.number) or np.issubdtype(new.dtype, np.datetime64)
            or np.issubdtype(new.dtype, np.bool_) or new.dtype == object
            or (new.dtype.kind in "SU" and existing.dtype == object))
    if not easy and new.dtype != existing.dtype:
        raise ValueError(f"variable {name!r} is stored with dtype {existing.dtype} but the "
                         f"dataset to write has dtype {new.dtype}; fixed-width strings must "
                         "match exactly, or values would be truncated")


def _region_of(name: str, var: xr.Variable, array: Array | None,
               write_region: Mapping[str, slice], append_dim: Hashable | None) -> tuple:
    """The slices of ``array`` that ``var`` fills, and the array's new shape."""
    shape = tuple(var.shape) if array is None else tuple(array.shape)
    new_shape = list(shape)
    slices = []
    for axis, dim in enumerate(var.dims):
        if array is not None and dim == append_dim:
            new_shape[axis] = shape[axis] + var.shape[axis]
            slices.append(slice(shape[axis], new_shape[axis]))
            continue
        start, stop, _ = write_region.get(dim, slice(None)).indices(shape[axis])
        if stop - start != var.shape[axis]:
            raise ValueError(
                f"variable {name!r} has {var.shape[axis]} values along {dim!r} but the stored "
                f"array has {stop - start} there (shape {shape}, region "
                f"{write_region.get(dim, slice(None))}); to change sizes use append_dim, to "
                "write part of an array use region")
        slices.append(slice(start, stop))
    return tuple(slices), tuple(new_shape)


def _plan(ds: xr.Dataset, store: MutableMapping[str, Any], path: str, mode: str,
          append_dim: Hashable | None, region: Any, consolidated: bool | None,
          encoding: Mapping[str, Any] | None) -> _Plan:
    encoding = dict(encoding or {})
    _check_names(ds)
    if unknown := [k for k in encoding if k not in ds.variables]:
        raise ValueError(f"encoding names variables that are not in the dataset: {unknown}")
    if mode == "w-" and (contains_group(store, path) or contains_array(store, path)):
        raise (ContainsGroupError if contains_group(store, path) else ContainsArrayError)(path)
    if mode != "w" and contains_array(store, path):
        raise ContainsArrayError(path)
    if mode == "r+" and not contains_group(store, path):
        raise FileNotFoundError(f"mode='r+' needs an existing group at {path or '/'!r}")
    existing = {} if mode == "w" else _existing_arrays(store, path)
    data_store = ZarrdaskDataStore(store, store, path)
    if existing and (given := [k for k in encoding if k in existing]):
        raise ValueError(f"variables {given} already exist in the store, so their encoding "
                         "is fixed; do not pass encoding for them")
    write_region: dict[str, slice] = {}
    if region is not None:
        write_region = _detect_region(ds, region, data_store, mode)
        if append_dim is not None and append_dim in write_region:
            raise ValueError(f"dimension {append_dim!r} is both append_dim and in region")
        if lost := [k for k, v in ds.variables.items() if not set(write_region) & set(v.dims)
                    and k not in ds.indexes]:
            raise ValueError(f"with region, every variable must have a dimension of the region "
                             f"{list(write_region)}; drop the others first: .drop_vars({lost!r})")
        ds = ds.drop_vars(list(ds.indexes))
    if append_dim is not None and append_dim not in data_store.get_dimensions():
        raise ValueError(f"append_dim={append_dim!r} is not a dimension of the stored dataset "
                         f"{sorted(data_store.get_dimensions())}")

    variables, attrs = conventions.encode_dataset_coordinates(ds)
    for name, enc in encoding.items():
        variables[name].encoding = dict(enc)
    if new := [n for n in variables if n not in existing and mode == "r+"]:
        raise ValueError(f"mode='r+' only writes into existing arrays; {new} are new: use "
                         "mode='a' to add variables")
    if region is not None and (new := [n for n in variables if n not in existing]):
        raise ValueError(f"a region write only writes into existing arrays; {new} are new")

    documents: dict[str, bytes] = {}
    if mode != "r+":
        init_group(documents, overwrite=True, path=path)
        Attributes(documents, key=prefix_of(path) + ATTRS_KEY).put(
            {str(k): _encode_attr(v) for k, v in attrs.items()})
    eager: list[_Write] = []
    lazy: list[_Write] = []
    for name, var in variables.items():
        array = existing.get(name)
        if array is not None and mode == "a-" and append_dim is not None \
                and append_dim not in var.dims:
            continue  # a-: leave variables without append_dim alone
        write = (_plan_new(name, var, path, documents, name in encoding) if array is None
                 else _plan_existing(name, var, array, documents, write_region, append_dim))
        (lazy if var.chunks is not None else eager).append(write)
    replaced = mode == "w" and (contains_group(store, path) or contains_array(store, path))
    deletions = (path,) if replaced else ()
    return _Plan(deletions, documents, tuple(eager), tuple(lazy),
                 consolidate=consolidated is not False and mode != "r+")


def _plan_new(name: str, var: xr.Variable, group_path: str, documents: dict[str, bytes],
              strict: bool) -> _Write:
    var = _encode_variable(var, name)
    attrs = {k: _encode_attr(v) for k, v in var.attrs.items()}
    fill_value = attrs.pop("_FillValue", None)
    if var.encoding.get("_FillValue") is not None:
        raise ValueError(f"variable {name!r}: _FillValue belongs in attrs for Zarr, not in "
                         "encoding")
    enc = _variable_encoding(var, name, strict)
    dtype: Any = var.dtype
    if coding.strings.check_vlen_dtype(dtype) is str:
        dtype = str
    path = join_path(group_path, name)
    init_array(documents, shape=var.shape, chunks=enc["chunks"], dtype=dtype,
               compressor=enc.get("compressor", "default"), fill_value=fill_value,
               overwrite=True, path=path, filters=enc.get("filters"),
               object_codec=enc.get("object_codec"),
               dimension_separator=enc.get("dimension_separator"))
    attrs[DIMENSION_KEY] = list(var.dims)
    Attributes(documents, key=prefix_of(path) + ATTRS_KEY).put(attrs)
    region = tuple(slice(0, n) for n in var.shape)
    return _Write(path, var.data, region, documents[prefix_of(path) + ARRAY_META_KEY])


def _plan_existing(name: str, var: xr.Variable, array: Array, documents: dict[str, bytes],
                   write_region: Mapping[str, slice], append_dim: Hashable | None) -> _Write:
    stored, _, _ = conventions.decode_cf_variables({name: store_variable(array, name)}, {})
    stored_var = stored[name]
    _check_dtype(name, stored_var, var)
    if set(var.dims) != set(stored_var.dims):
        raise ValueError(f"variable {name!r} is stored with dimensions {stored_var.dims}, "
                         f"the dataset has {var.dims}; to_zarr cannot change dimensions")
    var = var.transpose(*stored_var.dims).copy(deep=False)
    var.encoding = dict(stored_var.encoding)
    var = _encode_variable(var, name)
    region, new_shape = _region_of(name, var, array, write_region, append_dim)
    meta = array.meta
    if new_shape != tuple(array.shape):
        meta = meta.replace(shape=new_shape)
        documents[prefix_of(array.path) + ARRAY_META_KEY] = encode_array_meta(meta)
    return _Write(array.path, var.data, region, encode_array_meta(meta))


# ---------------------------------------------------------------------------- carrying out


def _flush(store: MutableMapping[str, Any], plan: _Plan, synchronizer: Any,
           write_empty_chunks: bool | None) -> None:
    """Delete what mode 'w' replaces, write the metadata, then the in-memory variables."""
    for path in plan.deletions:
        rmdir(store, path)
    setitems(store, plan.documents)
    kwargs = {} if write_empty_chunks is None else {"write_empty_chunks": write_empty_chunks}
    for w in plan.eager:
        Array(store, path=w.path, synchronizer=synchronizer, **kwargs)[w.region] = \
            np.asarray(w.data)


def _finalize(*_done: Any, store: MutableMapping[str, Any], consolidate: bool) -> None:
    if consolidate:
        from zarrdask.consolidated import consolidate_metadata

        consolidate_metadata(store)


def to_zarr(
    dataset: xr.Dataset | xr.DataArray,
    store: Any = None,
    mode: str | None = None,
    group: str | None = None,
    append_dim: Hashable | None = None,
    region: Mapping[str, slice | str] | str | None = None,
    consolidated: bool | None = True,
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
    *,
    synchronizer: Any = None,
    write_empty_chunks: bool | None = None,
    component: str | None = None,
    overwrite: bool = False,
) -> Any:
    """Write a Dataset (or DataArray) in xarray's Zarr v2 layout.

    Parameters
    ----------
    dataset : xarray.Dataset or xarray.DataArray
        What to write; numpy-backed variables are written directly, dask-backed
        ones through zarrdask's write planner.
    store : str, os.PathLike or MutableMapping, optional
        Where to write (a path means a directory store); default a new MemoryStore.
    mode : {"w", "w-", "a", "a-", "r+"}, optional
        As in ``Dataset.to_zarr``: ``w-`` (the default) creates and fails if
        something exists; ``w`` replaces; ``a`` adds or overwrites variables
        (default with ``append_dim``); ``a-`` appends without rewriting variables
        that lack ``append_dim``; ``r+`` writes into existing arrays only
        (default with ``region``).
    group : str, optional
        Path of the group to write.
    append_dim : str, optional
        Grow the stored arrays along this dimension by the dataset's values.
    region : dict or "auto", optional
        ``{dim: slice}`` (or ``"auto"`` per dim, found from the stored
        coordinate) of the stored arrays to overwrite; index coordinates are not
        rewritten.
    consolidated : bool, optional
        Write ``.zmetadata`` afterwards (not in mode ``r+``, which changes no metadata).
    encoding : dict, optional
        Per-variable encoding: ``chunks``, ``compressor`` (or ``compressors``),
        ``filters``, ``object_codec``, ``dimension_separator`` and the CF keys
        ``dtype``, ``scale_factor``, ``add_offset``, ``_FillValue``, ``units``,
        ``calendar``.
    compute : bool
        False returns a ``dask.delayed.Delayed``; nothing, not even metadata, is
        written until it is computed.
    storage_options : dict, optional
        fsspec options for URLs.
    synchronizer : object, optional
        Locks for the arrays.
    write_empty_chunks : bool, optional
        Store chunks that hold only the fill value.
    component : str, optional
        Alias of ``group`` (as ``zarrdask.to_zarr`` names it).
    overwrite : bool
        Same as ``mode="w"``.

    Returns
    -------
    None or dask.delayed.Delayed

    Raises
    ------
    ContainsGroupError, ContainsArrayError
        ``mode="w-"`` and something exists at ``group``.
    ValueError
        For inconsistent arguments (see the message).

    Examples
    --------
    >>> import xarray as xr, numpy as np, zarrdask
    >>> store = zarrdask.MemoryStore()
    >>> to_zarr(xr.Dataset({"t": ("x", np.arange(4.0))}), store)
    >>> import json; json.loads(store["t/.zattrs"])
    {'_ARRAY_DIMENSIONS': ['x']}
    """
    if component is not None:
        if group is not None and normalize_storage_path(group) != \
                normalize_storage_path(component):
            raise ValueError(f"group={group!r} and component={component!r} disagree")
        group = component
    if overwrite:
        if mode not in (None, "w"):
            raise ValueError(f"overwrite=True means mode='w', got mode={mode!r}")
        mode = "w"
    ds = _as_dataset(dataset)
    mode = _choose_mode(mode, append_dim, region)
    target = normalize_store_arg(store, storage_options=storage_options,
                                 mode="a" if mode == "a-" else mode)
    path = normalize_storage_path(group)
    plan = _plan(ds, target, path, mode, append_dim, region, consolidated, encoding)
    if compute and not plan.lazy:
        _flush(target, plan, synchronizer, write_empty_chunks)
        _finalize(store=target, consolidate=plan.consolidate)
        return None
    return _run_with_dask(target, plan, synchronizer, write_empty_chunks, compute)


def _pass_through(block: np.ndarray, _dependency: Any = None) -> np.ndarray:
    return block


def _after(data: Any, dependency: Any) -> Any:
    """``data`` (a dask array) with every block waiting for the Delayed ``dependency``.

    (``dask.graph_manipulation.bind`` loses keys when the result is rechunked, as the
    write planner does.)
    """
    return data.map_blocks(_pass_through, _dependency=dependency, dtype=data.dtype,
                           meta=data._meta)


def _run_with_dask(store: MutableMapping[str, Any], plan: _Plan, synchronizer: Any,
                   write_empty_chunks: bool | None, compute: bool) -> Any:
    """Carry out a plan with dask-backed variables, or return it as a Delayed."""
    import dask  # xarray already depends on it for dask-backed data

    from zarrdask.dask_array import store as store_dask
    from zarrdask.dask_plan import ChunkTarget

    wec = bool(write_empty_chunks)
    if compute:
        # graphs first: they need nothing from the store, and a write the scheduler would
        # lose (in-memory store on a cluster) is refused before anything is written
        writes = [store_dask(w.data, ChunkTarget(store, None, w.path, w.meta_bytes, wec,
                                                 synchronizer), region=w.region, compute=False)
                  for w in plan.lazy]
        _flush(store, plan, synchronizer, write_empty_chunks)
        dask.compute(*writes)
        _finalize(store=store, consolidate=plan.consolidate)
        return None
    # the plan without its dask arrays: delayed() would otherwise compute them as inputs
    eager_plan = dataclasses.replace(plan, lazy=())
    flush = dask.delayed(_flush, pure=False)(store, eager_plan, synchronizer, write_empty_chunks)
    writes = [store_dask(_after(w.data, flush), ChunkTarget(store, None, w.path, w.meta_bytes,
                                                          wec, synchronizer),
                         region=w.region, compute=False)
              for w in plan.lazy]
    return dask.delayed(_finalize, pure=False)(flush, *writes, store=store,
                                               consolidate=plan.consolidate)
