"""The regular chunk grid: which chunk holds an index, and where each chunk lies.

Pure functions of shapes; imports only numpy-free standard library code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ChunkGrid", "DimGrid"]


@dataclass(frozen=True, slots=True)
class DimGrid:
    """The chunking of one axis.

    Parameters
    ----------
    extent : int
        Length of the axis (may be 0).
    chunk_len : int
        Length of every chunk along the axis (the last one overhangs the edge).

    Examples
    --------
    >>> g = DimGrid(10, 4)
    >>> g.nchunks, g.chunk_offset(2), g.chunk_extent(2)
    (3, 8, 2)
    """

    extent: int
    chunk_len: int

    @property
    def nchunks(self) -> int:
        """Number of chunks along the axis (0 for a zero-length axis)."""
        return math.ceil(self.extent / self.chunk_len)

    def chunk_offset(self, chunk_index: int) -> int:
        """Index of the first element of a chunk."""
        return chunk_index * self.chunk_len

    def chunk_extent(self, chunk_index: int) -> int:
        """Number of in-bounds elements of a chunk (the last one is truncated)."""
        return min(self.chunk_len, self.extent - chunk_index * self.chunk_len)


@dataclass(frozen=True, slots=True)
class ChunkGrid:
    """A regular grid of chunks over an N-dimensional shape.

    Examples
    --------
    >>> ChunkGrid.from_shapes((10, 10), (4, 5)).cdata_shape
    (3, 2)
    """

    dims: tuple[DimGrid, ...]

    @classmethod
    def from_shapes(cls, shape: tuple[int, ...], chunks: tuple[int, ...]) -> ChunkGrid:
        """Build a grid from an array shape and chunk shape of the same rank."""
        return cls(tuple(DimGrid(s, c) for s, c in zip(shape, chunks, strict=True)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The array shape."""
        return tuple(d.extent for d in self.dims)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape."""
        return tuple(d.chunk_len for d in self.dims)

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return tuple(d.nchunks for d in self.dims)

    @property
    def nchunks(self) -> int:
        """Total number of chunks (1 for a 0-d array)."""
        return math.prod(self.cdata_shape)

    def chunk_region(self, chunk_coords: tuple[int, ...]) -> tuple[slice, ...]:
        """The in-bounds region of the array that a chunk covers."""
        return tuple(
            slice(d.chunk_offset(c), d.chunk_offset(c) + d.chunk_extent(c))
            for d, c in zip(self.dims, chunk_coords, strict=True)
        )
