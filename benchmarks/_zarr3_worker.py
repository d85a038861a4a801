"""Run benchmark workloads with zarr-python 3 (``zarr_format=2``); runs in ``.venvs/zarr3``.

zarr 3 cannot share an environment with the zarr 2.18.7 that ``bench.py`` imports, so
``bench.py`` starts this script once with the venv's Python and sends it requests, one JSON
document per line on stdin; each answer is one JSON line on stdout. A request names the
workload, its parameters and the ``.npy`` data files (loaded once, untimed); the worker runs
the same workload code as every other implementation (``_workloads.py``) and answers with
the seconds it measured itself, so process start-up and imports are never timed.

Requests::

    {"cmd": "hello"}                                   -> {"ok": true, "version": "3.x"}
    {"cmd": "warm_up", "workdir": DIR}                 -> {"ok": true}
    {"cmd": "run", "workload": "W2", "params": {...}, "data": {"w1": "w1.npy", ...},
     "workdir": DIR, "cold": true, "prefault_bytes": N} -> {"ok": true, "result": {...}}
    {"cmd": "exit"}

A failing request answers ``{"ok": false, "error": ..., "traceback": ...}`` and the worker
carries on. Imports nothing of zarrdask.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _backends import Zarr3Backend  # noqa: E402
from _common import Params  # noqa: E402
from _workloads import Env, run_workload, warm_up  # noqa: E402


class Worker:
    """The zarr 3 backend plus the data files it has loaded."""

    def __init__(self) -> None:
        self.backend = Zarr3Backend()
        self.arrays: dict[str, np.ndarray] = {}

    def _load(self, files: dict[str, str]) -> dict[str, np.ndarray]:
        for path in files.values():
            if path not in self.arrays:
                self.arrays[path] = np.load(path, allow_pickle=False)
        return {name: self.arrays[path] for name, path in files.items()}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request."""
        cmd = request.get("cmd")
        if cmd == "hello":
            return {"ok": True, "version": self.backend.version()}
        if cmd == "warm_up":
            warm_up(self.backend, Path(request["workdir"]))
            return {"ok": True}
        if cmd == "run":
            env = Env(params=Params.from_json(request["params"]),
                      data=self._load(request["data"]), workdir=Path(request["workdir"]),
                      cold=bool(request["cold"]),
                      prefault_bytes=int(request.get("prefault_bytes", 0)))
            env.workdir.mkdir(parents=True, exist_ok=True)
            result = run_workload(request["workload"], self.backend, env)
            return {"ok": True, "result": result.to_json()}
        raise ValueError(f"unknown command {cmd!r}; expected hello, warm_up, run or exit")


def serve(requests: TextIO, answers: TextIO) -> None:
    """Answer requests until ``exit`` or end of input."""
    worker: Worker | None = None
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if request.get("cmd") == "exit":
                break
            if worker is None:
                worker = Worker()
            answer = worker.handle(request)
        except Exception as exc:  # noqa: BLE001 - reported to bench.py, which records it
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> int:
    """Serve on stdin/stdout; anything the libraries print goes to stderr instead."""
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # C-level writes to fd 1 land on stderr too
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
