"""Consolidated metadata: all ``.zarray``/``.zgroup``/``.zattrs`` documents of a store in one key.

:func:`consolidate_metadata` writes the ``.zmetadata`` document exactly as
zarr-python 2.x does; :func:`open_consolidated` opens a hierarchy whose metadata
is served from it and is read-only (array data stays writable), warning when the
document is stale against the live metadata. :class:`ConsolidatingStore` keeps
``.zmetadata`` current while a hierarchy opened for writing changes metadata.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from zarrdask.errors import (
    KeyValidationError,
    MetadataError,
    PathNotFoundError,
    ReadOnlyError,
)
from zarrdask.keys import (
    ARRAY_META_KEY,
    ATTRS_KEY,
    CONSOLIDATED_KEY,
    GROUP_META_KEY,
    join_path,
    normalize_storage_path,
    prefix_of,
    validate_key,
)
from zarrdask.meta import json_dumps, json_loads, parse_array_meta, parse_attrs, parse_group_meta
from zarrdask.storage._base import (
    BaseStore,
    contains_array,
    contains_group,
    delitems,
    getitems,
    getsize,
    is_readonly,
    listdir,
    rename,
    rmdir,
    setitems,
)

__all__ = [
    "ConsolidatedMetadataStore",
    "ConsolidatingStore",
    "StaleMetadataWarning",
    "consolidate_metadata",
    "consolidating",
    "encode_consolidated",
    "find_stale",
    "open_consolidated",
    "parse_consolidated",
]

_NODE_META_NAMES = (ARRAY_META_KEY, GROUP_META_KEY, ATTRS_KEY)
_FORMAT = 1


class StaleMetadataWarning(UserWarning):
    """Consolidated metadata differs from the live metadata of the store."""


def _is_node_meta_key(key: str) -> bool:
    """Whether ``key`` is a ``.zarray``, ``.zgroup`` or ``.zattrs`` document."""
    return key.rsplit("/", 1)[-1] in _NODE_META_NAMES


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def parse_consolidated(data: Any, key: str = CONSOLIDATED_KEY) -> dict[str, dict[str, Any]]:
    """Parse and fully validate a ``.zmetadata`` document; return its ``metadata`` mapping.

    Raises
    ------
    MetadataError
        If the document is not JSON, not an object, has a ``zarr_consolidated_format``
        other than 1, or holds an entry that is not a valid metadata document; the
        message names ``key`` (and the entry).

    Examples
    --------
    >>> parse_consolidated(b'{"zarr_consolidated_format": 1, '
    ...                    b'"metadata": {".zgroup": {"zarr_format": 2}}}')
    {'.zgroup': {'zarr_format': 2}}
    """
    obj = json_loads(data, key)
    if not isinstance(obj, dict):
        raise MetadataError(f"{key!r} must hold a JSON object, but holds a {type(obj).__name__}")
    fmt = obj.get("zarr_consolidated_format")
    if fmt != _FORMAT or isinstance(fmt, bool):
        raise MetadataError(
            f"{key!r} has zarr_consolidated_format {fmt!r}; only format {_FORMAT} is supported"
        )
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise MetadataError(
            f"{key!r}: 'metadata' must be a JSON object of store keys to documents, "
            f"got {type(metadata).__name__}"
        )
    for entry, doc in metadata.items():
        where = f"{key}[{entry!r}]"
        try:
            validate_key(entry)
        except KeyValidationError as e:
            raise MetadataError(f"{key!r} holds an invalid store key: {e}") from None
        name = entry.rsplit("/", 1)[-1]
        if name == ARRAY_META_KEY:
            parse_array_meta(doc, key=where)
        elif name == GROUP_META_KEY:
            parse_group_meta(doc, key=where)
        elif name == ATTRS_KEY:
            parse_attrs(doc, key=where)
        else:
            raise MetadataError(
                f"{key!r} holds {entry!r}, which is not a .zarray, .zgroup or .zattrs key"
            )
    return metadata


def encode_consolidated(metadata: Mapping[str, Any]) -> bytes:
    """Encode a ``.zmetadata`` document (strict JSON, indent 4, sorted keys) as zarr-python does.

    Raises
    ------
    ValueError
        If a document holds NaN or an infinity (strict JSON cannot store them).
    """
    doc = {"metadata": dict(metadata), "zarr_consolidated_format": _FORMAT}
    try:
        return json_dumps(doc)
    except ValueError as e:
        raise ValueError(f"cannot write consolidated metadata: {e}") from e


def _base_store(store: Any) -> Any:
    while isinstance(store, (ConsolidatingStore, ConsolidatedMetadataStore)):
        store = store.store
    return store


def _collect(store: Mapping[str, Any]) -> dict[str, Any]:
    """Read every metadata document of a store (one listing, one batched read)."""
    keys = sorted(k for k in list(store.keys()) if _is_node_meta_key(k))
    values = getitems(store, keys)
    metadata: dict[str, Any] = {}
    for key in keys:
        if key not in values:  # deleted meanwhile
            continue
        doc = json_loads(values[key], key)
        if not isinstance(doc, dict):
            raise MetadataError(
                f"{key!r} must hold a JSON object, but holds a {type(doc).__name__}"
            )
        metadata[key] = doc
    return metadata


def find_stale(store: Mapping[str, Any], metadata: Mapping[str, Any],
               metadata_key: str = CONSOLIDATED_KEY) -> list[str]:
    """Compare consolidated ``metadata`` with the live documents of ``store``.

    Every consolidated document is re-read, and the members of every
    consolidated group are listed to find documents added since.

    Returns
    -------
    list of str
        One line per difference; empty when the consolidated metadata is current.
    """
    problems: list[str] = []
    live = getitems(store, sorted(metadata))
    for key in sorted(metadata):
        if key not in live:
            problems.append(f"{key!r} was deleted")
            continue
        try:
            value = json_loads(live[key], key)
        except MetadataError:
            problems.append(f"{key!r} is no longer valid JSON")
            continue
        if _canonical(value) != _canonical(metadata[key]):
            problems.append(f"{key!r} changed")
    nodes = {k.rsplit("/", 1)[0] if "/" in k else "" for k in metadata
             if not k.endswith(ATTRS_KEY)}
    candidates = {join_path(n, ATTRS_KEY) for n in nodes}
    for key in metadata:
        if key.rsplit("/", 1)[-1] == GROUP_META_KEY:
            group = key[: -len(GROUP_META_KEY)].rstrip("/")
            for name in listdir(store, group):
                if name not in (*_NODE_META_NAMES, CONSOLIDATED_KEY):
                    candidates.update(join_path(group, name, m) for m in _NODE_META_NAMES)
    for key in sorted(candidates - set(metadata)):
        if key in store:
            problems.append(f"{key!r} was added")
    return problems


def _stale_message(problems: Sequence[str], metadata_key: str) -> str:
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    return (
        f"consolidated metadata {metadata_key!r} is stale: {len(problems)} metadata "
        f"document(s) differ from the store ({shown}); the hierarchy shows the consolidated "
        "state. Call zarrdask.consolidate_metadata(store) to refresh it."
    )


class ConsolidatedMetadataStore(BaseStore):
    """A store whose metadata comes from one consolidated key and cannot be changed.

    Metadata documents (``.zarray``, ``.zgroup``, ``.zattrs``) are served from the
    ``.zmetadata`` document read once at construction; writing or deleting one
    raises :class:`~zarrdask.errors.ReadOnlyError`. Every other key (chunks) is
    read from and written to the wrapped store.

    Parameters
    ----------
    store : MutableMapping
        The store holding the data and the consolidated metadata.
    metadata_key : str, optional
        Key of the consolidated document.

    Raises
    ------
    PathNotFoundError
        If ``metadata_key`` is not in the store.
    MetadataError
        If the consolidated document is invalid (the message names the key).

    Notes
    -----
    ``listdir`` lists only what the consolidated metadata knows (no backend
    listing), so use the wrapped store as the chunk store of arrays.
    """

    metadata_read_only = True

    def __init__(self, store: MutableMapping[str, Any],
                 metadata_key: str = CONSOLIDATED_KEY) -> None:
        self.store = store
        self.metadata_key = validate_key(metadata_key)
        try:
            data = store[metadata_key]
        except KeyError:
            raise PathNotFoundError(
                metadata_key, "no consolidated metadata in the store; call "
                "zarrdask.consolidate_metadata(store) first") from None
        self.metadata = parse_consolidated(data, metadata_key)

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store, "metadata_key": self.metadata_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        """Whether the wrapped store refuses data writes."""
        return is_readonly(self.store)

    def _is_meta(self, key: str) -> bool:
        return _is_node_meta_key(key) or key == self.metadata_key

    def _refuse(self, key: str) -> None:
        raise ReadOnlyError(
            f"cannot change metadata key {key!r}: the hierarchy was opened with "
            "open_consolidated, whose metadata is read-only; open it with open_group "
            "to change metadata"
        )

    def find_stale(self) -> list[str]:
        """List the differences between the consolidated and the live metadata."""
        return find_stale(self.store, self.metadata, self.metadata_key)

    # -- mapping ------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        if _is_node_meta_key(key):
            # lenient encoding: documents written by other tools may hold bare NaN
            return json.dumps(self.metadata[key], indent=4, sort_keys=True).encode()
        return self.store[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and _is_node_meta_key(key):
            return key in self.metadata
        return key in self.store

    def __iter__(self) -> Iterator[str]:
        yield from sorted(self.metadata)
        yield from (k for k in list(self.store.keys()) if not _is_node_meta_key(k))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __setitem__(self, key: str, value: bytes) -> None:
        if self._is_meta(key):
            self._refuse(key)
        self.store[key] = value

    def __delitem__(self, key: str) -> None:
        if self._is_meta(key):
            self._refuse(key)
        del self.store[key]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ConsolidatedMetadataStore) and self.store == other.store
                and self.metadata_key == other.metadata_key)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ConsolidatedMetadataStore {self.metadata_key!r} over {self.store!r}>"

    # -- capabilities ----------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys: metadata from the consolidated document, the rest in one batch."""
        out = {k: self[k] for k in keys if _is_node_meta_key(k) and k in self.metadata}
        out.update(getitems(self.store, [k for k in keys if not _is_node_meta_key(k)]))
        return out

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several data keys; refused before any write if one is a metadata key."""
        for key in items:
            if self._is_meta(key):
                self._refuse(key)
        setitems(self.store, items)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several data keys; refused before any delete if one is a metadata key."""
        keys = list(keys)
        for key in keys:
            if self._is_meta(key):
                self._refuse(key)
        delitems(self.store, keys)

    def listdir(self, path: str | None = "") -> list[str]:
        """List the children of ``path`` known to the consolidated metadata."""
        prefix = prefix_of(normalize_storage_path(path))
        n = len(prefix)
        return sorted({k[n:].split("/", 1)[0] for k in self.metadata
                       if len(k) > n and k.startswith(prefix)})

    def getsize(self, path: str | None = "") -> int:
        """Total size of the consolidated documents directly under ``path``."""
        path = normalize_storage_path(path)
        if path in self.metadata:
            return len(self[path])
        prefix = prefix_of(path)
        n = len(prefix)
        return sum(len(self[k]) for k in self.metadata
                   if len(k) > n and k.startswith(prefix) and "/" not in k[n:])

    def rmdir(self, path: str | None = "") -> None:
        """Refused: removing a node changes metadata."""
        self._refuse(join_path(normalize_storage_path(path), "*"))

    def rename(self, src_path: str, dst_path: str) -> None:
        """Refused: moving a node changes metadata."""
        self._refuse(join_path(normalize_storage_path(src_path), "*"))

    def close(self) -> None:
        """Close the wrapped store."""
        close = getattr(self.store, "close", None)
        if callable(close):
            close()


class ConsolidatingStore(BaseStore):
    """A pass-through store that rewrites ``.zmetadata`` whenever metadata changes.

    Every read and write goes to the wrapped store. After each write, delete,
    ``rmdir`` or ``rename`` that touches a ``.zarray``, ``.zgroup`` or ``.zattrs``
    document, the consolidated document is re-read, updated and rewritten, so
    it never goes stale through zarrdask. If the consolidated document has been
    removed it is not recreated; if it is invalid it is left alone with a warning.

    Parameters
    ----------
    store : MutableMapping
        The store holding the hierarchy and its consolidated metadata.
    metadata_key : str, optional
        Key of the consolidated document.
    """

    def __init__(self, store: MutableMapping[str, Any],
                 metadata_key: str = CONSOLIDATED_KEY) -> None:
        self.store = store
        self.metadata_key = validate_key(metadata_key)

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store, "metadata_key": self.metadata_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        """Whether the wrapped store refuses writes."""
        return is_readonly(self.store)

    @property
    def _dimension_separator(self) -> str | None:
        return getattr(self.store, "_dimension_separator", None)

    def _sync(self, written: Mapping[str, Any] = (), removed: Iterable[str] = (),  # type: ignore[assignment]
              removed_prefix: str | None = None, moved: tuple[str, str] | None = None) -> None:
        """Apply a metadata change to the consolidated document and rewrite it."""
        written = {k: v for k, v in dict(written).items() if _is_node_meta_key(k)}
        removed = [k for k in removed if _is_node_meta_key(k)]
        if not (written or removed or removed_prefix is not None or moved):
            return
        try:
            data = self.store[self.metadata_key]
        except KeyError:
            return
        try:
            metadata = parse_consolidated(data, self.metadata_key)
        except MetadataError as e:
            warnings.warn(f"consolidated metadata not updated: {e}", StaleMetadataWarning,
                          stacklevel=3)
            return
        for key in removed:
            metadata.pop(key, None)
        if removed_prefix is not None:
            prefix = prefix_of(removed_prefix)
            for key in [k for k in metadata if k.startswith(prefix)]:
                del metadata[key]
        if moved is not None:
            src, dst = prefix_of(moved[0]), prefix_of(moved[1])
            for key in [k for k in metadata if k.startswith(src)]:
                metadata[dst + key[len(src):]] = metadata.pop(key)
        for key, value in written.items():
            metadata[key] = json_loads(value, key)
        self.store[self.metadata_key] = encode_consolidated(dict(sorted(metadata.items())))

    # -- mapping ------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        return self.store[key]

    def __contains__(self, key: object) -> bool:
        return key in self.store

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.store.keys()))

    def __len__(self) -> int:
        return len(self.store)

    def __setitem__(self, key: str, value: bytes) -> None:
        self.store[key] = value
        if _is_node_meta_key(key):
            self._sync(written={key: value})

    def __delitem__(self, key: str) -> None:
        del self.store[key]
        if _is_node_meta_key(key):
            self._sync(removed=[key])

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ConsolidatingStore) and self.store == other.store
                and self.metadata_key == other.metadata_key)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ConsolidatingStore {self.metadata_key!r} over {self.store!r}>"

    # -- capabilities ----------------------------------------------------------------

    def getitems(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Read several keys from the wrapped store."""
        return getitems(self.store, keys)

    def setitems(self, items: Mapping[str, bytes]) -> None:
        """Write several keys, then update the consolidated document once."""
        setitems(self.store, items)
        self._sync(written=items)

    def delitems(self, keys: Iterable[str]) -> None:
        """Delete several keys, then update the consolidated document once."""
        keys = list(keys)
        delitems(self.store, keys)
        self._sync(removed=keys)

    def listdir(self, path: str | None = "") -> list[str]:
        """List the children of ``path`` in the wrapped store."""
        return listdir(self.store, path)

    def getsize(self, path: str | None = "") -> int:
        """Size of the values at or directly under ``path`` in the wrapped store."""
        return getsize(self.store, path)

    def rmdir(self, path: str | None = "") -> None:
        """Remove ``path`` and drop its documents from the consolidated metadata."""
        path = normalize_storage_path(path)
        rmdir(self.store, path)
        if path:
            self._sync(removed_prefix=path)

    def rename(self, src_path: str, dst_path: str) -> None:
        """Move ``src_path`` to ``dst_path`` and move its documents in the consolidated metadata."""
        src_path = normalize_storage_path(src_path)
        dst_path = normalize_storage_path(dst_path)
        rename(self.store, src_path, dst_path)
        self._sync(moved=(src_path, dst_path))

    def close(self) -> None:
        """Close the wrapped store."""
        close = getattr(self.store, "close", None)
        if callable(close):
            close()


def consolidating(store: MutableMapping[str, Any],
                  metadata_key: str = CONSOLIDATED_KEY) -> MutableMapping[str, Any]:
    """Wrap a writable store holding consolidated metadata in a :class:`ConsolidatingStore`.

    Other stores (read-only, without ``metadata_key``, already wrapped) are returned as they are.
    """
    if isinstance(store, (ConsolidatingStore, ConsolidatedMetadataStore)):
        return store
    if is_readonly(store) or metadata_key not in store:
        return store
    return ConsolidatingStore(store, metadata_key)


def consolidate_metadata(store: Any, metadata_key: str = CONSOLIDATED_KEY, *,
                         path: str | None = "") -> Any:
    """Write every metadata document of ``store`` into one key, as zarr-python 2.x does.

    Parameters
    ----------
    store : MutableMapping or str
        The store (a path means a directory store).
    metadata_key : str, optional
        Key to write the consolidated document to.
    path : str, optional
        Path of the group (or array) to open afterwards; the whole store is consolidated.

    Returns
    -------
    Group or Array
        The node at ``path``, opened with :func:`open_consolidated`.

    Raises
    ------
    MetadataError
        If a metadata document is invalid; nothing is written then.

    Examples
    --------
    >>> import zarrdask
    >>> store = zarrdask.MemoryStore()
    >>> root = zarrdask.group(store)
    >>> _ = root.zeros("x", shape=3)
    >>> zarrdask.consolidate_metadata(store)
    <zarrdask.hierarchy.Group '/'>
    >>> sorted(json.loads(store[".zmetadata"])["metadata"])
    ['.zgroup', 'x/.zarray']
    """
    from zarrdask.storage import normalize_store_arg

    store = _base_store(normalize_store_arg(store, mode="w"))
    validate_key(metadata_key)
    store[metadata_key] = encode_consolidated(_collect(store))
    return open_consolidated(store, metadata_key=metadata_key, path=path, check_stale=False)


def open_consolidated(store: Any, metadata_key: str = CONSOLIDATED_KEY, mode: str = "r+", *,
                      check_stale: bool = True, **kwargs: Any) -> Any:
    """Open a hierarchy from its consolidated metadata: metadata read-only, data writable.

    Parameters
    ----------
    store : MutableMapping or str
        The store (a path means a directory store).
    metadata_key : str, optional
        Key of the consolidated document.
    mode : {"r", "r+"}
        ``r`` refuses all writes; ``r+`` allows writing array data (never metadata).
    check_stale : bool, optional
        Compare the consolidated metadata with the live metadata and warn
        (:class:`StaleMetadataWarning`) when they differ. This reads every
        metadata document once; pass False for remote stores where that is slow.
    **kwargs
        ``path``, ``chunk_store``, ``storage_options``, ``synchronizer``,
        ``cache_attrs`` and (for arrays) ``cache_metadata``, ``write_empty_chunks``.

    Returns
    -------
    Group or Array

    Raises
    ------
    ValueError
        For a mode other than ``r``/``r+``.
    PathNotFoundError
        If there is no consolidated metadata, or nothing at ``path`` in it.
    MetadataError
        If the consolidated document is invalid.
    """
    from zarrdask.core import Array
    from zarrdask.hierarchy import Group
    from zarrdask.storage import normalize_store_arg

    if mode not in ("r", "r+"):
        raise ValueError(f"open_consolidated mode must be 'r' or 'r+', got {mode!r}")
    store = _base_store(normalize_store_arg(store, kwargs.pop("storage_options", None), mode))
    path = normalize_storage_path(kwargs.pop("path", None))
    chunk_store = kwargs.pop("chunk_store", None)
    chunk_store = store if chunk_store is None else normalize_store_arg(chunk_store, mode=mode)
    meta_store = ConsolidatedMetadataStore(store, metadata_key)
    if check_stale:
        problems = meta_store.find_stale()
        if problems:
            warnings.warn(_stale_message(problems, metadata_key), StaleMetadataWarning,
                          stacklevel=2)
    common = {"read_only": mode == "r", "chunk_store": chunk_store,
              "synchronizer": kwargs.pop("synchronizer", None),
              "cache_attrs": kwargs.pop("cache_attrs", True)}
    if contains_array(meta_store, path):
        allowed = {"cache_metadata", "write_empty_chunks", "partial_decompress", "meta_array"}
        _check_kwargs(kwargs, allowed)
        return Array(meta_store, path=path, **common, **kwargs)
    _check_kwargs(kwargs, {"zarr_version", "meta_array"})
    if contains_group(meta_store, path):
        return Group(meta_store, path=path, **common)
    raise PathNotFoundError(path, f"it is not in the consolidated metadata {metadata_key!r}")


def _check_kwargs(kwargs: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"open_consolidated() got unexpected keyword arguments: {unknown}")
