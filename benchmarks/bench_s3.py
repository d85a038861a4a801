"""Read a 100-chunk array from a local S3 server (moto): zarrdask's FSStore vs zarr-python 2.18's.

Both implementations read the same array, written once by zarrdask, from the same moto
server in the same run; repeats are interleaved (forward, then backward) after a warm-up
and every result is checked against numpy. A third row reads the same chunks one key at a
time through zarrdask's FSStore, i.e. one round trip per chunk, to show what batched
``getitems`` saves.

    python benchmarks/bench_s3.py                   # 100 chunks, 7 repeats
    python benchmarks/bench_s3.py --repeat 3 --out benchmarks/results/s3.md

Needs ``moto[server]`` and ``s3fs`` (``bash ci/install_services.sh``). Traffic goes to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# moto accepts any credentials; keep a developer's ~/.aws and the real AWS out of it.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
})

BUCKET = "zarrdask-bench"
COMPRESSOR = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}


def make_data(n_chunks: int, chunk_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """An int32 ramp with random low bits: ``n_chunks`` square chunks, a near-square grid."""
    rows = int(math.sqrt(n_chunks))
    while n_chunks % rows:
        rows -= 1
    cols = n_chunks // rows
    shape = (rows * chunk_side, cols * chunk_side)
    rng = np.random.default_rng(42)
    data = (np.arange(shape[0] * shape[1], dtype="i4") & ~0xFF).reshape(shape)
    data |= rng.integers(0, 256, size=shape, dtype="i4")
    return data, (chunk_side, chunk_side)


def timed(fn: Callable[[], np.ndarray], expected: np.ndarray) -> float:
    """Seconds taken by ``fn``; its result must equal ``expected``."""
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    if not np.array_equal(out, expected):
        raise AssertionError(f"{fn.__name__} returned wrong data")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats per implementation")
    parser.add_argument("--chunks", type=int, default=100, help="number of chunks")
    parser.add_argument("--chunk-side", type=int, default=200, help="chunk edge (int32 elements)")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)

    import numcodecs
    import zarr

    import zarrdask
    from tests.servers import _moto_argv, free_port, make_bucket, s3_storage_options, start_server
    from zarrdask.storage.fsspec import FSStore

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    server = start_server("moto", [*_moto_argv(), "-H", "127.0.0.1", "-p", str(port)], port,
                          Path(tempfile.mkdtemp(prefix="bench-s3-")))
    try:
        options = s3_storage_options(endpoint)
        make_bucket(endpoint, BUCKET)
        url = f"s3://{BUCKET}/bench.zarr"
        data, chunks = make_data(args.chunks, args.chunk_side)
        z = zarrdask.open_array(url, mode="w", shape=data.shape, chunks=chunks, dtype="i4",
                                compressor=numcodecs.get_codec(COMPRESSOR), fill_value=0,
                                storage_options=options)
        z[:] = data
        assert z.nchunks == args.chunks and z.nchunks_initialized == args.chunks
        stored = FSStore(url, **options).getsize("")  # every chunk sits at the root

        def zarrdask_fsstore() -> np.ndarray:
            return zarrdask.open_array(FSStore(url, mode="r", **options), mode="r")[:]

        def zarr2_fsstore() -> np.ndarray:
            return zarr.open_array(zarr.storage.FSStore(url, mode="r", **options), mode="r")[:]

        def zarrdask_key_by_key() -> np.ndarray:
            store = FSStore(url, mode="r", **options)
            arr = zarrdask.open_array(store, mode="r")
            codec = numcodecs.get_codec(COMPRESSOR)
            out = np.empty(data.shape, dtype="i4")
            for i in range(arr.cdata_shape[0]):
                for j in range(arr.cdata_shape[1]):
                    raw = store[f"{i}.{j}"]  # one round trip each
                    block = np.frombuffer(codec.decode(raw), dtype="i4").reshape(chunks)
                    rows = slice(i * chunks[0], (i + 1) * chunks[0])
                    out[rows, j * chunks[1]:(j + 1) * chunks[1]] = block
            return out

        impls: dict[str, Callable[[], np.ndarray]] = {
            "zarrdask FSStore (batched getitems)": zarrdask_fsstore,
            "zarr-python 2.18.7 FSStore": zarr2_fsstore,
            "zarrdask FSStore, key by key (sequential)": zarrdask_key_by_key,
        }
        times: dict[str, list[float]] = {name: [] for name in impls}
        for fn in impls.values():  # warm-up: clients, connections, imports
            timed(fn, data)
        order = list(impls)
        for r in range(args.repeat):
            for name in (order if r % 2 == 0 else order[::-1]):
                times[name].append(timed(impls[name], data))
    finally:
        server.stop()

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base = medians["zarr-python 2.18.7 FSStore"]
    lines = [
        f"## S3 read: {args.chunks}-chunk array from moto on 127.0.0.1",
        "",
        f"int32 {data.shape[0]}x{data.shape[1]}, chunks {chunks[0]}x{chunks[1]} "
        f"({data.nbytes / 2**20:.1f} MiB raw, {stored / 2**20:.1f} MiB stored, Blosc lz4), "
        f"open + read whole array, median of {args.repeat} interleaved repeats "
        f"(zarr {zarr.__version__}, zarrdask {zarrdask.__version__}).",
        "",
        "| implementation | median (s) | min (s) | vs zarr-python 2.18.7 |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in times.items():
        lines.append(f"| {name} | {medians[name]:.3f} | {min(ts):.3f} | "
                     f"{medians[name] / base:.2f}x |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
