"""Benchmark the xarray engine: open a Zarr v2 store with ``chunks={}`` and ``.mean().compute()``.

One 200x400x400 float32 variable (chunks 20x100x100, Blosc lz4 clevel 5 shuffle, as
xarray writes by default) is written once by zarrdask's Dataset writer into a
temporary folder; every implementation then reads that same store, in one run:

* ``zarrdask``: ``xr.open_dataset(path, engine="zarrdask", chunks={})`` in this process;
* ``zarrdask-open_zarr``: ``zarrdask.xarray_backend.open_zarr(path)`` (zarrdask's own
  dask graph builder), in this process;
* ``xarray+zarr2``: ``xr.open_zarr(path)`` with xarray 2026.2 and zarr-python 2.18.7, in
  ``.venvs/xarray-zarr2``;
* ``xarray+zarr3``: ``xr.open_zarr(path, zarr_format=2)`` with current xarray and
  zarr-python 3, in ``.venvs/zarr3`` (both venvs from ``ci/make_venvs.sh``).

The side venvs are driven through this same script (``--child IMPL PATH``), which times
inside the child after one untimed run, so start-up and one-off set-up are not counted.
Each timed run covers opening plus ``.mean().compute()`` with dask's default threaded
scheduler; every result is checked against the known mean. Implementations are
interleaved per repeat after one warm-up run each, so all see a warm page cache.
The report gives medians and zarrdask's ratios.

Usage::

    python benchmarks/bench_xarray.py --repeat 5
    python benchmarks/bench_xarray.py --shape 20,40,40 --repeat 1     # quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENVS = {"xarray+zarr2": ROOT / ".venvs" / "xarray-zarr2",
         "xarray+zarr3": ROOT / ".venvs" / "zarr3"}


def _time_open_mean(open_fn: Any) -> tuple[float, float]:
    start = time.perf_counter()
    ds = open_fn()
    value = float(ds["v"].mean().compute())
    elapsed = time.perf_counter() - start
    ds.close()
    return elapsed, value


def run_child(impl: str, path: str) -> dict[str, Any]:
    """Time one open + mean in this interpreter (which may be a side venv's)."""
    import xarray as xr

    if impl == "zarrdask":
        def opener() -> Any:
            return xr.open_dataset(path, engine="zarrdask", chunks={})
    elif impl == "zarrdask-open_zarr":
        sys.path.insert(0, str(ROOT))
        from zarrdask.xarray_backend import open_zarr

        def opener() -> Any:
            return open_zarr(path)
    else:
        import zarr

        zarr_kwargs = {"zarr_format": 2} if zarr.__version__.startswith("3") else {}

        def opener() -> Any:
            return xr.open_zarr(path, chunks={}, **zarr_kwargs)
    import dask.array  # noqa: F401  (imports and first-use set-up are not timed)

    _time_open_mean(opener)  # untimed: a fresh child process pays one-off costs here
    seconds, value = _time_open_mean(opener)
    return {"seconds": seconds, "mean": value}


def _python_for(impl: str) -> Path | None:
    venv = VENVS.get(impl)
    if venv is None:
        return Path(sys.executable)
    python = venv / "bin" / "python"
    return python if python.exists() else None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _measure(impl: str, path: Path) -> dict[str, Any]:
    if impl not in VENVS:
        return run_child(impl, str(path))
    python = _python_for(impl)
    if python is None:
        raise FileNotFoundError(f"{VENVS[impl]} is missing; run ci/make_venvs.sh")
    proc = subprocess.run([str(python), __file__, "--child", impl, str(path)],
                          capture_output=True, text=True, env=_env(), check=False, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _write_store(path: Path, shape: tuple[int, int, int]) -> float:
    import numpy as np
    import xarray as xr

    sys.path.insert(0, str(ROOT))
    from zarrdask.xarray_backend import to_zarr

    t, y, x = shape
    values = (np.arange(t * y * x, dtype="f8").reshape(shape) % 1000 / 8).astype("f4")
    ds = xr.Dataset({"v": (("time", "y", "x"), values)},
                    coords={"time": np.arange(t), "y": np.arange(y), "x": np.arange(x)})
    chunks = (max(1, t // 10), max(1, y // 4), max(1, x // 4))
    to_zarr(ds, path, mode="w", encoding={"v": {"chunks": chunks}})
    return float(values.mean(dtype="f8"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print (and optionally write) a markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", default="200,400,400")
    parser.add_argument("--impls", default="zarrdask,zarrdask-open_zarr,xarray+zarr2,xarray+zarr3")
    parser.add_argument("--out", type=Path, help="also write the report here (markdown)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(*args.child)))
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    impls = args.impls.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench-xarray-"))
    try:
        path = tmp / "data.zarr"
        expected = _write_store(path, shape)  # type: ignore[arg-type]
        times: dict[str, list[float]] = {i: [] for i in impls}
        errors: dict[str, str] = {}
        for rnd in range(args.repeat + 1):  # round 0 warms up
            order = impls if rnd % 2 == 0 else impls[::-1]
            for impl in order:
                if impl in errors:
                    continue
                try:
                    res = _measure(impl, path)
                except (RuntimeError, FileNotFoundError, OSError) as exc:
                    errors[impl] = str(exc).splitlines()[0]
                    continue
                if abs(res["mean"] - expected) > 1e-3 * max(1.0, abs(expected)):
                    errors[impl] = f"wrong mean {res['mean']} (expected {expected})"
                elif rnd:
                    times[impl].append(res["seconds"])
        report = _report(shape, args.repeat, times, errors)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


def _report(shape: tuple[int, ...], repeat: int, times: dict[str, list[float]],
            errors: dict[str, str]) -> str:
    medians = {i: statistics.median(t) for i, t in times.items() if t}
    base = medians.get("zarrdask")
    lines = [
        f"open_dataset(chunks={{}}) + .mean().compute(), {'x'.join(map(str, shape))} float32, "
        f"median of {repeat} (warm cache, threaded dask, {os.cpu_count()} cores)",
        "",
        "| implementation | median s | zarrdask engine's time / this time |",
        "|---|---|---|",
    ]
    for impl in times:
        if impl in errors:
            lines.append(f"| {impl} | n/a: {errors[impl]} | |")
        elif impl in medians:
            ratio = f"{base / medians[impl]:.2f}" if base else ""
            lines.append(f"| {impl} | {medians[impl]:.3f} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
