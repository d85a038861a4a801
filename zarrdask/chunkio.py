"""Chunk I/O: the only module that touches both a store and the codecs.

:func:`read_chunks` turns chunk projections into store reads and decoded data
in an output array; :func:`write_chunks` turns them into encoded chunks in the
store. Within one call, codec work for chunks of useful size runs on a shared
thread pool (numcodecs releases the GIL). A missing chunk (``KeyError`` from
the store) reads as the fill value; every other store or decode error
propagates, naming the chunk key.

Writes: a chunk that the selection covers completely is encoded without
reading the old one; a partly covered chunk is read, modified and written
back, under the synchronizer's lock for its key when there is one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zarrdask import config
from zarrdask.codecs import ChunkSpec, CodecPipeline, decode_error
from zarrdask.indexing import ChunkProjection
from zarrdask.keys import chunk_key
from zarrdask.parallel import run_items, run_pipelined, run_streamed
from zarrdask.storage._base import delitems, getitems, has_batch_io, setitems

__all__ = ["ChunkIO", "read_chunks", "write_chunks"]


# ---------------------------------------------------------------- buffers

_scratch = threading.local()


def _scratch_chunk(spec: ChunkSpec) -> np.ndarray:
    """A per-thread reusable buffer shaped like a chunk (avoids page faults per chunk)."""
    if spec.dtype.hasobject:
        return np.empty(spec.shape, dtype=spec.dtype, order=spec.order)  # type: ignore[call-overload]
    nbytes = spec.nbytes
    buf: np.ndarray | None = getattr(_scratch, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype="u1")
        _scratch.buf = buf
    flat = buf[:nbytes].view(spec.dtype)
    return flat.reshape(spec.shape, order=spec.order)  # type: ignore[call-overload]


# --------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class ChunkIO:
    """Everything chunk I/O needs to know about one array.

    Attributes
    ----------
    chunk_store : MutableMapping
        Where chunks live.
    prefix : str
        Key prefix of the array (``""`` or ``"path/"``).
    separator : str
        Dimension separator of chunk keys.
    spec : ChunkSpec
        Shape, dtype and order of a chunk.
    pipeline : CodecPipeline
        The codecs.
    fill_value : Any
        Decoded fill value, or None (reads as zeros).
    write_empty_chunks : bool
        Whether chunks equal to the fill value everywhere are stored.
    synchronizer : object or None
        Maps a chunk key to a lock context manager.
    """

    chunk_store: MutableMapping[str, Any]
    prefix: str
    separator: str
    spec: ChunkSpec
    pipeline: CodecPipeline
    fill_value: Any
    write_empty_chunks: bool = False
    synchronizer: Any = None

    def key(self, chunk_coords: tuple[int, ...]) -> str:
        """The store key of a chunk."""
        return self.prefix + chunk_key(chunk_coords, self.separator)

    def decode(self, key: str, cdata: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Decode one chunk, naming its key on failure."""
        try:
            return self.pipeline.decode(cdata, self.spec, out=out)
        except Exception as e:
            raise decode_error(key, e) from e

    def fill_chunk(self, chunk: np.ndarray) -> np.ndarray:
        """Fill a chunk buffer with the fill value (zeros when it is None)."""
        fill = self.fill_value
        if fill is None:
            if chunk.dtype.hasobject:
                chunk.fill(None)
            else:
                if chunk.flags.forc:  # a 1-d view: viewing an F-order chunk can fail
                    chunk.reshape(-1, order="A").view("u1").fill(0)
                else:
                    chunk[...] = np.zeros((), chunk.dtype)
        else:
            chunk[...] = fill
        return chunk

    def is_empty(self, chunk: np.ndarray) -> bool:
        """Whether every element of a chunk equals the fill value (NaN equals NaN)."""
        fill = self.fill_value
        if chunk.dtype.hasobject:
            return all(_same(v, fill) for v in chunk.flat)
        fill_arr = np.zeros((), chunk.dtype) if fill is None else np.asarray(fill, chunk.dtype)
        if chunk.size == 0:
            return True
        flat = chunk.reshape(-1, order="A")
        if chunk.dtype.kind in "mMVSU" or chunk.dtype.names:
            width = chunk.dtype.itemsize
            raw = flat.view(f"V{width}") if width else flat
            return bool(np.all(raw == fill_arr.reshape(1).view(f"V{width}")[0])) if width else True
        if not _same(flat[0], fill_arr[()]):
            return False
        if chunk.dtype.kind in "fc" and np.isnan(fill_arr):
            return bool(np.isnan(flat).all())
        return bool(np.all(flat == fill_arr))


def _same(a: Any, b: Any) -> bool:
    try:
        if a == b:
            return True
    except Exception:
        return False
    try:
        return bool(np.isnan(a) and np.isnan(b))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------ read


def _batched(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _direct_target(out: np.ndarray, p: ChunkProjection, io: ChunkIO) -> np.ndarray | None:
    """The region of ``out`` to decode into directly, when that is possible."""
    if not p.is_full or not all(isinstance(s, slice) for s in p.out_selection):
        return None  # an array index would give a copy of out, not a view into it
    target = out[(*p.out_selection, Ellipsis)]  # a view, also for 0-d outputs
    if target.shape != io.spec.shape:
        return None
    contiguous = target.flags.c_contiguous if io.spec.order == "C" else target.flags.f_contiguous
    return target if contiguous else None


def read_chunks(
    io: ChunkIO,
    projections: Iterable[ChunkProjection],
    out: np.ndarray,
    *,
    drop_axes: tuple[int, ...] = (),
    fields: Any = None,
) -> np.ndarray:
    """Read the chunks of a selection into ``out``.

    Parameters
    ----------
    io : ChunkIO
        The array's chunk I/O context.
    projections : iterable of ChunkProjection
        From an indexer.
    out : ndarray
        Output array of the indexer's shape (plus sub-array field axes).
    drop_axes : tuple of int
        Axes of the chunk selection result to squeeze (orthogonal integer axes).
    fields : str or list of str, optional
        Fields of a structured dtype to read.

    Returns
    -------
    ndarray
        ``out``.
    """
    projections = list(projections)
    if not projections:
        return out
    batch_io = has_batch_io(io.chunk_store)
    direct_ok = fields is None and not drop_axes and out.dtype == io.spec.dtype

    def fill_missing(p: ChunkProjection) -> None:
        fill = io.fill_value
        if fields is not None and fill is not None:
            fill = np.asarray(fill, dtype=io.spec.dtype)[fields]
        if fill is None:
            # zero bytes, not the number 0 (which a structured dtype turns into b"0")
            out[p.out_selection] = None if out.dtype.hasobject else np.zeros((), out.dtype)
        else:
            out[p.out_selection] = fill

    def place(p: ChunkProjection, key: str, cdata: Any) -> None:
        target = _direct_target(out, p, io) if direct_ok else None
        if target is not None:
            io.decode(key, cdata, out=target)
            return
        chunk = io.decode(key, cdata, out=_scratch_chunk(io.spec))
        if fields is not None:
            chunk = chunk[fields]
        value = chunk[p.chunk_selection]
        if drop_axes:
            value = value.squeeze(axis=drop_axes)
        out[p.out_selection] = value

    def fetch_and_place(p: ChunkProjection) -> None:
        key = io.key(p.chunk_coords)
        try:
            cdata = io.chunk_store[key]
        except KeyError:
            fill_missing(p)
            return
        place(p, key, cdata)

    nbytes = io.spec.nbytes
    reader = _chunk_reader(io.chunk_store, nbytes)
    if reader is not None:
        keys = [io.key(p.chunk_coords) for p in projections]

        def handle(i: int, cdata: Any) -> None:
            if cdata is None:
                fill_missing(projections[i])
            else:
                place(projections[i], keys[i], cdata)

        run_streamed(reader, keys, handle, nbytes)
        return out
    if not batch_io:
        run_items(fetch_and_place, projections, nbytes)
        return out
    for batch in _batched(projections, config.batch_chunks):
        keys = [io.key(p.chunk_coords) for p in batch]
        found = getitems(io.chunk_store, keys)
        present = []
        for p, key in zip(batch, keys, strict=True):
            if key in found:
                present.append((p, key, found[key]))
            else:
                fill_missing(p)
        run_items(lambda item: place(*item), present, nbytes)
    return out


# ----------------------------------------------------------------------- write


def write_chunks(
    io: ChunkIO,
    projections: Iterable[ChunkProjection],
    value: Any,
    *,
    drop_axes: tuple[int, ...] = (),
    fields: Any = None,
) -> None:
    """Write ``value`` (an array of the indexer's shape, or a scalar) into the chunks.

    Parameters
    ----------
    io : ChunkIO
        The array's chunk I/O context.
    projections : iterable of ChunkProjection
        From an indexer.
    value : ndarray or scalar
        Values already cast to the array's (or the fields') dtype and broadcast
        to the selection shape, or a 0-d/scalar value.
    drop_axes : tuple of int
        Axes to re-insert (length 1) in the chunk selection (orthogonal integer axes).
    fields : str or list of str, optional
        Fields of a structured dtype to write.
    """
    projections = list(projections)
    if not projections:
        return
    scalar = getattr(value, "ndim", 0) == 0
    spec = io.spec
    locked = io.synchronizer is not None
    batch_io = has_batch_io(io.chunk_store)
    scalar_cdata: list[Any] = []  # encode a scalar-filled chunk once, reuse it

    def selected(p: ChunkProjection) -> Any:
        if scalar:
            return value
        v = value[p.out_selection]
        if drop_axes:
            v = np.expand_dims(v, drop_axes)
        return v

    def full_chunk(p: ChunkProjection) -> np.ndarray:
        v = selected(p)  # with the dropped (integer) axes back, as the chunk has them
        if v.shape == spec.shape and v.dtype == spec.dtype:
            contiguous = v.flags.c_contiguous if spec.order == "C" else v.flags.f_contiguous
            if contiguous:
                return v
        chunk = _scratch_chunk(spec)
        if v.shape != spec.shape:
            io.fill_chunk(chunk)
            chunk[p.chunk_selection] = v
        else:
            np.copyto(chunk, v, casting="unsafe")
        return chunk

    def encode_full(p: ChunkProjection) -> Any:
        """Return cdata, or None when the chunk is empty and must be deleted."""
        if scalar:
            if not scalar_cdata:
                chunk = _scratch_chunk(spec)
                chunk[...] = value
                empty = not io.write_empty_chunks and io.is_empty(chunk)
                scalar_cdata.append(None if empty else io.pipeline.encode(chunk, spec.order))
            return scalar_cdata[0]
        chunk = full_chunk(p)
        if not io.write_empty_chunks and io.is_empty(chunk):
            return None
        return io.pipeline.encode(chunk, spec.order)

    def modify(p: ChunkProjection, key: str, cdata: Any) -> Any:
        chunk = _scratch_chunk(spec)
        if cdata is None:
            io.fill_chunk(chunk)
        else:
            chunk = io.decode(key, cdata, out=chunk)
            if not chunk.flags.writeable:
                chunk = chunk.copy()
        target = chunk if fields is None else chunk[fields]
        sel = p.chunk_selection
        if scalar and target.dtype.hasobject:
            # integer indices would store a 0-d object array itself, not its element
            sel = _keep_dims(sel)
        target[sel] = selected(p)
        if not io.write_empty_chunks and io.is_empty(chunk):
            return None
        return io.pipeline.encode(chunk, spec.order)

    writer = _chunk_writer(io.chunk_store)

    def store_one(key: str, cdata: Any) -> None:
        if writer is not None:
            if cdata is None:
                writer.delete(key)
            else:
                writer.write(key, cdata)
        elif cdata is None:
            try:
                del io.chunk_store[key]
            except KeyError:
                pass
        else:
            io.chunk_store[key] = cdata

    def write_one(p: ChunkProjection) -> None:
        key = io.key(p.chunk_coords)
        if p.is_full and fields is None:
            if locked:
                cdata = encode_full(p)
                with io.synchronizer[key]:
                    store_one(key, cdata)
            else:
                store_one(key, encode_full(p))
            return
        if locked:
            with io.synchronizer[key]:
                store_one(key, modify(p, key, io.chunk_store.get(key)))
        else:
            store_one(key, modify(p, key, _get_or_none(io.chunk_store, key)))

    nbytes = spec.nbytes
    if writer is not None and not locked:
        # local files: encode on the pool, write every file from this thread
        def encode_one(p: ChunkProjection) -> tuple[str, Any]:
            key = io.key(p.chunk_coords)
            if p.is_full and fields is None:
                return key, encode_full(p)
            return key, modify(p, key, _get_or_none(io.chunk_store, key))

        run_pipelined(encode_one, projections, lambda item: store_one(*item), nbytes)
        return
    if locked or not batch_io:
        run_items(write_one, projections, nbytes)
        return
    for batch in _batched(projections, config.batch_chunks):
        keys = [io.key(p.chunk_coords) for p in batch]
        partial = [k for p, k in zip(batch, keys, strict=True)
                   if not (p.is_full and fields is None)]
        old = getitems(io.chunk_store, partial) if partial else {}
        old_cdata = [None if p.is_full and fields is None else old.get(k)
                     for p, k in zip(batch, keys, strict=True)]
        results: list[Any] = [None] * len(batch)

        def encode_at(item: tuple[int, ChunkProjection, str, Any],
                      results: list[Any] = results) -> None:
            i, p, k, cdata = item
            if p.is_full and fields is None:
                results[i] = encode_full(p)
            else:
                results[i] = modify(p, k, cdata)

        run_items(encode_at, list(zip(range(len(batch)), batch, keys, old_cdata, strict=True)),
                  nbytes)
        to_set = {k: c for k, c in zip(keys, results, strict=True) if c is not None}
        to_delete = [k for k, c in zip(keys, results, strict=True) if c is None]
        if to_set:
            setitems(io.chunk_store, to_set)
        if to_delete:
            delitems(io.chunk_store, to_delete)


def _keep_dims(selection: tuple[Any, ...]) -> tuple[Any, ...]:
    """Integer indices as length-1 slices, so assigning a 0-d value broadcasts its element."""
    if not selection:
        return (Ellipsis,)
    return tuple(slice(s, s + 1) if isinstance(s, int | np.integer) else s for s in selection)


def _chunk_reader(store: Any, chunk_nbytes: int) -> Any:
    """The store's read-ahead chunk reader (local folder stores), or None."""
    make = getattr(store, "chunk_reader", None)
    return make(chunk_nbytes) if make is not None else None


def _chunk_writer(store: Any) -> Any:
    """The store's chunk-file writer (local folder stores), or None."""
    make = getattr(store, "chunk_writer", None)
    return make() if make is not None else None


def _get_or_none(store: MutableMapping[str, Any], key: str) -> Any:
    try:
        return store[key]
    except KeyError:
        return None
