"""Write and read xarray Datasets with xarray + zarr-python in a side virtualenv.

Runs inside ``.venvs/zarr3`` (xarray + zarr-python 3, writing ``zarr_format=2``)
or ``.venvs/xarray-zarr2`` (the last xarray release line for zarr-python 2.18),
both made by ``ci/make_venvs.sh``; the tests in ``tests/test_xarray_interop.py``
drive it through :mod:`subprocess`. It imports nothing of ours.

Datasets cross the process boundary as pickles of ``Dataset.to_dict(data="array")``
(plain dicts of numpy arrays), which do not depend on the pandas version.

Commands (one JSON document is printed on stdout)::

    python xarray_zarr3_driver.py version
    python xarray_zarr3_driver.py write IN.pkl PATH [GROUP]   # IN: {"dataset": dict, "mode": ...}
    python xarray_zarr3_driver.py read PATH OUT.pkl [GROUP]   # xr.open_zarr(...).load() -> OUT
"""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any

import xarray as xr
import zarr


def _format_kwargs() -> dict[str, Any]:
    return {"zarr_format": 2} if zarr.__version__.startswith("3") else {}


def version() -> dict[str, Any]:
    """The versions this interpreter runs."""
    return {"ok": True, "xarray": xr.__version__, "zarr": zarr.__version__}


def write(spec_pkl: str, path: str, group: str | None = None) -> dict[str, Any]:
    """Rebuild the pickled Dataset (encoding included) and write it with ``Dataset.to_zarr``."""
    with open(spec_pkl, "rb") as f:
        spec = pickle.load(f)
    ds = xr.Dataset.from_dict(spec["dataset"])
    ds.to_zarr(path, group=group, mode=spec.get("mode", "w"), consolidated=True,
               **_format_kwargs())
    return {**version(), "path": path}


def read(path: str, out_pkl: str, group: str | None = None) -> dict[str, Any]:
    """Open with ``xr.open_zarr`` (consolidated), load, and pickle the Dataset as a dict."""
    ds = xr.open_zarr(path, group=group, consolidated=True, **_format_kwargs()).load()
    with open(out_pkl, "wb") as f:
        pickle.dump(ds.to_dict(data="array"), f, protocol=4)
    return {**version(), "variables": sorted(map(str, ds.variables))}


def main(argv: list[str]) -> int:
    """Run one command; print its JSON result."""
    commands = {"version": version, "write": write, "read": read}
    if not argv or argv[0] not in commands:
        print(f"usage: {sys.argv[0]} {{{'|'.join(commands)}}} ...", file=sys.stderr)
        return 2
    print(json.dumps(commands[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
