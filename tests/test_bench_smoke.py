"""The benchmark of issue 6 (``benchmarks/``): its LIMIT floor, its report, and a quick run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import COMPRESSOR_CONFIG, Selection, StoreSpec, make_points  # noqa: E402
from _limit import LimitBackend  # noqa: E402
from _report import Results, targets_table  # noqa: E402

zarr = pytest.importorskip("zarr")

ROW_NAMES = ["W1", "W2", "W3", "W4 row", "W4 col", "W5", "W6 write", "W6 read", "W7 write",
             "W7 read", "W8 create", "W8 open", "W8 open consolidated"]


def _cells(report: str, row: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {row} |"))
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.fixture(scope="module")
def limit() -> LimitBackend:
    return LimitBackend()


def test_limit_writes_zarr_v2_that_zarr_python_reads(tmp_path: Path, limit: LimitBackend) -> None:
    """LIMIT's stores are real Zarr v2 (edge chunks padded), with the common compressor."""
    data = np.arange(37 * 53, dtype="<i4").reshape(37, 53)
    limit.write(data, (10, 20), StoreSpec.directory(tmp_path / "a.zarr"))
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    assert z.chunks == (10, 20)
    assert z.compressor.get_config() == COMPRESSOR_CONFIG
    np.testing.assert_array_equal(z[...], data)


@pytest.mark.parametrize("store", ["dir", "memory"])
def test_limit_reads_every_selection_kind(tmp_path: Path, limit: LimitBackend, store: str) -> None:
    """LIMIT's reads agree with numpy for the whole array, regions, a row, a column, points."""
    data = np.random.default_rng(1).integers(0, 1000, (45, 61)).astype("<f8")
    spec = (StoreSpec.directory(tmp_path / "b.zarr") if store == "dir"
            else StoreSpec.memory("b"))
    limit.write(data, (8, 16), spec)
    pts = make_points(data.shape, 300, seed=3)
    selections = [
        Selection("all"),
        Selection("basic", (slice(3, 40), slice(17, 60))),
        Selection("basic", (44, slice(None))),
        Selection("basic", (slice(None), 5)),
        Selection("points", points=(pts[0], pts[1])),
    ]
    for sel in selections:
        np.testing.assert_array_equal(limit.read(spec, sel), sel.expected(data))
    limit.free(spec)


def test_limit_reads_what_zarr_python_wrote(tmp_path: Path, limit: LimitBackend) -> None:
    data = np.arange(50 * 30, dtype="<i4").reshape(50, 30)
    zarr.open_array(str(tmp_path / "c.zarr"), mode="w", shape=data.shape, chunks=(7, 9),
                    dtype=data.dtype, compressor=__import__("numcodecs").get_codec(
                        dict(COMPRESSOR_CONFIG)))[...] = data
    got = limit.read(StoreSpec.directory(tmp_path / "c.zarr"), Selection("all"))
    np.testing.assert_array_equal(got, data)


def test_targets_table_pass_fail_and_missing() -> None:
    """A target passes at or under its ratio, fails above it, is n/a without a reference."""
    results = Results()
    results.add("W1", "zarrdask", 1.0)
    results.add("W1", "zarr2", 2.0)       # 0.5: passes "<= 0.5"
    results.add("W1", "limit", 0.5)       # 2.0: fails "<= 1.6"
    results.add("W1", "tensorstore", "n/a: nothing")
    impls = [("zarrdask", "zarrdask"), ("zarr2", "zarr-python 2.18"),
             ("tensorstore", "tensorstore"), ("limit", "LIMIT")]
    table, missed = targets_table(results, impls, ["W1"], {})
    verdicts = {line.split("|")[2].strip(): line.split("|")[5].strip() for line in table[2:]}
    assert verdicts == {"zarrdask / zarr-python 2.18": "pass", "zarrdask / tensorstore": "n/a",
                        "zarrdask / LIMIT": "**FAIL**"}
    assert missed == ["W1 vs LIMIT: 2.00 > 1.6"]
    assert results.cell("W1", "tensorstore") == "n/a"


@pytest.mark.slow
def test_bench_quick_run(tmp_path: Path) -> None:
    """``bench.py --quick --repeat 1`` exits 0 and reports every row, target and memory."""
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--quick", "--repeat", "1",
         "--out", str(out), "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = out.read_text()
    header = _cells(report, "workload")
    assert header[:3] == ["workload", "what", "zarrdask (s)"]
    column = {name: header.index(f"{name} (s)") for name in
              ("zarrdask", "zarr-python 2.18", "zarr-python 3 (v2)", "tensorstore", "LIMIT")}
    for row in ROW_NAMES:
        cells = _cells(report, row)
        for name in ("zarrdask", "zarr-python 2.18", "LIMIT"):
            assert float(cells[column[name]]) > 0, f"{name} {row} missing in {cells}"
        for name in ("zarr-python 3 (v2)", "tensorstore"):  # optional implementations
            cell = cells[column[name]]
            assert cell in ("not installed", "n/a") or float(cell) > 0, (row, name, cell)
    assert "## Targets (issue 6)" in report and "| W2 memory |" in report
    assert "| W1 | zarrdask / LIMIT | <= 1.6 |" in report
    assert "Command: `python benchmarks/bench.py --quick --repeat 1" in report
    assert not list((tmp_path / "work").iterdir()), "bench left its temporary stores behind"
