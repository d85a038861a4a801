"""The codec pipeline: filters then compressor, for one chunk at a time.

:class:`CodecPipeline` encodes a chunk array to bytes and decodes bytes back
into a chunk array (optionally straight into a caller's buffer). It never sees
a store. Decoding never allocates more than the chunk's expected size for the
compressors whose framing says how large the output is (Blosc, Zlib, GZip), and
a chunk of the wrong size is an error stating expected and actual bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numcodecs
import numpy as np
from numcodecs import blosc as _blosc
from numcodecs.abc import Codec

from zarrdask.errors import BadCompressorError, ChunkDecodeError

try:  # numcodecs >= 0.15.2 refuses to unpickle unless the process opts in
    from numcodecs.errors import UnsafeDecodeError as _UnsafeDecodeError
except ImportError:  # pragma: no cover - older numcodecs
    _UnsafeDecodeError = None  # type: ignore[assignment,misc]

__all__ = ["ChunkSpec", "CodecPipeline", "get_codec", "normalize_compressor"]

_BLOSC_HEADER = 16


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """What a decoded chunk looks like: shape, dtype and memory order."""

    shape: tuple[int, ...]
    dtype: np.dtype
    order: str

    @property
    def nbytes(self) -> int:
        """Size of the decoded chunk in bytes."""
        n = self.dtype.itemsize
        for s in self.shape:
            n *= s
        return n


def get_codec(config: dict[str, Any]) -> Codec:
    """Instantiate a numcodecs codec from its JSON config.

    Raises
    ------
    ValueError
        Naming the codec id when numcodecs does not know it or the config is bad.
    """
    try:
        return numcodecs.get_codec(dict(config))
    except Exception as e:  # numcodecs raises ValueError/TypeError/KeyError variously
        raise ValueError(
            f"cannot make codec from config {config!r}: {e}. Is the codec id "
            f"{config.get('id')!r} registered with numcodecs (is its package installed)?"
        ) from e


def normalize_compressor(compressor: Any) -> Codec | None:
    """Check a user-given compressor: a numcodecs codec, a config dict, or None.

    Raises
    ------
    BadCompressorError
        If it is anything else.
    """
    if compressor is None or isinstance(compressor, Codec):
        return compressor
    if isinstance(compressor, dict) and isinstance(compressor.get("id"), str):
        return get_codec(compressor)
    raise BadCompressorError(
        f"compressor must be a numcodecs codec (e.g. numcodecs.Blosc()) or None, "
        f"got {type(compressor).__name__}: {compressor!r}"
    )


_BLOSC_SIZES = struct.Struct("<4xI4xI")  # nbytes at offset 4, cbytes at offset 12


def _check_blosc_frame(cdata: Any, expected: int) -> None:
    """Check that a Blosc frame decodes to ``expected`` bytes and is complete."""
    size = memoryview(cdata).nbytes
    if size < _BLOSC_HEADER:
        raise ValueError(f"Blosc data is {size} bytes, shorter than its 16-byte header")
    nbytes, cbytes = _BLOSC_SIZES.unpack_from(cdata)
    if nbytes != expected:
        raise ValueError(f"Blosc header says {nbytes} bytes; expected {expected}")
    if cbytes != size:
        raise ValueError(f"Blosc header says {cbytes} compressed bytes but the chunk has {size}")


def _bounded_inflate(cdata: Any, wbits: int, expected: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(bytes(cdata), expected)
    if d.unconsumed_tail or (not d.eof and d.decompress(b"", 1)):
        raise ValueError(f"decompresses to more than the expected {expected} bytes")
    if not d.eof:
        raise ValueError("compressed stream is truncated")
    return out


class CodecPipeline:
    """Filters applied in order, then the compressor; reversed on decode.

    Parameters
    ----------
    filters : sequence of Codec
        Filters, applied in order on encode.
    compressor : Codec or None
        The compressor.

    Examples
    --------
    >>> from numcodecs import Zlib
    >>> p = CodecPipeline((), Zlib(1))
    >>> spec = ChunkSpec((2, 2), np.dtype("i4"), "C")
    >>> p.decode(p.encode(np.arange(4, dtype="i4").reshape(2, 2)), spec)
    array([[0, 1],
           [2, 3]], dtype=int32)
    """

    __slots__ = ("_blosc_only", "compressor", "filters")

    def __init__(self, filters: Sequence[Codec], compressor: Codec | None) -> None:
        self.filters = tuple(filters)
        self.compressor = compressor
        # numcodecs' own Blosc and nothing else: decode straight into the caller's buffer
        self._blosc_only = not self.filters and type(compressor) is _blosc.Blosc

    @classmethod
    def from_configs(
        cls, filters: Sequence[dict[str, Any]] | None, compressor: dict[str, Any] | None
    ) -> CodecPipeline:
        """Build from the ``filters`` and ``compressor`` entries of ``.zarray``."""
        return cls(
            [get_codec(f) for f in filters or ()],
            None if compressor is None else get_codec(compressor),
        )

    def encode(self, chunk: np.ndarray, order: str = "C") -> bytes:
        """Encode one chunk (of the chunk shape) into bytes that the caller owns."""
        if chunk.dtype.hasobject and not self.filters:
            raise ValueError("cannot encode an object array without an object codec "
                             "(pass object_codec=, e.g. numcodecs.VLenUTF8())")
        data: Any = chunk.ravel(order=order)  # type: ignore[call-overload]
        if data.dtype.hasobject and not data.flags.writeable:
            data = data.copy()  # the object codecs need a writable buffer
        if data.dtype.kind in "mM":
            data = data.view("i8")
        if self._blosc_only and data.nbytes <= self.compressor.max_buffer_size:
            c = self.compressor  # numcodecs' Blosc.encode without its argument checks
            return _blosc.compress(data, c._cname_bytes, c.clevel, c.shuffle, c.blocksize)
        for f in self.filters:
            data = f.encode(data)
        if self.compressor is not None:
            data = self.compressor.encode(data)
        if isinstance(data, bytes):
            return data
        return np.asarray(data).tobytes()

    def decode(self, cdata: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        """Decode bytes into a chunk array of ``spec``.

        Parameters
        ----------
        cdata : bytes-like
            The encoded chunk.
        spec : ChunkSpec
            Shape, dtype and order of the chunk.
        out : ndarray, optional
            A contiguous array of ``spec.nbytes`` bytes to decode into.

        Raises
        ------
        ValueError
            If the data do not decode to exactly ``spec.nbytes`` bytes.
        """
        if spec.dtype.hasobject:
            decoded = self._decode_object(cdata, spec)
            if out is None:
                return decoded
            out[...] = decoded
            return out
        expected = spec.nbytes
        if self._blosc_only:
            _check_blosc_frame(cdata, expected)
            target = out if out is not None else np.empty(spec.shape, spec.dtype, spec.order)
            _blosc.decompress(cdata, target)
            return target
        data: Any = cdata
        c = self.compressor
        if c is not None:
            codec_id = getattr(c, "codec_id", None)
            if codec_id == "blosc" and not self.filters:
                _check_blosc_frame(cdata, expected)
                target = out if out is not None else np.empty(spec.shape, spec.dtype, spec.order)
                c.decode(cdata, out=target.reshape(-1, order="A").view("u1"))
                return target
            if codec_id == "zlib" and not self.filters:
                data = _bounded_inflate(cdata, zlib.MAX_WBITS, expected)
            elif codec_id == "gzip" and not self.filters:
                data = _bounded_inflate(cdata, zlib.MAX_WBITS | 16, expected)
            else:
                data = c.decode(cdata)
        for f in reversed(self.filters):
            data = f.decode(data)
        arr = np.frombuffer(data, dtype="u1") if not isinstance(data, np.ndarray) else data
        if arr.nbytes != expected:
            raise ValueError(f"decoded chunk has {arr.nbytes} bytes; expected {expected}")
        arr = arr.reshape(-1).view("u1").view(spec.dtype).reshape(spec.shape, order=spec.order)  # type: ignore[call-overload]
        if out is not None:
            np.copyto(out, arr)
            return out
        return arr

    def _decode_object(self, cdata: Any, spec: ChunkSpec) -> np.ndarray:
        data: Any = cdata
        if self.compressor is not None:
            data = self.compressor.decode(data)
        for f in reversed(self.filters):
            data = f.decode(data)
        arr = np.asarray(data, dtype=object)
        n = 1
        for s in spec.shape:
            n *= s
        if arr.size != n:
            raise ValueError(f"decoded object chunk has {arr.size} items; expected {n}")
        return arr.reshape(spec.shape, order=spec.order)  # type: ignore[call-overload]

    def __repr__(self) -> str:
        return f"CodecPipeline(filters={list(self.filters)!r}, compressor={self.compressor!r})"


def decode_error(key: str, error: Exception) -> Exception:
    """Wrap a decode failure in an error naming the chunk key.

    A refusal to unpickle (numcodecs' ``UnsafeDecodeError``, whose message says
    how to allow it) keeps its type, so callers can catch it as numcodecs documents.
    """
    message = f"cannot decode chunk {key!r}: {error}"
    if _UnsafeDecodeError is not None and isinstance(error, _UnsafeDecodeError):
        return type(error)(message)
    return ChunkDecodeError(message)
