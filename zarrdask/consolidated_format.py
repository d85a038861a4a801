"""The ``.zmetadata`` document: parse, encode and collect it, and compare it with the live metadata.

zarr-python 2.x writes ``{"metadata": {key: document, ...}, "zarr_consolidated_format": 1}``
as indented JSON with sorted keys; so does this module (strict JSON). It knows
nothing of groups or arrays beyond their metadata documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from zarrdask.errors import KeyValidationError, MetadataError
from zarrdask.keys import (
    ARRAY_META_KEY,
    ATTRS_KEY,
    CONSOLIDATED_KEY,
    GROUP_META_KEY,
    join_path,
    validate_key,
)
from zarrdask.meta import (
    ArrayMeta,
    json_dumps,
    json_loads,
    parse_array_meta,
    parse_attrs,
    parse_group_meta,
)
from zarrdask.storage._base import getitems, listdir

__all__ = [
    "StaleMetadataWarning",
    "check_documents",
    "collect_metadata",
    "decode_consolidated",
    "encode_consolidated",
    "find_changed_members",
    "find_stale",
    "is_node_meta_key",
    "parse_consolidated",
    "stale_message",
]

_NODE_META_NAMES = (ARRAY_META_KEY, GROUP_META_KEY, ATTRS_KEY)
_FORMAT = 1


class StaleMetadataWarning(UserWarning):
    """Consolidated metadata differs from the live metadata of the store."""


def is_node_meta_key(key: str) -> bool:
    """Whether ``key`` is a ``.zarray``, ``.zgroup`` or ``.zattrs`` document."""
    return key.rsplit("/", 1)[-1] in _NODE_META_NAMES


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def parse_consolidated(data: Any, key: str = CONSOLIDATED_KEY) -> dict[str, dict[str, Any]]:
    """Parse and fully validate a ``.zmetadata`` document; return its ``metadata`` mapping.

    The same as :func:`decode_consolidated` followed by :func:`check_documents`.

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
    metadata = decode_consolidated(data, key)
    check_documents(metadata, key)
    return metadata


def decode_consolidated(data: Any, key: str = CONSOLIDATED_KEY) -> dict[str, dict[str, Any]]:
    """Decode a ``.zmetadata`` document and check its frame and entry keys, not the documents.

    Raises
    ------
    MetadataError
        If the document is not JSON, not an object, has a ``zarr_consolidated_format``
        other than 1, or an entry key is invalid or not a ``.zarray``, ``.zgroup`` or
        ``.zattrs`` key; the message names ``key``.
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
    for entry in metadata:
        try:
            validate_key(entry)
        except KeyValidationError as e:
            raise MetadataError(f"{key!r} holds an invalid store key: {e}") from None
        if not is_node_meta_key(entry):
            raise MetadataError(
                f"{key!r} holds {entry!r}, which is not a .zarray, .zgroup or .zattrs key"
            )
    return metadata


def check_documents(metadata: Mapping[str, Any], key: str = CONSOLIDATED_KEY
                    ) -> dict[str, ArrayMeta]:
    """Validate every document of decoded consolidated ``metadata``.

    Returns
    -------
    dict
        The parsed :class:`~zarrdask.meta.ArrayMeta` of each ``.zarray`` entry.

    Raises
    ------
    MetadataError
        For the first invalid document; the message names ``key`` and the entry.
    """
    arrays: dict[str, ArrayMeta] = {}
    for entry, doc in metadata.items():
        where = f"{key}[{entry!r}]"
        name = entry.rsplit("/", 1)[-1]
        if name == ARRAY_META_KEY:
            arrays[entry] = parse_array_meta(doc, key=where)
        elif name == GROUP_META_KEY:
            parse_group_meta(doc, key=where)
        else:
            parse_attrs(doc, key=where)
    return arrays


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

def collect_metadata(store: Mapping[str, Any]) -> dict[str, Any]:
    """Read every metadata document of a store (one listing, one batched read)."""
    keys = sorted(k for k in list(store.keys()) if is_node_meta_key(k))
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
    consolidated group are listed to find documents added since (one read per
    document: slow on remote stores; :func:`find_changed_members` only lists).

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
                if name not in (*_NODE_META_NAMES, CONSOLIDATED_KEY, metadata_key):
                    candidates.update(join_path(group, name, m) for m in _NODE_META_NAMES)
    for key in sorted(candidates - set(metadata)):
        if key in store:
            problems.append(f"{key!r} was added")
    return problems


def _entries_by_folder(metadata: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each folder holding consolidated keys, the names one level below it."""
    folders: dict[str, set[str]] = {}
    for key in metadata:
        folder, _, name = key.rpartition("/")
        while True:
            names = folders.get(folder)
            if names is None:
                folders[folder] = {name}
            elif name in names:
                break  # an earlier key recorded this folder and every folder above it
            else:
                names.add(name)
            if not folder:
                break
            folder, _, name = folder.rpartition("/")
    return folders


def _added_below(store: Mapping[str, Any], group: str, name: str) -> list[str]:
    """The metadata keys of ``group/name`` in the store: a node added there, if any."""
    if name in _NODE_META_NAMES:
        return [join_path(group, name)]
    return [key for key in (join_path(group, name, m) for m in _NODE_META_NAMES)
            if key in store]


def find_changed_members(store: Mapping[str, Any], metadata: Mapping[str, Any],
                         metadata_key: str = CONSOLIDATED_KEY) -> list[str]:
    """Find nodes added to or removed from the groups of consolidated ``metadata``.

    Each consolidated group is listed once (one ``listdir`` per group; no document
    is read): a member (or a group's own ``.zattrs``/``.zgroup``) that is listed but
    not consolidated was added, one consolidated but no longer listed was deleted.
    Changes inside documents (a resized array, new attributes of an array) are not
    seen; :func:`find_stale` also compares every document.

    Returns
    -------
    list of str
        One line per difference, sorted by key; empty when nothing was found.
    """
    problems: dict[str, str] = {}
    folders = _entries_by_folder(metadata)
    ignored = {CONSOLIDATED_KEY, metadata_key}
    for key in metadata:
        if key.rsplit("/", 1)[-1] != GROUP_META_KEY:
            continue
        group = key[: -len(GROUP_META_KEY)].rstrip("/")
        expected = folders.get(group, set())
        live = set(listdir(store, group))
        for name in expected - live:
            below = join_path(group, name)
            inside = below + "/"
            for gone in metadata:
                if gone == below or gone.startswith(inside):
                    problems[gone] = f"{gone!r} was deleted"
        for name in live - expected - ignored:
            for added in _added_below(store, group, name):
                problems[added] = f"{added!r} was added"
    return [problems[k] for k in sorted(problems)]


def stale_message(problems: Sequence[str], metadata_key: str) -> str:
    """The warning text for a stale consolidated document (at most five problems shown)."""
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    return (
        f"consolidated metadata {metadata_key!r} is stale: {len(problems)} metadata "
        f"document(s) differ from the store ({shown}); the hierarchy shows the consolidated "
        "state. Call zarrdask.consolidate_metadata(store) to refresh it."
    )
