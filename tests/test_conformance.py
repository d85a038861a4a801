"""The shipped store conformance suite (``zarrdask.testing``) run against every store.

One test class, parametrised by store kind through the ``store_factory`` fixture
(test ids end in ``[kind]``). Stores whose module or client library is missing skip
with the reason; network stores use the real servers of ``tests/servers.py`` (a
server whose binary is missing skips there, with the reason).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from zarrdask.storage import (
    DirectoryStore,
    KVStore,
    LRUStoreCache,
    MemoryStore,
    N5FSStore,
    N5Store,
    NestedDirectoryStore,
    TempStore,
)
from zarrdask.testing import StoreCapabilities, StoreFactory, StoreTests

Store = MutableMapping[str, Any]


@dataclass
class Context:
    """What a store maker may use: a fresh folder, the pytest request, a unique name."""

    tmp_path: Path
    request: pytest.FixtureRequest
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: dict[str, Any] = field(default_factory=dict)


Maker = Callable[[Context], Store]
Reopener = Callable[[Context, Store, bool], Store]


@dataclass(frozen=True)
class Kind:
    """One store kind: how to make it, reopen it, and what it can do."""

    make: Maker
    reopen: Reopener | None = None
    caps: StoreCapabilities = StoreCapabilities()


def _module(name: str) -> Any:
    return pytest.importorskip(name, reason=f"{name} is not available")


# -- local stores ---------------------------------------------------------------------------


def _make_kv(ctx: Context) -> Store:
    ctx.state["dict"] = {}
    return KVStore(ctx.state["dict"])


def _make_zip(ctx: Context) -> Store:
    return _module("zarrdask.storage.zip").ZipStore(ctx.tmp_path / "s.zip", mode="w")


def _reopen_zip(ctx: Context, store: Store, read_only: bool) -> Store:
    return _module("zarrdask.storage.zip").ZipStore(store.path, mode="r" if read_only else "a")


def _dbm_opener(backend: str) -> Callable[..., Any]:
    if backend == "dumb":
        import dbm.dumb

        return dbm.dumb.open
    return _module("berkeleydb").btopen


def _make_dbm(backend: str) -> Maker:
    def make(ctx: Context) -> Store:
        dbm_module = _module("zarrdask.storage.dbm")
        return dbm_module.DBMStore(str(ctx.tmp_path / "db"), open=_dbm_opener(backend))

    return make


def _reopen_dbm(backend: str) -> Reopener:
    def reopen(ctx: Context, store: Store, read_only: bool) -> Store:
        dbm_module = _module("zarrdask.storage.dbm")
        return dbm_module.DBMStore(str(ctx.tmp_path / "db"), flag="r" if read_only else "c",
                                   open=_dbm_opener(backend))

    return reopen


def _make_lmdb(ctx: Context) -> Store:
    _module("lmdb")
    return _module("zarrdask.storage.lmdb").LMDBStore(str(ctx.tmp_path / "lmdb"))


def _reopen_lmdb(ctx: Context, store: Store, read_only: bool) -> Store:
    return _module("zarrdask.storage.lmdb").LMDBStore(str(ctx.tmp_path / "lmdb"),
                                                      readonly=read_only)


def _make_sqlite(ctx: Context) -> Store:
    return _module("zarrdask.storage.sqlite").SQLiteStore(str(ctx.tmp_path / "s.sqlite"))


def _reopen_sqlite(ctx: Context, store: Store, read_only: bool) -> Store:
    return _module("zarrdask.storage.sqlite").SQLiteStore(str(ctx.tmp_path / "s.sqlite"),
                                                          read_only=read_only)


def _make_lru(ctx: Context) -> Store:
    # a small cache over a folder, so that values are evicted during the tests
    return LRUStoreCache(DirectoryStore(ctx.tmp_path / "cached"), max_size=2**16)


def _reopen_lru(ctx: Context, store: Store, read_only: bool) -> Store:
    return LRUStoreCache(DirectoryStore(ctx.tmp_path / "cached", read_only=read_only),
                         max_size=2**16)


# -- fsspec ---------------------------------------------------------------------------------


def _fsstore(url: str, read_only: bool = False, **options: Any) -> Store:
    fsspec_module = _module("zarrdask.storage.fsspec")
    return fsspec_module.FSStore(url, mode="r" if read_only else "a", **options)


def _memory_url(ctx: Context) -> str:
    return ctx.state.setdefault("url", f"memory://conformance-{ctx.uid}")


def _file_url(ctx: Context) -> str:
    return ctx.state.setdefault("url", (ctx.tmp_path / "fs").as_uri())


_BUCKETS: set[str] = set()  # endpoints where the bucket was made


def _s3(ctx: Context) -> tuple[str, dict[str, Any]]:
    from tests.servers import make_bucket, s3_storage_options

    _module("s3fs")
    endpoint = ctx.request.getfixturevalue("s3_server")
    if endpoint not in _BUCKETS:
        make_bucket(endpoint, "conformance")
        _BUCKETS.add(endpoint)
    # Each test has its own prefix; the (cached) filesystem object is shared.
    return f"s3://conformance/{ctx.uid}", s3_storage_options(endpoint)


def _make_s3(ctx: Context) -> Store:
    url, options = _s3(ctx)
    return _fsstore(url, **options)


def _reopen_s3(ctx: Context, store: Store, read_only: bool) -> Store:
    url, options = _s3(ctx)
    return _fsstore(url, read_only, **options)


def _make_n5fs(ctx: Context) -> Store:
    return N5FSStore(_file_url(ctx) + ".n5")


def _reopen_n5fs(ctx: Context, store: Store, read_only: bool) -> Store:
    return N5FSStore(_file_url(ctx) + ".n5", mode="r" if read_only else "a")


# -- network stores -------------------------------------------------------------------------


def _make_redis(ctx: Context, read_only: bool = False) -> Store:
    host, port = ctx.request.getfixturevalue("redis_server")
    redis_module = _module("zarrdask.storage.redis")
    extra = {"read_only": True} if read_only else {}
    return redis_module.RedisStore(prefix=f"conf-{ctx.uid}", host=host, port=port, **extra)


def _make_mongo(ctx: Context, read_only: bool = False) -> Store:
    host, port = ctx.request.getfixturevalue("mongo_server")
    mongo_module = _module("zarrdask.storage.mongodb")
    extra = {"read_only": True} if read_only else {}
    return mongo_module.MongoDBStore(database="conformance", collection=f"c{ctx.uid}",
                                     host=host, port=port, directConnection=True,
                                     serverSelectionTimeoutMS=5000, **extra)


def _make_abs(ctx: Context, read_only: bool = False) -> Store:
    connection_string = ctx.request.getfixturevalue("azurite_server")
    blob = _module("azure.storage.blob")
    abs_module = _module("zarrdask.storage.abs")
    if "client" not in ctx.state:
        service = blob.BlobServiceClient.from_connection_string(connection_string)
        client = service.get_container_client(f"conf{ctx.uid}")
        client.create_container()
        ctx.state["client"] = client
    extra = {"read_only": True} if read_only else {}
    return abs_module.ABSStore(container=f"conf{ctx.uid}", prefix="p",
                               client=ctx.state["client"], **extra)


def _network(make: Callable[..., Store]) -> Kind:
    return Kind(lambda ctx: make(ctx), lambda ctx, store, ro: make(ctx, ro))


# -- the table ------------------------------------------------------------------------------

DICT_CAPS = StoreCapabilities(validates=False, checks_values=False)
ZIP_CAPS = StoreCapabilities(overwrites=False, deletes=False)

KINDS: dict[str, Kind] = {
    "dict": Kind(lambda ctx: {}, caps=DICT_CAPS),
    "MemoryStore": Kind(lambda ctx: MemoryStore(),
                        lambda ctx, s, ro: MemoryStore(dict(s.items()), read_only=ro)),
    # KVStore hands values to the wrapped mapping unchanged, as zarr 2's does
    "KVStore": Kind(_make_kv, lambda ctx, s, ro: KVStore(ctx.state["dict"], read_only=ro),
                    StoreCapabilities(checks_values=False)),
    "DirectoryStore": Kind(lambda ctx: DirectoryStore(ctx.tmp_path / "d"),
                           lambda ctx, s, ro: DirectoryStore(s.path, read_only=ro)),
    "NestedDirectoryStore": Kind(lambda ctx: NestedDirectoryStore(ctx.tmp_path / "d"),
                                 lambda ctx, s, ro: NestedDirectoryStore(s.path, read_only=ro)),
    "TempStore": Kind(lambda ctx: TempStore(dir=ctx.tmp_path),
                      lambda ctx, s, ro: DirectoryStore(s.path, read_only=ro)),
    "ZipStore": Kind(_make_zip, _reopen_zip, ZIP_CAPS),
    "DBMStore-dumb": Kind(_make_dbm("dumb"), _reopen_dbm("dumb")),
    "DBMStore-berkeleydb": Kind(_make_dbm("berkeleydb"), _reopen_dbm("berkeleydb")),
    "LMDBStore": Kind(_make_lmdb, _reopen_lmdb),
    "SQLiteStore": Kind(_make_sqlite, _reopen_sqlite),
    "N5Store": Kind(lambda ctx: N5Store(ctx.tmp_path / "s.n5"),
                    lambda ctx, s, ro: N5Store(s.path, read_only=ro)),
    "N5FSStore": Kind(_make_n5fs, _reopen_n5fs),
    "LRUStoreCache": Kind(_make_lru, _reopen_lru),
    "FSStore-memory": Kind(lambda ctx: _fsstore(_memory_url(ctx)),
                           lambda ctx, s, ro: _fsstore(_memory_url(ctx), ro)),
    "FSStore-file": Kind(lambda ctx: _fsstore(_file_url(ctx)),
                         lambda ctx, s, ro: _fsstore(_file_url(ctx), ro)),
    "FSStore-s3": Kind(_make_s3, _reopen_s3),
    "RedisStore": _network(_make_redis),
    "MongoDBStore": _network(_make_mongo),
    "ABSStore": _network(_make_abs),
}

_counter = itertools.count()


class TestConformance(StoreTests):
    """Every store kind of ``KINDS`` through the whole suite."""

    @pytest.fixture(params=list(KINDS))
    def store_factory(self, request: pytest.FixtureRequest,  # type: ignore[override]
                      tmp_path: Path) -> StoreFactory:
        kind = KINDS[request.param]
        ctx = Context(tmp_path / f"k{next(_counter)}", request)
        ctx.tmp_path.mkdir()
        reopen = None
        if kind.reopen is not None:
            reopener = kind.reopen

            def reopen(store: Store, read_only: bool) -> Store:
                return reopener(ctx, store, read_only)

        return StoreFactory(lambda: kind.make(ctx), reopen, kind.caps, request.param)
