"""xarray interop both ways: xarray + zarr-python writes, zarrdask reads, and the reverse.

xarray releases from 2026.04 on need zarr-python 3, and zarr 2.18.7 lives in
this interpreter, so xarray + zarr-python runs in side virtualenvs made by
``ci/make_venvs.sh``, driven by ``tests/interop/xarray_zarr3_driver.py``:

* ``.venvs/zarr3``: current xarray + zarr-python 3, writing ``zarr_format=2``;
* ``.venvs/xarray-zarr2``: xarray 2026.2 (the last line supporting zarr 2) on
  this interpreter's zarr-python 2.18.7.

Datasets cross the process boundary as pickled ``Dataset.to_dict`` dicts, and
are compared with ``xr.testing.assert_identical``.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

xr = pytest.importorskip("xarray")

from tests.interop.zarr3 import MAKE_VENVS, ROOT, _clean_env  # noqa: E402
from tests.test_xarray import realistic_dataset  # noqa: E402
from zarrdask.xarray_backend import to_zarr  # noqa: E402

pytestmark = pytest.mark.interop

DRIVER = Path(__file__).parent / "interop" / "xarray_zarr3_driver.py"
VENVS = {"zarr3": ROOT / ".venvs" / "zarr3", "zarr2": ROOT / ".venvs" / "xarray-zarr2"}


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _driver(python: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run([str(python), str(DRIVER), *args], capture_output=True, text=True,
                          timeout=300, env=_clean_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"xarray driver {args!r} exited {proc.returncode}:\n{proc.stderr}")
    return json.loads(proc.stdout)


def _ready(python: Path) -> dict[str, Any] | None:
    if not python.exists():
        return None
    try:
        return _driver(python, "version")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return None


@pytest.fixture(scope="module", params=["zarr3", "zarr2"])
def runner(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    """An interpreter with xarray + zarr-python (3, or 2.18 with xarray 2026.2)."""
    python = _python(VENVS[request.param])
    versions = _ready(python)
    if versions is None:
        proc = subprocess.run(["bash", str(MAKE_VENVS)], capture_output=True, text=True,
                              timeout=900, env=_clean_env(), check=False)
        versions = _ready(python)
        if versions is None:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
            pytest.skip(f"no xarray + zarr-python venv {VENVS[request.param].name}: "
                        f"ci/make_venvs.sh could not make it (offline?):\n{tail}")
    major = "3" if request.param == "zarr3" else "2"
    assert versions["zarr"].startswith(major + "."), versions
    return python, versions


def _dump(ds: xr.Dataset, path: Path) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"dataset": ds.to_dict(data="array", encoding=True), "mode": "w"}, f)
    return path


def _load(path: Path) -> xr.Dataset:
    with open(path, "rb") as f:
        return xr.Dataset.from_dict(pickle.load(f))


def _metadata(path: Path) -> dict[str, Any]:
    """Every metadata document under ``path``, parsed."""
    docs = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            if name in (".zarray", ".zattrs", ".zgroup"):
                key = Path(root, name).relative_to(path).as_posix()
                docs[key] = json.loads(Path(root, name).read_text())
    return docs


def test_theirs_read_by_zarrdask(runner: Any, tmp_path: Path) -> None:
    """In a group (the root is written in test_same_metadata_as_xarray_with_zarr_python)."""
    python, _ = runner
    group = "obs/daily"
    ds = realistic_dataset()
    path = tmp_path / "theirs.zarr"
    _driver(python, "write", str(_dump(ds, tmp_path / "in.pkl")), str(path), group)
    ours = xr.open_dataset(path, engine="zarrdask", group=group)
    xr.testing.assert_identical(ours, ds)
    _driver(python, "read", str(path), str(tmp_path / "out.pkl"), group)
    xr.testing.assert_identical(ours, _load(tmp_path / "out.pkl"))
    lazy = xr.open_dataset(path, engine="zarrdask", group=group, chunks={})
    xr.testing.assert_identical(lazy.compute(), ds)


@pytest.mark.parametrize(("group", "chunked"), [(None, False), ("obs/daily", True)])
def test_ours_read_by_xarray(runner: Any, tmp_path: Path, group: str | None,
                             chunked: bool) -> None:
    python, _ = runner
    ds = realistic_dataset()
    path = tmp_path / "ours.zarr"
    to_zarr(ds.chunk({"time": 2}) if chunked else ds, path, group=group)
    _driver(python, "read", str(path), str(tmp_path / "out.pkl"), *([group] if group else []))
    xr.testing.assert_identical(_load(tmp_path / "out.pkl"), ds)


def test_same_metadata_as_xarray_with_zarr_python(runner: Any, tmp_path: Path) -> None:
    """Every .zarray/.zattrs/.zgroup equals what xarray + zarr-python writes; with zarr
    2.18 even .zmetadata is byte for byte the same."""
    python, versions = runner
    ds = realistic_dataset()
    theirs, ours = tmp_path / "theirs.zarr", tmp_path / "ours.zarr"
    _driver(python, "write", str(_dump(ds, tmp_path / "in.pkl")), str(theirs))
    to_zarr(ds, ours)
    xr.testing.assert_identical(xr.open_dataset(theirs, engine="zarrdask"), ds)
    their_docs, our_docs = _metadata(theirs), _metadata(ours)
    if versions["zarr"].startswith("3."):  # zarr 3 also spells out the default separator
        for doc in their_docs.values():
            if doc.get("dimension_separator") == ".":
                del doc["dimension_separator"]
    assert our_docs == their_docs
    if versions["zarr"].startswith("2."):
        assert (ours / ".zmetadata").read_bytes() == (theirs / ".zmetadata").read_bytes()
