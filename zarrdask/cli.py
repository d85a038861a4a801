"""The ``zarrdask`` command line: small commands built only on the public zarrdask API.

Commands
--------
``demo [PATH]``
    Create a 2000 x 2000 int32 array (chunks 500 x 500) on a DirectoryStore at PATH
    (default ``./zarrdask-demo.zarr``), write it, read a region back, check it and
    print ``z.info``.

Run as ``python -m zarrdask demo`` or, once installed, ``zarrdask demo``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import numpy as np

import zarrdask

__all__ = ["build_parser", "demo", "main"]

DEFAULT_DEMO_PATH = "zarrdask-demo.zarr"
DEMO_SHAPE = (2000, 2000)
DEMO_CHUNKS = (500, 500)


def demo(path: str = DEFAULT_DEMO_PATH, out: TextIO | None = None) -> int:
    """Write, read back and describe a small array on a local directory store.

    Parameters
    ----------
    path : str
        Directory of the DirectoryStore; an existing array there is overwritten.
    out : text stream, optional
        Where to print (default ``sys.stdout``).

    Returns
    -------
    int
        0 when the values read back equal the values written, else 1.

    Examples
    --------
    >>> import io, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     demo(os.path.join(d, "demo.zarr"), out=io.StringIO())
    0
    """
    out = sys.stdout if out is None else out
    store = zarrdask.DirectoryStore(path)
    z = zarrdask.open_array(
        store, mode="w", shape=DEMO_SHAPE, chunks=DEMO_CHUNKS, dtype="int32", fill_value=0
    )
    data = np.arange(DEMO_SHAPE[0] * DEMO_SHAPE[1], dtype="int32").reshape(DEMO_SHAPE)

    start = time.perf_counter()
    z[...] = data
    wrote = time.perf_counter() - start
    start = time.perf_counter()
    region = z[250:1250, 1500:2000]
    read = time.perf_counter() - start

    ok = bool(np.array_equal(region, data[250:1250, 1500:2000]))
    print(f"zarrdask {zarrdask.__version__}: demo array at {path}", file=out)
    print(f"wrote {data.nbytes / 1e6:.1f} MB in {z.nchunks} chunks in {wrote:.3f} s", file=out)
    print(f"read z[250:1250, 1500:2000] -> shape {region.shape} in {read:.3f} s; "
          f"values {'match' if ok else 'DO NOT match'}", file=out)
    print(f"corner values: {region[0, :4].tolist()} ... {region[-1, -4:].tolist()}", file=out)
    print(z.info, file=out)
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``zarrdask`` command."""
    parser = argparse.ArgumentParser(
        prog="zarrdask", description="Zarr v2 arrays with the zarr-python 2.x API."
    )
    parser.add_argument("--version", action="version", version=f"zarrdask {zarrdask.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo", help="write and read back a 2000x2000 int32 array on a local directory store"
    )
    demo_parser.add_argument(
        "path", nargs="?", default=DEFAULT_DEMO_PATH,
        help=f"directory of the demo array (default: ./{DEFAULT_DEMO_PATH})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.path)
    parser.print_help()
    return 2
