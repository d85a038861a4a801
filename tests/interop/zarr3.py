"""Run :mod:`tests.interop.zarr3_driver` under zarr-python 3 in its own virtualenv.

zarr 2.18 (imported in-process by the tests) and zarr 3 cannot share an
environment, so zarr 3 lives in ``.venvs/zarr3`` (made by ``ci/make_venvs.sh``)
and is driven through :mod:`subprocess`. This module finds or makes that venv,
runs the driver, and turns :class:`~tests.interop.cases.Case` objects into driver
jobs. Set ``ZARRDASK_ZARR3_PYTHON`` to use another interpreter that has zarr 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.interop.cases import Case

__all__ = [
    "DRIVER",
    "MAKE_VENVS",
    "VENV_DIR",
    "Zarr3Runner",
    "Zarr3Unavailable",
    "ensure_zarr3",
    "read_job",
    "write_job",
]

ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = ROOT / ".venvs" / "zarr3"
DRIVER = Path(__file__).with_name("zarr3_driver.py")
MAKE_VENVS = ROOT / "ci" / "make_venvs.sh"
PYTHON_ENV_VAR = "ZARRDASK_ZARR3_PYTHON"


class Zarr3Unavailable(RuntimeError):
    """zarr-python 3 cannot be run here; the message says why."""


def _clean_env() -> dict[str, str]:
    """The environment for the venv's interpreter: none of our Python path settings."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _probe(python: Path) -> str | None:
    """Return the zarr version ``python`` imports if it is 3.x, else ``None``."""
    if not python.exists():
        return None
    try:
        proc = subprocess.run(
            [str(python), "-c", "import zarr, numcodecs, numpy; print(zarr.__version__)"],
            capture_output=True, text=True, timeout=120, env=_clean_env(), check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version.startswith("3."):
        return None
    return version


def ensure_zarr3(timeout: float = 900.0) -> Path:
    """Return an interpreter with zarr 3, making ``.venvs/zarr3`` first if needed.

    Parameters
    ----------
    timeout : float
        Seconds allowed for ``ci/make_venvs.sh``.

    Raises
    ------
    Zarr3Unavailable
        If ``ZARRDASK_ZARR3_PYTHON`` names an interpreter without zarr 3, or the
        venv cannot be made (for example without network access to the package index).
    """
    override = os.environ.get(PYTHON_ENV_VAR)
    if override:
        python = Path(override)
        if _probe(python) is None:
            raise Zarr3Unavailable(f"{PYTHON_ENV_VAR}={override!r} cannot import zarr 3.x")
        return python
    python = _venv_python(VENV_DIR)
    if (VENV_DIR / ".complete").exists() and _probe(python) is not None:
        return python
    try:
        proc = subprocess.run(
            ["bash", str(MAKE_VENVS)], capture_output=True, text=True,
            timeout=timeout, env=_clean_env(), check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Zarr3Unavailable(f"ci/make_venvs.sh could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise Zarr3Unavailable(
            f"ci/make_venvs.sh exited {proc.returncode}; zarr 3 venv not made:\n{tail}"
        )
    if _probe(python) is None:
        raise Zarr3Unavailable(f"{python} was made but cannot import zarr 3.x")
    return python


@dataclass(frozen=True, slots=True)
class Zarr3Runner:
    """Runs the zarr 3 driver with one interpreter.

    Parameters
    ----------
    python : pathlib.Path
        An interpreter that imports zarr 3 (see :func:`ensure_zarr3`).
    timeout : float
        Seconds allowed per driver run.
    """

    python: Path
    timeout: float = 300.0

    def run(self, *args: str) -> Any:
        """Run the driver with ``args`` and return its parsed JSON output.

        Raises
        ------
        RuntimeError
            If the driver exits non-zero (the message holds its stderr).
        """
        proc = subprocess.run(
            [str(self.python), str(DRIVER), *args], capture_output=True, text=True,
            timeout=self.timeout, env=_clean_env(), check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"zarr 3 driver {' '.join(args)!r} exited {proc.returncode}:\n{proc.stderr}"
            )
        return json.loads(proc.stdout)

    def version(self) -> str:
        """The zarr version the driver runs."""
        return str(self.run("version")["zarr_version"])

    def read(self, path: Path, out_npy: Path) -> dict[str, Any]:
        """Read the array at ``path`` with zarr 3; values go to ``out_npy``."""
        return self.run("read", str(path), str(out_npy))

    def write(self, spec: dict[str, Any], spec_path: Path) -> dict[str, Any]:
        """Write an array with zarr 3 as ``spec`` says (spec saved to ``spec_path``)."""
        spec_path.write_text(json.dumps(spec))
        return self.run("write", str(spec_path))

    def batch(self, jobs: list[dict[str, Any]], jobs_path: Path) -> dict[str, dict[str, Any]]:
        """Run many jobs in one process; return results by job id."""
        jobs_path.write_text(json.dumps(jobs))
        return {result["id"]: result for result in self.run("batch", str(jobs_path))}


def read_job(case: Case, array_path: Path, workdir: Path) -> dict[str, Any]:
    """A driver job that reads ``array_path`` (written for ``case``) with zarr 3."""
    return {"id": case.id, "cmd": "read", "path": str(array_path),
            "out": str(workdir / f"{case.id}.zarr3-read.npy")}


def write_job(case: Case, array_path: Path, workdir: Path) -> dict[str, Any]:
    """A driver job that writes ``case`` with zarr 3 to ``array_path``.

    The data and fill value go through ``.npy`` files in ``workdir`` so that every
    dtype (NaN, NaT, structured) crosses the process boundary exactly.
    """
    data_npy = workdir / f"{case.id}.data.npy"
    np.save(data_npy, case.data(), allow_pickle=False)
    fill = case.fill_array
    fill_npy = None
    if fill is not None:
        fill_npy = workdir / f"{case.id}.fill.npy"
        np.save(fill_npy, fill, allow_pickle=False)
    compressor = case.compressor_codec
    filters = case.filter_codecs
    spec = {
        "path": str(array_path),
        "data_npy": str(data_npy),
        "chunks": list(case.chunks),
        "compressor": None if compressor is None else compressor.get_config(),
        "filters": None if filters is None else [f.get_config() for f in filters],
        "order": case.order,
        "separator": case.effective_separator,
        "fill_npy": None if fill_npy is None else str(fill_npy),
        "region": None if case.region is None else [list(r) for r in case.region],
    }
    return {"id": case.id, "cmd": "write", "spec": spec}


def load_read_result(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (values, fill value as a 0-d array or ``None``) from a successful read result."""
    values = np.load(result["values_npy"], allow_pickle=False)
    fill_npy = result.get("fill_npy")
    fill = None if fill_npy is None else np.load(fill_npy, allow_pickle=False)
    return values, fill
