"""The workloads W1..W8 of issue 6, written once against :class:`_common.Backend`.

Each workload does its own untimed set-up (removing old stores, dropping the page cache,
writing the array a read needs), times only the operation the issue names, and checks the
values read against numpy. The same functions run in this process (zarrdask, zarr-python 2,
tensorstore, LIMIT) and in the zarr 3 worker, so every implementation gets the same steps.
Standard library and numpy only (the zarr 3 venv imports this too).
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Backend,
    Params,
    Selection,
    StoreSpec,
    Unsupported,
    drop_caches,
    make_float_data,
    make_int_data,
    make_points,
    prefault,
)

__all__ = ["WORKLOADS", "Env", "WorkloadResult", "rows_of", "run_workload", "warm_up"]


@dataclass(slots=True)
class Env:
    """What a workload gets.

    Parameters
    ----------
    params : Params
        The sizes.
    data : dict
        ``"w1"`` (int32, ``params.shape``), ``"w7"`` (float64, ``params.small_shape``) and
        ``"points"`` (int64, ``(2, params.n_points)``).
    workdir : Path
        This implementation's scratch folder (its stores live here).
    cold : bool
        Drop the page cache before every timed file operation.
    prefault_bytes : int
        Memory touched and freed before every timed operation (see :func:`_common.prefault`).
    """

    params: Params
    data: dict[str, np.ndarray]
    workdir: Path
    cold: bool
    prefault_bytes: int = 0

    @property
    def scratch(self) -> Path:
        """The folder every implementation writes its timed new stores in (in turn).

        Where a new folder lands on disk depends on its parent (ext4 spreads top-level
        folders over the disk): creating 500 arrays took 0.10 s under one parent and
        0.21 s under another, for zarr-python and zarrdask alike. So timed writes go to
        the same path for everyone; W1's store then moves to ``workdir`` for the reads.
        """
        return self.workdir.parent / "scratch"


@dataclass(slots=True)
class WorkloadResult:
    """Seconds per report row (or ``"n/a: reason"``), plus facts such as stored bytes."""

    rows: dict[str, float | str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (from the zarr 3 worker)."""
        return {"rows": self.rows, "info": self.info}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> WorkloadResult:
        """Inverse of :meth:`to_json`."""
        return cls(rows=dict(doc["rows"]), info=dict(doc.get("info", {})))


def _settle(env: Env, files: bool = True) -> None:
    """Before a timed operation: drop the page cache (file workloads), then prefault."""
    if env.cold and files:
        drop_caches()
    prefault(env.prefault_bytes)


def _timed_row(result: WorkloadResult, row: str, op: Callable[..., Any], *args: Any) -> Any:
    """Time ``op(*args)`` into ``result.rows[row]``; an :class:`Unsupported` becomes "n/a"."""
    try:
        start = time.perf_counter()
        value = op(*args)
        result.rows[row] = time.perf_counter() - start
    except Unsupported as exc:
        result.rows[row] = f"n/a: {exc}"
        return None
    return value


def _check(backend: Backend, row: str, got: Any, expected: np.ndarray) -> None:
    if got is None:
        return
    got = np.asarray(got)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        raise AssertionError(
            f"{backend.name} {row}: read back shape {got.shape} with different values "
            f"from the numpy oracle (expected shape {expected.shape})"
        )


_retired = itertools.count()


def _retire(env: Env, path: Path | str) -> None:
    """Move an old store out of the way (into ``trash``), instead of deleting it now.

    The run's folder, trash included, is deleted when the benchmark ends. Deleting
    a store just before a timed write skews every implementation's time: on ext4
    without a journal (this machine's disk) the inode allocator skips inodes freed
    in the last few seconds, so creating 1,600 chunk files right after deleting
    1,600 took 0.30 s instead of 0.24 s for zarrdask and 0.37 instead of 0.27 s for
    zarr-python 2.18 (medians of 7, caches dropped in both cases). A rename keeps
    the inodes in use, and the path every implementation writes to stays the same.
    """
    path = Path(path)
    if not path.exists():
        return
    trash = env.workdir.parent / "trash"
    trash.mkdir(parents=True, exist_ok=True)
    os.replace(path, trash / f"{os.getpid()}-{next(_retired)}-{path.name}")


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _w1_store(env: Env) -> StoreSpec:
    return StoreSpec.directory(env.workdir / "w1.zarr")


def _ensure_w1(backend: Backend, env: Env) -> StoreSpec:
    """The W1 array of this backend, written (untimed) if W1 did not run yet."""
    store = _w1_store(env)
    if not (Path(store.path) / ".zarray").exists():
        backend.write(env.data["w1"], env.params.chunks, store)
    return store


def _read_row(backend: Backend, env: Env, result: WorkloadResult, row: str,
              selection: Selection) -> None:
    store = _ensure_w1(backend, env)
    _settle(env)
    got = _timed_row(result, row, backend.read, store, selection)
    _check(backend, row, got, selection.expected(env.data["w1"]))


def w1(backend: Backend, env: Env) -> WorkloadResult:
    """Write the int32 array to a directory store (in the shared scratch folder)."""
    result = WorkloadResult()
    final = _w1_store(env)
    store = StoreSpec.directory(env.scratch / "w1.zarr")
    _retire(env, final.path)
    _retire(env, store.path)
    env.scratch.mkdir(parents=True, exist_ok=True)
    _settle(env)
    _timed_row(result, "W1", backend.write, env.data["w1"], env.params.chunks, store)
    if Path(store.path).exists():
        result.info["stored_bytes"] = _dir_size(Path(store.path))
        Path(final.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(store.path, final.path)  # the reads (W2..W5) use this implementation's own
    return result


def w2(backend: Backend, env: Env) -> WorkloadResult:
    """Read the W1 array whole."""
    result = WorkloadResult()
    _read_row(backend, env, result, "W2", Selection("all"))
    return result


def w3(backend: Backend, env: Env) -> WorkloadResult:
    """Read the unaligned region."""
    (r0, r1), (c0, c1) = env.params.region
    result = WorkloadResult()
    _read_row(backend, env, result, "W3", Selection("basic", (slice(r0, r1), slice(c0, c1))))
    return result


def w4(backend: Backend, env: Env) -> WorkloadResult:
    """Read one row, then one column (two rows of the report)."""
    result = WorkloadResult()
    _read_row(backend, env, result, "W4 row", Selection("basic", (env.params.row, slice(None))))
    _read_row(backend, env, result, "W4 col", Selection("basic", (slice(None), env.params.col)))
    return result


def w5(backend: Backend, env: Env) -> WorkloadResult:
    """Read random points (coordinate selection)."""
    points = env.data["points"]
    result = WorkloadResult()
    _read_row(backend, env, result, "W5", Selection("points", points=(points[0], points[1])))
    return result


def w6(backend: Backend, env: Env) -> WorkloadResult:
    """Write the W1 array to an in-memory store, then read it whole."""
    result = WorkloadResult()
    store = StoreSpec.memory("w6")
    backend.free(store)
    try:
        _settle(env, files=False)
        _timed_row(result, "W6 write", backend.write, env.data["w1"], env.params.chunks, store)
        if isinstance(result.rows["W6 write"], float):
            _settle(env, files=False)
            got = _timed_row(result, "W6 read", backend.read, store, Selection("all"))
            _check(backend, "W6 read", got, env.data["w1"])
        else:
            result.rows["W6 read"] = result.rows["W6 write"]
    finally:
        backend.free(store)
    return result


def w7(backend: Backend, env: Env) -> WorkloadResult:
    """Write and read the float64 array with small chunks (per-chunk overhead)."""
    result = WorkloadResult()
    store = StoreSpec.directory(env.scratch / "w7.zarr")
    _retire(env, store.path)
    env.scratch.mkdir(parents=True, exist_ok=True)
    _settle(env)
    _timed_row(result, "W7 write", backend.write, env.data["w7"], env.params.small_chunks, store)
    _settle(env)
    got = _timed_row(result, "W7 read", backend.read, store, Selection("all"))
    _check(backend, "W7 read", got, env.data["w7"])
    return result


def _check_shapes(backend: Backend, row: str, shapes: Any, params: Params) -> None:
    if shapes is None:
        return
    wanted = [tuple(params.node_shape)] * params.n_arrays
    if [tuple(s) for s in shapes] != wanted:
        raise AssertionError(f"{backend.name} {row}: opened {len(shapes)} arrays, expected "
                             f"{params.n_arrays} of shape {params.node_shape}")


def w8(backend: Backend, env: Env) -> WorkloadResult:
    """Create the hierarchy; open every array plainly, then through consolidated metadata."""
    result = WorkloadResult()
    root = env.scratch / "w8.zarr"
    _retire(env, root)
    env.scratch.mkdir(parents=True, exist_ok=True)
    names = env.params.node_names()
    _settle(env)
    _timed_row(result, "W8 create", backend.create_hierarchy, str(root), env.params)
    if not isinstance(result.rows["W8 create"], float):
        result.rows["W8 open"] = result.rows["W8 open consolidated"] = result.rows["W8 create"]
        return result
    _settle(env)
    shapes = _timed_row(result, "W8 open", backend.open_hierarchy, str(root), names, False)
    _check_shapes(backend, "W8 open", shapes, env.params)
    try:
        backend.consolidate(str(root))  # untimed set-up of the next row
    except Unsupported as exc:
        result.rows["W8 open consolidated"] = f"n/a: {exc}"
        return result
    _settle(env)
    shapes = _timed_row(result, "W8 open consolidated", backend.open_hierarchy, str(root),
                        names, True)
    _check_shapes(backend, "W8 open consolidated", shapes, env.params)
    return result


#: Workloads by name, in report order.
WORKLOADS: dict[str, Callable[[Backend, Env], WorkloadResult]] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6, "W7": w7, "W8": w8,
}


def rows_of(params: Params) -> dict[str, list[tuple[str, str]]]:
    """Report rows of each workload: (row name, description) for these sizes."""
    (r0, r1), (c0, c1) = params.region
    big = f"{params.shape[0]}x{params.shape[1]} int32, chunks {params.chunks[0]}x{params.chunks[1]}"
    small = (f"{params.small_shape[0]}x{params.small_shape[1]} float64, chunks "
             f"{params.small_chunks[0]}x{params.small_chunks[1]}")
    tree = f"{params.n_arrays} arrays in {params.groups} groups"
    return {
        "W1": [("W1", f"write {big}, directory store")],
        "W2": [("W2", "read it whole")],
        "W3": [("W3", f"read region [{r0}:{r1}, {c0}:{c1}]")],
        "W4": [("W4 row", f"read row {params.row}"), ("W4 col", f"read column {params.col}")],
        "W5": [("W5", f"read {params.n_points:,} random points")],
        "W6": [("W6 write", "write the W1 array, in memory"),
               ("W6 read", "read it whole, in memory")],
        "W7": [("W7 write", f"write {small}"), ("W7 read", "read it whole")],
        "W8": [("W8 create", f"create {tree}"), ("W8 open", "open them all"),
               ("W8 open consolidated", "open them all, consolidated")],
    }



def run_workload(name: str, backend: Backend, env: Env) -> WorkloadResult:
    """Run workload ``name`` once."""
    try:
        workload = WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; expected one of {list(WORKLOADS)}") from None
    return workload(backend, env)


def warm_up(backend: Backend, workdir: Path) -> None:
    """Untimed: import lazily loaded code, start thread pools, touch every code path once."""
    small = Params(shape=(64, 64), chunks=(32, 32), region=((3, 40), (20, 50)), row=5, col=7,
                   n_points=50, small_shape=(40, 40), small_chunks=(10, 10), groups=1,
                   arrays_per_group=2, node_shape=(4, 4), node_chunks=(2, 2))
    env = Env(params=small, workdir=workdir, cold=False, data={
        "w1": make_int_data(small.shape), "w7": make_float_data(small.small_shape),
        "points": make_points(small.shape, small.n_points),
    })
    workdir.mkdir(parents=True, exist_ok=True)
    for name in WORKLOADS:
        run_workload(name, backend, env)
    for item in ("w1.zarr", "w7.zarr", "w8.zarr"):
        shutil.rmtree(workdir / item, ignore_errors=True)
