"""Storage paths and keys: normalisation, validation and chunk key encoding.

This is the one place that decides what a valid path or key is. It imports
only :mod:`zarrdask.errors`.

Rules (RELIABILITY.md, "Names and keys"):

* a path is ``/``-separated and relative; ``\\`` is read as ``/``, leading,
  trailing and repeated ``/`` are dropped;
* no segment may be ``.`` or ``..``; no NUL character; no absolute path
  (after stripping leading ``/`` a path is always relative, but drive letters
  such as ``C:`` are refused);
* store *keys* are stricter: they are used as given, so they may not start or
  end with ``/``, contain ``//``, a backslash, a NUL, or a ``.``/``..`` segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zarrdask.errors import KeyValidationError

__all__ = [
    "ARRAY_META_KEY",
    "ATTRS_KEY",
    "CONSOLIDATED_KEY",
    "GROUP_META_KEY",
    "RESERVED_NAMES",
    "chunk_key",
    "is_meta_key",
    "join_path",
    "normalize_storage_path",
    "prefix_of",
    "validate_key",
]

ARRAY_META_KEY = ".zarray"
GROUP_META_KEY = ".zgroup"
ATTRS_KEY = ".zattrs"
CONSOLIDATED_KEY = ".zmetadata"
RESERVED_NAMES = frozenset({ARRAY_META_KEY, GROUP_META_KEY, ATTRS_KEY, CONSOLIDATED_KEY})


def _check_segments(segments: Sequence[str], original: str, what: str) -> None:
    for segment in segments:
        if segment in (".", ".."):
            raise KeyValidationError(
                f"{what} {original!r} contains a {segment!r} segment; "
                "relative segments are not allowed in Zarr paths"
            )


def normalize_storage_path(path: str | bytes | None) -> str:
    """Normalise a user-given hierarchy path.

    Parameters
    ----------
    path : str, bytes or None
        The path, such as ``"/foo/bar/"`` or ``"foo\\\\bar"``.

    Returns
    -------
    str
        The canonical form, ``""`` for the root, else ``"foo/bar"``.

    Raises
    ------
    KeyValidationError
        If the path has a ``.`` or ``..`` segment, a NUL character or a drive letter.

    Examples
    --------
    >>> normalize_storage_path("//foo\\\\bar//")
    'foo/bar'
    >>> normalize_storage_path(None)
    ''
    """
    if path is None:
        return ""
    if isinstance(path, bytes):
        path = path.decode("utf-8")
    if not isinstance(path, str):
        raise TypeError(f"a path must be a str, not {type(path).__name__}: {path!r}")
    original = path
    if "\x00" in path:
        raise KeyValidationError(f"path {original!r} contains a NUL character")
    path = path.replace("\\", "/")
    segments = [s for s in path.split("/") if s]
    if segments and len(segments[0]) == 2 and segments[0][1] == ":" and path[:2] == segments[0]:
        raise KeyValidationError(f"path {original!r} is absolute (drive letter)")
    _check_segments(segments, original, "path")
    return "/".join(segments)


def validate_key(key: str) -> str:
    """Check a store key and return it unchanged.

    Parameters
    ----------
    key : str
        A store key such as ``"foo/.zarray"`` or ``"foo/0.1"``.

    Returns
    -------
    str
        The same key.

    Raises
    ------
    KeyValidationError
        If the key is empty, absolute, has an empty, ``.`` or ``..`` segment,
        a backslash or a NUL character.
    TypeError
        If the key is not a string.

    Examples
    --------
    >>> validate_key("a/0.0")
    'a/0.0'
    """
    if not isinstance(key, str):
        raise TypeError(f"store keys must be str, not {type(key).__name__}: {key!r}")
    if not key:
        raise KeyValidationError("store key is empty")
    if "\x00" in key:
        raise KeyValidationError(f"store key {key!r} contains a NUL character")
    if "\\" in key:
        raise KeyValidationError(f"store key {key!r} contains a backslash")
    if key.startswith("/"):
        raise KeyValidationError(f"store key {key!r} is absolute")
    segments = key.split("/")
    if any(not s for s in segments):
        raise KeyValidationError(f"store key {key!r} has an empty segment")
    _check_segments(segments, key, "store key")
    return key


def join_path(*parts: str) -> str:
    """Join path parts with ``/``, skipping empty parts.

    Examples
    --------
    >>> join_path("", "foo", "bar")
    'foo/bar'
    """
    return "/".join(p for p in parts if p)


def prefix_of(path: str) -> str:
    """Return the key prefix of a normalised path: ``""`` or ``"path/"``.

    Examples
    --------
    >>> prefix_of("foo")
    'foo/'
    >>> prefix_of("")
    ''
    """
    return f"{path}/" if path else ""


def chunk_key(chunk_coords: Iterable[int], separator: str = ".") -> str:
    """Encode chunk grid coordinates as the chunk's key (without the array prefix).

    A 0-d array has the single chunk key ``"0"``.

    Examples
    --------
    >>> chunk_key((1, 2))
    '1.2'
    >>> chunk_key((1, 2), "/")
    '1/2'
    >>> chunk_key(())
    '0'
    """
    return separator.join(map(str, chunk_coords)) or "0"


def is_meta_key(key: str) -> bool:
    """Return whether the last segment of ``key`` is a reserved metadata name."""
    return key.rsplit("/", 1)[-1] in RESERVED_NAMES
