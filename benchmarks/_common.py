"""Shared vocabulary of the benchmark: sizes, compressor, selections and the backend interface.

Imported by ``bench.py`` (this Python) and by ``_zarr3_worker.py`` (the ``.venvs/zarr3``
Python), so it needs nothing but the standard library and numpy.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COMPRESSOR_CONFIG",
    "FULL",
    "QUICK",
    "Backend",
    "Params",
    "Selection",
    "StoreSpec",
    "Unsupported",
    "drop_caches",
    "prefault",
    "make_float_data",
    "make_int_data",
    "make_points",
]

#: The one compressor every implementation uses (numcodecs config / zarr v2 ``compressor``).
COMPRESSOR_CONFIG: dict[str, Any] = {
    "id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0,
}
#: Fill value of every array the benchmark creates.
FILL_VALUE = 0
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


class Unsupported(Exception):  # noqa: N818 - a reason, reported as "n/a", not an error
    """An implementation cannot do this operation (the report shows "n/a" and the reason)."""


@dataclass(frozen=True, slots=True)
class Params:
    """Sizes of every workload; :data:`FULL` is the issue's table, :data:`QUICK` a smoke run.

    Parameters
    ----------
    shape, chunks : tuple of int
        The W1 int32 array (W1..W6).
    region : tuple of (start, stop)
        W3's unaligned region, one pair per axis.
    row, col : int
        W4's row and column.
    n_points : int
        W5's number of random points.
    small_shape, small_chunks : tuple of int
        W7's float64 array with small chunks.
    groups, arrays_per_group : int
        W8's hierarchy: ``groups`` groups of ``arrays_per_group`` arrays each.
    node_shape, node_chunks : tuple of int
        Shape and chunks of every W8 array (int32, no data written).
    seed : int
        Seed of the data and the points.
    """

    shape: tuple[int, int]
    chunks: tuple[int, int]
    region: tuple[tuple[int, int], tuple[int, int]]
    row: int
    col: int
    n_points: int
    small_shape: tuple[int, int]
    small_chunks: tuple[int, int]
    groups: int
    arrays_per_group: int
    node_shape: tuple[int, int]
    node_chunks: tuple[int, int]
    seed: int = 0

    @property
    def n_arrays(self) -> int:
        """Number of arrays in the W8 hierarchy."""
        return self.groups * self.arrays_per_group

    def node_names(self) -> list[str]:
        """Paths of the W8 arrays below the root, ``g{i}/a{j}``."""
        return [f"g{i}/a{j}" for i in range(self.groups) for j in range(self.arrays_per_group)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for the zarr 3 worker)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Params:
        """Inverse of :meth:`to_json`."""
        def pair(v: Any) -> tuple[int, int]:
            return (int(v[0]), int(v[1]))
        return cls(
            shape=pair(doc["shape"]), chunks=pair(doc["chunks"]),
            region=(pair(doc["region"][0]), pair(doc["region"][1])),
            row=int(doc["row"]), col=int(doc["col"]), n_points=int(doc["n_points"]),
            small_shape=pair(doc["small_shape"]), small_chunks=pair(doc["small_chunks"]),
            groups=int(doc["groups"]), arrays_per_group=int(doc["arrays_per_group"]),
            node_shape=pair(doc["node_shape"]), node_chunks=pair(doc["node_chunks"]),
            seed=int(doc["seed"]),
        )


FULL = Params(
    shape=(10_000, 10_000), chunks=(1_000, 1_000), region=((500, 2000), (3500, 5000)),
    row=4321, col=5678, n_points=100_000,
    small_shape=(4_000, 4_000), small_chunks=(100, 100),
    groups=10, arrays_per_group=50, node_shape=(100, 100), node_chunks=(10, 10),
)
QUICK = Params(
    shape=(2_000, 2_000), chunks=(500, 500), region=((100, 400), (700, 1000)),
    row=1234, col=567, n_points=10_000,
    small_shape=(1_000, 1_000), small_chunks=(100, 100),
    groups=4, arrays_per_group=10, node_shape=(100, 100), node_chunks=(10, 10),
)


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """Where an array lives: a directory (``path``) or an in-memory store named ``name``."""

    kind: str  # "dir" or "memory"
    path: str = ""
    name: str = ""

    @classmethod
    def directory(cls, path: str | Path) -> StoreSpec:
        """A DirectoryStore at ``path``."""
        return cls("dir", path=str(path))

    @classmethod
    def memory(cls, name: str) -> StoreSpec:
        """An in-memory store kept by the backend under ``name`` until freed."""
        return cls("memory", name=name)


@dataclass(frozen=True, slots=True)
class Selection:
    """What a read asks for: everything, a basic index (ints and slices) or points.

    Parameters
    ----------
    kind : str
        ``"all"``, ``"basic"`` or ``"points"``.
    index : tuple
        For ``"basic"``: one ``int`` or ``slice`` per axis.
    points : tuple of ndarray
        For ``"points"``: one integer array per axis (coordinate selection).
    """

    kind: str
    index: tuple[Any, ...] = ()
    points: tuple[np.ndarray, ...] = ()

    def expected(self, data: np.ndarray) -> np.ndarray:
        """The numpy oracle: what the read must return."""
        if self.kind == "all":
            return data
        if self.kind == "basic":
            return data[self.index]
        return data[self.points]


class Backend:
    """One implementation's operations. Every method is the whole timed operation.

    Implementations keep in-memory stores in ``self.memory`` (name -> store object) between a
    write and the reads that follow, until :meth:`free`.
    """

    name = "?"

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}

    def version(self) -> str:
        """The implementation's version string."""
        return "?"

    def write(self, data: np.ndarray, chunks: tuple[int, ...], store: StoreSpec) -> None:
        """Create an array (Blosc lz4 clevel 5 shuffle, fill 0) at ``store``; write ``data``."""
        raise NotImplementedError

    def read(self, store: StoreSpec, selection: Selection) -> np.ndarray:
        """Open the array at ``store`` and read ``selection`` from it."""
        raise NotImplementedError

    def free(self, store: StoreSpec) -> None:
        """Forget an in-memory store."""
        self.memory.pop(store.name, None)

    def create_hierarchy(self, root: str, params: Params) -> None:
        """Create a root group, ``params.groups`` groups and ``params.n_arrays`` arrays."""
        raise Unsupported(f"{self.name} has no hierarchy support in this benchmark")

    def consolidate(self, root: str) -> None:
        """Write consolidated metadata (``.zmetadata``) for the hierarchy at ``root``."""
        raise Unsupported(f"{self.name} has no consolidated metadata in this benchmark")

    def open_hierarchy(self, root: str, names: list[str], consolidated: bool) -> list[tuple]:
        """Open the root group and every array in ``names``; return their shapes."""
        raise Unsupported(f"{self.name} has no hierarchy support in this benchmark")


def drop_caches() -> bool:
    """Flush dirty pages and drop the page cache if this process may; return whether it did."""
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def prefault(nbytes: int) -> None:
    """Touch and free ``nbytes`` of fresh memory, so the next large allocation is cheap for all.

    On this VM, memory the guest has left free for a second or two is handed back to the
    host, and the next process to allocate a few hundred MB pays for faulting it in again
    (measured: +0.1 to +0.3 s on W2, always for whichever implementation ran first after a
    pause). Touching that much memory right before every timed operation gives every
    implementation the same, backed, starting state.
    """
    if nbytes > 0:
        block = np.ones(nbytes, np.uint8)
        del block


def make_int_data(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Compressible but not trivial int32 data: a ramp with random low bits."""
    n = shape[0] * shape[1]
    data = np.arange(n, dtype="i4")
    data ^= np.random.default_rng(seed).integers(0, 256, n, dtype="i4")
    return data.reshape(shape)


def make_float_data(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """float64 data on a 1/16 grid: a ramp plus random steps (shuffle helps, not trivially)."""
    n = shape[0] * shape[1]
    steps = np.random.default_rng(seed + 1).integers(0, 64, n)
    return ((np.arange(n) + steps) / 16.0).reshape(shape)


def make_points(shape: tuple[int, int], n: int, seed: int = 0) -> np.ndarray:
    """``n`` random coordinates in ``shape``, as an int64 array of shape ``(2, n)``."""
    rng = np.random.default_rng(seed + 2)
    return np.stack([rng.integers(0, s, n) for s in shape]).astype(np.int64)
