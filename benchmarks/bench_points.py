"""Benchmark: 100,000 random points from a 10000x10000 int32 array, zarrdask vs zarr-python 2.

Both libraries read the same kind of array (chunks 1000x1000, default Blosc
compressor) written to their own directory store in a temporary directory, in
one run. Prints the median time of each over several repeats and the ratio
zarrdask / zarr (below 1 means zarrdask is faster).

Run::

    python benchmarks/bench_points.py [--repeats N] [--points N] [--store directory|memory]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SHAPE = (10000, 10000)
CHUNKS = (1000, 1000)


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = func()
    return time.perf_counter() - t0, result


def _interleaved_medians(
    funcs: dict[str, Callable[[], Any]], repeats: int
) -> dict[str, tuple[float, Any]]:
    """Median time of each function, run in turn so machine load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, func in funcs.items():
            t, results[name] = _timed(func)
            times[name].append(t)
    return {name: (statistics.median(times[name]), results[name]) for name in funcs}


def _fill(z: Any, data: np.ndarray) -> None:
    for i in range(0, SHAPE[0], CHUNKS[0]):
        z[i:i + CHUNKS[0]] = data[i:i + CHUNKS[0]]


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print medians and the ratio; return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--store", choices=("directory", "memory"), default="directory")
    parser.add_argument("--data", choices=("random", "compressible"), default="random",
                        help="random int32 (incompressible) or small random ints")
    args = parser.parse_args(argv)

    import zarr

    import zarrdask

    rng = np.random.default_rng(42)
    high = 2**31 - 1 if args.data == "random" else 100
    data = rng.integers(0, high, size=SHAPE, dtype=np.int32)
    points = tuple(rng.integers(0, s, size=args.points) for s in SHAPE)
    expected = data[points]

    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "directory":
            zd_store: Any = zarrdask.DirectoryStore(str(Path(tmp) / "zarrdask.zarr"))
            z2_store: Any = zarr.DirectoryStore(str(Path(tmp) / "zarr.zarr"))
        else:
            zd_store, z2_store = zarrdask.MemoryStore(), zarr.MemoryStore()
        zd = zarrdask.create(SHAPE, chunks=CHUNKS, dtype="i4", store=zd_store)
        z2 = zarr.create(SHAPE, chunks=CHUNKS, dtype="i4", store=z2_store)
        _fill(zd, data)
        _fill(z2, data)

        zd.vindex[points]  # warm-up (thread pool, page cache)
        z2.vindex[points]
        medians = _interleaved_medians(
            {"zarrdask": lambda: zd.vindex[points], "zarr": lambda: z2.vindex[points]},
            args.repeats,
        )
        (t_zd, r_zd), (t_z2, r_z2) = medians["zarrdask"], medians["zarr"]
    if not (np.array_equal(r_zd, expected) and np.array_equal(r_z2, expected)):
        raise AssertionError("point selection returned wrong values")
    ratio = t_zd / t_z2
    print(f"points: {args.points} on {SHAPE} int32 ({args.data}), chunks {CHUNKS}, "
          f"{args.store} store, median of {args.repeats}")
    print(f"zarrdask  median {t_zd * 1e3:9.1f} ms")
    print(f"zarr 2.x  median {t_z2 * 1e3:9.1f} ms")
    print(f"ratio zarrdask/zarr {ratio:.2f} ({'faster' if ratio < 1 else 'SLOWER'})")
    return {"zarrdask": t_zd, "zarr": t_z2, "ratio": ratio}


if __name__ == "__main__":
    main()
