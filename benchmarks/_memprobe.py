"""Peak memory of W2 (read the W1 array whole) in a fresh process, above its baseline.

Usage (any of the benchmark's Pythons; prints one JSON document)::

    python benchmarks/_memprobe.py BACKEND STORE_DIR SCRATCH_DIR

The process imports the backend and warms it up on a tiny array in ``SCRATCH_DIR`` (thread
pools started, lazy imports done), then takes its resident set size as the baseline, resets
the kernel's high-water mark (``/proc/self/clear_refs``), reads ``STORE_DIR`` whole, and
reports the new high-water mark. The array read is held until the peak is taken, so the
answer includes the result itself: 1.0x the array's size is the least possible.
Where the mark cannot be reset, ``ru_maxrss`` is used (and ``method`` says so).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # zarrdask from a checkout

from _backends import make_backend  # noqa: E402
from _common import Selection, StoreSpec  # noqa: E402
from _workloads import warm_up  # noqa: E402


def _status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def probe(backend_name: str, store_dir: str, scratch: str) -> dict[str, object]:
    """Measure; return baseline, peak and array bytes."""
    backend = make_backend(backend_name)
    warm_up(backend, Path(scratch))
    gc.collect()
    baseline = _status_bytes("VmRSS")
    reset = _reset_peak()
    values = backend.read(StoreSpec.directory(store_dir), Selection("all"))
    if reset:
        peak, method = _status_bytes("VmHWM"), "VmHWM after clear_refs"
    else:
        peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss"
    return {"backend": backend_name, "baseline": baseline, "peak": peak,
            "nbytes": int(values.nbytes), "method": method}


def main(argv: list[str]) -> int:
    """Command line: BACKEND STORE_DIR SCRATCH_DIR."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(probe(*argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
