#!/usr/bin/env bash
# Install everything the real-server store tests need (tests/servers.py starts the servers).
#
#   bash ci/install_services.sh
#
# What it installs, each step skipped when already done (a second run takes about a second):
#   apt   redis-server (RedisStore), libdb-dev (to build berkeleydb)
#   pip   moto[server] s3fs redis pymongo lmdb berkeleydb azure-storage-blob, into $PYTHON
#   npm   azurite@3.35.0 (ABSStore)         -> $ZARRDASK_VENVS/azurite/node_modules/.bin/azurite-blob
#   venv  mongoeco[wire]==4.11.0 on Python 3.13 (MongoDBStore's server; needs Python >= 3.13)
#                                           -> $ZARRDASK_VENVS/mongoeco/bin/python
# Environment: PYTHON (default python3), ZARRDASK_VENVS (default <repo>/.venvs, gitignored),
#              PYTHON313 (interpreter for the mongoeco venv; default: pyenv's 3.13, else python3.13).
# Exits non-zero if a step fails, naming it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${ZARRDASK_VENVS:-$ROOT/.venvs}"
PYTHON="${PYTHON:-python3}"
AZURITE_SPEC="azurite@3.35.0"
MONGOECO_SPEC="mongoeco[wire]==4.11.0"
PIP=("$PYTHON" -m pip install --quiet --disable-pip-version-check)

log() { printf 'install_services: %s\n' "$*"; }
fail() { printf 'install_services: ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$VENVS"
# One installer at a time (two CI steps or pytest sessions may ask at once).
if command -v flock >/dev/null 2>&1; then
    exec 8>"$VENVS/.services.lock"
    flock 8
fi

as_root() {
    if [ "$(id -u)" = "0" ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

# --- apt: redis-server, libdb-dev ---------------------------------------------------------
apt_missing=()
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
dpkg -s libdb-dev >/dev/null 2>&1 || apt_missing+=(libdb-dev)
if [ "${#apt_missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install ${apt_missing[*]} by hand"
    log "apt-get install ${apt_missing[*]}"
    as_root apt-get update -qq || fail "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${apt_missing[@]}" >/dev/null || fail "apt-get install ${apt_missing[*]} failed"
fi
log "redis-server: $(redis-server --version | head -1)"

# --- pip: client libraries and moto's server ----------------------------------------------
py_ok() {
    "$PYTHON" - <<'EOF' >/dev/null 2>&1
import importlib.util, sys
mods = ["moto.server", "flask", "s3fs", "redis", "pymongo", "lmdb", "berkeleydb",
        "azure.storage.blob"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in mods) else 1)
EOF
}
if ! py_ok; then
    # s3fs releases pin fsspec exactly: ask for the s3fs that matches the fsspec we have,
    # so installing it never moves fsspec under zarrdask.
    FSSPEC_VERSION="$("$PYTHON" -c 'import fsspec; print(fsspec.__version__)' 2>/dev/null || true)"
    S3FS_SPEC="s3fs"
    [ -n "$FSSPEC_VERSION" ] && S3FS_SPEC="s3fs==$FSSPEC_VERSION"
    log "pip install moto[server] $S3FS_SPEC redis pymongo lmdb berkeleydb azure-storage-blob"
    if ! "${PIP[@]}" 'moto[server]' "$S3FS_SPEC" redis pymongo lmdb berkeleydb \
            azure-storage-blob; then
        log "retrying with an unpinned s3fs"
        "${PIP[@]}" 'moto[server]' s3fs redis pymongo lmdb berkeleydb azure-storage-blob ||
            fail "pip install of the store client libraries failed"
    fi
    py_ok || fail "the store client libraries were installed but do not import"
fi
log "python libraries: ok ($("$PYTHON" -c 'import s3fs, moto; print("s3fs", s3fs.__version__, "moto", moto.__version__)'))"

# --- npm: Azurite ---------------------------------------------------------------------------
AZ_DIR="$VENVS/azurite"
AZ_BIN="$AZ_DIR/node_modules/.bin/azurite-blob"
if [ ! -x "$AZ_BIN" ] || [ ! -f "$AZ_DIR/.complete" ]; then
    command -v npm >/dev/null 2>&1 || fail "npm not found; Azurite (ABSStore tests) needs Node.js and npm"
    log "npm install $AZURITE_SPEC into $AZ_DIR"
    rm -rf "$AZ_DIR"
    mkdir -p "$AZ_DIR"
    # A package.json of our own keeps npm from walking up to some parent project.
    printf '{"name": "zarrdask-azurite", "private": true}\n' > "$AZ_DIR/package.json"
    npm install --prefix "$AZ_DIR" --no-audit --no-fund --loglevel=error "$AZURITE_SPEC" \
        >/dev/null || fail "npm install $AZURITE_SPEC failed"
    [ -x "$AZ_BIN" ] || fail "npm installed $AZURITE_SPEC but $AZ_BIN is missing"
    touch "$AZ_DIR/.complete"
fi
log "azurite: $AZ_BIN"

# --- Python 3.13 venv: mongoeco wire server ------------------------------------------------
MONGO_DIR="$VENVS/mongoeco"
mongo_ok() {
    [ -f "$MONGO_DIR/.complete" ] && [ -x "$MONGO_DIR/bin/python" ] &&
        "$MONGO_DIR/bin/python" -c 'import mongoeco.wire' >/dev/null 2>&1
}
find_python313() {
    if [ -n "${PYTHON313:-}" ]; then
        echo "$PYTHON313"
        return 0
    fi
    local candidate
    if command -v pyenv >/dev/null 2>&1; then
        candidate="$(PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || true)"
        if [ -n "$candidate" ] && "$candidate" -c 'import venv' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    fi
    for candidate in python3.13 python3.14; do
        if command -v "$candidate" >/dev/null 2>&1 &&
                PYENV_VERSION=3.13.0 "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 13))' \
                    >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
if ! mongo_ok; then
    PY313="$(find_python313)" || fail "no Python >= 3.13 found for the mongoeco venv (set PYTHON313)"
    log "creating $MONGO_DIR with $PY313 and '$MONGOECO_SPEC'"
    rm -rf "$MONGO_DIR"
    PYENV_VERSION=3.13.0 "$PY313" -m venv "$MONGO_DIR" || fail "venv creation with $PY313 failed"
    "$MONGO_DIR/bin/python" -m pip install --quiet --disable-pip-version-check "$MONGOECO_SPEC" ||
        fail "pip install $MONGOECO_SPEC failed"
    touch "$MONGO_DIR/.complete"
    mongo_ok || fail "$MONGO_DIR was made but 'import mongoeco.wire' fails in it"
fi
log "mongoeco: $MONGO_DIR/bin/python ($("$MONGO_DIR/bin/python" --version 2>&1))"
log "all services installed"
