"""A full disk (a 1 MiB tmpfs) under the directory, zip, sqlite and lmdb stores.

Each case fills the disk and checks the error is clear and nothing already
stored is lost. The tmpfs is mounted per test; the tests skip (with the reason)
where it cannot be mounted (not root, no tmpfs, a container without mount rights).
"""

from __future__ import annotations

import errno
import os
import pathlib
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest

import zarrdask
from zarrdask.storage import DirectoryStore, SQLiteStore, ZipStore

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZE = 1 << 20  # the tmpfs size


@pytest.fixture
def full_disk(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A fresh 1 MiB tmpfs, unmounted afterwards."""
    if sys.platform != "linux":
        pytest.skip("tmpfs mounts need Linux")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mnt)],
                              capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30).returncode:
            # still busy (a file left open by a failed test): detach it anyway
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(write: object, size: int = 50_000, limit: int = 100) -> tuple[int, BaseException]:
    """Call ``write(i, data)`` until it fails; return how many succeeded and the error."""
    rng = np.random.default_rng(0)
    for i in range(limit):
        try:
            write(i, rng.bytes(size))  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the error is what we test
            return i, exc
    raise AssertionError(f"{limit} writes of {size} bytes did not fill a {SIZE}-byte disk")


def _leftovers(folder: pathlib.Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".partial")]


def test_directory_store(full_disk: pathlib.Path) -> None:
    store = DirectoryStore(full_disk / "data")
    store["keep/0"] = b"precious"
    ok, exc = _fill(lambda i, d: store.__setitem__(f"c/{i}", d))
    assert isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    assert ok >= 1
    assert store["keep/0"] == b"precious"
    assert len(store[f"c/{ok - 1}"]) == 50_000  # the last good write is whole
    assert f"c/{ok}" not in store  # the failed one is absent, not torn
    assert _leftovers(full_disk) == []


def test_directory_store_array(full_disk: pathlib.Path) -> None:
    z = zarrdask.open_array(str(full_disk / "arr"), mode="w", shape=(400, 1000),
                            chunks=(100, 1000), dtype="f8", compressor=None)
    z[:100] = 1.0
    with pytest.raises(OSError) as info:
        z[:] = np.random.default_rng(0).random((400, 1000))
    assert info.value.errno == errno.ENOSPC
    reread = zarrdask.open_array(str(full_disk / "arr"), mode="r")
    first = reread[:100]
    assert np.all(first == 1.0) or np.all((first >= 0) & (first < 1))  # old or new, never torn
    assert _leftovers(full_disk) == []


@pytest.mark.parametrize("mode", ["a", "w"])
def test_zip_store_keeps_the_old_archive(full_disk: pathlib.Path, mode: str) -> None:
    path = full_disk / "data.zip"
    with ZipStore(path, mode="w") as s:
        s.setitems({f"old/{i}": bytes([i]) * 1000 for i in range(100)})
    store = ZipStore(path, mode=mode)
    ok, exc = _fill(lambda i, d: store.__setitem__(f"new/{i}", d))
    assert isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    assert any("was not written" in n for n in exc.__notes__)
    try:
        store.close()
        committed = True
    except OSError as close_exc:  # no room left even for the central directory
        assert any("unchanged" in n for n in close_exc.__notes__)
        committed = False
    assert _leftovers(full_disk) == []
    with ZipStore(path, mode="r") as s:
        keys = set(s)
        if committed:  # every write before the failure is there, the failed one is not
            assert {f"new/{i}" for i in range(ok)} <= keys and f"new/{ok}" not in keys
            assert all(len(s[f"new/{i}"]) == 50_000 for i in range(ok))
        if mode == "a" or not committed:
            assert {f"old/{i}" for i in range(100)} <= keys
            assert s["old/7"] == b"\x07" * 1000
        else:
            assert not any(k.startswith("old/") for k in keys)


def test_zip_store_close_on_a_full_disk(full_disk: pathlib.Path) -> None:
    path = full_disk / "data.zip"
    with ZipStore(path, mode="w") as s:
        s.setitems({f"old/{i}": bytes([i]) * 1000 for i in range(10)})
    store = ZipStore(path, mode="a")
    store.setitems({f"new/{i}": bytes(100) for i in range(200)})
    fd = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # leave no room for the central directory
        with pytest.raises(OSError):
            while True:
                os.write(fd, bytes(512))
    finally:
        os.close(fd)
    with pytest.raises(OSError) as info:
        store.close()
    assert info.value.errno == errno.ENOSPC
    assert any("unchanged" in n and "200 key(s)" in n for n in info.value.__notes__)
    store.close()  # closed: nothing more to do
    assert _leftovers(full_disk) == []
    with ZipStore(path, mode="r") as s:
        assert sorted(s) == sorted(f"old/{i}" for i in range(10))


def test_zip_store_archive_survives_failed_copy(full_disk: pathlib.Path) -> None:
    path = full_disk / "big.zip"
    with ZipStore(path, mode="w") as s:  # > half the disk: appending cannot copy it
        s["blob"] = np.random.default_rng(1).bytes(600_000)
    with ZipStore(path, mode="a") as s:
        with pytest.raises(OSError) as info:
            s["more"] = b"x"
        assert info.value.errno == errno.ENOSPC
        assert len(s["blob"]) == 600_000  # still readable through the store
    assert _leftovers(full_disk) == []
    with ZipStore(path, mode="r") as s:
        assert list(s) == ["blob"] and len(s["blob"]) == 600_000


def test_sqlite_store_rolls_back_the_whole_batch(full_disk: pathlib.Path) -> None:
    path = full_disk / "data.sqldb"
    store = SQLiteStore(path)
    store.setitems({f"old/{i}": bytes([i]) * 1000 for i in range(50)})
    rng = np.random.default_rng(0)
    batch = {f"new/{i}": rng.bytes(50_000) for i in range(40)}
    with pytest.raises(sqlite3.OperationalError, match="full") as info:
        store.setitems(batch)
    assert any("nothing of it was written" in n for n in info.value.__notes__)
    assert not any(k.startswith("new/") for k in store)  # none of the batch committed
    assert store["old/7"] == b"\x07" * 1000
    store.setitems({"small": b"fits"})  # the store is still usable
    store.close()
    with SQLiteStore(path, read_only=True) as s:
        assert len(s) == 51 and s["small"] == b"fits"
        assert s.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_lmdb_store_raises_instead_of_sigbus(full_disk: pathlib.Path) -> None:
    pytest.importorskip("lmdb", reason="the lmdb package is not installed")
    # In a child process: a SIGBUS (writemap=True) must fail the test, not kill pytest.
    script = textwrap.dedent("""
        import sys
        import lmdb
        from zarrdask.storage import LMDBStore
        path = sys.argv[1]
        store = LMDBStore(path)
        store.setitems({f"old/{i}": bytes([i]) * 1000 for i in range(50)})
        n = 0
        try:
            while n < 100:
                store[f"new/{n}"] = bytes(50_000)
                n += 1
            raise SystemExit("disk never filled")
        except lmdb.Error as exc:
            # LMDB says ENOSPC or, as often, EIO; the note names the cause either way
            assert "No space left" in str(exc) or "Input/output" in str(exc), exc
            assert any("nothing of it was written; the disk is full" in note
                       for note in exc.__notes__), exc.__notes__
        store.close()
        again = LMDBStore(path)
        assert again["old/7"] == bytes([7]) * 1000
        assert f"new/{n}" not in again
        assert all(len(again[f"new/{i}"]) == 50_000 for i in range(n))
        again.close()
        print("OK", n)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(full_disk / "data.lmdb")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("OK")
