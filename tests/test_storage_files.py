"""Tests of the single-file and database stores: ZipStore, DBMStore, LMDBStore, SQLiteStore."""

from __future__ import annotations

import dbm.dumb
import gc
import os
import pathlib
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import zarrdask
from zarrdask.errors import KeyValidationError, ReadOnlyError, WriteOnceError
from zarrdask.storage import DBMStore, LMDBStore, SQLiteStore, ZipStore

ROOT = pathlib.Path(__file__).resolve().parents[1]
KINDS = ["zip", "dbm_dumb", "dbm_bdb", "lmdb", "sqlite"]
BAD_KEYS = ["../evil", "/abs", "a//b", "a\\b", "a\x00b", "a/./b", "", "a/"]


def _berkeleydb() -> Any:
    return pytest.importorskip("berkeleydb", reason="berkeleydb is not installed "
                               "(ci/install_services.sh installs it with libdb-dev)")


def _lmdb() -> Any:
    return pytest.importorskip("lmdb", reason="the lmdb package is not installed")


def _open(kind: str, root: pathlib.Path, **kw: Any) -> Any:
    if kind == "zip":
        return ZipStore(root / "data.zip", mode=kw.pop("mode", "a"), **kw)
    if kind == "dbm_dumb":
        return DBMStore(root / "data.dumb", open=dbm.dumb.open, **kw)
    if kind == "dbm_bdb":
        return DBMStore(root / "data.bdb", open=_berkeleydb().btopen, **kw)
    if kind == "lmdb":
        _lmdb()
        return LMDBStore(root / "data.lmdb", **kw)
    if kind == "sqlite":
        return SQLiteStore(root / "data.sqldb", **kw)
    raise AssertionError(kind)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(kind: str, tmp_path: pathlib.Path) -> Iterator[Any]:
    s = _open(kind, tmp_path)
    yield s
    s.close()


# --------------------------------------------------------------------------------------
# Behaviour shared by every store here
# --------------------------------------------------------------------------------------


def test_round_trip_listing_and_sizes(store: Any) -> None:
    items = {"a/.zarray": b"{}", "a/0.0": b"12345", "a/0.1": b"678", "a/sub/x": b"zz",
             "ab/0": b"q", "top": b""}
    store.setitems(items)
    assert dict(store.items()) == items
    assert len(store) == len(items)
    assert sorted(store) == sorted(items)
    assert store.getitems(["a/0.0", "missing", "top"]) == {"a/0.0": b"12345", "top": b""}
    assert "a/0.0" in store and "a/0" not in store and 5 not in store
    assert store.listdir("") == ["a", "ab", "top"]
    assert store.listdir("a") == [".zarray", "0.0", "0.1", "sub"]
    assert store.listdir("a/sub") == ["x"] and store.listdir("nope") == []
    assert store.getsize("a/0.0") == 5
    assert store.getsize("a") == 2 + 5 + 3  # direct children only
    assert store.getsize("nope") == 0
    with pytest.raises(KeyError):
        store["missing"]


def test_values_are_bytes_whatever_was_written(store: Any) -> None:
    store["a"] = np.arange(3, dtype="<i2")
    store["b"] = bytearray(b"xy")
    store["c"] = memoryview(b"abc")
    assert store["a"] == np.arange(3, dtype="<i2").tobytes()
    assert type(store["a"]) is bytes and store["b"] == b"xy" and store["c"] == b"abc"
    with pytest.raises(TypeError):
        store["d"] = "text"
    assert "d" not in store


def test_unicode_keys_are_stored_utf8(store: Any) -> None:
    store["grüße/π/0.0"] = b"1"
    assert store["grüße/π/0.0"] == b"1"
    assert list(store) == ["grüße/π/0.0"]
    assert store.listdir("grüße") == ["π"]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_bad_keys_are_refused_on_write(store: Any, bad: str) -> None:
    with pytest.raises(KeyValidationError):
        store[bad] = b"x"
    assert len(store) == 0


def test_non_str_key_is_refused(store: Any) -> None:
    with pytest.raises(TypeError):
        store[b"abc"] = b"x"  # type: ignore[index]
    with pytest.raises(KeyError):
        store[1]  # type: ignore[index]


def test_pickle_reopens_by_arguments(store: Any) -> None:
    store["a/0"] = b"x" * 1000
    data = pickle.dumps(store)
    assert len(data) < 400  # constructor arguments, not data
    copy = pickle.loads(data)
    try:
        assert copy == store
        assert copy["a/0"] == b"x" * 1000
    finally:
        copy.close()


def test_context_manager_and_close(kind: str, tmp_path: pathlib.Path) -> None:
    with _open(kind, tmp_path) as s:
        s["k"] = b"v"
    s.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        s["k"]
    with _open(kind, tmp_path) as s2:
        assert s2["k"] == b"v"


def test_concurrent_writes_from_threads(store: Any) -> None:
    def work(t: int) -> None:
        for i in range(25):
            store[f"t{t}/{i}"] = bytes([t, i]) * 10

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store) == 100
    assert all(store[f"t{t}/{i}"] == bytes([t, i]) * 10 for t in range(4) for i in range(25))


def test_array_tutorial_flow(kind: str, tmp_path: pathlib.Path) -> None:
    store = _open(kind, tmp_path)
    root = zarrdask.group(store=store, overwrite=kind != "zip")
    z = root.zeros("foo/bar", shape=(100, 100), chunks=(10, 10), dtype="i4")
    z[:] = np.arange(10000, dtype="i4").reshape(100, 100)
    store.close()
    with _open(kind, tmp_path) as again:
        np.testing.assert_array_equal(zarrdask.open_group(again, mode="r")["foo/bar"][:],
                                      np.arange(10000).reshape(100, 100))


# --------------------------------------------------------------------------------------
# Stores that can delete (all but zip)
# --------------------------------------------------------------------------------------

MUTABLE = ["dbm_dumb", "dbm_bdb", "lmdb", "sqlite"]


@pytest.mark.parametrize("kind", MUTABLE)
def test_overwrite_delete_and_exact_prefixes(store: Any) -> None:
    store.setitems({"a_c/0": b"1", "abc/0": b"2", "ABC/0": b"3", "a%/0": b"4", "a/0": b"5",
                    "ab": b"6", "a_c": b"7"})
    store["a/0"] = b"55"
    assert store["a/0"] == b"55"
    store.rmdir("a_c")
    assert sorted(store) == ["ABC/0", "a%/0", "a/0", "a_c", "ab", "abc/0"]
    store.rmdir("ABC")
    store.rmdir("a%")
    assert sorted(store) == ["a/0", "a_c", "ab", "abc/0"]
    assert store.listdir("a") == ["0"] and store.getsize("a") == 2
    del store["ab"]
    with pytest.raises(KeyError):
        del store["ab"]
    store.delitems(["a_c", "missing"])
    assert sorted(store) == ["a/0", "abc/0"]
    store.rmdir("")
    assert len(store) == 0
    store.setitems({"x/0": b"1", "y": b"2"})
    store.clear()
    assert len(store) == 0 and list(store) == []


@pytest.mark.parametrize("kind", MUTABLE)
def test_rename_is_exact(store: Any) -> None:
    store.setitems({"abc/bca/x": b"1", "abc/.zgroup": b"{}", "abcd/x": b"2"})
    store.rename("abc", "q")
    assert sorted(store) == ["abcd/x", "q/.zgroup", "q/bca/x"]
    assert store["q/bca/x"] == b"1"
    with pytest.raises(KeyError):
        store.rename("nothing", "z")


@pytest.mark.parametrize("kind", MUTABLE)
def test_group_move(store: Any) -> None:
    root = zarrdask.group(store=store)
    root.zeros("abc/bca/arr", shape=4, chunks=2)[:] = 7
    root.move("abc", "q")
    np.testing.assert_array_equal(root["q/bca/arr"][:], [7, 7, 7, 7])
    assert "abc" not in root


# --------------------------------------------------------------------------------------
# ZipStore
# --------------------------------------------------------------------------------------


def _zip(tmp_path: pathlib.Path, mode: str = "a", **kw: Any) -> ZipStore:
    return ZipStore(tmp_path / "data.zip", mode=mode, **kw)


def test_zip_is_write_once(tmp_path: pathlib.Path) -> None:
    with _zip(tmp_path, "w") as s:
        s["a/0"] = b"one"
        s["a/0"] = b"one"  # same bytes: a no-op
        with pytest.raises(WriteOnceError, match="'a/0'.*write-once"):
            s["a/0"] = b"two"
        with pytest.raises(WriteOnceError):
            s.setitems({"b": b"new", "a/0": b"two"})
        assert "b" not in s  # checked up front: nothing written
        with pytest.raises(WriteOnceError, match="cannot delete 'a/0'"):
            del s["a/0"]
        with pytest.raises(KeyError):
            del s["missing"]
        s.delitems(["missing"])  # nothing to delete
        with pytest.raises(WriteOnceError):
            s.rmdir("a")
        s.rmdir("empty")
        with pytest.raises(WriteOnceError):
            s.rename("a", "b")
        with pytest.raises(WriteOnceError):
            s.clear()
        assert not s.is_erasable() and s.is_writeable()
    with zipfile.ZipFile(tmp_path / "data.zip") as zf:
        assert zf.namelist() == ["a/0"]  # no duplicate member


def test_zip_modes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data.zip"
    with pytest.raises(FileNotFoundError):
        ZipStore(path, mode="r")
    with pytest.raises(FileNotFoundError):
        ZipStore(path, mode="r+")
    with pytest.raises(ValueError, match="mode"):
        ZipStore(path, mode="q")
    with pytest.raises(IsADirectoryError):
        ZipStore(tmp_path, mode="w")
    with ZipStore(path, mode="x") as s:
        s["a"] = b"1"
    with pytest.raises(FileExistsError):
        ZipStore(path, mode="x")
    with pytest.raises(FileExistsError):
        ZipStore(path, mode="w-")
    with ZipStore(path, mode="a") as s:
        s["b"] = b"2"
    with ZipStore(path, mode="r+") as s:
        s["c"] = b"3"
    with ZipStore(path, mode="r") as s:
        assert dict(s) == {"a": b"1", "b": b"2", "c": b"3"}
        assert s.read_only and not s.is_writeable()
        with pytest.raises(ReadOnlyError):
            s["d"] = b"4"
    with ZipStore(path, mode="w") as s:
        assert len(s) == 0  # a new archive; the old one stays until close
        with ZipStore(path, mode="r") as old:
            assert len(old) == 3
        s["z"] = b"9"
    with ZipStore(path, mode="r") as s:
        assert list(s) == ["z"]
    assert os.listdir(tmp_path) == ["data.zip"]  # no temp file left


def test_zip_reading_in_append_mode_copies_nothing(tmp_path: pathlib.Path) -> None:
    with _zip(tmp_path, "w") as s:
        s["a"] = b"1"
    before = os.stat(tmp_path / "data.zip")
    with _zip(tmp_path, "a") as s:
        assert s["a"] == b"1"
        assert os.listdir(tmp_path) == ["data.zip"]
    after = os.stat(tmp_path / "data.zip")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_zip_temp_file_is_replaced_atomically(tmp_path: pathlib.Path) -> None:
    with _zip(tmp_path, "w") as s:
        s["a"] = b"1"
    s = _zip(tmp_path, "a")
    s["b"] = b"2"
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[0].startswith(".data.zip.") and names[0].endswith(".partial")
    with ZipStore(tmp_path / "data.zip", mode="r") as old:
        assert list(old) == ["a"]  # the archive is untouched until close
    s.flush()
    assert os.listdir(tmp_path) == ["data.zip"]
    with ZipStore(tmp_path / "data.zip", mode="r") as now:
        assert sorted(now) == ["a", "b"]
    s["c"] = b"3"  # continues in append mode
    s.close()
    with ZipStore(tmp_path / "data.zip", mode="r") as now:
        assert sorted(now) == ["a", "b", "c"]


def test_zip_unclosed_store_is_written_when_collected(tmp_path: pathlib.Path) -> None:
    s = _zip(tmp_path, "w")
    s["a"] = b"1"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del s
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    with _zip(tmp_path, "r") as s:
        assert s["a"] == b"1"


@pytest.mark.parametrize("mode", ["a", "w"])
def test_zip_killed_writer_leaves_old_archive(tmp_path: pathlib.Path, mode: str) -> None:
    path = tmp_path / "data.zip"
    with ZipStore(path, mode="w") as s:
        s.setitems({f"old/{i}": bytes([i]) * 100 for i in range(20)})
    script = textwrap.dedent(f"""
        import os, signal, sys
        from zarrdask.storage import ZipStore
        s = ZipStore(sys.argv[1], mode={mode!r})
        for i in range(50):
            s[f"new/{{i}}"] = b"n" * 1000
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT,
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with ZipStore(path, mode="r") as s:
        assert sorted(s) == sorted(f"old/{i}" for i in range(20))
        assert s["old/3"] == b"\x03" * 100


def test_zip_compression_and_getsize(tmp_path: pathlib.Path) -> None:
    with _zip(tmp_path, "w", compression=zipfile.ZIP_DEFLATED) as s:
        s["a/0"] = b"0" * 10000
        assert s.getsize("a/0") < 1000  # stored (compressed) size
        assert s["a/0"] == b"0" * 10000
    with zipfile.ZipFile(tmp_path / "data.zip") as zf:
        assert zf.getinfo("a/0").compress_type == zipfile.ZIP_DEFLATED
        assert zf.testzip() is None


def test_zip_pickle_of_new_archive_reopens_in_append_mode(tmp_path: pathlib.Path) -> None:
    s = _zip(tmp_path, "w")
    s["a"] = b"1"
    copy = pickle.loads(pickle.dumps(s))
    assert copy.mode == "a" and copy["a"] == b"1"
    copy.close()
    s["b"] = b"2"
    s.close()
    with _zip(tmp_path, "r") as r:
        assert sorted(r) == ["a", "b"]


@pytest.mark.interop
def test_zip_interop_with_zarr_python(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    path = str(tmp_path / "ours.zip")
    with ZipStore(path, mode="w") as s:
        zarrdask.array(np.arange(50), chunks=7, store=s, path="x")
        s["grüße"] = b"u"
    theirs = zarr.ZipStore(path, mode="r")
    np.testing.assert_array_equal(zarr.open_array(theirs, mode="r", path="x")[:], np.arange(50))
    assert theirs["grüße"] == b"u"
    theirs.close()
    path2 = str(tmp_path / "theirs.zip")
    theirs = zarr.ZipStore(path2, mode="w")
    zarr.array(np.arange(20), chunks=6, store=theirs, path="y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        theirs["dup"] = b"first"
        theirs["dup"] = b"second"
    theirs.close()
    with ZipStore(path2, mode="r") as s:
        np.testing.assert_array_equal(zarrdask.open_array(s, mode="r", path="y")[:], np.arange(20))
        assert list(s).count("dup") == 1 and s["dup"] == b"second"


def test_zip_closed_store_refuses_work(tmp_path: pathlib.Path) -> None:
    s = _zip(tmp_path, "w")
    s.close()
    for op in (lambda: s.__setitem__("a", b"1"), lambda: list(s), s.flush):
        with pytest.raises(ValueError, match="closed"):
            op()


# --------------------------------------------------------------------------------------
# DBMStore
# --------------------------------------------------------------------------------------


def test_dbm_default_opener_and_flags(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "default.db"
    with DBMStore(path) as s:
        assert s.open is __import__("dbm").open
        s["a/0"] = b"1"
        s.flush()
    with DBMStore(path, flag="r") as s:
        assert s.read_only and s["a/0"] == b"1"
        with pytest.raises(ReadOnlyError, match="'b'"):
            s["b"] = b"2"
        with pytest.raises(ReadOnlyError):
            del s["a/0"]
    with DBMStore(path, flag="n") as s:  # 'n' starts empty ...
        assert len(s) == 0
        s["c"] = b"3"
        copy = pickle.loads(pickle.dumps(s))  # ... but its pickle does not empty it again
        assert copy.flag == "c" and copy["c"] == b"3"
        copy.close()
    with pytest.raises(ValueError, match="flag"):
        DBMStore(path, flag="z")


def test_dbm_flush_makes_writes_visible(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "d.db"
    s = DBMStore(path, open=dbm.dumb.open)
    s["k"] = b"v"
    s.flush()
    reader = dbm.dumb.open(str(path), "r")
    assert reader[b"k"] == b"v"
    reader.close()
    s.close()


@pytest.mark.interop
def test_dbm_interop_with_zarr_python(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    bdb = _berkeleydb()
    path = str(tmp_path / "x.bdb")
    with DBMStore(path, open=bdb.btopen) as s:
        zarrdask.array(np.arange(30), chunks=4, store=s, path="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = zarr.DBMStore(path, open=bdb.btopen)
    np.testing.assert_array_equal(zarr.open_array(theirs, path="a")[:], np.arange(30))
    zarr.array(np.ones(5), store=theirs, path="b")
    theirs.close()
    with DBMStore(path, open=bdb.btopen, flag="r") as s:
        np.testing.assert_array_equal(zarrdask.open_array(s, mode="r", path="b")[:], np.ones(5))


# --------------------------------------------------------------------------------------
# LMDBStore
# --------------------------------------------------------------------------------------


def test_lmdb_safe_defaults_and_shared_environment(tmp_path: pathlib.Path) -> None:
    _lmdb()
    a = LMDBStore(tmp_path / "l")
    assert a.db.flags()["writemap"] is False
    b = LMDBStore(tmp_path / "l")  # the same path twice in one process is fine
    assert b.db is a.db
    a["k"] = b"v"
    a.close()
    assert b["k"] == b"v"  # still open for b
    b.flush()
    b.close()
    with pytest.raises(ValueError, match="closed"):
        b["k"]
    with LMDBStore(tmp_path / "l", readonly=True) as r:
        assert r.read_only and r["k"] == b"v"
        with pytest.raises(ReadOnlyError):
            r["x"] = b"1"


def test_lmdb_long_key_and_atomic_batches(tmp_path: pathlib.Path) -> None:
    _lmdb()
    with LMDBStore(tmp_path / "l") as s:
        with pytest.raises(KeyValidationError, match="511 bytes"):
            s["a/" + "é" * 300] = b"x"
        with pytest.raises(KeyValidationError):
            s.setitems({"ok": b"1", "a//b": b"2"})
        assert "ok" not in s
        assert ("a/" + "é" * 300) not in s
        s.setitems({"a": b"1", "b": b"2"})
        s.delitems(["a", "missing"])
        assert list(s) == ["b"] and s.keys() == ["b"]


@pytest.mark.interop
def test_lmdb_interop_with_zarr_python(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    _lmdb()
    path = str(tmp_path / "x.lmdb")
    with LMDBStore(path) as s:
        zarrdask.array(np.arange(30), chunks=4, store=s, path="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = zarr.LMDBStore(path)
    np.testing.assert_array_equal(zarr.open_array(theirs, path="a")[:], np.arange(30))
    zarr.array(np.ones(5), store=theirs, path="b")
    theirs.close()
    with LMDBStore(path) as s:
        np.testing.assert_array_equal(zarrdask.open_array(s, mode="r", path="b")[:], np.ones(5))


# --------------------------------------------------------------------------------------
# SQLiteStore
# --------------------------------------------------------------------------------------


def test_sqlite_batch_is_one_transaction(tmp_path: pathlib.Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as s:
        s["old"] = b"keep"
        s.db.execute("CREATE TRIGGER boom BEFORE INSERT ON zarr WHEN NEW.k = 'bad' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        with pytest.raises(sqlite3.IntegrityError, match="refused") as info:
            s.setitems({"a": b"1", "b": b"2", "bad": b"3", "c": b"4"})
        assert any("nothing of it was written" in n for n in info.value.__notes__)
        assert list(s) == ["old"]
        assert not s.db.in_transaction
        s.setitems({"a": b"1", "b": b"2"})
        assert sorted(s) == ["a", "b", "old"]


def test_sqlite_memory_read_only_and_pickle(tmp_path: pathlib.Path) -> None:
    mem = SQLiteStore(":memory:")
    mem["a"] = b"1"
    with pytest.raises(TypeError, match="memory"):
        pickle.dumps(mem)
    mem.close()
    with pytest.raises(FileNotFoundError):
        SQLiteStore(tmp_path / "missing.db", read_only=True)
    with SQLiteStore(tmp_path / "s.db") as s:
        s["a"] = b"1"
    with SQLiteStore(tmp_path / "s.db", read_only=True) as r:
        assert r["a"] == b"1" and not r.is_writeable()
        with pytest.raises(ReadOnlyError):
            r["b"] = b"2"
        with pytest.raises(ReadOnlyError):
            r.rmdir("")
        copy = pickle.loads(pickle.dumps(r))
        assert copy.read_only and copy["a"] == b"1"
        copy.close()


def test_sqlite_group_delete_leaves_similar_names(tmp_path: pathlib.Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as s:
        root = zarrdask.group(store=s)
        root.zeros("a_c", shape=4, chunks=2)[:] = 1
        root.zeros("abc", shape=4, chunks=2)[:] = 2
        root.zeros("ABC", shape=4, chunks=2)[:] = 3
        del root["a_c"]
        del root["ABC"]
        assert sorted(root.array_keys()) == ["abc"]
        np.testing.assert_array_equal(root["abc"][:], [2, 2, 2, 2])


@pytest.mark.interop
def test_sqlite_interop_with_zarr_python(tmp_path: pathlib.Path) -> None:
    zarr = pytest.importorskip("zarr")
    path = str(tmp_path / "x.sqldb")
    with SQLiteStore(path) as s:
        zarrdask.array(np.arange(30), chunks=4, store=s, path="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = zarr.SQLiteStore(path)
    np.testing.assert_array_equal(zarr.open_array(theirs, path="a")[:], np.arange(30))
    zarr.array(np.ones(5), store=theirs, path="b")
    theirs.close()
    with SQLiteStore(path) as s:
        np.testing.assert_array_equal(zarrdask.open_array(s, mode="r", path="b")[:], np.ones(5))



def _child_write(store: Any) -> None:
    store["from_child"] = b"c"


@pytest.mark.parametrize("kind", ["lmdb", "sqlite"])
@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_store_inherited_over_fork_reopens(store: Any) -> None:
    import multiprocessing

    store["from_parent"] = b"p"
    proc = multiprocessing.get_context("fork").Process(target=_child_write, args=(store,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert store["from_child"] == b"c" and store["from_parent"] == b"p"
