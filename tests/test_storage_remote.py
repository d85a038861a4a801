"""FSStore, RedisStore, MongoDBStore and ABSStore against real servers on loopback.

The servers come from ``tests/servers.py`` (moto S3, redis-server, mongoeco, Azurite).
Besides round trips, these tests hold the store cases of RELIABILITY.md: a permission
error through fsspec, the S3 endpoint down, a Redis prefix with glob characters, an
oversized MongoDB chunk, torn ``file://`` writes; and interop with zarr-python 2.18.7's
stores of the same names (same key layout both ways).
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrdask
from tests.servers import free_port, make_bucket, s3_storage_options
from zarrdask.storage import getitems
from zarrdask.storage.fsspec import FSStore

ROOT = Path(__file__).resolve().parent.parent
HELLO = b"Hello from the cloud!"


def uid() -> str:
    """A short unique name part."""
    return uuid.uuid4().hex[:10]


# ======================================================================================
# FSStore on S3 (moto)
# ======================================================================================


@pytest.fixture(scope="module")
def s3(s3_server: str) -> dict[str, Any]:
    """Storage options for the moto server, with the bucket ``zarrdask-test`` made."""
    pytest.importorskip("s3fs")
    make_bucket(s3_server, "zarrdask-test")
    return s3_storage_options(s3_server)


@pytest.fixture(scope="module")
def zarr_demo(s3_server: str, s3: dict[str, Any]) -> str:
    """The tutorial's ``zarr-demo/store``: ``foo/bar/baz`` holding ``Hello from the cloud!``."""
    make_bucket(s3_server, "zarr-demo")
    root = zarrdask.open_group("s3://zarr-demo/store", mode="w", storage_options=s3)
    z = root.create_dataset("foo/bar/baz", shape=(21,), chunks=(7,), dtype="S1")
    z[:] = np.frombuffer(HELLO, dtype="S1")
    # public, as the tutorial's bucket is: anonymous clients may read and list
    fs = root.store.fs
    fs.chmod("zarr-demo", "public-read")
    for path in fs.find("zarr-demo/store"):
        fs.chmod(path, "public-read")
    return s3_server


def test_fsstore_s3_roundtrip_and_listing(s3: dict[str, Any]) -> None:
    url = f"s3://zarrdask-test/{uid()}.zarr"
    store = FSStore(url, **s3)
    store.setitems({f"a/{i}.0": bytes([i]) * 3 for i in range(10)})
    store["a/.zarray"] = b"{}"
    store["ab/x"] = b"q"
    assert store.listdir("") == ["a", "ab"]
    assert store.getsize("a") == 32
    assert "a/3.0" in store and "a/99.0" not in store and "a" not in store
    store.rmdir("a")  # exact prefix: ab/x stays
    assert sorted(store) == ["ab/x"]
    with pytest.raises(KeyError):
        del store["nope"]
    again = pickle.loads(pickle.dumps(store))
    assert again == store and again["ab/x"] == b"q"
    # a second client's write is seen at once, though this one has listed the folder
    other = FSStore(url, skip_instance_cache=True, **s3)
    assert store.listdir("ab") == ["x"]
    other["ab/y"] = b"new"
    assert "ab/y" in store and store.listdir("ab") == ["x", "y"] and store.getsize("ab") == 4


def test_url_strings_everywhere(s3: dict[str, Any]) -> None:
    base = f"s3://zarrdask-test/{uid()}"
    data = np.arange(60, dtype="i4").reshape(6, 10)
    z = zarrdask.open(f"{base}/open.zarr", mode="w", shape=data.shape, chunks=(3, 5),
                      dtype="i4", storage_options=s3)
    z[:] = data
    assert isinstance(z.store, FSStore)
    np.testing.assert_array_equal(
        zarrdask.open_array(f"{base}/open.zarr", mode="r", storage_options=s3)[:], data)

    g = zarrdask.open_group(f"{base}/group.zarr", mode="w", storage_options=s3)
    g.create_dataset("x/y", data=data, chunks=(2, 2))
    g.attrs["title"] = "remote"
    zarrdask.consolidate_metadata(g.store)
    c = zarrdask.open_consolidated(f"{base}/group.zarr", storage_options=s3)
    assert c.attrs["title"] == "remote"
    np.testing.assert_array_equal(c["x/y"][:], data)

    zarrdask.save_array(f"{base}/saved.zarr", data, storage_options=s3)
    np.testing.assert_array_equal(zarrdask.load(f"{base}/saved.zarr", storage_options=s3), data)
    # without storage_options, through AWS_ENDPOINT_URL (set by the s3_server fixture)
    zarrdask.save(f"{base}/group-saved.zarr", first=data, second=-data)
    loader = zarrdask.load(f"{base}/group-saved.zarr")
    np.testing.assert_array_equal(loader["second"], -data)


def test_mode_r_is_read_only(s3: dict[str, Any]) -> None:
    url = f"s3://zarrdask-test/{uid()}.zarr"
    zarrdask.open_array(url, mode="w", shape=(4,), chunks=(2,), dtype="u1",
                        storage_options=s3)[:] = 7
    z = zarrdask.open_array(url, mode="r", storage_options=s3)
    with pytest.raises(PermissionError):
        z[:] = 1
    store = FSStore(url, mode="r", **s3)
    with pytest.raises(zarrdask.errors.ReadOnlyError):
        store["0"] = b"x"
    with pytest.raises(zarrdask.errors.ReadOnlyError):
        store.rmdir("")
    assert z[:].tolist() == [7, 7, 7, 7]


def test_chained_simplecache_url(s3: dict[str, Any], tmp_path: Path) -> None:
    url = f"s3://zarrdask-test/{uid()}.zarr"
    zarrdask.open_group(url, mode="w", storage_options=s3).array("v", np.arange(10), chunks=5)
    options = {"s3": s3, "simplecache": {"cache_storage": str(tmp_path / "cache")}}
    g = zarrdask.open_group(f"simplecache::{url}", mode="r", storage_options=options)
    assert g["v"][:].tolist() == list(range(10))
    assert any((tmp_path / "cache").iterdir())  # served through the local cache
    assert g["v"][:].tolist() == list(range(10))


def test_key_separator_slash_interop_with_zarr2(s3: dict[str, Any]) -> None:
    zarr = pytest.importorskip("zarr")
    url = f"s3://zarrdask-test/{uid()}.zarr"
    data = np.arange(16, dtype="f8").reshape(4, 4)
    ours = FSStore(url, key_separator="/", **s3)
    zarrdask.array(data, chunks=(2, 2), store=ours)
    assert "1/1" in FSStore(url, **s3)  # chunk (1, 1) is stored at the path 1/1
    theirs = zarr.storage.FSStore(url, dimension_separator="/", **s3)
    np.testing.assert_array_equal(zarr.open_array(theirs, mode="r")[:], data)
    # and zarr 2.18's writes read back here
    url2 = f"s3://zarrdask-test/{uid()}.zarr"
    zarr.array(data * 2, chunks=(3, 3), store=zarr.storage.FSStore(url2, **s3))
    np.testing.assert_array_equal(zarrdask.open_array(url2, mode="r", storage_options=s3)[:],
                                  data * 2)


def test_getitems_is_one_batched_fetch(s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    url = f"s3://zarrdask-test/{uid()}.zarr"
    z = zarrdask.open_array(url, mode="w", shape=(100,), chunks=(1,), dtype="u1",
                            compressor=None, storage_options=s3)
    z[:] = np.arange(1, 101, dtype="u1")
    store = z.store
    calls: list[int] = []
    single: list[str] = []
    cat, cat_file = store.fs.cat, store.fs.cat_file
    monkeypatch.setattr(store.fs, "cat", lambda paths, **kw: (calls.append(len(paths)),
                                                             cat(paths, **kw))[1])
    monkeypatch.setattr(store.fs, "cat_file", lambda path, **kw: (single.append(path),
                                                                  cat_file(path, **kw))[1])
    assert z[:].tolist() == list(range(1, 101))
    assert sum(calls) == 100 and len(calls) <= 4, calls  # batched, not 100 round trips
    assert single == []


def test_tutorial_s3map_and_fsspec_urls(zarr_demo: str, tmp_path: Path) -> None:
    """The tutorial's "Distributed/cloud storage" and "IO with fsspec" examples, on moto."""
    import s3fs

    client_kwargs = {"endpoint_url": zarr_demo, "region_name": "eu-west-2"}
    s3 = s3fs.S3FileSystem(anon=True, client_kwargs=client_kwargs)
    store = s3fs.S3Map(root="zarr-demo/store", s3=s3, check=False)
    root = zarrdask.group(store=store)
    z = root["foo/bar/baz"]
    assert repr(z).endswith(".core.Array '/foo/bar/baz' (21,) |S1>")
    info = repr(z.info)
    assert "Store type         : fsspec.mapping.FSMap" in info
    assert "Chunks initialized : 3/3" in info
    assert z[:].tobytes() == HELLO

    cache = zarrdask.LRUStoreCache(store, max_size=2**28)
    z = zarrdask.group(store=cache)["foo/bar/baz"]
    assert z[:].tobytes() == HELLO and z[:].tobytes() == HELLO
    assert cache.hits > 0

    anon = {"anon": True, "client_kwargs": client_kwargs}
    g = zarrdask.open_group("s3://zarr-demo/store", storage_options=anon)
    assert g["foo/bar/baz"][:].tobytes() == HELLO
    cached = {"s3": anon, "simplecache": {"cache_storage": str(tmp_path)}}
    g = zarrdask.open_group("simplecache::s3://zarr-demo/store", storage_options=cached)
    assert g["foo/bar/baz"][:].tobytes() == HELLO
    assert g["foo/bar/baz"][:].tobytes() == HELLO  # uses cached file


def test_s3_endpoint_down_is_an_error_not_fill_values(s3: dict[str, Any]) -> None:
    url = f"s3://zarrdask-test/{uid()}.zarr"
    live = FSStore(url, **s3)
    zarrdask.open_array(live, mode="w", shape=(4,), chunks=(2,), dtype="i4",
                        fill_value=-1)[:] = 5
    dead_endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dead = FSStore(url, skip_instance_cache=True, **{
        **s3, "client_kwargs": {"endpoint_url": dead_endpoint},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    })
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        zarrdask.open_array(dead, mode="r")
    assert not isinstance(info.value, KeyError)  # not "array not found"
    assert "EndpointConnectionError" in type(info.value).__name__ or \
        "Could not connect" in str(info.value)
    # metadata from the live server, chunks from the dead one: reading must fail
    z = zarrdask.open_array(live, mode="r", chunk_store=dead)
    with pytest.raises(Exception) as info:
        z[:]
    assert not isinstance(info.value, KeyError)
    assert time.monotonic() - start < 30


# ======================================================================================
# FSStore on the local filesystem
# ======================================================================================


_PERMISSION_CHILD = textwrap.dedent("""
    import sys
    import zarrdask
    z = zarrdask.open_array(sys.argv[1], mode="r")
    try:
        values = z[:]
    except PermissionError as exc:
        print("PermissionError", exc)
    else:
        print("READ", values.tolist())
""")


def test_permission_error_through_fsspec_propagates(tmp_path: Path) -> None:
    url = (tmp_path / "perm.zarr").as_uri()
    z = zarrdask.open_array(url, mode="w", shape=(4,), chunks=(2,), dtype="i4", fill_value=0)
    z[:] = 9
    (tmp_path / "perm.zarr" / "1").chmod(0)
    argv = [sys.executable, "-c", _PERMISSION_CHILD, url]
    if os.geteuid() == 0:  # root reads anything: drop its capabilities in the child
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) not found; needed to drop root's capabilities")
        argv = [setpriv, "--inh-caps=-all", "--bounding-set=-all", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PermissionError"), out.stdout  # never fill values
    assert "perm.zarr/1" in out.stdout


def test_file_url_is_local_and_hides_temp_files(tmp_path: Path) -> None:
    store = FSStore((tmp_path / "x.zarr").as_uri())
    store["a/0.0"] = b"1"
    (tmp_path / "x.zarr" / "a" / f".0.1.{'ab' * 16}.partial").write_bytes(b"torn")
    assert list(store) == ["a/0.0"] and store.listdir("a") == ["0.0"]
    assert store.getitems(["a/0.0", "a/0.1"]) == {"a/0.0": b"1"}
    with pytest.raises(zarrdask.errors.KeyValidationError):
        store["../evil"] = b"x"
    assert not (tmp_path / "evil").exists()


_WRITER_CHILD = textwrap.dedent("""
    import sys
    from zarrdask.storage.fsspec import FSStore
    store = FSStore(sys.argv[1])
    values = [bytes([65]) * 8_000_000, bytes([66]) * 8_000_000]
    store["chunk"] = values[0]
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        store["chunk"] = values[i % 2]
""")


def test_file_url_writes_survive_sigkill(tmp_path: Path) -> None:
    url = (tmp_path / "kill.zarr").as_uri()
    rng = random.Random(0)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER_CHILD, url], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        value = FSStore(url)["chunk"]
        assert value in (b"A" * 8_000_000, b"B" * 8_000_000)  # old or new, never torn
        assert list(FSStore(url)) == ["chunk"]  # leftover temp files are not keys


def test_fsstore_pickle_is_compact_and_works(tmp_path: Path) -> None:
    store = FSStore((tmp_path / "p.zarr").as_uri(), key_separator="/")
    store["a/1.2"] = b"v"
    state = pickle.dumps(store)
    assert len(state) < 400
    again = pickle.loads(state)
    assert again["a/1.2"] == b"v" and again.key_separator == "/"
    assert (tmp_path / "p.zarr" / "a" / "1" / "2").is_file()


def test_missing_exceptions_default_excludes_permission() -> None:
    store = FSStore("memory://zarrdask-missing-exc")
    assert PermissionError not in store.missing_exceptions
    assert OSError not in store.missing_exceptions


# ======================================================================================
# RedisStore
# ======================================================================================


@pytest.fixture
def redis_kwargs(redis_server: tuple[str, int]) -> dict[str, Any]:
    host, port = redis_server
    return {"host": host, "port": port}


def test_redis_roundtrip_pickle_and_array(redis_kwargs: dict[str, Any]) -> None:
    from zarrdask.storage.redis import RedisStore

    store = RedisStore(prefix=f"t{uid()}", **redis_kwargs)
    data = np.arange(100, dtype="i8").reshape(10, 10)
    zarrdask.array(data, chunks=(3, 3), store=store, path="arr")
    again = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(zarrdask.open_array(again, mode="r", path="arr")[:], data)
    assert store.listdir("arr")[:3] == [".zarray", "0.0", "0.1"]
    store.close()


def test_redis_prefix_is_literal(redis_kwargs: dict[str, Any]) -> None:
    from zarrdask.storage.redis import RedisStore

    tag = uid()
    plain = RedisStore(prefix=f"{tag}ab", **redis_kwargs)
    globby = RedisStore(prefix=f"{tag}a?", **redis_kwargs)
    star = RedisStore(prefix=f"{tag}*", **redis_kwargs)
    plain["x/0"] = b"plain"
    globby["y/0"] = b"glob"
    assert sorted(globby) == ["y/0"] and len(globby) == 1
    assert list(star) == [] and star.listdir() == []
    globby.clear()
    star.clear()
    assert plain["x/0"] == b"plain" and list(globby) == []


def test_redis_lists_with_scan_and_reads_with_mget(redis_kwargs: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from zarrdask.storage.redis import RedisStore

    store = RedisStore(prefix=f"t{uid()}", **redis_kwargs)
    store.setitems({f"k/{i}": bytes([i]) for i in range(50)})

    def no_keys(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("KEYS blocks the server; SCAN must be used")

    monkeypatch.setattr(store.client, "keys", no_keys)
    mgets: list[int] = []
    mget = store.client.mget
    monkeypatch.setattr(store.client, "mget", lambda names: (mgets.append(len(names)),
                                                            mget(names))[1])
    assert len(store) == 50 and store.listdir("k")[:2] == ["0", "1"]
    got = store.getitems([f"k/{i}" for i in range(60)])
    assert len(got) == 50 and got["k/7"] == b"\x07"
    assert mgets == [60]


def test_redis_interop_with_zarr2(redis_kwargs: dict[str, Any]) -> None:
    zarr = pytest.importorskip("zarr")
    from zarrdask.storage.redis import RedisStore

    prefix = f"t{uid()}"
    data = np.arange(30, dtype="u2")
    zarr.array(data, chunks=7, store=zarr.storage.RedisStore(prefix=prefix, **redis_kwargs))
    np.testing.assert_array_equal(
        zarrdask.open_array(RedisStore(prefix=prefix, **redis_kwargs), mode="r")[:], data)
    prefix2 = f"t{uid()}"
    zarrdask.array(data * 3, chunks=7, store=RedisStore(prefix=prefix2, **redis_kwargs))
    theirs = zarr.storage.RedisStore(prefix=prefix2, **redis_kwargs)
    np.testing.assert_array_equal(zarr.open_array(theirs, mode="r")[:], data * 3)


def test_redis_server_down_is_an_error() -> None:
    redis = pytest.importorskip("redis")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from zarrdask.storage.redis import RedisStore

    store = RedisStore(host="127.0.0.1", port=free_port(), socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.ConnectionError):
        store["x"]


# ======================================================================================
# MongoDBStore
# ======================================================================================


@pytest.fixture
def mongo_kwargs(mongo_server: tuple[str, int]) -> dict[str, Any]:
    host, port = mongo_server
    return {"host": host, "port": port, "directConnection": True,
            "serverSelectionTimeoutMS": 5000}


def test_mongodb_roundtrip_index_and_batches(mongo_kwargs: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from zarrdask.storage.mongodb import MongoDBStore

    store = MongoDBStore(database="zarrdask", collection=f"c{uid()}", **mongo_kwargs)
    indexes = store.collection.index_information()
    assert any(spec["key"] == [("key", 1)] and spec.get("unique") for spec in indexes.values())
    data = np.arange(64, dtype="f4").reshape(8, 8)
    zarrdask.array(data, chunks=(2, 2), store=store)
    finds: list[Any] = []
    find = store.collection.find
    monkeypatch.setattr(store.collection, "find",
                        lambda *a, **kw: (finds.append(a[0]), find(*a, **kw))[1])
    np.testing.assert_array_equal(zarrdask.open_array(store, mode="r")[:], data)
    batched = [q for q in finds if isinstance(q.get("key"), dict)]
    assert len(batched) == 1 and len(batched[0]["key"]["$in"]) == 16  # one query, 16 chunks
    assert store.getsize("") == len(store[".zarray"]) + sum(
        len(store[k]) for k in store if k != ".zarray")
    again = pickle.loads(pickle.dumps(store))
    assert again == store and len(again) == 17
    store.close()


def test_mongodb_oversized_chunk_is_a_clear_error(mongo_kwargs: dict[str, Any]) -> None:
    from zarrdask.storage.mongodb import MAX_DOCUMENT_BYTES, MongoDBStore

    store = MongoDBStore(database="zarrdask", collection=f"c{uid()}", **mongo_kwargs)
    store["big"] = b"old"
    with pytest.raises(ValueError, match="16 MiB") as info:
        store["big"] = bytes(MAX_DOCUMENT_BYTES + 1)
    assert "'big'" in str(info.value)
    with pytest.raises(ValueError, match="16 MiB"):
        store.setitems({"small": b"1", "huge": bytes(17 * 2**20)})
    assert store["big"] == b"old" and "small" not in store  # nothing was sent
    z = zarrdask.zeros((1, 5 * 2**20), chunks=(1, 5 * 2**20), dtype="i4", store=store,
                       path="arr", compressor=None)
    with pytest.raises(ValueError, match="arr/0.0"):
        z[:] = 1
    assert z[0, :3].tolist() == [0, 0, 0]


def test_mongodb_prefix_operations_are_exact(mongo_kwargs: dict[str, Any]) -> None:
    from zarrdask.storage.mongodb import MongoDBStore

    store = MongoDBStore(database="zarrdask", collection=f"c{uid()}", **mongo_kwargs)
    store.setitems({"a.c/k": b"1", "abc/k": b"2", "a/k": b"3", "a0": b"4", "a/b/c": b"5"})
    assert store.listdir("a") == ["b", "k"]
    assert store.getsize("a") == 1
    store.rmdir("a.c")
    store.rmdir("a")
    assert sorted(store) == ["a0", "abc/k"]


def test_mongodb_interop_with_zarr2(mongo_kwargs: dict[str, Any]) -> None:
    zarr = pytest.importorskip("zarr")
    from zarrdask.storage.mongodb import MongoDBStore

    data = np.arange(20, dtype="i2")
    kwargs = {"database": "zarrdask", "collection": f"c{uid()}", **mongo_kwargs}
    zarr.array(data, chunks=6, store=zarr.storage.MongoDBStore(**kwargs))
    np.testing.assert_array_equal(zarrdask.open_array(MongoDBStore(**kwargs), mode="r")[:], data)
    kwargs2 = {**kwargs, "collection": f"c{uid()}"}
    zarrdask.array(data + 1, chunks=6, store=MongoDBStore(**kwargs2))
    np.testing.assert_array_equal(
        zarr.open_array(zarr.storage.MongoDBStore(**kwargs2), mode="r")[:], data + 1)


# ======================================================================================
# ABSStore (Azurite)
# ======================================================================================


def _container(connection_string: str, name: str) -> Any:
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(connection_string, name)
    client.create_container()
    return client


def _blob_endpoint(connection_string: str) -> str:
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if p)
    return parts["BlobEndpoint"]


def test_abs_client_prefix_listing_and_pickle(azurite_server: str) -> None:
    pytest.importorskip("azure.storage.blob")
    from zarrdask.storage.abs import ABSStore

    client = _container(azurite_server, f"c{uid()}")
    client.upload_blob("other/x", b"not ours")
    store = ABSStore(prefix="p", client=client)
    data = np.arange(50, dtype="u1").reshape(5, 10)
    zarrdask.array(data, chunks=(2, 5), store=store, path="a")
    assert store.listdir("") == [".zgroup", "a"]  # the blob outside the prefix is not listed
    assert sorted(store)[:3] == [".zgroup", "a/.zarray", "a/0.0"]
    assert store.getsize("a/0.0") == 10 + 16  # blosc header: 16 bytes
    again = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(zarrdask.open_array(again, path="a", mode="r")[:], data)
    store.rmdir("")
    assert list(store) == [] and [b.name for b in client.list_blobs()] == ["other/x"]
    getitems(store, ["a/0.0"])  # a missing key in a batch is left out
    store.close()


def test_abs_account_arguments_and_tutorial_example(azurite_server: str) -> None:
    pytest.importorskip("azure.storage.blob")
    from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY

    endpoint = _blob_endpoint(azurite_server)
    container = f"c{uid()}"
    # The tutorial's example, pointed at this Azurite (the container is made on first write).
    store = zarrdask.ABSStore(container=container, prefix="zarr-testing",
                              blob_service_kwargs={"is_emulated": True, "account_url": endpoint})
    root = zarrdask.group(store=store, overwrite=True)
    z = root.zeros("foo/bar", shape=(1000, 1000), chunks=(100, 100), dtype="i4")
    z[:] = 42
    explicit = zarrdask.ABSStore(container=container, prefix="zarr-testing",
                                 account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY,
                                 blob_service_kwargs={"account_url": endpoint})
    assert zarrdask.open_group(explicit, mode="r")["foo/bar"][:].sum() == 42 * 10**6
    with pytest.raises(ValueError, match="account_name"):
        zarrdask.ABSStore(container=container)


def test_abs_interop_with_zarr2(azurite_server: str) -> None:
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("azure.storage.blob")
    from zarrdask.storage.abs import ABSStore

    client = _container(azurite_server, f"c{uid()}")
    data = np.arange(24, dtype="f8").reshape(4, 6)
    zarr.array(data, chunks=(2, 2), store=zarr.storage.ABSStore(client=client, prefix="theirs"))
    np.testing.assert_array_equal(
        zarrdask.open_array(ABSStore(client=client, prefix="theirs"), mode="r")[:], data)
    zarrdask.array(-data, chunks=(3, 3), store=ABSStore(client=client, prefix="ours"))
    theirs = zarr.storage.ABSStore(client=client, prefix="ours")
    np.testing.assert_array_equal(zarr.open_array(theirs, mode="r")[:], -data)
