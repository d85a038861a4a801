"""The store contract: ``BaseStore`` and the helpers that work on any mapping.

A store is any ``MutableMapping[str, bytes]``. :class:`BaseStore` adds optional
capabilities (batched ``getitems``/``setitems``/``delitems``, ``listdir``,
``rmdir``, ``getsize``, ``rename``, ``close``) with correct generic defaults
built on the mapping methods. The module-level helpers (``listdir(store, path)``
and friends) accept any mapping, a plain ``dict`` included, and are the only
place that dispatches on what a store can do.

Rules every store follows:

* only "this key does not exist" raises :class:`KeyError`; permission and I/O
  errors propagate;
* keys are checked with :func:`zarrdask.keys.validate_key` on every write and
  delete;
* a read-only store raises :class:`zarrdask.errors.ReadOnlyError` naming the key;
* prefix operations are exact: ``rmdir("a")`` removes ``a/x`` but not ``ab/x``.

This module imports nothing above :mod:`zarrdask.keys`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from types import TracebackType
from typing import Any

from zarrdask.errors import ReadOnlyError
from zarrdask.keys import (
    ARRAY_META_KEY,
    GROUP_META_KEY,
    join_path,
    normalize_storage_path,
    prefix_of,
)

__all__ = [
    "BaseStore",
    "as_buffer",
    "contains_array",
    "contains_group",
    "delitems",
    "ensure_bytes",
    "getitems",
    "getsize",
    "is_readonly",
    "listdir",
    "rename",
    "rmdir",
    "setitems",
    "store_type_name",
]


def as_buffer(value: Any) -> bytes | memoryview:
    """Return a store value as ``bytes`` or a C-contiguous ``memoryview`` (no copy if possible).

    Parameters
    ----------
    value : bytes-like
        ``bytes``, ``bytearray``, ``memoryview``, a numpy array or any object
        exposing the buffer protocol (or a ``tobytes`` method).

    Returns
    -------
    bytes or memoryview
        The value's bytes in C order.

    Raises
    ------
    TypeError
        If the value is a ``str``, holds Python objects, or is not bytes-like.

    Examples
    --------
    >>> bytes(as_buffer(bytearray(b"ab")))
    b'ab'
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        raise TypeError(f"store values must be bytes-like, not str: {value[:40]!r}")
    try:
        view = memoryview(value)
    except (TypeError, ValueError):  # numpy datetime arrays refuse the buffer protocol
        tobytes = getattr(value, "tobytes", None)
        if callable(tobytes):
            return bytes(tobytes())
        raise TypeError(
            "store values must be bytes-like (bytes, bytearray, memoryview, numpy array), "
            f"not {type(value).__name__}"
        ) from None
    if "O" in view.format:
        raise TypeError(
            f"store values must be bytes-like; a buffer of Python objects "
            f"({type(value).__name__}, format {view.format!r}) cannot be stored"
        )
    if not view.c_contiguous:
        return view.tobytes()
    return view


def ensure_bytes(value: Any) -> bytes:
    """Return a store value as immutable ``bytes`` (see :func:`as_buffer`).

    Examples
    --------
    >>> ensure_bytes(bytearray(b"ab"))
    b'ab'
    """
    buf = as_buffer(value)
    return buf if isinstance(buf, bytes) else buf.tobytes()


def _value_nbytes(value: Any) -> int:
    """Return the size in bytes of a bytes-like value (TypeError if not bytes-like)."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    return memoryview(value).nbytes


# --------------------------------------------------------------------------------------
# Generic implementations over the mapping methods. Paths are already normalised.
# --------------------------------------------------------------------------------------


def _generic_getitems(store: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        try:
            out[key] = store[key]
        except KeyError:
            continue
    return out


def _generic_setitems(store: MutableMapping[str, Any], items: Mapping[str, Any]) -> None:
    for key, value in items.items():
        store[key] = value


def _generic_delitems(store: MutableMapping[str, Any], keys: Iterable[str]) -> None:
    for key in keys:
        try:
            del store[key]
        except KeyError:
            continue


def _generic_listdir(store: Mapping[str, Any], path: str) -> list[str]:
    prefix = prefix_of(path)
    n = len(prefix)
    children: set[str] = set()
    for key in list(store.keys()):
        if len(key) > n and key.startswith(prefix):
            children.add(key[n:].split("/", 1)[0])
    return sorted(children)


def _generic_rmdir(store: MutableMapping[str, Any], path: str) -> None:
    prefix = prefix_of(path)
    doomed = [key for key in list(store.keys()) if key.startswith(prefix)]
    _generic_delitems(store, doomed)


def _generic_getsize(store: Mapping[str, Any], path: str) -> int:
    try:
        if path and path in store:
            return _value_nbytes(store[path])
        prefix = prefix_of(path)
        n = len(prefix)
        size = 0
        for key in list(store.keys()):
            if len(key) > n and key.startswith(prefix) and "/" not in key[n:]:
                try:
                    value = store[key]
                except KeyError:  # deleted meanwhile
                    continue
                size += _value_nbytes(value)
        return size
    except TypeError:  # a value that is not bytes-like: size unknown
        return -1


def check_dimension_separator(dimension_separator: Any) -> str | None:
    """Return a store's ``dimension_separator`` argument if it is None, ``"."`` or ``"/"``.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    if dimension_separator not in (None, ".", "/"):
        raise ValueError(
            f"dimension_separator must be None, '.' or '/', not {dimension_separator!r}"
        )
    return dimension_separator


def _check_rename_paths(src_path: str, dst_path: str) -> None:
    if not src_path or not dst_path:
        raise ValueError(
            f"cannot rename the store root: src_path={src_path!r}, dst_path={dst_path!r}; "
            "both paths must be non-empty"
        )
    if dst_path.startswith(prefix_of(src_path)):
        raise ValueError(f"cannot rename {src_path!r} to {dst_path!r}, a path inside itself")


def _plan_rename(src_path: str, dst_path: str, keys_under: Callable[[str], Iterable[str]],
                 has_key: Callable[[str], bool]) -> dict[str, str]:
    """The moves (old key -> new key) of renaming normalized ``src_path`` to ``dst_path``.

    ``keys_under(prefix)`` lists the keys starting with ``prefix``; ``has_key``
    tells whether ``src_path`` itself is a key. Empty when the paths are equal.

    Raises
    ------
    ValueError
        For the root or a destination inside the source.
    KeyError
        When nothing is at ``src_path``.
    """
    _check_rename_paths(src_path, dst_path)
    if src_path == dst_path:
        return {}
    src_prefix, dst_prefix = prefix_of(src_path), prefix_of(dst_path)
    moves = {key: dst_prefix + key[len(src_prefix):] for key in keys_under(src_prefix)}
    if has_key(src_path):
        moves[src_path] = dst_path
    if not moves:
        raise KeyError(src_path)
    return moves


def _generic_rename(store: MutableMapping[str, Any], src_path: str, dst_path: str) -> None:
    moves = _plan_rename(
        src_path, dst_path,
        lambda prefix: [k for k in list(store.keys()) if k.startswith(prefix)],
        lambda key: key in store)
    if not moves:
        return
    # Write every new key before deleting any old one: a failure half-way loses nothing.
    # One value at a time (bounded memory), unless a new key is also an old key
    # (moving "a/b" to "a"): then every value is read before any is written.
    new_keys = set(moves.values())
    if new_keys.isdisjoint(moves):
        for old, new in moves.items():
            store[new] = store[old]
    else:
        _generic_setitems(store, {new: store[old] for old, new in moves.items()})
    _generic_delitems(store, [old for old in moves if old not in new_keys])


# --------------------------------------------------------------------------------------
# BaseStore
# --------------------------------------------------------------------------------------


class BaseStore(MutableMapping[str, bytes]):
    """Abstract base of zarrdask stores: a ``MutableMapping[str, bytes]`` with extras.

    Subclasses implement ``__getitem__``, ``__setitem__``, ``__delitem__``,
    ``__iter__`` and ``__len__``, call :meth:`_check_writable` before every
    write or delete, and may override any capability below with a faster one.

    Attributes
    ----------
    read_only : bool
        If true, every write or delete raises :class:`~zarrdask.errors.ReadOnlyError`.
    metadata_verbatim : bool
        Whether reading a metadata key gives back exactly what was written (so a
        node just created needs no read-back). True here; stores that translate
        metadata (N5) or must see every read (caches) say False, wrappers ask the
        store they wrap (see :func:`metadata_verbatim`).

    Examples
    --------
    >>> from zarrdask.storage import MemoryStore
    >>> with MemoryStore() as store:
    ...     store.setitems({"a/0": b"x", "a/1": b"yz", "b": b""})
    ...     store.listdir("a"), store.getsize("a")
    (['0', '1'], 3)
    """

    read_only: bool = False
    metadata_verbatim: bool = True

    # -- life cycle -------------------------------------------------------------------

    def close(self) -> None:
        """Release resources held by the store (nothing for most stores)."""

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers for subclasses -------------------------------------------------------

    def _check_writable(self, key: str) -> None:
        """Raise ReadOnlyError naming ``key`` if the store is read-only."""
        if self.read_only:
            raise ReadOnlyError(
                f"{type(self).__name__} is read-only; cannot write or delete {key!r}"
            )

    # -- zarr 2 capability queries ----------------------------------------------------

    def is_readable(self) -> bool:
        """Return True: every store can be read."""
        return True

    def is_writeable(self) -> bool:
        """Return whether keys may be written."""
        return not self.read_only

    def is_listable(self) -> bool:
        """Return True: every store can list its keys."""
        return True

    def is_erasable(self) -> bool:
        """Return whether keys may be deleted."""
        return not self.read_only

    # -- optional capabilities (generic, correct defaults) ----------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys; keys that do not exist are left out of the result.

        Parameters
        ----------
        keys : sequence of str
            Keys to read.

        Returns
        -------
        dict
            ``{key: value}`` for the keys that exist.
        """
        return _generic_getitems(self, keys)

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys.

        Parameters
        ----------
        items : mapping
            ``{key: value}`` to write.
        """
        _generic_setitems(self, items)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys; keys that do not exist are ignored.

        Parameters
        ----------
        keys : iterable of str
            Keys to delete.
        """
        _generic_delitems(self, keys)

    def listdir(self, path: str | None = "") -> list[str]:
        """Return the sorted names of the children one level under ``path``.

        Parameters
        ----------
        path : str, optional
            A hierarchy path; ``""`` (the root) by default.

        Returns
        -------
        list of str
            Child names (keys or sub-folders), sorted; empty if nothing is there.
        """
        return _generic_listdir(self, normalize_storage_path(path))

    def rmdir(self, path: str | None = "") -> None:
        """Remove every key under ``path/`` (exact prefix; ``""`` removes all keys).

        Parameters
        ----------
        path : str, optional
            A hierarchy path.
        """
        path = normalize_storage_path(path)
        self._check_writable(path)
        _generic_rmdir(self, path)

    def getsize(self, path: str | None = "") -> int:
        """Return the size in bytes of the value at ``path``, or of the values directly under it.

        Parameters
        ----------
        path : str, optional
            A key or hierarchy path.

        Returns
        -------
        int
            The size; 0 if nothing is there, -1 if a value is not bytes-like.
        """
        return _generic_getsize(self, normalize_storage_path(path))

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move the key ``src_path`` and every key under ``src_path/`` to ``dst_path``.

        Parameters
        ----------
        src_path, dst_path : str
            Hierarchy paths; neither may be the root, and ``dst_path`` may not
            lie inside ``src_path``.

        Raises
        ------
        KeyError
            If nothing exists at ``src_path``.
        """
        src_path = normalize_storage_path(src_path)
        dst_path = normalize_storage_path(dst_path)
        self._check_writable(src_path)
        _generic_rename(self, src_path, dst_path)


# --------------------------------------------------------------------------------------
# Helpers that work on any MutableMapping
# --------------------------------------------------------------------------------------


def getitems(store: Mapping[str, bytes], keys: Sequence[str]) -> dict[str, bytes]:
    """Read several keys from any store; missing keys are left out.

    Uses the store's own batched ``getitems`` for zarrdask stores, else a loop.

    Examples
    --------
    >>> getitems({"a": b"1"}, ["a", "b"])
    {'a': b'1'}
    """
    if isinstance(store, BaseStore):
        return store.getitems(keys)
    return _generic_getitems(store, keys)


def setitems(store: MutableMapping[str, bytes], items: Mapping[str, bytes]) -> None:
    """Write several keys into any store.

    Examples
    --------
    >>> d = {}
    >>> setitems(d, {"a": b"1"})
    >>> d
    {'a': b'1'}
    """
    if isinstance(store, BaseStore):
        store.setitems(items)
    else:
        _generic_setitems(store, items)


def delitems(store: MutableMapping[str, bytes], keys: Iterable[str]) -> None:
    """Delete several keys from any store; missing keys are ignored.

    Examples
    --------
    >>> d = {"a": b"1"}
    >>> delitems(d, ["a", "b"])
    >>> d
    {}
    """
    if isinstance(store, BaseStore):
        store.delitems(keys)
    else:
        _generic_delitems(store, keys)


def listdir(store: Mapping[str, bytes], path: str | None = "") -> list[str]:
    """Return the sorted child names one level under ``path`` in any store.

    Examples
    --------
    >>> listdir({"a/b/c": b"", "a/d": b"", "ab/x": b""}, "a")
    ['b', 'd']
    """
    path = normalize_storage_path(path)
    own = getattr(store, "listdir", None)
    if callable(own):
        return list(own(path))
    return _generic_listdir(store, path)


def rmdir(store: MutableMapping[str, bytes], path: str | None = "") -> None:
    """Remove every key under ``path/`` (exact prefix) from any store.

    Examples
    --------
    >>> d = {"a/x": b"", "ab/x": b""}
    >>> rmdir(d, "a")
    >>> d
    {'ab/x': b''}
    """
    path = normalize_storage_path(path)
    own = getattr(store, "rmdir", None)
    if callable(own):
        own(path)
    else:
        _generic_rmdir(store, path)


def getsize(store: Mapping[str, bytes], path: str | None = "") -> int:
    """Return the bytes stored at ``path`` (a key) or directly under it; -1 if unknown.

    Examples
    --------
    >>> getsize({"a/x": b"12", "a/y/z": b"345"}, "a")
    2
    """
    path = normalize_storage_path(path)
    own = getattr(store, "getsize", None)
    if callable(own):
        return int(own(path))
    if not isinstance(store, Mapping):
        return -1
    return _generic_getsize(store, path)


def rename(store: MutableMapping[str, bytes], src_path: str, dst_path: str) -> None:
    """Move ``src_path`` and everything under it to ``dst_path`` in any store.

    Uses the store's own ``rename`` when it has one, else moves key by key
    (every new key is written before any old key is deleted). Prefixes are
    exact: moving ``"abc"`` holding ``"abc/bca/x"`` to ``"q"`` gives ``"q/bca/x"``.

    Examples
    --------
    >>> d = {"abc/bca/x": b"1", "abcd": b"2"}
    >>> rename(d, "abc", "q")
    >>> sorted(d)
    ['abcd', 'q/bca/x']
    """
    src_path = normalize_storage_path(src_path)
    dst_path = normalize_storage_path(dst_path)
    own = getattr(store, "rename", None)
    if callable(own):
        own(src_path, dst_path)
    else:
        _generic_rename(store, src_path, dst_path)


def contains_array(store: Mapping[str, bytes], path: str | None = "") -> bool:
    """Return whether an array's metadata (``path/.zarray``) is in the store.

    Examples
    --------
    >>> contains_array({"foo/.zarray": b"{}"}, "foo")
    True
    """
    return join_path(normalize_storage_path(path), ARRAY_META_KEY) in store


def contains_group(store: Mapping[str, bytes], path: str | None = "") -> bool:
    """Return whether a group's metadata (``path/.zgroup``) is in the store.

    Examples
    --------
    >>> contains_group({".zgroup": b"{}"})
    True
    """
    return join_path(normalize_storage_path(path), GROUP_META_KEY) in store


def is_readonly(store: Any) -> bool:
    """Return whether writes to ``store`` will be refused.

    Examples
    --------
    >>> is_readonly({})
    False
    """
    if not isinstance(store, MutableMapping):
        return True
    flag = getattr(store, "read_only", None)
    if isinstance(flag, bool):
        return flag
    writeable = getattr(store, "is_writeable", None)
    if callable(writeable):
        return not writeable()
    return False


def store_type_name(store: Any) -> str:
    """Return the public dotted name of a store's type, for ``info`` output.

    Examples
    --------
    >>> store_type_name({})
    'builtins.dict'
    """
    cls = type(store)
    module = cls.__module__
    if module.startswith("zarrdask.storage."):
        module = "zarrdask.storage"
    return f"{module}.{cls.__qualname__}"



def has_batch_io(store: Any) -> bool:
    """Whether a store batches ``getitems``/``setitems`` better than key-by-key access.

    True for stores that define their own ``getitems`` (network stores fetch many
    keys concurrently). For local stores chunk I/O instead reads each key on the
    thread that decodes it, which overlaps file reads with decoding.
    """
    own = getattr(type(store), "getitems", None)
    return own is not None and own is not BaseStore.getitems and not getattr(
        store, "_prefer_per_key_io", False)


def read_document(store: Mapping[str, Any], key: str) -> Any:
    """A metadata document: decoded when the store hands those out, else its bytes.

    Consolidated metadata keeps every document decoded (``get_document``), so
    nodes opened through it skip a JSON round trip; the parsers take either form.

    Raises
    ------
    KeyError
        If there is no document at ``key``.

    Examples
    --------
    >>> read_document({".zgroup": b'{"zarr_format": 2}'}, ".zgroup")
    b'{"zarr_format": 2}'
    """
    get_document = getattr(store, "get_document", None)
    return store[key] if get_document is None else get_document(key)


def metadata_verbatim(store: Any) -> bool:
    """Whether ``store`` returns metadata documents exactly as they were written.

    A store says so with its boolean ``metadata_verbatim`` attribute (every
    :class:`BaseStore` has one); a plain ``dict`` is verbatim. Any other mapping
    is not assumed to be: it may transform what it is given (as zarr-python's N5
    store does), and reading the metadata back costs one read per created node.

    Examples
    --------
    >>> from collections import UserDict
    >>> from zarrdask.storage import MemoryStore
    >>> metadata_verbatim({}), metadata_verbatim(MemoryStore()), metadata_verbatim(UserDict())
    (True, True, False)
    """
    flag = getattr(store, "metadata_verbatim", None)
    if isinstance(flag, bool):
        return flag
    return type(store) is dict
