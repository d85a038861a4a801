"""Read and write Zarr v2 arrays with zarr-python 3; runs inside the ``.venvs/zarr3`` virtualenv.

This script is the only code that imports zarr 3. The test suite runs it through
:mod:`tests.interop.zarr3` in a subprocess, because zarr 2.18 (imported by the
tests) and zarr 3 cannot live in one environment. It imports nothing of ours.

Commands (one JSON document is printed on stdout)::

    python zarr3_driver.py read PATH OUT.npy     # values -> OUT.npy, metadata -> stdout
    python zarr3_driver.py write SPEC.json       # create + write an array, .zarray -> stdout
    python zarr3_driver.py batch JOBS.json       # a JSON list of {"cmd": ..., ...} jobs

A ``read`` prints ``shape``, ``chunks``, ``dtype`` (numpy ``dtype.str``), ``fill_value``
(its ``repr``), ``fill_npy`` (the fill value saved as a 0-d ``.npy``, or null),
``order``, ``dimension_separator``, ``compressor`` (codec config or null) and
``filters`` (list of codec configs or null).

A ``write`` spec has ``path``, ``data_npy`` (the whole array; its dtype and shape
are used), ``chunks``, ``compressor`` (config or null), ``filters`` (list of configs
or null), ``order``, ``separator``, ``fill_npy`` (0-d ``.npy`` or null) and
``region`` (list of ``[start, stop]`` per axis, or null for everything).

In ``batch`` mode a failing job does not stop the others: its result is
``{"ok": false, "error": ..., "traceback": ...}``.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr


def _config(codec: Any) -> dict[str, Any] | None:
    if codec is None:
        return None
    if hasattr(codec, "get_config"):
        return codec.get_config()
    if hasattr(codec, "to_dict"):  # a zarr 3 codec wrapper
        return codec.to_dict()
    raise TypeError(f"cannot describe codec {codec!r}")


def read(path: str, out_npy: str) -> dict[str, Any]:
    """Open ``path`` as a zarr_format=2 array, save its values to ``out_npy``, describe it."""
    array = zarr.open_array(path, mode="r", zarr_format=2)
    meta = array.metadata
    values = np.asarray(array[...])
    np.save(out_npy, values, allow_pickle=False)
    fill = meta.fill_value
    fill_npy = None
    if fill is not None:
        fill_npy = str(Path(out_npy).with_suffix(".fill.npy"))
        np.save(fill_npy, np.array(fill, dtype=values.dtype), allow_pickle=False)
    filters = meta.filters
    return {
        "ok": True,
        "zarr_version": zarr.__version__,
        "shape": list(array.shape),
        "chunks": list(array.chunks),
        "dtype": values.dtype.str,
        "fill_value": repr(fill),
        "fill_npy": fill_npy,
        "order": meta.order,
        "dimension_separator": meta.dimension_separator,
        "compressor": _config(meta.compressor),
        "filters": None if filters is None else [_config(f) for f in filters],
        "values_npy": out_npy,
    }


def write(spec: dict[str, Any]) -> dict[str, Any]:
    """Create a zarr_format=2 array as ``spec`` says and write the region of the data."""
    data = np.load(spec["data_npy"], allow_pickle=False)
    compressor = spec.get("compressor")
    filters = spec.get("filters")
    fill_npy = spec.get("fill_npy")
    fill = None if fill_npy is None else np.load(fill_npy, allow_pickle=False)[()]
    array = zarr.create_array(
        store=spec["path"],
        shape=data.shape,
        chunks=tuple(spec["chunks"]),
        dtype=data.dtype,
        compressors=None if compressor is None else numcodecs.get_codec(compressor),
        filters=None if not filters else [numcodecs.get_codec(f) for f in filters],
        order=spec.get("order", "C"),
        fill_value=fill,
        zarr_format=2,
        chunk_key_encoding={"name": "v2", "separator": spec.get("separator") or "."},
        overwrite=True,
    )
    region = spec.get("region")
    if region is None:
        selection: Any = (...,)
    else:
        selection = tuple(slice(start, stop) for start, stop in region)
    array[selection] = data[selection]
    zarray = Path(spec["path"], ".zarray").read_text()
    return {"ok": True, "zarr_version": zarr.__version__, "zarray": zarray}


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    cmd = job.get("cmd")
    if cmd == "read":
        return read(job["path"], job["out"])
    if cmd == "write":
        return write(job["spec"])
    raise ValueError(f"unknown job command {cmd!r}; expected 'read' or 'write'")


def batch(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run each job; a failure is reported in its result, not raised."""
    results = []
    for job in jobs:
        try:
            result = _run_job(job)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, per job
            result = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        result["id"] = job.get("id")
        results.append(result)
    return results


def main(argv: list[str]) -> int:
    """Dispatch one command; print its JSON result on stdout."""
    usage = "usage: zarr3_driver.py (read PATH OUT.npy | write SPEC.json | batch JOBS.json)"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    warnings.simplefilter("ignore")  # zarr 3 warns about v2 + numcodecs; keep stdout clean
    if cmd == "read" and len(args) == 2:
        result: Any = read(args[0], args[1])
    elif cmd == "write" and len(args) == 1:
        result = write(json.loads(Path(args[0]).read_text()))
    elif cmd == "batch" and len(args) == 1:
        result = batch(json.loads(Path(args[0]).read_text()))
    elif cmd == "version" and not args:
        result = {"ok": True, "zarr_version": zarr.__version__, "numpy_version": np.__version__}
    else:
        print(usage, file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
