"""Smoke test of ``benchmarks/bench.py``: a quick run finishes and writes its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_run(tmp_path: Path) -> None:
    """``bench.py --quick --repeat 1`` exits 0 and writes a markdown row per workload."""
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--repeat", "1",
         "--out", str(out), "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = out.read_text()
    assert "| W1 |" in report and "| W2 |" in report
    assert "zarrdask" in report
    w1 = next(line for line in report.splitlines() if line.startswith("| W1 |"))
    cells = [c.strip() for c in w1.strip("|").split("|")]
    assert float(cells[2]) > 0, f"zarrdask W1 time missing in {w1!r}"
    assert not list((tmp_path / "work").iterdir()), "bench left its temporary stores behind"
