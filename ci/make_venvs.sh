#!/usr/bin/env bash
# Make the side virtualenvs the test suite needs, inside the project (.venvs/, gitignored).
#
#   .venvs/zarr3 : zarr-python 3 (+ numpy), which cannot share an environment with the
#                  zarr 2.18.7 that the tests import; tests/interop/zarr3_driver.py runs in it.
#                  xarray (+ dask) is installed there too, for tests/interop/xarray_zarr3_driver.py
#                  and benchmarks/bench_xarray.py.
#   .venvs/xarray-zarr2 : the last xarray release line that supports zarr-python 2
#                  (XARRAY_ZARR2_SPEC), on top of this interpreter's packages
#                  (--system-site-packages: zarr 2.18.7, numpy, pandas), for the xarray
#                  interop tests with zarr-python 2.18.7. Optional: a failure only warns.
#
# Idempotent: a venv that is complete (marker file + a working import) is left alone, so a
# second run takes well under a second. A half-made venv is removed and made again.
# Environment: PYTHON (interpreter for `-m venv`, default python3),
#              ZARRDASK_VENVS (default <repo>/.venvs), ZARR3_SPEC (default 'zarr>=3,<4'),
#              XARRAY_SPEC (default 'xarray dask[array]'), XARRAY_ZARR2_SPEC (default 'xarray==2026.2.0').
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${ZARRDASK_VENVS:-$ROOT/.venvs}"
PYTHON="${PYTHON:-python3}"
ZARR3_SPEC="${ZARR3_SPEC:-zarr>=3,<4}"
XARRAY_SPEC="${XARRAY_SPEC:-xarray dask[array]}"
XARRAY_ZARR2_SPEC="${XARRAY_ZARR2_SPEC:-xarray==2026.2.0}"

mkdir -p "$VENVS"

# One maker at a time (two pytest sessions may ask at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENVS/.lock"
    flock 9
fi

zarr3_ok() {
    local venv="$1"
    [ -f "$venv/.complete" ] && [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" -c 'import sys, numcodecs, numpy, zarr
sys.exit(0 if zarr.__version__.split(".")[0] == "3" else 1)' >/dev/null 2>&1
}

xarray_ok() {
    "$1/bin/python" -c 'import xarray, dask.array' >/dev/null 2>&1
}

add_xarray() {
    # Installed into a complete venv in place (never rm -rf: other tests may be using it).
    local venv="$1"
    if ! xarray_ok "$venv"; then
        echo "make_venvs: installing '$XARRAY_SPEC' into $venv"
        local specs
        read -r -a specs <<< "$XARRAY_SPEC"  # a list of requirements, never globbed
        # optional: without it only the xarray interop tests skip
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${specs[@]}" ||
            echo "make_venvs: WARNING: could not install '$XARRAY_SPEC' into $venv" >&2
    fi
}

make_zarr3() {
    local venv="$VENVS/zarr3"
    if zarr3_ok "$venv"; then
        add_xarray "$venv"
        echo "make_venvs: $venv is ready"
        return 0
    fi
    echo "make_venvs: creating $venv with '$ZARR3_SPEC'"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$ZARR3_SPEC" numpy
    touch "$venv/.complete"
    if ! zarr3_ok "$venv"; then
        echo "make_venvs: $venv was made but 'import zarr' (3.x) fails in it" >&2
        return 1
    fi
    add_xarray "$venv"
    echo "make_venvs: $venv ready: zarr $("$venv/bin/python" -c 'import zarr; print(zarr.__version__)')"
}

xarray_zarr2_ok() {
    local venv="$1"
    [ -f "$venv/.complete" ] && [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" -c 'import sys, xarray, zarr
sys.exit(0 if zarr.__version__.startswith("2.") else 1)' >/dev/null 2>&1
}

make_xarray_zarr2() {
    local venv="$VENVS/xarray-zarr2"
    if xarray_zarr2_ok "$venv"; then
        echo "make_venvs: $venv is ready"
        return 0
    fi
    echo "make_venvs: creating $venv with '$XARRAY_ZARR2_SPEC' over this interpreter's zarr 2"
    rm -rf "$venv"
    "$PYTHON" -m venv --system-site-packages "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$XARRAY_ZARR2_SPEC"
    touch "$venv/.complete"
    if ! xarray_zarr2_ok "$venv"; then
        echo "make_venvs: $venv was made but xarray with zarr 2.x does not import in it" >&2
        return 1
    fi
    echo "make_venvs: $venv ready: xarray $("$venv/bin/python" -c 'import xarray; print(xarray.__version__)')"
}

make_zarr3
# Optional: its tests skip, saying why, when it is missing.
make_xarray_zarr2 || echo "make_venvs: WARNING: $VENVS/xarray-zarr2 not made" >&2
