"""User attributes of an array or group: the ``.zattrs`` document as a mapping.

:class:`Attributes` reads and writes one JSON object stored under one key of
any ``MutableMapping`` store, with the zarr-python 2.x API. Every write is a
read-modify-write of the stored document (under the synchronizer's lock for
the key when one is given), validated completely before anything is written.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from zarrdask.errors import ReadOnlyError
from zarrdask.keys import ATTRS_KEY, validate_key
from zarrdask.meta import copy_json, json_dumps, parse_attrs
from zarrdask.storage._base import read_document

__all__ = ["Attributes", "normalize_attrs"]


def _describe(path: str) -> str:
    return f"attribute {path!r}"


def _normalize_value(value: Any, path: str) -> Any:
    """Return ``value`` as plain JSON-compatible Python, or raise naming ``path``."""
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.ndarray):
        return _normalize_value(value.tolist(), path)
    if isinstance(value, np.generic):
        return _normalize_value(value.item(), path)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"{_describe(path)} is {value!r}, which is not valid JSON (NaN and Infinity "
                "cannot be stored in strict JSON); use None or a string such as 'NaN' instead"
            )
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"{_describe(path)} has a key {k!r} of type {type(k).__name__}; "
                    "attribute keys must be str"
                )
            out[str(k)] = _normalize_value(v, f"{path}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{_describe(path)} has a value of type {type(value).__name__} ({value!r}), "
        "which is not JSON serialisable; use str, int, float, bool, None, list or dict"
    )


def normalize_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """Validate attributes and convert them to plain JSON-compatible Python.

    numpy scalars become Python scalars (``.item()``) and numpy arrays become
    nested lists (``.tolist()``); tuples become lists; str/int/float subclasses
    become the base type.

    Parameters
    ----------
    attrs : Mapping
        Attribute names to values.

    Returns
    -------
    dict
        A new dict, safe to serialise as strict JSON.

    Raises
    ------
    TypeError
        If a key (at any depth) is not a str, or a value is not serialisable;
        the message names the attribute.
    ValueError
        If a float (at any depth) is NaN or infinite.

    Examples
    --------
    >>> normalize_attrs({"a": np.int64(3), "b": (1, 2)})
    {'a': 3, 'b': [1, 2]}
    """
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(
                f"attribute key {key!r} is of type {type(key).__name__}; attribute keys must be str"
            )
        out[str(key)] = _normalize_value(value, key)
    return out


@functools.lru_cache(maxsize=4096)
def _validate_str_key(key: str) -> str:
    return validate_key(key)


def _checked_key(key: Any) -> str:
    """:func:`~zarrdask.keys.validate_key`, remembered for ``str`` keys."""
    return _validate_str_key(key) if type(key) is str else validate_key(key)


class Attributes(MutableMapping[str, Any]):
    """The user attributes (``.zattrs``) of an array or group, as a mutable mapping.

    Parameters
    ----------
    store : MutableMapping
        The store holding the attributes document.
    key : str, optional
        The store key of the document, such as ``"foo/.zattrs"``.
    read_only : bool, optional
        If True, every write raises :class:`~zarrdask.errors.ReadOnlyError`.
    cache : bool, optional
        If True, keep the document in memory after the first read; call
        :meth:`refresh` to see changes made by other writers. If False, every
        access reads the store.
    synchronizer : Synchronizer, optional
        Writes run under ``synchronizer[key]``.
    on_change : callable, optional
        Called with no arguments after each successful write (outside the lock).

    Notes
    -----
    A missing document reads as ``{}``. Writes re-read the stored document
    (never the cache), change it, validate it completely and write strict JSON
    (indent 4, sorted keys); on any error nothing is written and the cache is
    unchanged. numpy scalars and arrays are stored as Python numbers and lists.
    Values returned are copies: mutating them does not change the attributes.

    Examples
    --------
    >>> store = {}
    >>> attrs = Attributes(store)
    >>> attrs["foo"] = "bar"
    >>> attrs.update(baz=[1, 2])
    >>> attrs.asdict()
    {'foo': 'bar', 'baz': [1, 2]}
    >>> sorted(store)
    ['.zattrs']
    """

    def __init__(
        self,
        store: MutableMapping[str, Any],
        key: str = ATTRS_KEY,
        read_only: bool = False,
        cache: bool = True,
        synchronizer: Any = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.key = _checked_key(key)
        self.read_only = read_only
        self.cache = cache
        self.synchronizer = synchronizer
        self.on_change = on_change
        self._cached: dict[str, Any] | None = None

    # -- reading -----------------------------------------------------------

    def _read_nosync(self) -> dict[str, Any]:
        """Read and parse the stored document; ``{}`` if the key is missing."""
        try:
            data = read_document(self.store, self.key)
        except KeyError:
            return {}
        return parse_attrs(data, self.key)

    def _get(self) -> dict[str, Any]:
        """Return the current document (cached when caching; do not mutate)."""
        if not self.cache:
            return self._read_nosync()
        if self._cached is None:
            self._cached = self._read_nosync()
        return self._cached

    def asdict(self) -> dict[str, Any]:
        """Return a copy of all attributes as a plain dict."""
        return copy_json(self._get())

    def refresh(self) -> None:
        """Re-read the stored document into the cache (no-op when not caching)."""
        if self.cache:
            self._cached = self._read_nosync()

    def __getitem__(self, item: str) -> Any:
        return copy_json(self._get()[item])

    def __contains__(self, item: object) -> bool:
        return item in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._get()))

    def __len__(self) -> int:
        return len(self._get())

    def _ipython_key_completions_(self) -> list[str]:
        return sorted(self._get())

    # -- writing -----------------------------------------------------------

    def _write_op(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Run one read-modify-write: ``change`` maps the stored dict to the new one."""
        if self.read_only:
            raise ReadOnlyError(f"attributes at {self.key!r} are read-only")
        if self.synchronizer is None:
            self._write_nosync(change)
        else:
            with self.synchronizer[self.key]:
                self._write_nosync(change)
        if self.on_change is not None:
            self.on_change()

    def _write_nosync(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        new = normalize_attrs(change(self._read_nosync()))
        data = json_dumps(new)
        self.store[self.key] = data
        if self.cache:
            self._cached = new

    def __setitem__(self, item: str, value: Any) -> None:
        def change(current: dict[str, Any]) -> dict[str, Any]:
            current[item] = value
            return current

        if not isinstance(item, str):
            raise TypeError(
                f"attribute key {item!r} is of type {type(item).__name__}; "
                "attribute keys must be str"
            )
        self._write_op(change)

    def __delitem__(self, item: str) -> None:
        def change(current: dict[str, Any]) -> dict[str, Any]:
            del current[item]  # KeyError before anything is written
            return current

        self._write_op(change)

    def put(self, d: Mapping[str, Any]) -> None:
        """Replace all attributes with ``d`` (one write)."""
        new = dict(d)
        self._write_op(lambda current: new)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update attributes like :meth:`dict.update`, in one read-modify-write."""
        updates = dict(*args, **kwargs)

        def change(current: dict[str, Any]) -> dict[str, Any]:
            current.update(updates)
            return current

        self._write_op(change)

    def clear(self) -> None:
        """Remove all attributes (one write)."""
        self.put({})

    # -- misc --------------------------------------------------------------

    def __repr__(self) -> str:
        return repr(self._get())

    def __getstate__(self) -> tuple[Any, str, bool, bool, Any]:
        return (self.store, self.key, self.read_only, self.cache, self.synchronizer)

    def __setstate__(self, state: tuple[Any, str, bool, bool, Any]) -> None:
        self.__init__(*state)  # type: ignore[misc]
