"""The LIMIT row: the unavoidable work of each workload, as fast as plain Python can do it.

For array data that is: encode (or decode) every chunk the operation touches with numcodecs'
Blosc on a 2-thread pool, the raw file writes (or reads) of those chunks, and one memcpy of
the data (array -> per-thread chunk buffer on write, chunk buffer -> output on read). Chunk
and file buffers are reused per thread; each thread gets one batch of chunks (one task, not
one per chunk), so the pool costs two submissions per call. No temp file + rename, no
locks, no fill-value checks. Points are grouped by chunk with one vectorised argsort.

For W8 it is writing and reading the metadata files themselves (pre-encoded JSON; reading
parses it). The arrays LIMIT writes are valid Zarr v2 (zarr-python reads them), so its reads
read the same format as everyone else's.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
from _common import COMPRESSOR_CONFIG, FILL_VALUE, Backend, Params, Selection, StoreSpec
from numcodecs.blosc import compress, decompress

__all__ = ["THREADS", "LimitBackend"]

#: Codec threads of the floor (the issue's "2-thread pool").
THREADS = 2
#: Chunk files each thread has asked the kernel for ahead of the one it reads.
READ_AHEAD = 4
_SLACK = 1 << 16  # file buffer beyond the chunk's nbytes (Blosc adds at most a few bytes)
_GROUP_JSON = json.dumps({"zarr_format": 2}, indent=4).encode()


def _zarray_json(shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype) -> bytes:
    return json.dumps({
        "chunks": list(chunks), "compressor": dict(COMPRESSOR_CONFIG),
        "dimension_separator": ".", "dtype": dtype.str, "fill_value": FILL_VALUE,
        "filters": None, "order": "C", "shape": list(shape), "zarr_format": 2,
    }, indent=4, sort_keys=True).encode()


def _write_file(path: str, data: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _read_file(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:
        return f.read()


def _axis_range(index: Any, size: int) -> tuple[int, int, bool]:
    """(start, stop, squeeze) of one axis of a basic index (ints and unit-step slices)."""
    if isinstance(index, slice):
        start, stop, step = index.indices(size)
        if step != 1:
            raise ValueError(f"LIMIT reads unit-step slices only, not step {step}")
        return start, stop, False
    i = int(index) + (size if int(index) < 0 else 0)
    return i, i + 1, True


class LimitBackend(Backend):
    """The floor: numcodecs Blosc on a 2-thread pool + raw file I/O + one memcpy."""

    name = "limit"

    def __init__(self) -> None:
        super().__init__()
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="limit")
        self.local = threading.local()
        self.cname = str(COMPRESSOR_CONFIG["cname"]).encode()
        self.clevel = int(COMPRESSOR_CONFIG["clevel"])
        self.shuffle = int(COMPRESSOR_CONFIG["shuffle"])
        self.blocksize = int(COMPRESSOR_CONFIG["blocksize"])

    def version(self) -> str:
        return f"numcodecs {numcodecs.__version__} Blosc on {THREADS} threads"

    # per-thread buffers -------------------------------------------------------------------
    def _chunk_buffer(self, chunks: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        key = (chunks, dtype.str)
        cache = getattr(self.local, "chunk", None)
        if cache is None or cache[0] != key:
            cache = (key, np.empty(chunks, dtype))
            self.local.chunk = cache
        return cache[1]

    def _file_buffer(self, nbytes: int) -> memoryview:
        buf = getattr(self.local, "raw", None)
        if buf is None or len(buf) < nbytes + _SLACK:
            buf = memoryview(bytearray(nbytes + _SLACK))
            self.local.raw = buf
        return buf

    def _fan_out(self, work: Callable[[list[Any]], None], tasks: list[Any]) -> None:
        """One batch of ``tasks`` per thread."""
        batches = [tasks[i::THREADS] for i in range(THREADS) if tasks[i::THREADS]]
        for future in [self.pool.submit(work, batch) for batch in batches]:
            future.result()

    # store access ------------------------------------------------------------------------------
    def _chunks(self, store: StoreSpec, keys: list[str], raw: memoryview) -> Iterator[Any]:
        """The encoded chunks ``keys``, in order (each valid until the next is taken).

        From a directory, each file is opened ``READ_AHEAD`` chunks before it is read, with
        ``posix_fadvise(WILLNEED)``, so the disk works on several chunks at once while this
        thread decodes (as a reader with more I/O threads would); then read into ``raw``.
        """
        if store.kind == "memory":
            mapping = self.memory[store.name]
            for key in keys:
                yield mapping[key]
            return
        root = store.path
        pending: deque[tuple[str, int]] = deque()
        upcoming = iter(keys)

        def issue() -> None:
            key = next(upcoming, None)
            if key is not None:
                fd = os.open(os.path.join(root, key), os.O_RDONLY)
                pending.append((key, fd))
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)

        try:
            for _ in range(READ_AHEAD):
                issue()
            while pending:
                key, fd = pending.popleft()
                issue()
                try:
                    n = os.readv(fd, [raw])
                finally:
                    os.close(fd)
                if n == len(raw):
                    raise ValueError(f"LIMIT: chunk {key!r} is larger than its file buffer")
                yield raw[:n]
        finally:
            for _, fd in pending:
                os.close(fd)

    # array data --------------------------------------------------------------------------------
    def write(self, data: np.ndarray, chunks: tuple[int, ...], store: StoreSpec) -> None:
        meta = _zarray_json(data.shape, chunks, data.dtype)
        mapping: dict[str, Any] | None = None
        if store.kind == "memory":
            mapping = self.memory[store.name] = {".zarray": meta}
        else:
            os.makedirs(store.path, exist_ok=True)
            _write_file(os.path.join(store.path, ".zarray"), meta)
        grid = [range(math.ceil(s / c)) for s, c in zip(data.shape, chunks, strict=True)]
        root = store.path

        def work(batch: list[tuple[int, ...]]) -> None:
            buf = self._chunk_buffer(chunks, data.dtype)
            for coords in batch:
                part = data[tuple(slice(i * c, (i + 1) * c) for i, c in zip(coords, chunks,
                                                                            strict=True))]
                if part.shape == buf.shape:
                    np.copyto(buf, part)
                else:  # edge chunk: pad with the fill value
                    buf.fill(FILL_VALUE)
                    buf[tuple(slice(0, n) for n in part.shape)] = part
                cdata = compress(buf, self.cname, self.clevel, self.shuffle, self.blocksize)
                key = ".".join(map(str, coords))
                if mapping is not None:
                    mapping[key] = cdata
                else:
                    _write_file(os.path.join(root, key), cdata)

        self._fan_out(work, list(itertools.product(*grid)))

    def _meta(self, store: StoreSpec) -> tuple[tuple[int, ...], tuple[int, ...], np.dtype]:
        if store.kind == "memory":
            raw = self.memory[store.name][".zarray"]
        else:
            raw = _read_file(os.path.join(store.path, ".zarray"))
        meta = json.loads(raw)
        return tuple(meta["shape"]), tuple(meta["chunks"]), np.dtype(meta["dtype"])

    def read(self, store: StoreSpec, selection: Selection) -> np.ndarray:
        shape, chunks, dtype = self._meta(store)
        if selection.kind == "points":
            return self._read_points(store, shape, chunks, dtype, selection.points)
        index = selection.index if selection.kind == "basic" else (slice(None),) * len(shape)
        ranges = [_axis_range(ix, s) for ix, s in zip(index, shape, strict=True)]
        out = np.empty([stop - start for start, stop, _ in ranges], dtype)
        per_axis = []
        for (start, stop, _), c in zip(ranges, chunks, strict=True):
            per_axis.append([
                (k, slice(max(start, k * c) - k * c, min(stop, (k + 1) * c) - k * c),
                 slice(max(start, k * c) - start, min(stop, (k + 1) * c) - start))
                for k in range(start // c, math.ceil(stop / c))
            ])
        tasks = [(".".join(str(k) for k, _, _ in combo),
                  tuple(cs for _, cs, _ in combo), tuple(os_ for _, _, os_ in combo))
                 for combo in itertools.product(*per_axis)]
        nbytes = math.prod(chunks) * dtype.itemsize

        def work(batch: list[tuple[str, tuple[slice, ...], tuple[slice, ...]]]) -> None:
            buf = self._chunk_buffer(chunks, dtype)
            cdata = self._chunks(store, [key for key, _, _ in batch], self._file_buffer(nbytes))
            for (_, chunk_sel, out_sel), encoded in zip(batch, cdata, strict=True):
                decompress(encoded, buf)
                out[out_sel] = buf[chunk_sel]

        self._fan_out(work, tasks)
        return out[tuple(0 if squeeze else slice(None) for _, _, squeeze in ranges)]

    def _read_points(self, store: StoreSpec, shape: tuple[int, ...], chunks: tuple[int, ...],
                     dtype: np.dtype, points: tuple[np.ndarray, ...]) -> np.ndarray:
        grid = tuple(math.ceil(s / c) for s, c in zip(shape, chunks, strict=True))
        chunk_ids = np.ravel_multi_index(
            tuple(p // c for p, c in zip(points, chunks, strict=True)), grid)
        order = np.argsort(chunk_ids, kind="stable")
        bounds = np.flatnonzero(np.diff(chunk_ids[order])) + 1
        groups = np.split(order, bounds)
        out = np.empty(len(points[0]), dtype)
        nbytes = math.prod(chunks) * dtype.itemsize

        def tasks() -> Iterator[tuple[str, tuple[np.ndarray, ...], np.ndarray]]:
            for group in groups:
                coords = np.unravel_index(int(chunk_ids[group[0]]), grid)
                local = tuple(p[group] - int(k) * c
                              for p, k, c in zip(points, coords, chunks, strict=True))
                yield ".".join(str(int(k)) for k in coords), local, group

        def work(batch: list[tuple[str, tuple[np.ndarray, ...], np.ndarray]]) -> None:
            buf = self._chunk_buffer(chunks, dtype)
            cdata = self._chunks(store, [key for key, _, _ in batch], self._file_buffer(nbytes))
            for (_, local, where), encoded in zip(batch, cdata, strict=True):
                decompress(encoded, buf)
                out[where] = buf[local]

        self._fan_out(work, list(tasks()))
        return out

    # hierarchy ---------------------------------------------------------------------------------
    def create_hierarchy(self, root: str, params: Params) -> None:
        meta = _zarray_json(params.node_shape, params.node_chunks, np.dtype("<i4"))
        os.makedirs(root)
        _write_file(os.path.join(root, ".zgroup"), _GROUP_JSON)
        for i in range(params.groups):
            group = os.path.join(root, f"g{i}")
            os.mkdir(group)
            _write_file(os.path.join(group, ".zgroup"), _GROUP_JSON)
            for j in range(params.arrays_per_group):
                node = os.path.join(group, f"a{j}")
                os.mkdir(node)
                _write_file(os.path.join(node, ".zarray"), meta)

    def consolidate(self, root: str) -> None:
        base = Path(root)
        metadata = {
            str(p.relative_to(base)): json.loads(p.read_bytes())
            for p in sorted(base.rglob(".z*")) if p.name in (".zgroup", ".zarray", ".zattrs")
        }
        doc = {"metadata": metadata, "zarr_consolidated_format": 1}
        _write_file(os.path.join(root, ".zmetadata"),
                    json.dumps(doc, indent=4, sort_keys=True).encode())

    def open_hierarchy(self, root: str, names: list[str], consolidated: bool) -> list[tuple]:
        if consolidated:
            metadata = json.loads(_read_file(os.path.join(root, ".zmetadata")))["metadata"]
            return [tuple(metadata[f"{name}/.zarray"]["shape"]) for name in names]
        json.loads(_read_file(os.path.join(root, ".zgroup")))
        groups_seen: set[str] = set()
        shapes = []
        for name in names:
            group = name.rpartition("/")[0]
            if group and group not in groups_seen:
                json.loads(_read_file(os.path.join(root, group, ".zgroup")))
                groups_seen.add(group)
            shapes.append(tuple(json.loads(_read_file(os.path.join(root, name, ".zarray")))
                                ["shape"]))
        return shapes
