"""Test helpers shipped with zarrdask: the store conformance suite.

``from zarrdask.testing import StoreTests`` and subclass it in a pytest module
to check that a store follows the store contract (see
:mod:`zarrdask.testing.store_tests`). Importing this package needs pytest.
"""

from __future__ import annotations

from zarrdask.testing.factory import StoreCapabilities, StoreFactory, close_store
from zarrdask.testing.store_tests import BAD_KEYS, StoreTests

__all__ = ["BAD_KEYS", "StoreCapabilities", "StoreFactory", "StoreTests", "close_store"]
