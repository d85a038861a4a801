"""Real servers for the network store tests: start them on loopback, hand out addresses, stop them.

Session-scoped pytest fixtures (registered in ``tests/conftest.py``):

=================== ============================ ===============================
fixture             value                        server
=================== ============================ ===============================
``redis_server``    ``(host, port)``             Debian ``redis-server``
``s3_server``       ``endpoint_url``             moto's standalone S3 server
``azurite_server``  connection string            Azurite (``azurite-blob``)
``mongo_server``    ``(host, port)``             mongoeco wire server (Py 3.13)
=================== ============================ ===============================

Each server listens on ``127.0.0.1`` on a free port, keeps no state on disk,
and is stopped by its PID when the session ends. A fixture skips (naming what
is missing) only when the server's program or the client library is not
installed -- ``bash ci/install_services.sh`` installs them all; a server that
is installed but fails to start is an error, with the end of its log.

Helpers for tests: :func:`s3_storage_options`, :func:`make_bucket`,
:func:`reset_moto` and :data:`AZURITE_ACCOUNT` / :data:`AZURITE_KEY` (Azurite's
publicly documented development account).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "ServerProcess",
    "azurite_server",
    "azurite_connection_string",
    "free_port",
    "make_bucket",
    "mongo_server",
    "redis_server",
    "reset_moto",
    "s3_server",
    "s3_storage_options",
    "start_server",
    "wait_for_port",
]

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
VENVS = Path(os.environ.get("ZARRDASK_VENVS", ROOT / ".venvs"))
STARTUP_TIMEOUT = 30.0

#: Azurite's well-known development account and its public key (documented by Azure).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: Credentials moto accepts; the real AWS never sees them (loopback only).
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None,
                  timeout: float = STARTUP_TIMEOUT) -> None:
    """Wait until ``127.0.0.1:port`` accepts connections.

    Raises
    ------
    RuntimeError
        If ``proc`` exits first or ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode} before port {port} opened")
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open within {timeout:.0f} s")


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A server started by :func:`start_server`: its process, port and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_tail(self, nbytes: int = 2000) -> str:
        """Return the end of the server's log."""
        try:
            return self.log.read_bytes()[-nbytes:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_server(name: str, argv: Sequence[str], port: int, log_dir: Path,
                 env: dict[str, str] | None = None) -> ServerProcess:
    """Start ``argv`` (a server listening on ``port``), wait for the port, return the handle.

    Raises
    ------
    RuntimeError
        If the server does not come up; the message holds the end of its log.
    """
    log = log_dir / f"{name}.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
    server = ServerProcess(name, proc, port, log)
    atexit.register(server.stop)  # if the session dies before the fixture's teardown
    try:
        wait_for_port(port, proc)
    except RuntimeError as exc:
        server.stop()
        raise RuntimeError(
            f"{name} did not start ({' '.join(argv)}): {exc}\n--- log ---\n{server.log_tail()}"
        ) from None
    return server


def _serve(name: str, argv: Sequence[str], port: int,
           factory: pytest.TempPathFactory, env: dict[str, str] | None = None,
           ) -> Iterator[ServerProcess]:
    server = start_server(name, argv, port, factory.mktemp(f"server-{name}"), env)
    try:
        yield server
    finally:
        server.stop()


def _require_module(module: str, what: str) -> None:
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        pytest.skip(f"{what}: Python package {module!r} is not installed "
                    "(run: bash ci/install_services.sh)")


def _require_program(path: str | None, what: str, hint: str) -> str:
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"{what}: {hint} not found (run: bash ci/install_services.sh)")
    return path


# --------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A ``redis-server`` on 127.0.0.1 (no persistence); yields ``(host, port)``."""
    _require_module("redis", "Redis tests")
    exe = _require_program(shutil.which("redis-server"), "Redis tests", "redis-server")
    port = free_port()
    work = tmp_path_factory.mktemp("redis-data")
    argv = [exe, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
            "--dir", str(work), "--protected-mode", "yes"]
    for server in _serve("redis", argv, port, tmp_path_factory):
        yield HOST, server.port


# --------------------------------------------------------------------------------------
# S3 (moto)
# --------------------------------------------------------------------------------------


def s3_storage_options(endpoint_url: str, **extra: Any) -> dict[str, Any]:
    """Return fsspec ``storage_options`` for the moto server at ``endpoint_url``.

    Examples
    --------
    >>> s3_storage_options("http://127.0.0.1:5000")["client_kwargs"]
    {'endpoint_url': 'http://127.0.0.1:5000'}
    """
    options: dict[str, Any] = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint_url},
    }
    options.update(extra)
    return options


#: Buckets made by :func:`make_bucket` since the last :func:`reset_moto`, per endpoint.
_BUCKETS: set[tuple[str, str]] = set()


def make_bucket(endpoint_url: str, bucket: str) -> None:
    """Create ``bucket`` (3-63 characters) on the moto server; an existing one is fine."""
    import s3fs

    if (endpoint_url, bucket) in _BUCKETS:
        return
    fs = s3fs.S3FileSystem(**s3_storage_options(endpoint_url))  # one cached client
    fs.invalidate_cache()
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    fs.invalidate_cache()
    _BUCKETS.add((endpoint_url, bucket))


def reset_moto(endpoint_url: str) -> None:
    """Drop every bucket and object on the moto server."""
    req = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback only
        resp.read()
    _BUCKETS.difference_update({b for b in _BUCKETS if b[0] == endpoint_url})


def _moto_argv() -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "moto.server"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1; yields its ``endpoint_url``.

    For the session, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` are
    ``testing``, ``AWS_DEFAULT_REGION`` is ``us-east-1`` (a ``region_name``
    in ``client_kwargs`` would make bucket creation fail) and
    ``AWS_ENDPOINT_URL`` points at moto, so a plain ``s3://`` URL without
    ``storage_options`` reaches moto too (and nothing reaches AWS).
    """
    _require_module("s3fs", "S3 tests")
    _require_module("flask", "S3 tests (moto[server])")
    _require_module("moto.server", "S3 tests (moto[server])")
    port = free_port()
    argv = [*_moto_argv(), "-H", HOST, "-p", str(port)]
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _AWS_ENV.items():
            mp.setenv(name, value)
        # Keep a developer's ~/.aws out of the tests.
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        # Every S3 client without an explicit endpoint talks to moto, never to AWS.
        endpoint = f"http://{HOST}:{port}"
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        mp.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        for _ in _serve("moto", argv, port, tmp_path_factory, env=_AWS_ENV):
            yield endpoint


# --------------------------------------------------------------------------------------
# Azure Blob Storage (Azurite)
# --------------------------------------------------------------------------------------


def azurite_connection_string(port: int) -> str:
    """Return the connection string of the development account on ``127.0.0.1:port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://{HOST}:{port}/{AZURITE_ACCOUNT};"
    )


def _azurite_program() -> str | None:
    local = VENVS / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1 (in memory, no telemetry); yields a connection string."""
    _require_module("azure.storage.blob", "Azure tests")
    exe = _require_program(_azurite_program(), "Azure tests", "azurite-blob (npm azurite)")
    if shutil.which("node") is None:
        pytest.skip("Azure tests: node not found (run: bash ci/install_services.sh)")
    port = free_port()
    argv = [exe, "--blobHost", HOST, "--blobPort", str(port), "--inMemoryPersistence",
            "--extentMemoryLimit", "256", "--disableTelemetry", "--skipApiVersionCheck",
            "--loose", "--silent"]
    for server in _serve("azurite", argv, port, tmp_path_factory):
        yield azurite_connection_string(server.port)


# --------------------------------------------------------------------------------------
# MongoDB (mongoeco wire server, Python >= 3.13 venv)
# --------------------------------------------------------------------------------------


def _mongoeco_python() -> str | None:
    python = VENVS / "mongoeco" / "bin" / "python"
    return str(python) if python.exists() else None


def _wait_for_mongo(host: str, port: int, timeout: float = STARTUP_TIMEOUT) -> None:
    """Wait until the server answers ``ping`` (it has no ``buildinfo``/``server_info``)."""
    import pymongo

    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        host=host, port=port, directConnection=True, serverSelectionTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A MongoDB wire-protocol server (mongoeco, in memory) on 127.0.0.1; yields ``(host, port)``.

    Connect with ``directConnection=True``.
    """
    _require_module("pymongo", "MongoDB tests")
    python = _require_program(_mongoeco_python(), "MongoDB tests",
                              f"{VENVS / 'mongoeco'} (Python 3.13 venv with mongoeco[wire])")
    port = free_port()
    argv = [python, str(ROOT / "tests" / "mongo_wire_server.py"), str(port)]
    for server in _serve("mongoeco", argv, port, tmp_path_factory):
        _wait_for_mongo(HOST, server.port)
        yield HOST, server.port
