"""The xarray integration: the ``zarrdask`` engine for ``xarray.open_dataset``.

This module (with :mod:`zarrdask.xarray_writer`, the Dataset writer it re-exports)
is the only place that imports xarray. Reading follows xarray's Zarr encoding
convention: one array per variable, dimension names in the ``_ARRAY_DIMENSIONS``
attribute, CF attributes decoded by xarray's own machinery, and the array's
``fill_value`` used as ``_FillValue`` unless ``use_zarr_fill_value_as_mask=False``.

Lazy variables are :class:`ZarrdaskBackendArray` objects: basic keys go to
``Array.get_basic_selection``, outer keys to ``Array.oindex`` and vectorized keys
to ``Array.vindex``, so only the chunks a selection touches are read.

Examples
--------
>>> import xarray as xr  # doctest: +SKIP
>>> ds = xr.open_dataset("data.zarr", engine="zarrdask", chunks={})  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import numpy as np
import xarray as xr
from xarray import coding, conventions
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.common import AbstractDataStore
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core import indexing

from zarrdask.core import Array
from zarrdask.keys import CONSOLIDATED_KEY, join_path, normalize_storage_path, prefix_of
from zarrdask.readahead import MetadataReadAhead
from zarrdask.storage import normalize_store_arg
from zarrdask.storage._base import BaseStore, contains_array, contains_group, listdir

__all__ = [
    "DIMENSION_KEY",
    "ZarrdaskBackendArray",
    "ZarrdaskBackendEntrypoint",
    "ZarrdaskDataStore",
    "dataset_to_zarr",
    "decode_fill_value_attr",
    "open_zarr",
    "to_zarr",
]

#: The attribute holding an array's dimension names (xarray's Zarr convention).
DIMENSION_KEY = "_ARRAY_DIMENSIONS"

_DECODE_OPTIONS = ("mask_and_scale", "decode_times", "concat_characters", "decode_coords",
                   "use_cftime", "decode_timedelta")


# ----------------------------------------------------------------------------- lazy arrays


def _is_vlen_utf8(array: Array) -> bool:
    return any(getattr(f, "codec_id", None) == "vlen-utf8" for f in array.filters or ())


def _arrayize(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Replace the slices of a vectorized key by integer arrays, as xarray orders axes.

    The broadcast array axes come first, then one axis per slice, in order.
    """
    n_slices = sum(isinstance(k, slice) for k in key)
    if not n_slices:
        return key
    n_dim = max((k.ndim for k in key if isinstance(k, np.ndarray)), default=0)
    out: list[Any] = []
    i_slice = 0
    for k, size in zip(key, shape, strict=True):
        if isinstance(k, slice):
            view = (1,) * (n_dim + i_slice) + (-1,) + (1,) * (n_slices - i_slice - 1)
            out.append(np.arange(*k.indices(size)).reshape(view))
            i_slice += 1
        else:
            out.append(np.reshape(k, k.shape + (1,) * n_slices))
    return tuple(out)


class ZarrdaskBackendArray(BackendArray):
    """A lazily indexed view of a zarrdask :class:`~zarrdask.core.Array` for xarray.

    Declares ``IndexingSupport.VECTORIZED``: basic keys are read with
    ``get_basic_selection``, outer keys with ``oindex`` and vectorized keys with
    ``vindex``; nothing outside the selected chunks is read.

    Parameters
    ----------
    array : zarrdask.Array
        The array to wrap.
    """

    __slots__ = ("_array", "dtype", "shape")

    def __init__(self, array: Array) -> None:
        self._array = array
        self.shape = tuple(array.shape)
        dtype = array.dtype
        if dtype == np.dtype(object) and _is_vlen_utf8(array):
            dtype = coding.strings.create_vlen_dtype(str)
        self.dtype = dtype

    def get_array(self) -> Array:
        """The wrapped zarrdask array."""
        return self._array

    def _basic(self, key: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(self._array.get_basic_selection(key))

    def _outer(self, key: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(self._array.get_orthogonal_selection(key))

    def _vectorized(self, key: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(self._array.vindex[_arrayize(key, self.shape)])

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        if isinstance(key, indexing.VectorizedIndexer):
            method = self._vectorized
        elif isinstance(key, indexing.OuterIndexer):
            method = self._outer
        elif isinstance(key, indexing.BasicIndexer):
            method = self._basic
        else:
            raise TypeError(f"unexpected indexer type {type(key).__name__} for a zarrdask array")
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.VECTORIZED, method
        )


# --------------------------------------------------------------------------- the data store


def decode_fill_value_attr(value: Any, dtype: np.dtype) -> Any:
    """Decode a ``_FillValue`` attribute as xarray writes it for Zarr.

    Floats are base64 of a little-endian double, complex numbers a pair of those,
    byte strings base64; other kinds are stored as plain JSON values.

    Examples
    --------
    >>> decode_fill_value_attr("AAAAAAAA+H8=", np.dtype("f4"))
    nan
    """
    if dtype.kind == "f" and isinstance(value, str):
        return struct.unpack("<d", base64.standard_b64decode(value))[0]
    if dtype.kind == "c" and isinstance(value, list | tuple) and len(value) == 2:
        real, imag = (struct.unpack("<d", base64.standard_b64decode(v))[0] for v in value)
        return complex(real, imag)
    if dtype.kind == "S" and isinstance(value, str):
        return base64.standard_b64decode(value)
    if dtype.kind in "iu" and isinstance(value, int | float):
        return int(value)
    if dtype.kind == "b":
        return bool(value)
    return value


def _dims_of(array: Array, name: str) -> tuple[str, ...]:
    dims = array.attrs.get(DIMENSION_KEY)
    if dims is None:
        raise KeyError(
            f"array {name!r} (store path {array.path!r}) has no {DIMENSION_KEY!r} attribute, "
            "which xarray needs to name its dimensions; write it, e.g. "
            f"`z.attrs[{DIMENSION_KEY!r}] = ['x', 'y']`"
        )
    dims = tuple(dims) if isinstance(dims, list | tuple) else (dims,)
    if len(dims) != array.ndim:
        raise ValueError(
            f"array {name!r} has {array.ndim} dimensions but {DIMENSION_KEY}={list(dims)!r} "
            f"names {len(dims)}"
        )
    return dims


def _consolidated_metadata_store(store: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The read-only metadata view of a store's ``.zmetadata`` (no staleness check: that
    would read every metadata document, which consolidation exists to avoid)."""
    from zarrdask.consolidated import ConsolidatedMetadataStore

    return ConsolidatedMetadataStore(store, CONSOLIDATED_KEY)


class ZarrdaskDataStore(AbstractDataStore):
    """One group of a Zarr v2 hierarchy seen as an xarray data store (read only).

    Use :meth:`open`; the constructor takes already opened pieces.

    Parameters
    ----------
    store : MutableMapping
        The store holding the chunks.
    meta_store : MutableMapping
        Where metadata is read: ``store`` itself, or the consolidated view.
    path : str
        The group's path in the store.
    synchronizer : object, optional
        Passed to every array.
    use_zarr_fill_value_as_mask : bool
        Report each array's ``fill_value`` as its ``_FillValue`` attribute.
    close_store : bool
        Close ``store`` (if it has ``close``) when the dataset is closed.
    """

    __slots__ = ("_arrays", "_close_store", "_mask", "_meta_store", "_path", "_store",
                 "_synchronizer")

    def __init__(self, store: MutableMapping[str, Any], meta_store: MutableMapping[str, Any],
                 path: str, synchronizer: Any = None, use_zarr_fill_value_as_mask: bool = True,
                 close_store: bool = False) -> None:
        self._store = store
        self._meta_store = meta_store
        self._path = path
        self._synchronizer = synchronizer
        self._mask = use_zarr_fill_value_as_mask
        self._close_store = close_store
        self._arrays: dict[str, Array] | None = None

    @classmethod
    def open(cls, filename_or_obj: Any, *, group: str | None = None,
             consolidated: bool | None = None, storage_options: dict[str, Any] | None = None,
             synchronizer: Any = None,
             use_zarr_fill_value_as_mask: bool | None = None) -> ZarrdaskDataStore:
        """Open the group ``group`` of a path, URL or store for reading.

        Raises
        ------
        FileNotFoundError
            If there is no group at ``group``, or ``consolidated=True`` and the store
            has no ``.zmetadata``.
        """
        path = normalize_storage_path(group)
        made_here = not isinstance(filename_or_obj, MutableMapping)
        store = normalize_store_arg(filename_or_obj, storage_options=storage_options, mode="r")
        meta_store = store
        if consolidated is not False:
            if CONSOLIDATED_KEY in store:
                meta_store = _consolidated_metadata_store(store)
            elif consolidated:
                raise FileNotFoundError(
                    f"consolidated=True but {_describe(filename_or_obj)} has no "
                    f"{CONSOLIDATED_KEY!r}; pass consolidated=None to read without it"
                )
        if not contains_group(meta_store, path):
            hint = ("an array is there; pass group=... naming the group that holds it"
                    if contains_array(meta_store, path) else "nothing is there")
            raise FileNotFoundError(
                f"no Zarr group at path {path!r} of {_describe(filename_or_obj)}: {hint}")
        mask = True if use_zarr_fill_value_as_mask is None else bool(use_zarr_fill_value_as_mask)
        return cls(store, meta_store, path, synchronizer, mask, close_store=made_here)

    @property
    def arrays(self) -> dict[str, Array]:
        """The group's arrays by name, opened once (sorted by name)."""
        if self._arrays is None:
            chunk_store = None if self._meta_store is self._store else self._store
            listed = listdir(self._meta_store, self._path)
            ahead = MetadataReadAhead(self._meta_store)  # overlaps cold metadata reads
            names = []
            for n in sorted(listed):
                start = ahead.start(self._path)
                if contains_array(self._meta_store, join_path(self._path, n)):
                    names.append(n)
                ahead.finish(self._path, start, listed)
            self._arrays = {
                n: Array(self._meta_store, path=join_path(self._path, n), read_only=True,
                         chunk_store=chunk_store, synchronizer=self._synchronizer)
                for n in names
            }
        return self._arrays

    def open_store_variable(self, name: str) -> xr.Variable:
        """The still encoded variable for array ``name`` (data not read)."""
        return store_variable(self.arrays[name], name, self._mask)

    def get_variables(self) -> dict[str, xr.Variable]:
        """Every array as an encoded, lazily indexed variable."""
        return {name: self.open_store_variable(name) for name in self.arrays}

    def get_attrs(self) -> dict[str, Any]:
        """The group's attributes, without netCDF-internal ``_nc*`` keys."""
        from zarrdask.attrs import Attributes

        attrs = Attributes(self._meta_store, key=prefix_of(self._path) + ".zattrs",
                           read_only=True).asdict()
        return {k: v for k, v in attrs.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> dict[str, int]:
        """Dimension lengths over all arrays.

        Raises
        ------
        ValueError
            If two arrays give one dimension different lengths.
        """
        sizes: dict[str, int] = {}
        for name, array in self.arrays.items():
            for dim, size in zip(_dims_of(array, name), array.shape, strict=True):
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(f"found conflicting lengths for dimension {dim!r}: "
                                     f"{size} in array {name!r}, {sizes[dim]} elsewhere")
        return sizes

    def close(self) -> None:
        """Close the store if it was opened here from a path or URL."""
        if self._close_store and hasattr(self._store, "close"):
            self._store.close()


def store_variable(array: Array, name: str, use_fill_value_as_mask: bool = True,
                   data: Any = None) -> xr.Variable:
    """Describe one array as an encoded xarray variable (before CF decoding).

    Parameters
    ----------
    array : zarrdask.Array
        The array.
    name : str
        Its variable name (for messages).
    use_fill_value_as_mask : bool
        Put the array's ``fill_value`` into the ``_FillValue`` attribute.
    data : array-like, optional
        The variable's data; default a lazily indexed :class:`ZarrdaskBackendArray`.
    """
    dims = _dims_of(array, name)
    raw_attrs = array.attrs.asdict()
    attrs = {k: v for k, v in raw_attrs.items()
             if k != DIMENSION_KEY and not k.lower().startswith("_nc")}
    if use_fill_value_as_mask:
        if array.fill_value is not None:
            attrs["_FillValue"] = array.fill_value
    elif "_FillValue" in attrs:
        attrs["_FillValue"] = decode_fill_value_attr(attrs["_FillValue"], array.dtype)
    chunks = tuple(array.chunks)
    encoding = {
        "chunks": chunks,
        "preferred_chunks": dict(zip(dims, chunks, strict=True)),
        "compressor": array.compressor,
        "filters": array.filters,
    }
    if data is None:
        data = indexing.LazilyIndexedArray(ZarrdaskBackendArray(array))
    return xr.Variable(dims, data, attrs, encoding)


def _describe(obj: Any) -> str:
    if isinstance(obj, str | os.PathLike):
        return repr(os.fspath(obj))
    return f"store {type(obj).__name__}"


# ------------------------------------------------------------------------------ the engine


class ZarrdaskBackendEntrypoint(BackendEntrypoint):
    """Open Zarr v2 groups with zarrdask: ``xr.open_dataset(path, engine="zarrdask")``.

    It claims zarrdask store objects by itself; paths are opened only when asked
    with ``engine="zarrdask"`` (xarray's own ``zarr`` engine claims ``*.zarr``).

    Examples
    --------
    >>> import xarray as xr, numpy as np, zarrdask
    >>> store = zarrdask.MemoryStore()
    >>> zarrdask.xarray_backend.to_zarr(xr.Dataset({"a": ("x", np.arange(3))}), store)
    >>> xr.open_dataset(store, engine="zarrdask")["a"].values
    array([0, 1, 2])
    """

    description = "Open Zarr v2 stores (.zarr, fsspec URLs, zarrdask stores) with zarrdask"
    url = "https://github.com/zarrdask/zarrdask"
    open_dataset_parameters = (
        "filename_or_obj", "drop_variables", *_DECODE_OPTIONS, "group", "consolidated",
        "storage_options", "synchronizer", "use_zarr_fill_value_as_mask",
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True only for zarrdask stores and data stores; paths need ``engine="zarrdask"``."""
        return isinstance(filename_or_obj, BaseStore | ZarrdaskDataStore)

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        mask_and_scale: bool = True,
        decode_times: bool = True,
        concat_characters: bool = True,
        decode_coords: bool | str = True,
        use_cftime: bool | None = None,
        decode_timedelta: bool | None = None,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        synchronizer: Any = None,
        use_zarr_fill_value_as_mask: bool | None = None,
    ) -> xr.Dataset:
        """Open one group as a Dataset, lazily; CF decoding is xarray's.

        Parameters
        ----------
        filename_or_obj : str, os.PathLike, MutableMapping or ZarrdaskDataStore
            A local path, an fsspec URL, or a store.
        group : str, optional
            Path of the group within the store (default the root).
        consolidated : bool, optional
            ``None`` uses ``.zmetadata`` when present, ``True`` requires it,
            ``False`` ignores it.
        storage_options : dict, optional
            fsspec options for URLs.
        synchronizer : object, optional
            Locks for the arrays.
        use_zarr_fill_value_as_mask : bool, optional
            Treat each array's ``fill_value`` as ``_FillValue`` (default True).
        drop_variables, mask_and_scale, decode_times, concat_characters, decode_coords,
        use_cftime, decode_timedelta
            As in :func:`xarray.open_dataset`.
        """
        if isinstance(filename_or_obj, ZarrdaskDataStore):
            data_store = filename_or_obj
        else:
            data_store = ZarrdaskDataStore.open(
                filename_or_obj, group=group, consolidated=consolidated,
                storage_options=storage_options, synchronizer=synchronizer,
                use_zarr_fill_value_as_mask=use_zarr_fill_value_as_mask,
            )
        try:
            ds = StoreBackendEntrypoint().open_dataset(
                data_store, mask_and_scale=mask_and_scale, decode_times=decode_times,
                concat_characters=concat_characters, decode_coords=decode_coords,
                drop_variables=drop_variables, use_cftime=use_cftime,
                decode_timedelta=decode_timedelta,
            )
        except BaseException:
            data_store.close()
            raise
        return ds


# ------------------------------------------------------------------ open_zarr via to_dask


def open_zarr(
    store: Any,
    group: str | None = None,
    chunks: Mapping[str, int] | None = None,
    *,
    decode_cf: bool = True,
    mask_and_scale: bool = True,
    decode_times: bool = True,
    concat_characters: bool = True,
    decode_coords: bool | str = True,
    drop_variables: str | Iterable[str] | None = None,
    consolidated: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    synchronizer: Any = None,
    use_cftime: bool | None = None,
    decode_timedelta: bool | None = None,
    use_zarr_fill_value_as_mask: bool | None = None,
) -> xr.Dataset:
    """Open a group as a dask-backed Dataset built by zarrdask's own graph builder.

    Like ``xr.open_zarr``: every variable (dimension coordinates aside, which are
    loaded to build indexes) is a dask array made by :func:`zarrdask.dask_array.to_dask`,
    with tasks aligned to the store chunks; CF decoding then applies lazily.

    Parameters
    ----------
    store : str, os.PathLike or MutableMapping
        Path, URL or store.
    group : str, optional
        Path of the group.
    chunks : dict, optional
        ``{dim: n}`` where ``n`` is a multiple of the store chunk along ``dim``
        (several chunks per task); missing dims use the store chunks.
    decode_cf : bool
        False turns every CF decoder off.
    consolidated, storage_options, synchronizer, use_zarr_fill_value_as_mask
        As in :meth:`ZarrdaskBackendEntrypoint.open_dataset`.
    mask_and_scale, decode_times, concat_characters, decode_coords, drop_variables,
    use_cftime, decode_timedelta
        As in :func:`xarray.open_dataset`.

    Raises
    ------
    ValueError
        If a requested chunk size is not a multiple of the store chunk.
    """
    from zarrdask.dask_array import to_dask

    data_store = ZarrdaskDataStore.open(
        store, group=group, consolidated=consolidated, storage_options=storage_options,
        synchronizer=synchronizer, use_zarr_fill_value_as_mask=use_zarr_fill_value_as_mask,
    )
    chunks = dict(chunks or {})
    variables = {}
    for name, array in data_store.arrays.items():
        dims = _dims_of(array, name)
        task_chunks = []
        for dim, c in zip(dims, array.chunks, strict=True):
            want = chunks.get(dim, c)
            if want % c:
                raise ValueError(f"chunks[{dim!r}]={want} is not a multiple of the store "
                                 f"chunk {c} of array {name!r}")
            task_chunks.append(want)
        data = to_dask(array, chunks=tuple(task_chunks)) if array.ndim else array[...]
        variables[name] = store_variable(array, name, data_store._mask, data=data)
    if not decode_cf:
        mask_and_scale = decode_times = concat_characters = decode_coords = False
        decode_timedelta = False
    decoded, attrs, coord_names = conventions.decode_cf_variables(
        variables, data_store.get_attrs(), mask_and_scale=mask_and_scale,
        decode_times=decode_times, concat_characters=concat_characters,
        decode_coords=decode_coords, drop_variables=drop_variables, use_cftime=use_cftime,
        decode_timedelta=decode_timedelta,
    )
    coord_vars = {n: v for n, v in decoded.items() if n in coord_names or v.dims == (n,)}
    data_vars = {n: v for n, v in decoded.items() if n not in coord_vars}
    index_vars = {n: v.load() for n, v in coord_vars.items() if v.dims == (n,)}
    coords = xr.Coordinates(index_vars) if index_vars else None
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    other = {n: v for n, v in coord_vars.items() if n not in index_vars}
    if other:
        ds = ds.assign_coords(xr.Coordinates(other, indexes={}))
    ds.set_close(data_store.close)
    return ds


# ----------------------------------------------------------------------------- the writer


def dataset_to_zarr(dataset: xr.Dataset | xr.DataArray, store: Any = None,
                    **kwargs: Any) -> Any:
    """Write a Dataset as xarray's Zarr v2 layout; see :func:`zarrdask.xarray_writer.to_zarr`."""
    from zarrdask.xarray_writer import to_zarr as _to_zarr

    return _to_zarr(dataset, store, **kwargs)


to_zarr = dataset_to_zarr


@xr.register_dataset_accessor("zarrdask")
class _ZarrdaskAccessor:
    """``ds.zarrdask.to_zarr(store, ...)``: the zarrdask writer as a Dataset method."""

    def __init__(self, dataset: xr.Dataset) -> None:
        self._dataset = dataset

    def to_zarr(self, store: Any = None, **kwargs: Any) -> Any:
        """Write this Dataset with :func:`zarrdask.xarray_writer.to_zarr`."""
        return dataset_to_zarr(self._dataset, store, **kwargs)

