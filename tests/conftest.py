"""Shared pytest configuration: the custom markers."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the project's markers."""
    config.addinivalue_line("markers", "slow: long-running test, deselect with -m 'not slow'")
    config.addinivalue_line("markers", "interop: reads or writes data with other Zarr implementations")


# --- interop: zarr-python 3 in its own virtualenv (tests/interop/zarr3.py) -------------------


from tests.interop.zarr3 import Zarr3Runner, Zarr3Unavailable, ensure_zarr3  # noqa: E402


@pytest.fixture(scope="session")
def zarr3_runner() -> Zarr3Runner:
    """A runner for the zarr 3 driver; makes ``.venvs/zarr3`` if missing, else skips."""
    try:
        return Zarr3Runner(ensure_zarr3())
    except Zarr3Unavailable as exc:
        pytest.skip(f"zarr-python 3 unavailable: {exc}")


# --- real servers for the network stores (tests/servers.py) ----------------------------------

from tests.servers import (  # noqa: E402,F401  (fixtures are found by name)
    azurite_server,
    mongo_server,
    redis_server,
    s3_server,
)
