#!/usr/bin/env bash
# Install the test extra, make the side venvs, (start services), run pytest.
#
#   bash ci/test.sh                  # everything
#   bash ci/test.sh -m "not slow"    # extra arguments go to pytest
#
# Steps, each skippable for a quick local re-run:
#   ZARRDASK_SKIP_INSTALL=1  do not run `pip install -e '.[test]'`
#   ZARRDASK_SKIP_VENVS=1    do not run ci/make_venvs.sh (zarr 3 tests then make the venv
#                            themselves, or skip with the reason)
#   ZARRDASK_SKIP_SERVICES=1 do not run ci/install_services.sh (redis, moto, azurite, mongoeco;
#                            tests/servers.py starts them, a test skips if its binary is missing)
# Services: if ci/services.sh exists it is sourced before pytest. It may define a function
# `services_stop`, which is called on exit (see the trap below).
# The exit code is pytest's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

log() { printf 'ci/test.sh: %s\n' "$*"; }

if [ "${ZARRDASK_SKIP_INSTALL:-0}" != "1" ]; then
    log "installing zarrdask with the test extra"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test]'
fi

if [ "${ZARRDASK_SKIP_VENVS:-0}" != "1" ]; then
    # A venv that cannot be made (no package index) is not fatal: the interop tests
    # that need it skip and say why.
    if ! PYTHON="$PYTHON" bash ci/make_venvs.sh; then
        log "WARNING: ci/make_venvs.sh failed; zarr 3 interop tests will skip"
    fi
fi

if [ "${ZARRDASK_SKIP_SERVICES:-0}" != "1" ]; then
    log "installing the store test servers (ci/install_services.sh)"
    PYTHON="$PYTHON" bash ci/install_services.sh
fi

cleanup() {
    if declare -F services_stop >/dev/null; then
        services_stop || true
    fi
}
trap cleanup EXIT

if [ -f ci/services.sh ]; then
    log "starting services (ci/services.sh)"
    # shellcheck source=/dev/null
    source ci/services.sh
fi

log "running pytest $*"
set +e
"$PYTHON" -m pytest "$@"
status=$?
set -e
exit "$status"
