"""How the conformance suite makes, reopens and closes stores, and what a store can do.

:class:`StoreCapabilities` says what a store cannot do (the suite then checks
the refusal instead), :class:`StoreFactory` makes and reopens one kind of
store, and ``_Opened`` tracks the stores a test made so they are all closed.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["StoreCapabilities", "StoreFactory", "close_store"]

Store = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What a store can do; the suite skips (or checks the refusal of) what it cannot.

    Attributes
    ----------
    validates : bool
        Refuses bad keys (``BAD_KEYS``) with ``ValueError`` and non-``str`` keys
        with ``TypeError`` (a plain ``dict`` does not).
    checks_values : bool
        Refuses values that are not bytes-like with ``TypeError``.
    overwrites : bool
        A key may be written again; if False, rewriting with other bytes must
        raise and keep the first value.
    deletes : bool
        Keys may be deleted; if False, deleting must raise and lose nothing.
    pickles : bool
        A pickled copy works on the same data.
    threads : bool
        Safe to write from several threads at once.
    """

    validates: bool = True
    checks_values: bool = True
    overwrites: bool = True
    deletes: bool = True
    pickles: bool = True
    threads: bool = True


@dataclass(slots=True)
class StoreFactory:
    """How the suite makes and reopens one kind of store.

    Parameters
    ----------
    make : callable
        ``make() -> store``: a new, empty store.
    reopen : callable, optional
        ``reopen(store, read_only) -> store``: a new handle on the data of
        ``store`` (which the suite has closed). None disables the read-only
        and persistence tests.
    capabilities : StoreCapabilities, optional
        What the store can do.
    name : str, optional
        For messages.
    """

    make: Callable[[], Store]
    reopen: Callable[[Store, bool], Store] | None = None
    capabilities: StoreCapabilities = field(default_factory=StoreCapabilities)
    name: str = "store"


def close_store(store: Any) -> None:
    """Close ``store`` if it has a ``close`` method."""
    close = getattr(store, "close", None)
    if callable(close):
        close()


class _Opened:
    """The stores a test made; all closed at teardown."""

    def __init__(self, factory: StoreFactory) -> None:
        self.factory = factory
        self.caps = factory.capabilities
        self._open: list[Any] = []

    def make(self) -> Store:
        store = self.factory.make()
        self._open.append(store)
        return store

    def close(self, store: Any) -> None:
        for i, s in enumerate(self._open):
            if s is store:
                del self._open[i]
                break
        close_store(store)

    def reopen(self, store: Store, read_only: bool) -> Store:
        if self.factory.reopen is None:
            pytest.skip(f"{self.factory.name}: no way to reopen its data was given")
        self.close(store)
        new = self.factory.reopen(store, read_only)
        self._open.append(new)
        return new

    def close_all(self) -> None:
        while self._open:
            close_store(self._open.pop())
