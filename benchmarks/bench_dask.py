"""Benchmark the dask integration (issue 7) against dask + zarr-python 2.18.7.

Three measurements, medians over ``--repeat`` interleaved runs (A, B, B, A, ...):

* **graph**: ``zarrdask.to_dask(a)`` construction time and memory per chunk for
  arrays of 10^5 and 10^6 chunks (nothing stored; memory by ``tracemalloc``,
  measured in a separate run so it does not slow the timed one); for context,
  the same for the write graph of ``zarrdask.store(..., compute=False)`` and for
  materialising ``dask.array.from_zarr``'s graph on a zarr-python array;
* **sum**: ``to_dask(a).sum().compute()`` against
  ``dask.array.from_zarr(<zarr-python array>).sum().compute()``, same store on disk
  (8000 x 8000 float32, chunks 1000 x 1000, Blosc lz4 clevel 5 shuffle);
* **write**: ``zarrdask.to_zarr`` of a random 8000 x 8000 float32 dask array
  (chunks 1000 x 1000, persisted in memory first so generation is not timed)
  against ``dask.array.to_zarr`` with zarr-python 2.18.7, into fresh folders.

Both sides use dask's threaded scheduler and warm page caches.

Usage::

    python benchmarks/bench_dask.py               # full size, 5 repeats
    python benchmarks/bench_dask.py --quick       # 2000 x 2000, 10^4 and 10^5 chunks
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import numcodecs  # noqa: E402
import numpy as np  # noqa: E402

import zarrdask  # noqa: E402
from zarrdask import dask_array as zd  # noqa: E402

COMPRESSOR = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


def median_ms(times: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(times) * 1e3


def interleaved(a: Callable[[], float], b: Callable[[], float], repeat: int) -> tuple[
        list[float], list[float]]:
    """Run ``a`` and ``b`` alternately (A B B A ...); each returns its own seconds."""
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeat):
        order = (a, b) if i % 2 == 0 else (b, a)
        for f in order:
            (ta if f is a else tb).append(f())
    return ta, tb


# ------------------------------------------------------------------------------- graph


def graph_rows(nchunks_list: list[int], repeat: int) -> list[str]:
    """Construction time and memory per chunk of read and write graphs."""
    rows = []
    for nchunks in nchunks_list:
        side = int(round(nchunks ** 0.5))
        z = zarrdask.zeros((side * 10, side * 10), chunks=(10, 10), dtype="f4")
        n = side * side
        times = []
        for _ in range(repeat):
            gc.collect()
            t = time.perf_counter()
            x = zd.to_dask(z)
            times.append(time.perf_counter() - t)
            assert len(x.__dask_graph__()) == n
            del x
        gc.collect()
        tracemalloc.start()
        x = zd.to_dask(z)
        mem = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del x
        gc.collect()
        rows.append(f"| to_dask read graph | {n:,} | {median_ms(times) * 1e3 / n:.2f} | "
                    f"{mem / n:.0f} |")

        src = da.zeros((side * 10, side * 10), chunks=(10, 10), dtype="f4")
        wtimes, otimes = [], []
        for _ in range(1 if n >= 1_000_000 else max(1, repeat // 2)):
            gc.collect()
            t = time.perf_counter()
            d = zd.store(src, z, compute=False)
            wtimes.append(time.perf_counter() - t)
            del d
            gc.collect()
            t = time.perf_counter()
            src.__dask_optimize__(src.__dask_graph__(), src.__dask_keys__())
            otimes.append(time.perf_counter() - t)
        rows.append(f"| store(compute=False) write graph, total | {n:,} | "
                    f"{median_ms(wtimes) * 1e3 / n:.2f} | - |")
        rows.append(f"| ... of which dask's optimisation of the source | {n:,} | "
                    f"{median_ms(otimes) * 1e3 / n:.2f} | - |")
        if nchunks <= 100_000:
            import zarr

            zz = zarr.zeros((side * 10, side * 10), chunks=(10, 10), dtype="f4")
            gc.collect()
            t = time.perf_counter()
            g = dict(da.from_zarr(zz).__dask_graph__())
            el = time.perf_counter() - t
            rows.append(f"| dask.from_zarr + materialise (reference) | {len(g) - 1:,} | "
                        f"{el * 1e6 / (len(g) - 1):.2f} | - |")
            del g
    return rows


# --------------------------------------------------------------------------- sum, write


def comparison_row(label: str, ours: list[float], theirs: list[float]) -> str:
    """A table row: medians (and minima) in ms, and the ratio of the medians."""
    return (f"| {label} | {median_ms(ours):.0f} ({min(ours) * 1e3:.0f}) | "
            f"{median_ms(theirs):.0f} ({min(theirs) * 1e3:.0f}) | "
            f"{median_ms(ours) / median_ms(theirs):.2f} |")


def sum_rows(workdir: str, n: int, c: int, repeat: int) -> list[str]:
    import zarr

    rng = np.random.default_rng(0)
    data = rng.random((n, n), dtype=np.float32)
    path = os.path.join(workdir, "sum.zarr")
    theirs = zarr.open_array(path, mode="w", shape=data.shape, chunks=(c, c), dtype="f4",
                             compressor=COMPRESSOR)
    theirs[:] = data
    ours = zarrdask.open_array(path, mode="r")
    expected = float(data.sum(dtype=np.float64))

    def run_dask_zarr() -> float:
        t = time.perf_counter()
        s = da.from_zarr(theirs).sum().compute(scheduler="threads")
        el = time.perf_counter() - t
        assert abs(float(s) - expected) / expected < 1e-4
        return el

    def run_zarrdask() -> float:
        t = time.perf_counter()
        s = zd.to_dask(ours).sum().compute(scheduler="threads")
        el = time.perf_counter() - t
        assert abs(float(s) - expected) / expected < 1e-4
        return el

    run_dask_zarr(), run_zarrdask()  # warm the page cache and imports
    tz, tb = interleaved(run_zarrdask, run_dask_zarr, repeat)
    return [comparison_row(f"sum().compute(), {n}x{n} f4, chunks {c}", tz, tb)]


def write_rows(workdir: str, n: int, c: int, repeat: int) -> list[str]:
    import zarr  # noqa: F401 - dask.array.to_zarr imports it

    x = da.random.default_rng(0).random((n, n), chunks=(c, c), dtype=np.float32)
    x = x.persist(scheduler="threads")
    counter = iter(range(10**9))

    def fresh(name: str) -> str:
        path = os.path.join(workdir, f"{name}{next(counter)}.zarr")
        return path

    def run_dask_zarr() -> float:
        path = fresh("dz")
        t = time.perf_counter()
        da.to_zarr(x, path, compressor=COMPRESSOR, compute=True)
        el = time.perf_counter() - t
        shutil.rmtree(path)
        return el

    def run_zarrdask() -> float:
        path = fresh("zd")
        t = time.perf_counter()
        zd.to_zarr(x, path, compressor=COMPRESSOR, scheduler="threads")
        el = time.perf_counter() - t
        shutil.rmtree(path)
        return el

    run_dask_zarr(), run_zarrdask()
    tz, tb = interleaved(run_zarrdask, run_dask_zarr, repeat)
    return [comparison_row(f"to_zarr, random {n}x{n} f4, chunks {c}", tz, tb)]


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark and print (and return) a markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--workdir", default=None, help="where temporary stores go")
    parser.add_argument("--skip-graph", action="store_true", help="only the comparisons")
    args = parser.parse_args(argv)
    n, c = (2000, 500) if args.quick else (8000, 1000)
    nchunks = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    workdir = tempfile.mkdtemp(prefix="bench_dask_", dir=args.workdir)
    import zarr

    lines = [
        f"# zarrdask dask benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"python {platform.python_version()}, dask {dask.__version__}, zarr-python "
        f"{zarr.__version__}, numpy {np.__version__}, {os.cpu_count()} cpus, "
        f"repeat {args.repeat}, warm caches; command: `python benchmarks/bench_dask.py"
        f"{' --quick' if args.quick else ''}{' --skip-graph' if args.skip_graph else ''} "
        f"--repeat {args.repeat}`",
        "",
        "## Graph construction (target: < 20 us per chunk)",
        "",
        "| graph | chunks | us per chunk (median) | bytes per chunk |",
        "|---|---|---|---|",
    ]
    try:
        if not args.skip_graph:
            lines += graph_rows(nchunks, args.repeat)
        lines += ["", "## Against dask + zarr-python 2.18.7 (ms: median (min); target ratio <= 1)",
                  "", "| workload | zarrdask | dask + zarr-python | ratio of medians |",
                  "|---|---|---|---|"]
        lines += sum_rows(workdir, n, c, args.repeat)
        lines += write_rows(workdir, n, c, args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
