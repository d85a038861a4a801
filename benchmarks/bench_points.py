"""W5 alone: 100,000 random points from the W1 array (a thin wrapper around ``bench.py``).

The points benchmark now lives in ``bench.py`` as workload W5 (same data, compressor and
implementations as the rest). This wrapper runs only W5 and, unless ``--out`` is given, writes
its report to a temporary file so ``benchmarks/results.md`` is left alone. Every other
``bench.py`` option is passed through::

    python benchmarks/bench_points.py [--repeat N] [--points N] [--impls zarrdask,zarr2] ...
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run ``bench.py --workloads W5 --no-memory`` with ``argv`` passed through."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--out" or a.startswith("--out=") for a in args):
        args += ["--out", str(Path(tempfile.gettempdir()) / "zarrdask-bench-points.md")]
    return bench.main(["--workloads", "W5", "--no-memory", *args])


if __name__ == "__main__":
    sys.exit(main())
