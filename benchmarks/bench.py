"""Benchmark zarrdask against zarr-python 2.18 on the same data, store and compressor.

Every implementation is an *adapter* (:class:`Adapter`) and every measurement a
*workload* (:data:`WORKLOADS`, name -> :class:`Workload`); add either without touching
the runner. Per repeat, implementations are interleaved (A, B, A, B, ...) so drift in
the machine hits all of them alike, and the page cache is dropped before each timed
run when ``/proc/sys/vm/drop_caches`` is writable (else the report says caches are warm
for everyone). The report is the median seconds per workload and implementation and the
ratio zarrdask / zarr-python, printed and written as markdown.

Workloads
---------
W1  write a 10000 x 10000 int32 array (chunks 1000 x 1000) from a numpy array
W2  read that array whole

Usage::

    python benchmarks/bench.py                  # full size, 5 repeats
    python benchmarks/bench.py --quick --repeat 1 --out quick-results.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

__all__ = ["ADAPTERS", "WORKLOADS", "Adapter", "Context", "Workload", "main"]

FULL_SHAPE = (10_000, 10_000)
QUICK_SHAPE = (2_000, 2_000)
FULL_CHUNKS = (1_000, 1_000)
QUICK_CHUNKS = (500, 500)
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def make_compressor() -> numcodecs.abc.Codec:
    """The one compressor every implementation uses: Blosc lz4, clevel 5, byte shuffle."""
    return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


def make_data(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Compressible but not trivial int32 data: a ramp with random low bits."""
    n = shape[0] * shape[1]
    data = np.arange(n, dtype="i4")
    noise = np.random.default_rng(seed).integers(0, 256, n, dtype="i4")
    data ^= noise
    return data.reshape(shape)


@dataclass(slots=True)
class Context:
    """What a workload gets: the data, the array layout and a scratch folder per adapter."""

    data: np.ndarray
    chunks: tuple[int, ...]
    workdir: Path
    compressor: numcodecs.abc.Codec = field(default_factory=make_compressor)
    stored_bytes: dict[str, int] = field(default_factory=dict)

    def array_path(self, adapter: Adapter) -> Path:
        """Folder of the DirectoryStore array that ``adapter`` writes and reads."""
        return self.workdir / f"{adapter.name}.zarr"


class Adapter:
    """One implementation under test. Subclasses implement the operations workloads use.

    ``timed`` measures one call in-process; an adapter that runs elsewhere (a subprocess,
    another venv) overrides it to report the time measured there.
    """

    name: str = "?"
    label: str = "?"

    def unavailable(self) -> str | None:
        """Why this adapter cannot run here, or ``None`` when it can."""
        return None

    def version(self) -> str:
        """The implementation's version string."""
        return "?"

    def write_array(self, ctx: Context, path: Path) -> None:
        """Create the array at ``path`` and write ``ctx.data`` into it whole."""
        raise NotImplementedError

    def read_array(self, ctx: Context, path: Path) -> np.ndarray:
        """Read the whole array at ``path``."""
        raise NotImplementedError

    def warm_up(self, ctx: Context) -> None:
        """Untimed: import, start codec thread pools, touch the store code paths once."""
        small = Context(data=ctx.data[:64, :64].copy(), chunks=(32, 32),
                        workdir=ctx.workdir, compressor=ctx.compressor)
        path = ctx.workdir / f"warm-up-{self.name}.zarr"
        self.write_array(small, path)
        self.read_array(small, path)
        shutil.rmtree(path, ignore_errors=True)

    def timed(self, op: Callable[..., Any], *args: Any) -> tuple[float, Any]:
        """Run ``op(*args)``; return (seconds, result)."""
        start = time.perf_counter()
        result = op(*args)
        return time.perf_counter() - start, result


class Zarr2StyleAdapter(Adapter):
    """An adapter for any module with the zarr 2.x API (zarrdask, zarr-python 2.18)."""

    module_name = "?"

    def __init__(self) -> None:
        self._module: Any = None

    @property
    def module(self) -> Any:
        """The imported module (imported on first use)."""
        if self._module is None:
            self._module = __import__(self.module_name)
        return self._module

    def version(self) -> str:
        return str(self.module.__version__)

    def write_array(self, ctx: Context, path: Path) -> None:
        lib = self.module
        z = lib.open_array(
            lib.DirectoryStore(str(path)), mode="w", shape=ctx.data.shape, chunks=ctx.chunks,
            dtype=ctx.data.dtype, compressor=ctx.compressor,
        )
        z[...] = ctx.data

    def read_array(self, ctx: Context, path: Path) -> np.ndarray:
        lib = self.module
        return lib.open_array(lib.DirectoryStore(str(path)), mode="r")[...]


class ZarrdaskAdapter(Zarr2StyleAdapter):
    """zarrdask, from this checkout."""

    name = "zarrdask"
    label = "zarrdask"
    module_name = "zarrdask"


class ZarrPython2Adapter(Zarr2StyleAdapter):
    """zarr-python 2.18, imported in-process."""

    name = "zarr2"
    label = "zarr-python 2"
    module_name = "zarr"

    def unavailable(self) -> str | None:
        try:
            import zarr
        except ImportError:
            return "zarr-python is not installed (pip install 'zarr==2.18.7')"
        if not zarr.__version__.startswith("2."):
            return f"zarr-python {zarr.__version__} is installed here, not 2.x"
        return None


#: Implementations by name; the first is the one ratios are taken of.
ADAPTERS: dict[str, type[Adapter]] = {
    "zarrdask": ZarrdaskAdapter,
    "zarr2": ZarrPython2Adapter,
}
#: The implementation ratios are taken against.
BASELINE = "zarr2"


@dataclass(frozen=True, slots=True)
class Workload:
    """One measured operation.

    Parameters
    ----------
    name : str
        Short name (``W1``...), the row of the report.
    description : str
        What it does, for the report.
    run : callable
        ``run(adapter, ctx) -> seconds``: does the untimed set-up itself and times only
        the operation (through ``adapter.timed``).
    check : callable, optional
        ``check(adapter, ctx)`` after the last run: raises if the result is wrong.
    """

    name: str
    description: str
    run: Callable[[Adapter, Context], float]
    check: Callable[[Adapter, Context], None] | None = None


def _w1_write(adapter: Adapter, ctx: Context) -> float:
    path = ctx.array_path(adapter)
    shutil.rmtree(path, ignore_errors=True)
    drop_caches()
    seconds, _ = adapter.timed(adapter.write_array, ctx, path)
    ctx.stored_bytes[adapter.label] = sum(
        f.stat().st_size for f in path.rglob("*") if f.is_file()
    )
    return seconds


def _w2_read(adapter: Adapter, ctx: Context) -> float:
    path = ctx.array_path(adapter)
    if not (path / ".zarray").exists():
        adapter.write_array(ctx, path)
    drop_caches()
    seconds, values = adapter.timed(adapter.read_array, ctx, path)
    if values.shape != ctx.data.shape:
        raise AssertionError(f"{adapter.name}: read shape {values.shape} != {ctx.data.shape}")
    return seconds


def _check_roundtrip(adapter: Adapter, ctx: Context) -> None:
    values = adapter.read_array(ctx, ctx.array_path(adapter))
    if not np.array_equal(values, ctx.data):
        raise AssertionError(f"{adapter.name}: values read back differ from the data written")


#: Workloads by name, run in this order.
WORKLOADS: dict[str, Workload] = {
    "W1": Workload("W1", "write whole array from numpy", _w1_write),
    "W2": Workload("W2", "read whole array", _w2_read, _check_roundtrip),
}


_CACHE_STATE: dict[str, bool] = {}


def drop_caches() -> bool:
    """Flush dirty pages and drop the page cache if this process may; return whether it did."""
    if _CACHE_STATE.get("unavailable"):
        return False
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError:
        _CACHE_STATE["unavailable"] = True
        return False
    return True


def can_drop_caches() -> bool:
    """Whether :func:`drop_caches` works here (tries it once)."""
    return drop_caches()


@dataclass(slots=True)
class Results:
    """Seconds per (workload, adapter): every repeat."""

    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, workload: str, adapter: str, seconds: float) -> None:
        """Record one run."""
        self.times.setdefault((workload, adapter), []).append(seconds)

    def median(self, workload: str, adapter: str) -> float | None:
        """Median seconds, or ``None`` if never run."""
        runs = self.times.get((workload, adapter))
        return statistics.median(runs) if runs else None


def run_benchmarks(adapters: list[Adapter], workloads: list[Workload], ctx: Context,
                   repeat: int, log: Callable[[str], None]) -> Results:
    """Run every workload ``repeat`` times, interleaving the adapters each time."""
    results = Results()
    for adapter in adapters:
        adapter.warm_up(ctx)
    for workload in workloads:
        for i in range(repeat):
            order = adapters if i % 2 == 0 else adapters[::-1]
            for adapter in order:
                seconds = workload.run(adapter, ctx)
                results.add(workload.name, adapter.name, seconds)
                log(f"  {workload.name} {adapter.name:<10} run {i + 1}/{repeat}: {seconds:.3f} s")
        if workload.check is not None:
            for adapter in adapters:
                workload.check(adapter, ctx)
    return results


def format_table(results: Results, adapters: list[Adapter], workloads: list[Workload]) -> str:
    """The results as a markdown table: median seconds and the ratio to the baseline."""
    names = [a.name for a in adapters]
    header = ["workload", "description"] + [f"{a.label} (s)" for a in adapters]
    has_ratio = "zarrdask" in names and BASELINE in names
    if has_ratio:
        header.append("zarrdask / zarr-python 2")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload in workloads:
        row = [workload.name, workload.description]
        for adapter in adapters:
            median = results.median(workload.name, adapter.name)
            row.append("-" if median is None else f"{median:.3f}")
        if has_ratio:
            ours = results.median(workload.name, "zarrdask")
            base = results.median(workload.name, BASELINE)
            row.append("-" if not ours or not base else f"{ours / base:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def describe_machine() -> list[str]:
    """One line each: Python, numpy, numcodecs, CPUs, platform."""
    return [
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"numcodecs {numcodecs.__version__}",
        f"{os.cpu_count()} CPUs, {platform.platform()}",
    ]


def build_parser() -> argparse.ArgumentParser:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per workload (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help=f"use a {QUICK_SHAPE[0]}x{QUICK_SHAPE[1]} array (smoke test)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"),
                        help="markdown report (default benchmarks/results.md)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--impls", default=",".join(ADAPTERS),
                        help=f"comma-separated subset of {','.join(ADAPTERS)}")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the temporary stores (default: a temp dir)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code."""
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        print("bench: --repeat must be >= 1", file=sys.stderr)
        return 2
    try:
        workloads = [WORKLOADS[w] for w in args.workloads.split(",") if w]
        classes = [ADAPTERS[a] for a in args.impls.split(",") if a]
    except KeyError as exc:
        print(f"bench: unknown workload or implementation {exc}", file=sys.stderr)
        return 2

    adapters: list[Adapter] = []
    skipped: list[str] = []
    for cls in classes:
        adapter = cls()
        reason = adapter.unavailable()
        if reason is None:
            adapters.append(adapter)
        else:
            skipped.append(f"{adapter.label}: skipped, {reason}")
            print(f"bench: {skipped[-1]}", file=sys.stderr)
    if not adapters:
        print("bench: no implementation can run", file=sys.stderr)
        return 1

    shape, chunks = (QUICK_SHAPE, QUICK_CHUNKS) if args.quick else (FULL_SHAPE, FULL_CHUNKS)
    data = make_data(shape)
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="zarrdask-bench-", dir=base))
    cold = can_drop_caches()
    cache_note = ("page cache dropped before every timed run" if cold else
                  "page cache NOT dropped (no permission): caches are warm for all")
    print(f"bench: {shape[0]}x{shape[1]} int32, chunks {chunks}, {args.repeat} repeats, "
          f"{cache_note}; stores in {workdir}")
    try:
        ctx = Context(data=data, chunks=chunks, workdir=workdir)
        results = run_benchmarks(adapters, workloads, ctx, args.repeat, print)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = format_table(results, adapters, workloads)
    versions = ", ".join(f"{a.label} {a.version()}" for a in adapters)
    stored = ", ".join(
        f"{label} {size / 1e6:.1f} MB (ratio {data.nbytes / size:.2f})"
        for label, size in ctx.stored_bytes.items() if size
    )
    command_args = " ".join(argv if argv is not None else sys.argv[1:])
    report = "\n".join([
        "# zarrdask benchmark results",
        "",
        f"Median of {args.repeat} run(s), seconds; {shape[0]}x{shape[1]} int32, chunks "
        f"{chunks[0]}x{chunks[1]}, Blosc lz4 clevel 5 shuffle, DirectoryStore on local disk "
        f"(same temp dir for all); {cache_note}; writes are timed until the last file is "
        f"written (no fsync).",
        "",
        table,
        "",
        f"Implementations: {versions}.",
        *([f"Stored after W1: {stored}."] if stored else []),
        *[f"{line}." for line in describe_machine()],
        *[f"{line}." for line in skipped],
        f"Command: `{' '.join(['python benchmarks/bench.py', command_args]).strip()}`",
        "",
    ])
    print()
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"\nbench: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
