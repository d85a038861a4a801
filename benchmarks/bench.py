"""Benchmark zarrdask against zarr-python 2.18, zarr-python 3, tensorstore and the LIMIT floor.

The workloads W1..W8 of issue 6 (``_workloads.py``) run for every implementation in one run,
on the same data, with the same compressor (Blosc lz4, clevel 5, byte shuffle, blocksize 0),
in one temporary folder on the same disk. Per repeat the implementations are interleaved
(forward, then backward), and before every timed operation the page cache is dropped (when
``/proc/sys/vm/drop_caches`` is writable; else the report says caches were warm for all) and
memory is pre-faulted (see ``_common.prefault``), the same way for everyone. The report is the
median seconds per row and implementation, zarrdask's ratios to zarr-python 2.18, tensorstore
and LIMIT, every implementation's multiple of LIMIT, the issue's targets with pass/fail, and
the peak memory of W2 measured in a fresh process. It is printed and written as markdown.

Implementations (``--impls``):

* ``zarrdask`` and ``zarr2`` (zarr-python 2.18.7) in this process;
* ``zarr3``: zarr-python 3 with ``zarr_format=2``, in ``.venvs/zarr3`` (``ci/make_venvs.sh``),
  driven through ``_zarr3_worker.py`` which times inside the worker;
* ``tensorstore``: its ``zarr`` driver (``pip install tensorstore``), in this process;
* ``limit``: the unavoidable work (``_limit.py``).

Usage::

    python benchmarks/bench.py --repeat 5               # full size, writes benchmarks/results.md
    python benchmarks/bench.py --quick --repeat 1       # small smoke run
    python benchmarks/bench.py --workloads W5 --impls zarrdask,zarr2,tensorstore
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(HERE), str(ROOT)):  # run from a checkout without installing
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numcodecs  # noqa: E402
import numpy as np  # noqa: E402
from _backends import make_backend  # noqa: E402
from _common import (  # noqa: E402
    COMPRESSOR_CONFIG,
    FULL,
    QUICK,
    Backend,
    Params,
    drop_caches,
    make_float_data,
    make_int_data,
    make_points,
)
from _report import MemoryResult, Results, format_report_tables  # noqa: E402
from _workloads import WORKLOADS, Env, WorkloadResult, rows_of, run_workload, warm_up  # noqa: E402

__all__ = ["ADAPTERS", "Adapter", "main", "run_benchmarks"]

ZARR3_PYTHON = ROOT / ".venvs" / "zarr3" / "bin" / "python"


class Adapter:
    """One implementation as the runner sees it: start, run a workload, stop."""

    name = "?"
    label = "?"

    def unavailable(self) -> str | None:
        """Why this implementation cannot run here (shown as "not installed"), or ``None``."""
        return None

    def start(self, data: dict[str, np.ndarray], workdir: Path) -> None:
        """Untimed: load the library, warm it up in ``workdir``."""

    def version(self) -> str:
        """Version string, after :meth:`start`."""
        return "?"

    def run(self, workload: str, env: Env) -> WorkloadResult:
        """Run one workload once."""
        raise NotImplementedError

    def python(self) -> str:
        """The interpreter that can run this implementation's memory probe."""
        return sys.executable

    def close(self) -> None:
        """Release processes and pools."""


class InProcessAdapter(Adapter):
    """An implementation imported into this process (zarrdask, zarr 2, tensorstore, LIMIT)."""

    def __init__(self, name: str, label: str, module: str | None = None,
                 check: Callable[[Any], str | None] | None = None, hint: str = "") -> None:
        self.name, self.label = name, label
        self.module, self.check, self.hint = module, check, hint
        self.backend: Backend | None = None

    def unavailable(self) -> str | None:
        if self.module is None:
            return None
        try:
            module = __import__(self.module)
        except ImportError as exc:
            return f"not installed ({exc}){self.hint}"
        return self.check(module) if self.check else None

    def start(self, data: dict[str, np.ndarray], workdir: Path) -> None:
        self.backend = make_backend(self.name)
        warm_up(self.backend, workdir / "warm-up")

    def version(self) -> str:
        return self.backend.version() if self.backend else "?"

    def run(self, workload: str, env: Env) -> WorkloadResult:
        assert self.backend is not None, "start() first"
        return run_workload(workload, self.backend, env)


def _zarr2_check(module: Any) -> str | None:
    version = str(module.__version__)
    return None if version.startswith("2.") else f"zarr {version} is installed here, not 2.x"


class Zarr3Adapter(Adapter):
    """zarr-python 3 (``zarr_format=2``) in ``.venvs/zarr3``, through ``_zarr3_worker.py``."""

    name = "zarr3"
    label = "zarr-python 3 (v2)"

    def __init__(self, python: Path = ZARR3_PYTHON) -> None:
        self.python_path = python
        self.proc: subprocess.Popen[str] | None = None
        self.files: dict[str, str] = {}
        self._version = "?"

    def unavailable(self) -> str | None:
        if not self.python_path.exists():
            return "not installed (no .venvs/zarr3: run ci/make_venvs.sh)"
        return None

    def python(self) -> str:
        return str(self.python_path)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"zarr 3 worker exited (code {self.proc.poll()}); see stderr")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"zarr 3 worker: {answer.get('error')}\n{answer.get('traceback')}")
        return answer

    def start(self, data: dict[str, np.ndarray], workdir: Path) -> None:
        files = workdir / "data"
        files.mkdir(parents=True, exist_ok=True)
        for key, array in data.items():  # the same data, from .npy files
            path = files / f"{key}.npy"
            np.save(path, array, allow_pickle=False)
            self.files[key] = str(path)
        self.proc = subprocess.Popen(
            [str(self.python_path), "-I", str(HERE / "_zarr3_worker.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=workdir,
        )
        self._version = str(self._ask({"cmd": "hello"})["version"])
        self._ask({"cmd": "warm_up", "workdir": str(workdir / "warm-up")})

    def version(self) -> str:
        return self._version

    def run(self, workload: str, env: Env) -> WorkloadResult:
        answer = self._ask({
            "cmd": "run", "workload": workload, "params": env.params.to_json(),
            "data": self.files, "workdir": str(env.workdir), "cold": env.cold,
            "prefault_bytes": env.prefault_bytes,
        })
        return WorkloadResult.from_json(answer["result"])

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc = None


#: Implementations by name, in report column order (zarrdask first).
ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "zarrdask": lambda: InProcessAdapter("zarrdask", "zarrdask", "zarrdask"),
    "zarr2": lambda: InProcessAdapter("zarr2", "zarr-python 2.18", "zarr", _zarr2_check,
                                      "; pip install 'zarr==2.18.7'"),
    "zarr3": Zarr3Adapter,
    "tensorstore": lambda: InProcessAdapter("tensorstore", "tensorstore", "tensorstore",
                                            hint="; pip install tensorstore"),
    "limit": lambda: InProcessAdapter("limit", "LIMIT"),
}


def verify_store(path: Path, data: np.ndarray) -> str | None:
    """Untimed fairness check of a W1 store: zarr-python 2.18 reads ``data`` back, and the
    compressor in ``.zarray`` is the common one. Returns a problem, or ``None``."""
    meta = json.loads((path / ".zarray").read_text())
    if meta.get("compressor") != COMPRESSOR_CONFIG:
        return f"compressor {meta.get('compressor')} != {COMPRESSOR_CONFIG}"
    try:
        import zarr
    except ImportError:
        return None
    if not str(zarr.__version__).startswith("2."):
        return None
    if not np.array_equal(zarr.open_array(str(path), mode="r")[...], data):
        return "zarr-python 2.18 reads different values"
    return None


def run_benchmarks(adapters: list[Adapter], workloads: list[str], params: Params,
                   data: dict[str, np.ndarray], workdir: Path, cold: bool, prefault_bytes: int,
                   repeat: int, log: Callable[[str], None]) -> Results:
    """Run every workload ``repeat`` times, interleaving the implementations each time.

    A failing implementation is recorded as "error" for that workload (and not run again
    for it); the others carry on.
    """
    results = Results()
    rows = rows_of(params)
    for workload in workloads:
        failed: set[str] = set()
        for i in range(repeat):
            order = adapters if i % 2 == 0 else adapters[::-1]
            for adapter in order:
                if adapter.name in failed:
                    continue
                env = Env(params=params, data=data, workdir=workdir / adapter.name, cold=cold,
                          prefault_bytes=prefault_bytes)
                try:
                    result = adapter.run(workload, env)
                except Exception as exc:  # noqa: BLE001 - recorded, reported, exit code 1
                    failed.add(adapter.name)
                    message = f"{adapter.label} {workload}: {type(exc).__name__}: {exc}"
                    results.errors.append(message)
                    log(f"  ERROR {message}\n{traceback.format_exc()}")
                    for row, _ in rows[workload]:
                        results.add(row, adapter.name, f"error: {exc}")
                    continue
                for row, value in result.rows.items():
                    results.add(row, adapter.name, value)
                if "stored_bytes" in result.info:
                    results.stored_bytes[adapter.label] = int(result.info["stored_bytes"])
                shown = ", ".join(f"{r} {v:.3f} s" if isinstance(v, float)
                                  else f"{r} {v.split(':')[0]}" for r, v in result.rows.items())
                log(f"  {workload} {adapter.name:<11} run {i + 1}/{repeat}: {shown}")
        if workload == "W1":
            for adapter in adapters:
                path = workdir / adapter.name / "w1.zarr"
                problem = verify_store(path, data["w1"]) if adapter.name not in failed \
                    and (path / ".zarray").exists() else None
                if problem:
                    results.errors.append(f"{adapter.label} W1 store: {problem}")
                    log(f"  ERROR {adapter.label} W1 store: {problem}")
    return results


def measure_memory(
    adapters: list[Adapter], params: Params, data: dict[str, np.ndarray], workdir: Path,
    cold: bool, log: Callable[[str], None],
) -> dict[str, MemoryResult]:
    """W2's peak memory above baseline, each implementation in a fresh process."""
    out: dict[str, MemoryResult] = {}
    for adapter in adapters:
        path = workdir / adapter.name / "w1.zarr"
        try:
            if not (path / ".zarray").exists():
                adapter.run("W1", Env(params=params, data=data, workdir=workdir / adapter.name,
                                      cold=False))
            if cold:
                drop_caches()
            proc = subprocess.run(
                [adapter.python(), "-I", str(HERE / "_memprobe.py"), adapter.name, str(path),
                 str(workdir / adapter.name / "memprobe-warm-up")],
                capture_output=True, text=True, timeout=600, check=True, cwd=workdir,
            )
            doc = json.loads(proc.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, OSError, ValueError, IndexError, RuntimeError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            log(f"  memory probe of {adapter.label} failed: {exc} {detail[-2000:]}")
            continue
        out[adapter.name] = MemoryResult(
            label=adapter.label, above=max(0, doc["peak"] - doc["baseline"]),
            nbytes=doc["nbytes"], baseline=doc["baseline"], method=doc["method"])
        log(f"  memory {adapter.name:<11}: {out[adapter.name].multiple:.2f}x the array above "
            f"baseline ({doc['method']})")
    return out


def describe_machine() -> list[str]:
    """One line each: Python, libraries, CPUs, platform."""
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
                        help=f"small sizes ({QUICK.shape[0]}x{QUICK.shape[1]}; smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md",
                        help="markdown report (default benchmarks/results.md)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--impls", default=",".join(ADAPTERS),
                        help=f"comma-separated subset of {','.join(ADAPTERS)}")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the temporary stores (default: a temp dir)")
    parser.add_argument("--points", type=int, default=None,
                        help="W5's number of points (default 100,000; 10,000 with --quick)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the W2 peak-memory probes")
    parser.add_argument("--no-prefault", action="store_true",
                        help="do not pre-fault memory before each timed operation")
    return parser


def _report(args: argparse.Namespace, argv: list[str] | None, params: Params,
            adapters: list[Adapter], all_impls: list[tuple[str, str]], skipped: dict[str, str],
            workloads: list[str], results: Results, memory: dict[str, MemoryResult],
            notes: list[str]) -> tuple[str, str]:
    """(markdown report, the tables printed on the terminal)."""
    rows = [row for w in workloads for row in rows_of(params)[w]]
    for name, reason in skipped.items():
        for row, _ in rows:
            results.notes[(row, name)] = "not installed" if "not installed" in reason else \
                f"n/a: {reason}"
    tables = format_report_tables(results, all_impls, rows, memory)
    versions = ", ".join(f"{a.label} {a.version()}" for a in adapters)
    stored = ", ".join(f"{label} {size / 1e6:.1f} MB" for label, size in
                       results.stored_bytes.items() if size)
    command = " ".join(["python benchmarks/bench.py", *(argv if argv is not None
                                                         else sys.argv[1:])])
    body = [
        "## Median seconds", "", *tables["timings"], "",
        *(["## Multiple of LIMIT", "", *tables["limit"], ""] if tables["limit"] else []),
        "## Targets (issue 6)", "", *tables["targets"], "",
        *(["Missed:", "", *tables["missed"], ""] if tables["missed"] else []),
        *(["## Peak memory of W2 (fresh process)", "", *tables["memory"], ""]
          if tables["memory"] else []),
    ]
    report = "\n".join([
        "# zarrdask benchmark results", "",
        f"Median of {args.repeat} run(s). Every implementation: the same data, Blosc lz4 "
        f"clevel 5 byte-shuffle blocksize 0, fill value 0, stores in one temp dir on local disk. "
        + " ".join(notes), "",
        *body,
        f"Implementations: {versions}.",
        *[f"Not run: {label}: {skipped[name]}." for name, label in all_impls if name in skipped],
        *([f"Stored after W1: {stored}."] if stored else []),
        *[f"{line}." for line in describe_machine()],
        *[f"ERROR: {e}" for e in results.errors],
        f"Command: `{command.strip()}`", "",
    ])
    return report, "\n".join(body)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code (1 if any implementation failed a workload)."""
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        print("bench: --repeat must be >= 1", file=sys.stderr)
        return 2
    workloads = [w for w in args.workloads.split(",") if w]
    impls = [a for a in args.impls.split(",") if a]
    unknown = [w for w in workloads if w not in WORKLOADS] + [a for a in impls if a not in ADAPTERS]
    if unknown:
        print(f"bench: unknown workload or implementation {unknown}; workloads "
              f"{list(WORKLOADS)}, implementations {list(ADAPTERS)}", file=sys.stderr)
        return 2
    params = QUICK if args.quick else FULL
    if args.points is not None:
        params = Params.from_json({**params.to_json(), "n_points": args.points})

    candidates = [ADAPTERS[name]() for name in impls]
    all_impls = [(a.name, a.label) for a in candidates]
    adapters: list[Adapter] = []
    skipped: dict[str, str] = {}
    for adapter in candidates:
        reason = adapter.unavailable()
        if reason is None:
            adapters.append(adapter)
        else:
            skipped[adapter.name] = reason
            print(f"bench: {adapter.label}: {reason}", file=sys.stderr)
    if not adapters:
        print("bench: no implementation can run", file=sys.stderr)
        return 1

    data = {"w1": make_int_data(params.shape, params.seed),
            "w7": make_float_data(params.small_shape, params.seed),
            "points": make_points(params.shape, params.n_points, params.seed)}
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="zarrdask-bench-", dir=base))
    cold = drop_caches()
    prefault_bytes = 0 if args.no_prefault else int(1.5 * data["w1"].nbytes)
    notes = [
        "Page cache dropped before every timed file operation." if cold else
        "Page cache NOT dropped (no permission): caches are warm for all.",
        f"{prefault_bytes / 1e6:.0f} MB of memory pre-faulted before every timed operation."
        if prefault_bytes else "No pre-faulting.",
        "Implementations interleaved per repeat (forward, then backward).",
        "Writes are timed until the last file is written (no fsync); reads include opening.",
        f"Load average at start {os.getloadavg()[0]:.2f}",
    ]
    print(f"bench: {params.shape[0]}x{params.shape[1]} int32 chunks {params.chunks}, "
          f"{args.repeat} repeats, workloads {','.join(workloads)}; {notes[0]} "
          f"Stores in {workdir}")
    memory: dict[str, MemoryResult] = {}
    started: list[Adapter] = []
    start_clock = time.perf_counter()
    try:
        for adapter in list(adapters):
            try:
                adapter.start(data, workdir / adapter.name)
                started.append(adapter)
            except Exception as exc:  # noqa: BLE001 - reported as a skipped implementation
                skipped[adapter.name] = f"failed to start: {type(exc).__name__}: {exc}"
                print(f"bench: {adapter.label}: {skipped[adapter.name]}", file=sys.stderr)
        adapters = started
        results = run_benchmarks(adapters, workloads, params, data, workdir, cold,
                                 prefault_bytes, args.repeat, print)
        if not args.no_memory:
            memory = measure_memory(adapters, params, data, workdir, cold, print)
    finally:
        for adapter in started:
            adapter.close()
        shutil.rmtree(workdir, ignore_errors=True)
    notes[-1] += f", at end {os.getloadavg()[0]:.2f} (other jobs share this machine)."
    notes.append(f"Wall time {time.perf_counter() - start_clock:.0f} s.")
    report, shown = _report(args, argv, params, adapters, all_impls, skipped, workloads,
                            results, memory, notes)
    print()
    print(shown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"bench: wrote {args.out}")
    for error in results.errors:
        print(f"bench: ERROR {error}", file=sys.stderr)
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
