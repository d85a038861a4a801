"""Consolidated metadata: all ``.zarray``/``.zgroup``/``.zattrs`` documents of a store in one key.

:func:`consolidate_metadata` writes the ``.zmetadata`` document exactly as
zarr-python 2.x does; :func:`open_consolidated` opens a hierarchy whose metadata
is served from it and is read-only (array data stays writable), warning when the
document is stale against the live metadata. :class:`ConsolidatingStore` keeps
``.zmetadata`` current while a hierarchy opened for writing changes metadata.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from zarrdask.consolidated_format import (
    StaleMetadataWarning,
    check_documents,
    collect_metadata,
    decode_consolidated,
    encode_consolidated,
    find_changed_members,
    find_stale,
    is_node_meta_key,
    parse_consolidated,
    stale_message,
)
from zarrdask.errors import MetadataError, PathNotFoundError, ReadOnlyError
from zarrdask.keys import (
    CONSOLIDATED_KEY,
    join_path,
    normalize_storage_path,
    prefix_of,
    validate_key,
)
from zarrdask.meta import ArrayMeta, json_loads
from zarrdask.storage._base import (
    BaseStore,
    contains_array,
    contains_group,
    delitems,
    getitems,
    getsize,
    has_batch_io,
    is_readonly,
    listdir,
    metadata_verbatim,
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


def _base_store(store: Any) -> Any:
    while isinstance(store, (ConsolidatingStore, ConsolidatedMetadataStore)):
        store = store.store
    return store


class _WrapperStore(BaseStore):
    """What both metadata wrappers share: the wrapped store, pickling, capabilities."""

    store: MutableMapping[str, Any]
    metadata_key: str

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store, "metadata_key": self.metadata_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        """Whether the wrapped store refuses writes."""
        return is_readonly(self.store)

    @property
    def metadata_verbatim(self) -> bool:  # type: ignore[override]
        """Whether the wrapped store returns metadata as written."""
        return metadata_verbatim(self.store)

    @property
    def _prefer_per_key_io(self) -> bool:
        """Chunk I/O batches reads through the wrapper only where the wrapped store does."""
        return not has_batch_io(self.store)


class ConsolidatedMetadataStore(_WrapperStore):
    """A store whose metadata comes from one consolidated key and cannot be changed.

    Metadata documents (``.zarray``, ``.zgroup``, ``.zattrs``) are served from the
    ``.zmetadata`` document read (and validated) once at construction; writing or
    deleting one raises :class:`~zarrdask.errors.ReadOnlyError`. Every other key
    (chunks) is read from and written to the wrapped store. Besides ``store[key]``
    (JSON bytes), :meth:`get_document` hands out a decoded document and
    :meth:`get_array_meta` parsed array metadata, which arrays and groups opened on
    this store use instead of decoding JSON again.

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
        self.metadata = decode_consolidated(data, metadata_key)
        # every document is validated now; the parsed array metadata is kept
        self._arrays = check_documents(self.metadata, metadata_key)

    def get_document(self, key: str) -> dict[str, Any]:
        """The decoded metadata document at ``key`` (shared: do not change it).

        Raises
        ------
        KeyError
            If the consolidated metadata has no document at ``key``.
        """
        if not is_node_meta_key(key):
            raise KeyError(key)
        return self.metadata[key]

    def get_array_meta(self, key: str) -> ArrayMeta:
        """The parsed ``.zarray`` document at ``key``, shared by every array opened here.

        Raises
        ------
        KeyError
            If the consolidated metadata has no ``.zarray`` document at ``key``.
        """
        return self._arrays[key]

    def _is_meta(self, key: str) -> bool:
        return is_node_meta_key(key) or key == self.metadata_key

    def _refuse(self, key: str) -> None:
        raise ReadOnlyError(
            f"cannot change metadata key {key!r}: the hierarchy was opened with "
            "open_consolidated, whose metadata is read-only; open it with open_group "
            "to change metadata"
        )

    def find_stale(self, full: bool = True) -> list[str]:
        """List the differences between the consolidated and the live metadata.

        With ``full`` every live document is read and compared; otherwise each
        consolidated group is only listed, to find members added or removed.
        """
        if full:
            return find_stale(self.store, self.metadata, self.metadata_key)
        return find_changed_members(self.store, self.metadata, self.metadata_key)

    # -- mapping ------------------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        if is_node_meta_key(key):
            # lenient encoding: documents written by other tools may hold bare NaN
            return json.dumps(self.metadata[key], indent=4, sort_keys=True).encode()
        return self.store[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and is_node_meta_key(key):
            return key in self.metadata
        return key in self.store

    def __iter__(self) -> Iterator[str]:
        yield from sorted(self.metadata)
        yield from (k for k in list(self.store.keys()) if not is_node_meta_key(k))

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
        out = {k: self[k] for k in keys if is_node_meta_key(k) and k in self.metadata}
        out.update(getitems(self.store, [k for k in keys if not is_node_meta_key(k)]))
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


class ConsolidatingStore(_WrapperStore):
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
        self._lock = threading.RLock()  # one rewrite of .zmetadata at a time in this process

    @property
    def _dimension_separator(self) -> str | None:
        return getattr(self.store, "_dimension_separator", None)

    def _sync(self, written: Mapping[str, Any] | None = None, removed: Iterable[str] = (),
              removed_prefix: str | None = None, moved: tuple[str, str] | None = None) -> None:
        """Apply a metadata change to the consolidated document and rewrite it."""
        meta_written = {k: v for k, v in (written or {}).items() if is_node_meta_key(k)}
        meta_removed = [k for k in removed if is_node_meta_key(k)]
        if not (meta_written or meta_removed or removed_prefix is not None or moved):
            return
        with self._lock:
            try:
                self._sync_locked(meta_written, meta_removed, removed_prefix, moved)
            except MetadataError as e:
                warnings.warn(f"consolidated metadata {self.metadata_key!r} not updated: {e}",
                              StaleMetadataWarning, stacklevel=3)

    def _sync_locked(self, written: dict[str, Any], removed: list[str],
                     removed_prefix: str | None, moved: tuple[str, str] | None) -> None:
        try:
            data = self.store[self.metadata_key]
        except KeyError:
            return
        metadata = parse_consolidated(data, self.metadata_key)
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
        if is_node_meta_key(key):
            self._sync(written={key: value})

    def __delitem__(self, key: str) -> None:
        del self.store[key]
        if is_node_meta_key(key):
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
    store[metadata_key] = encode_consolidated(collect_metadata(store))
    return open_consolidated(store, metadata_key=metadata_key, path=path, check_stale=False)


def open_consolidated(store: Any, metadata_key: str = CONSOLIDATED_KEY, mode: str = "r+", *,
                      check_stale: bool | str = "members", **kwargs: Any) -> Any:
    """Open a hierarchy from its consolidated metadata: metadata read-only, data writable.

    Parameters
    ----------
    store : MutableMapping or str
        The store (a path means a directory store).
    metadata_key : str, optional
        Key of the consolidated document.
    mode : {"r", "r+"}
        ``r`` refuses all writes; ``r+`` allows writing array data (never metadata).
    check_stale : {"members", "full", True, False}, optional
        Compare the consolidated metadata with the live metadata and warn
        (:class:`StaleMetadataWarning`) when they differ:

        - ``"members"`` (the default) lists each consolidated group once (one
          ``listdir`` per group, no document read) and warns when a member was
          added or removed, or a group's ``.zattrs`` appeared or vanished. A
          change inside a document (an array resized without reconsolidating,
          new attributes of an array) is not seen.
        - ``"full"`` (or True) also re-reads every live metadata document and
          compares it: complete, but one read per document, which defeats
          consolidation on remote stores (N reads instead of one).
        - False checks nothing: only ``.zmetadata`` is read.
    **kwargs
        ``path``, ``chunk_store``, ``storage_options``, ``synchronizer``,
        ``cache_attrs`` and (for arrays) ``cache_metadata``, ``write_empty_chunks``.

    Returns
    -------
    Group or Array

    Raises
    ------
    ValueError
        For a mode other than ``r``/``r+``, or an unknown ``check_stale`` string.
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
    if isinstance(check_stale, str) and check_stale not in ("members", "full"):
        raise ValueError(
            f"check_stale must be 'members', 'full', True or False, got {check_stale!r}")
    meta_store = ConsolidatedMetadataStore(store, metadata_key)
    if check_stale:
        problems = meta_store.find_stale(full=check_stale != "members")
        if problems:
            warnings.warn(stale_message(problems, metadata_key), StaleMetadataWarning,
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
