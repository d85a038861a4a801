"""Every exception zarrdask raises, with the zarr v2 names.

Each class subclasses the built-in exception that a caller would already catch,
so code written against zarr-python 2.x keeps working. This module imports
nothing of ours.
"""

from __future__ import annotations

__all__ = [
    "ArrayNotFoundError",
    "BadCompressorError",
    "BoundsCheckError",
    "ContainsArrayError",
    "ContainsGroupError",
    "CopyError",
    "FSPathExistNotDir",
    "GroupNotFoundError",
    "MetadataError",
    "NegativeStepError",
    "PathNotFoundError",
    "ReadOnlyError",
    "VindexInvalidSelectionError",
    "ZarrdaskError",
    "ChunkDecodeError",
    "KeyValidationError",
    "WriteOnceError",
    "UnsafeWriteError",
]


class ZarrdaskError(Exception):
    """Base class of every zarrdask-specific error."""


class _PathError(ZarrdaskError):
    """An error about a path in a store; the message names the path."""

    _template = "path {path!r} {what}"
    _what = ""

    def __init__(self, path: str, detail: str = "") -> None:
        self.path = path
        message = self._template.format(path=path, what=self._what)
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class ContainsArrayError(_PathError, KeyError):
    """An array already exists at a path where something else was asked for."""

    _what = "contains an array"

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ContainsGroupError(_PathError, KeyError):
    """A group already exists at a path where something else was asked for."""

    _what = "contains a group"

    def __str__(self) -> str:
        return str(self.args[0])


class ArrayNotFoundError(_PathError, KeyError):
    """No array exists at the path."""

    _what = "does not contain an array"

    def __str__(self) -> str:
        return str(self.args[0])


class GroupNotFoundError(_PathError, KeyError):
    """No group exists at the path."""

    _what = "does not contain a group"

    def __str__(self) -> str:
        return str(self.args[0])


class PathNotFoundError(_PathError, KeyError):
    """Nothing (neither array nor group) exists at the path."""

    _what = "not found"

    def __str__(self) -> str:
        return str(self.args[0])


class ContainsChunkOrKeyError(_PathError, KeyError):
    """A plain store key (not metadata) exists where an array or group is wanted."""

    _what = "is a plain key, not an array or group"

    def __str__(self) -> str:
        return str(self.args[0])


class FSPathExistNotDir(ZarrdaskError, NotADirectoryError):
    """A path given as a directory store exists but is a file."""


class ReadOnlyError(ZarrdaskError, PermissionError):
    """A write was attempted on a read-only array, group or store."""

    def __init__(self, message: str = "object is read-only") -> None:
        super().__init__(message)


class BoundsCheckError(ZarrdaskError, IndexError):
    """An index is out of bounds; the message names the axis and the index."""


class NegativeStepError(ZarrdaskError, IndexError):
    """A slice with a negative step was given; Zarr supports only positive steps."""

    def __init__(self, message: str = "only slices with step >= 1 are supported") -> None:
        super().__init__(message)


class VindexInvalidSelectionError(ZarrdaskError, IndexError):
    """A selection given to ``vindex`` is neither a coordinate nor a mask selection."""


class MetadataError(ZarrdaskError, ValueError):
    """Metadata (``.zarray``, ``.zgroup``, ``.zattrs``, ``.zmetadata``) is invalid."""


class BadCompressorError(ZarrdaskError, ValueError):
    """A compressor argument is not a numcodecs codec."""


class CopyError(ZarrdaskError, RuntimeError):
    """A copy could not be done (for example, the destination exists)."""


class ChunkDecodeError(ZarrdaskError, ValueError):
    """A stored chunk could not be decoded; the message names the chunk key."""


class KeyValidationError(ZarrdaskError, ValueError):
    """A store key or path is not allowed (``..``, absolute, empty segment, NUL...)."""


class WriteOnceError(ZarrdaskError, NotImplementedError):
    """A key of a write-once store (``ZipStore``) was rewritten with other bytes, or deleted.

    Subclasses :class:`NotImplementedError`, which zarr-python 2 raised for deletes
    from a zip store.
    """


class UnsafeWriteError(ZarrdaskError, RuntimeError):
    """A parallel write was refused because it would lose or corrupt data.

    Raised before any write when a store held in memory, or a lock that only
    excludes the threads of one process, is used with a multi-process
    scheduler; and by the dask write planner for store chunks that several
    tasks would write under ``policy="error"``. Subclasses :class:`RuntimeError`,
    which ``dask.array.to_zarr`` raises for in-memory stores on a cluster.
    """
