"""The N5 format itself: attributes <-> ``.zarray``, compression <-> codec, block codec.

Pure functions of JSON documents plus :class:`N5ChunkCodec`, the numcodecs
codec for N5 blocks (big-endian header giving the block shape, big-endian
elements, then the inner compressor). The stores in :mod:`zarrdask.storage.n5`
use them; nothing here touches a store. Importing this module registers the
codec with numcodecs under the id ``zarrdask_n5`` (not zarr-python's
``n5_wrapper``, so the two never replace each other in numcodecs' registry).

Compressions: ``raw``, ``gzip`` (zlib or gzip framing, ``useZlib``),
``bzip2``, ``xz`` and ``blosc`` as N5 defines them; ``lzma`` and any other
numcodecs codec (``lz4``, ``zstd``) are written as zarr-python 2.18 writes them,
with numcodecs framing (Java N5's own LZ4 block framing is not read).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray
from numcodecs.registry import get_codec, register_codec

from zarrdask.codecs import _bounded_inflate
from zarrdask.errors import MetadataError

__all__ = [
    "N5ChunkCodec",
    "N5_ATTRS_KEY",
    "N5_FORMAT",
    "array_meta_from_n5",
    "array_meta_to_n5",
    "compressor_from_n5",
    "compressor_to_n5",
]

N5_FORMAT = "2.0.0"
N5_ATTRS_KEY = "attributes.json"
DATASET_KEYS = ("dimensions", "blockSize", "dataType", "compression")
RESERVED = frozenset({"n5", *DATASET_KEYS})
N5_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
            "float32", "float64")
NUMBER = re.compile(r"[0-9]+\Z")


# ------------------------------------------------------------------ compression <-> codec


def compressor_to_n5(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Turn a numcodecs compressor config into an N5 ``compression`` object.

    Examples
    --------
    >>> compressor_to_n5({"id": "zlib", "level": 1})
    {'type': 'gzip', 'level': 1, 'useZlib': True}
    >>> compressor_to_n5(None)
    {'type': 'raw'}
    """
    if config is None:
        return {"type": "raw"}
    if config.get("id") in (N5ChunkCodec.codec_id, "n5_wrapper"):  # peel our wrapper (or zarr's)
        return compressor_to_n5(config.get("compressor_config"))
    cid = config["id"]
    if cid in ("zlib", "gzip"):
        return {"type": "gzip", "level": config.get("level", 1), "useZlib": cid == "zlib"}
    if cid == "bz2":
        return {"type": "bzip2", "blockSize": config.get("level", 9)}
    if cid == "blosc":
        return {"type": "blosc",
                **{k: config[k] for k in ("cname", "clevel", "shuffle", "blocksize")}}
    if cid == "lzma":
        preset = config.get("preset") or 6
        if config.get("format", 1) == 1 and config.get("check", -1) in (-1, 4) \
                and not config.get("filters"):
            return {"type": "xz", "preset": preset}
        return {"type": "lzma", "preset": preset, "format": config.get("format", 1),
                "check": config.get("check", -1), "filters": config.get("filters")}
    return {"type": cid, **{k: v for k, v in config.items() if k not in ("id", "type")}}


def compressor_from_n5(compression: Any, where: str) -> dict[str, Any] | None:
    """Turn an N5 ``compression`` object into a numcodecs compressor config (None for raw).

    Raises
    ------
    MetadataError
        If ``compression`` is not an object with a string ``type`` or lacks a needed field.
    """
    if not isinstance(compression, Mapping) or not isinstance(compression.get("type"), str):
        raise MetadataError(f"{where}: 'compression' must be an object with a string 'type', "
                            f"got {compression!r}")
    c = dict(compression)
    kind = c.pop("type")
    try:
        if kind == "raw":
            return None
        if kind == "gzip":
            return {"id": "zlib" if c.get("useZlib") else "gzip", "level": c.get("level", -1)}
        if kind == "bzip2":
            return {"id": "bz2", "level": c.get("blockSize", 9)}
        if kind == "xz":
            return {"id": "lzma", "format": 1, "check": -1, "preset": c.get("preset", 6),
                    "filters": None}
        if kind == "lzma":
            return {"id": "lzma", "format": c["format"], "check": c["check"],
                    "preset": c["preset"], "filters": c["filters"]}
        if kind == "blosc":
            return {"id": "blosc", **{k: c[k] for k in ("cname", "clevel", "shuffle", "blocksize")}}
    except KeyError as e:
        raise MetadataError(
            f"{where}: {kind!r} compression lacks the field {e.args[0]!r}") from None
    return {"id": kind, **c}


# ------------------------------------------------------------------ metadata <-> attributes


def _dims(value: Any, name: str, where: str, minimum: int) -> list[int]:
    """Check a dimension list: non-empty (N5 has no 0-d datasets), integers >= minimum."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                       for v in value)):
        raise MetadataError(f"{where}: {name!r} must be a non-empty list of integers >= "
                            f"{minimum}, got {value!r}")
    return list(value)


def array_meta_to_n5(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Turn a ``.zarray`` document into N5 dataset attributes (axes reversed).

    Raises
    ------
    ValueError
        If the array uses something N5 cannot store (fill value other than 0,
        order F, filters, a non-N5 data type, zero dimensions, '/' chunk keys).
    """
    where = repr(key)
    shape = _dims(meta.get("shape"), "shape", where, 0)
    chunks = _dims(meta.get("chunks"), "chunks", where, 1)
    if len(shape) != len(chunks):
        raise MetadataError(f"{where}: shape {shape} and chunks {chunks} differ in length")
    try:
        dtype = np.dtype(meta.get("dtype"))
    except TypeError as e:
        raise MetadataError(f"{where}: invalid dtype {meta.get('dtype')!r}") from e
    if dtype.name not in N5_TYPES:
        raise ValueError(f"N5 cannot store dtype {dtype.str!r} (array {key!r}); N5 data types "
                         f"are {', '.join(N5_TYPES)}")
    fill = meta.get("fill_value")
    if fill is not None and (isinstance(fill, str) or fill != 0):
        raise ValueError(f"N5 has no fill value (missing blocks read as 0); array {key!r} asks "
                         f"for fill_value={fill!r}; use 0 or None")
    if meta.get("order", "C") != "C":
        raise ValueError(f"N5 stores only order 'C'; array {key!r} asks for {meta.get('order')!r}")
    if meta.get("filters"):
        raise ValueError(f"N5 has no filters; array {key!r} asks for {meta.get('filters')!r}")
    if meta.get("dimension_separator", ".") not in (".", None):
        raise ValueError(f"N5 chooses its own block paths; array {key!r} asks for "
                         f"dimension_separator={meta.get('dimension_separator')!r}; use '.' "
                         "or leave it out")
    return {"dimensions": shape[::-1], "blockSize": chunks[::-1], "dataType": dtype.name,
            "compression": compressor_to_n5(meta.get("compressor"))}


def array_meta_from_n5(attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Turn N5 dataset attributes into a ``.zarray`` document (native byte order).

    Raises
    ------
    MetadataError
        If a dataset field is missing or malformed; the message names ``where``.
    """
    shape = _dims(attrs.get("dimensions"), "dimensions", where, 0)[::-1]
    chunks = _dims(attrs.get("blockSize"), "blockSize", where, 1)[::-1]
    if len(shape) != len(chunks):
        raise MetadataError(f"{where}: dimensions and blockSize differ in length")
    name = attrs.get("dataType")
    if not isinstance(name, str):
        raise MetadataError(f"{where}: 'dataType' must be a string, got {name!r}")
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise MetadataError(f"{where}: unknown N5 dataType {name!r}") from None
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise MetadataError(f"{where}: unsupported N5 dataType {name!r}")
    compression = attrs.get("compression")
    if compression is None and isinstance(attrs.get("compressionType"), str):  # N5 1.x
        compression = {"type": attrs["compressionType"]}
    inner = compressor_from_n5(compression, where)
    return {
        "zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype.str,
        "compressor": {"id": N5ChunkCodec.codec_id, "compressor_config": inner,
                       "dtype": dtype.str, "chunk_shape": chunks},
        "fill_value": 0, "order": "C", "filters": None, "dimension_separator": ".",
    }


def is_dataset(attrs: Mapping[str, Any] | None) -> bool:
    """Return whether N5 attributes describe a dataset (an array) rather than a group."""
    return attrs is not None and "dimensions" in attrs


def user_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the user attributes of N5 attributes (everything but N5's reserved names)."""
    return {k: v for k, v in attrs.items() if k not in RESERVED}


# ------------------------------------------------------------------ block codec


class N5ChunkCodec(Codec):
    """A numcodecs codec for N5 blocks: header, big-endian data, inner compressor.

    Parameters
    ----------
    dtype : str or numpy.dtype
        The array's dtype (any byte order; blocks are always big-endian).
    chunk_shape : sequence of int
        The chunk shape in Zarr (C) axis order.
    compressor_config : dict, optional
        The inner numcodecs compressor's config; None for raw blocks.

    Notes
    -----
    Encoding writes a mode-0 header with the full chunk shape. Decoding
    accepts mode 0 and mode 1 (varlength) headers and pads a block smaller
    than the chunk (an edge block written by another N5 library) with zeros.
    """

    codec_id = "zarrdask_n5"

    def __init__(self, dtype: Any, chunk_shape: Sequence[int],
                 compressor_config: Mapping[str, Any] | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.chunk_shape = tuple(int(s) for s in chunk_shape)
        self.compressor_config = None if compressor_config is None else dict(compressor_config)
        self._compressor = None if compressor_config is None else get_codec(dict(compressor_config))
        self._big = self.dtype.newbyteorder(">")

    def get_config(self) -> dict[str, Any]:
        """Return the JSON config (round-trips through ``numcodecs.get_codec``)."""
        return {"id": self.codec_id, "compressor_config": self.compressor_config,
                "dtype": self.dtype.str, "chunk_shape": list(self.chunk_shape)}

    def __repr__(self) -> str:
        return (f"N5ChunkCodec(dtype={self.dtype.str!r}, chunk_shape={self.chunk_shape}, "
                f"compressor={self._compressor!r})")

    def encode(self, buf: Any) -> bytes:
        """Encode one whole chunk (C order, any byte order of ``dtype``) as an N5 block."""
        data = ensure_contiguous_ndarray(buf).reshape(-1).view("u1").view(self.dtype)
        count = int(np.prod(self.chunk_shape))
        if data.size != count:
            raise ValueError(f"N5 block encode: got {data.size} elements, expected {count} "
                             f"for chunk shape {self.chunk_shape}")
        big = data.astype(self._big, copy=False)
        ndim = len(self.chunk_shape)
        header = struct.pack(f">HH{ndim}I", 0, ndim, *self.chunk_shape[::-1])
        payload = big.tobytes() if self._compressor is None else self._compressor.encode(big)
        return header + bytes(payload)

    def _read_header(self, raw: memoryview) -> tuple[tuple[int, ...], int]:
        if len(raw) < 4:
            raise ValueError(f"N5 block is {len(raw)} bytes, shorter than its 4-byte header")
        mode, ndim = struct.unpack_from(">HH", raw)
        if mode not in (0, 1):
            raise ValueError(f"N5 block mode {mode} is not supported (only 0 and 1)")
        if ndim != len(self.chunk_shape):
            raise ValueError(f"N5 block header has {ndim} dimensions; the array has "
                             f"{len(self.chunk_shape)}")
        size = 4 + 4 * ndim + (4 if mode == 1 else 0)
        if len(raw) < size:
            raise ValueError(f"N5 block header is truncated: {len(raw)} bytes, need {size}")
        shape = struct.unpack_from(f">{ndim}I", raw, 4)[::-1]
        if any(b > c for b, c in zip(shape, self.chunk_shape, strict=False)):
            raise ValueError(f"N5 block shape {shape} exceeds the chunk shape {self.chunk_shape}")
        if mode == 1:
            (count,) = struct.unpack_from(">I", raw, 4 + 4 * ndim)
            if count != int(np.prod(shape)):
                raise ValueError(f"N5 varlength block holds {count} elements; its shape {shape} "
                                 f"needs {int(np.prod(shape))}")
        return shape, size

    def _decompress(self, payload: memoryview, expected: int) -> Any:
        c = self._compressor
        cid = None if c is None else c.codec_id
        if cid is None:
            data: Any = payload
        elif cid in ("zlib", "gzip"):
            data = _bounded_inflate(payload, 15 | (16 if cid == "gzip" else 0), expected)
        else:
            if cid == "blosc" and len(payload) >= 16:
                nbytes = int.from_bytes(bytes(payload[4:8]), "little")
                if nbytes != expected:
                    raise ValueError(f"Blosc header says {nbytes} bytes; expected {expected}")
            data = c.decode(payload)
        n = memoryview(data).nbytes
        if n != expected:
            raise ValueError(f"N5 block data is {n} bytes; its header needs {expected}")
        return data

    def decode(self, buf: Any, out: Any = None) -> Any:
        """Decode an N5 block into the chunk's bytes in ``dtype`` (short blocks zero-padded)."""
        raw = memoryview(ensure_contiguous_ndarray(buf)).cast("B")
        shape, size = self._read_header(raw)
        expected = int(np.prod(shape)) * self.dtype.itemsize
        data = self._decompress(raw[size:], expected)
        block = np.frombuffer(data, dtype=self._big).reshape(shape)
        if shape == self.chunk_shape:
            chunk = block.astype(self.dtype)
        else:
            chunk = np.zeros(self.chunk_shape, dtype=self.dtype)
            chunk[tuple(slice(0, s) for s in shape)] = block
        if out is None:
            return chunk
        target = ensure_contiguous_ndarray(out).reshape(-1).view("u1")
        target[:] = chunk.reshape(-1).view("u1")
        return out


register_codec(N5ChunkCodec)
