"""The implementations under test as :class:`_common.Backend`\\ s, and :func:`make_backend`.

zarrdask and zarr-python 2.18 share the zarr 2.x API (:class:`Zarr2APIBackend`); zarr-python 3
is driven with ``zarr_format=2`` (:class:`Zarr3Backend`, used inside ``_zarr3_worker.py``);
tensorstore through its ``zarr`` driver (:class:`TensorstoreBackend`). Libraries are imported
when a backend is made, so this module imports in any of the benchmark's environments.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

import numpy as np
from _common import (
    COMPRESSOR_CONFIG,
    FILL_VALUE,
    Backend,
    Params,
    Selection,
    StoreSpec,
    Unsupported,
)

__all__ = ["BACKEND_NAMES", "TensorstoreBackend", "Zarr2APIBackend", "Zarr3Backend",
           "make_backend"]


def _numcodecs_compressor() -> Any:
    import numcodecs
    return numcodecs.get_codec(dict(COMPRESSOR_CONFIG))


def _read_selection(array: Any, selection: Selection) -> np.ndarray:
    """``array[...]``, ``array[index]`` or ``array.vindex[points]`` (zarr-like arrays)."""
    if selection.kind == "all":
        return array[...]
    if selection.kind == "basic":
        return array[selection.index]
    return array.vindex[selection.points]


class Zarr2APIBackend(Backend):
    """A library with the zarr 2.x API: ``zarrdask`` or zarr-python 2.18 (``zarr``)."""

    def __init__(self, name: str, module_name: str) -> None:
        super().__init__()
        self.name = name
        self.lib = importlib.import_module(module_name)
        self.compressor = _numcodecs_compressor()

    def version(self) -> str:
        return str(self.lib.__version__)

    def _store(self, store: StoreSpec, create: bool = False) -> Any:
        if store.kind == "dir":
            return self.lib.DirectoryStore(store.path)
        if create:
            self.memory[store.name] = self.lib.MemoryStore()
        return self.memory[store.name]

    def write(self, data: np.ndarray, chunks: tuple[int, ...], store: StoreSpec) -> None:
        z = self.lib.open_array(
            self._store(store, create=True), mode="w", shape=data.shape, chunks=chunks,
            dtype=data.dtype, compressor=self.compressor, fill_value=FILL_VALUE,
        )
        z[...] = data

    def read(self, store: StoreSpec, selection: Selection) -> np.ndarray:
        return _read_selection(self.lib.open_array(self._store(store), mode="r"), selection)

    def _need(self, *names: str) -> list[Any]:
        missing = [n for n in names if not hasattr(self.lib, n)]
        if missing:
            raise Unsupported(f"{self.name} {self.version()} has no {', '.join(missing)} yet")
        return [getattr(self.lib, n) for n in names]

    def create_hierarchy(self, root: str, params: Params) -> None:
        open_group, directory_store = self._need("open_group", "DirectoryStore")
        top = open_group(directory_store(root), mode="w")
        for i in range(params.groups):
            group = top.create_group(f"g{i}")
            for j in range(params.arrays_per_group):
                group.create_dataset(
                    f"a{j}", shape=params.node_shape, chunks=params.node_chunks, dtype="<i4",
                    compressor=self.compressor, fill_value=FILL_VALUE,
                )

    def consolidate(self, root: str) -> None:
        (consolidate_metadata,) = self._need("consolidate_metadata")
        consolidate_metadata(self.lib.DirectoryStore(root))

    def open_hierarchy(self, root: str, names: list[str], consolidated: bool) -> list[tuple]:
        if consolidated:
            (open_consolidated,) = self._need("open_consolidated")
            top = open_consolidated(self.lib.DirectoryStore(root), mode="r")
        else:
            (open_group,) = self._need("open_group")
            top = open_group(self.lib.DirectoryStore(root), mode="r")
        return [top[name].shape for name in names]


class Zarr3Backend(Backend):
    """zarr-python 3 writing and reading Zarr v2 (``zarr_format=2``)."""

    name = "zarr3"

    def __init__(self) -> None:
        super().__init__()
        import warnings
        warnings.simplefilter("ignore")  # zarr 3 warns about v2 + numcodecs codecs
        self.zarr = importlib.import_module("zarr")
        self.compressor = _numcodecs_compressor()

    def version(self) -> str:
        import numcodecs
        return f"{self.zarr.__version__} (numcodecs {numcodecs.__version__})"

    def _store(self, store: StoreSpec, create: bool = False) -> Any:
        if store.kind == "dir":
            return store.path
        if create:
            self.memory[store.name] = self.zarr.storage.MemoryStore()
        return self.memory[store.name]

    def write(self, data: np.ndarray, chunks: tuple[int, ...], store: StoreSpec) -> None:
        z = self.zarr.create_array(
            store=self._store(store, create=True), shape=data.shape, chunks=chunks,
            dtype=data.dtype, compressors=self.compressor, filters=None, fill_value=FILL_VALUE,
            zarr_format=2, overwrite=True,
        )
        z[...] = data

    def read(self, store: StoreSpec, selection: Selection) -> np.ndarray:
        z = self.zarr.open_array(self._store(store), mode="r", zarr_format=2)
        return _read_selection(z, selection)

    def create_hierarchy(self, root: str, params: Params) -> None:
        top = self.zarr.open_group(root, mode="w", zarr_format=2)
        for i in range(params.groups):
            group = top.create_group(f"g{i}")
            for j in range(params.arrays_per_group):
                group.create_array(
                    f"a{j}", shape=params.node_shape, chunks=params.node_chunks, dtype="<i4",
                    compressors=self.compressor, filters=None, fill_value=FILL_VALUE,
                )

    def consolidate(self, root: str) -> None:
        self.zarr.consolidate_metadata(root, zarr_format=2)

    def open_hierarchy(self, root: str, names: list[str], consolidated: bool) -> list[tuple]:
        if consolidated:
            top = self.zarr.open_consolidated(root, zarr_format=2)
        else:
            top = self.zarr.open_group(root, mode="r", zarr_format=2, use_consolidated=False)
        return [top[name].shape for name in names]


class TensorstoreBackend(Backend):
    """tensorstore's ``zarr`` driver on its ``file`` (or ``memory``) kvstore.

    No fsync (``file_io_sync: false``, as the others do not fsync either) and no chunk
    cache (``cache_pool`` 0 bytes), so a read really reads. Default thread pools.
    """

    name = "tensorstore"

    def __init__(self) -> None:
        super().__init__()
        self.ts = importlib.import_module("tensorstore")
        self.context = self._new_context()

    def _new_context(self) -> Any:
        return self.ts.Context({"file_io_sync": False, "cache_pool": {"total_bytes_limit": 0}})

    def version(self) -> str:
        return importlib.metadata.version("tensorstore")

    def _spec(self, store: StoreSpec) -> tuple[dict[str, Any], Any]:
        if store.kind == "dir":
            return {"driver": "zarr", "kvstore": {"driver": "file", "path": store.path}}, \
                self.context
        if store.name not in self.memory:  # a memory kvstore lives in its context
            self.memory[store.name] = self._new_context()
        return {"driver": "zarr", "kvstore": {"driver": "memory"}}, self.memory[store.name]

    def write(self, data: np.ndarray, chunks: tuple[int, ...], store: StoreSpec) -> None:
        spec, context = self._spec(store)
        spec.update(create=True, delete_existing=True, metadata={
            "shape": list(data.shape), "chunks": list(chunks), "dtype": data.dtype.str,
            "compressor": dict(COMPRESSOR_CONFIG), "order": "C", "fill_value": FILL_VALUE,
            "filters": None, "dimension_separator": ".",
        })
        array = self.ts.open(spec, context=context).result()
        array.write(data).result()

    def read(self, store: StoreSpec, selection: Selection) -> np.ndarray:
        spec, context = self._spec(store)
        spec["open"] = True
        array = self.ts.open(spec, context=context, read=True).result()
        if selection.kind == "all":
            return array.read().result()
        if selection.kind == "basic":
            return array[selection.index].read().result()
        return array.vindex[selection.points].read().result()

    def create_hierarchy(self, root: str, params: Params) -> None:
        raise Unsupported("tensorstore has no Zarr groups or consolidated metadata")

    def open_hierarchy(self, root: str, names: list[str], consolidated: bool) -> list[tuple]:
        raise Unsupported("tensorstore has no Zarr groups or consolidated metadata")


#: Names :func:`make_backend` knows.
BACKEND_NAMES = ("zarrdask", "zarr2", "zarr3", "tensorstore", "limit")


def make_backend(name: str) -> Backend:
    """A fresh backend by name (imports its library)."""
    if name == "zarrdask":
        return Zarr2APIBackend("zarrdask", "zarrdask")
    if name == "zarr2":
        return Zarr2APIBackend("zarr2", "zarr")
    if name == "zarr3":
        return Zarr3Backend()
    if name == "tensorstore":
        return TensorstoreBackend()
    if name == "limit":
        from _limit import LimitBackend
        return LimitBackend()
    raise ValueError(f"unknown backend {name!r}; expected one of {BACKEND_NAMES}")
