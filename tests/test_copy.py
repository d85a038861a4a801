"""Tests of zarrdask.copying: copy, copy_all (zarrdask and h5py) and copy_store."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path
from typing import Any

import h5py
import numcodecs
import numpy as np
import pytest

import zarrdask as zarr
from zarrdask.copying import _blocks
from zarrdask.errors import CopyError
from zarrdask.hierarchy import Group, group
from zarrdask.storage import MemoryStore


@pytest.fixture
def h5(tmp_path: Path) -> Any:
    """An HDF5 file shaped like the tutorial's, with attributes."""
    f = h5py.File(tmp_path / "example.h5", mode="w")
    foo = f.create_group("foo")
    foo.attrs["title"] = "foo group"
    baz = foo.create_dataset("bar/baz", data=np.arange(100), chunks=(50,))
    baz.attrs["scale"] = 2.5
    baz.attrs["ids"] = np.array([1, 2, 3], dtype="i4")
    baz.attrs["label"] = np.bytes_(b"bytes label")
    f.create_dataset("spam", data=np.arange(100, 200), chunks=(30,), fillvalue=-1)
    f.create_dataset("contig", data=np.arange(12.0).reshape(3, 4))  # no chunks
    f.create_dataset("words", data=["alpha", "beta", "gamma"], dtype=h5py.string_dtype())
    f.attrs["root_attr"] = 7
    yield f
    f.close()


def test_copy_from_h5py_logs_and_counts(h5: Any) -> None:
    lines: list[str] = []
    dest = group()
    result = zarr.copy(h5["foo"], dest, log=lines.append)
    assert result == (3, 0, 800)
    assert lines == ["copy /foo", "copy /foo/bar", "copy /foo/bar/baz (100,) int64",
                     "all done: 3 copied, 0 skipped, 800 bytes copied"]
    baz = dest["foo/bar/baz"]
    assert baz.chunks == (50,) and baz[:].tolist() == list(range(100))
    assert baz.attrs.asdict() == {"scale": 2.5, "ids": [1, 2, 3], "label": "bytes label"}
    assert dest["foo"].attrs["title"] == "foo group"
    assert list(dest) == ["foo"]


def test_copy_all_from_h5py(h5: Any, tmp_path: Path) -> None:
    dest = zarr.open_group(str(tmp_path / "out.zarr"), mode="w")
    out = io.StringIO()
    n = zarr.copy_all(h5, dest, log=out)
    assert n == (6, 0, 800 + 800 + 12 * 8 + 3 * 8)  # object items count 8 bytes each
    assert out.getvalue().splitlines()[:5] == [
        "copy /contig (3, 4) float64", "copy /foo", "copy /foo/bar",
        "copy /foo/bar/baz (100,) int64", "copy /spam (100,) int64"]
    assert dest.attrs["root_attr"] == 7
    assert dest["spam"].fill_value == -1 and dest["spam"].chunks == (30,)
    np.testing.assert_array_equal(dest["contig"][:], np.arange(12.0).reshape(3, 4))
    words = dest["words"]
    assert words.dtype == object and words[:].tolist() == ["alpha", "beta", "gamma"]


def test_h5py_zarrdask_h5py_round_trip(h5: Any, tmp_path: Path) -> None:
    mid = group()
    zarr.copy_all(h5, mid)
    with h5py.File(tmp_path / "back.h5", mode="w") as back:
        n_copied, n_skipped, _ = zarr.copy_all(mid, back)
        assert (n_copied, n_skipped) == (6, 0)
        np.testing.assert_array_equal(back["foo/bar/baz"][:], np.arange(100))
        np.testing.assert_array_equal(back["spam"][:], np.arange(100, 200))
        assert back["spam"].chunks == (30,) and back["spam"].compression == "gzip"
        assert back["spam"].fillvalue == -1
        assert back["words"].asstr()[:].tolist() == ["alpha", "beta", "gamma"]
        assert back["foo/bar/baz"].attrs["scale"] == 2.5
        np.testing.assert_array_equal(back["foo/bar/baz"].attrs["ids"], [1, 2, 3])
        assert back["foo/bar/baz"].attrs["label"] == "bytes label"
        assert back["foo"].attrs["title"] == "foo group" and back.attrs["root_attr"] == 7
        # h5py -> h5py keeps the HDF5 options
        with h5py.File(tmp_path / "again.h5", mode="w") as again:
            zarr.copy(back["spam"], again)
            assert again["spam"].compression == "gzip" and again["spam"].chunks == (30,)
            np.testing.assert_array_equal(again["spam"][:], np.arange(100, 200))
        with pytest.raises(ValueError, match="skip_initialized"):
            zarr.copy(mid["spam"], back, if_exists="skip_initialized")


def test_zarr_to_zarr_preserves_options() -> None:
    src = group()
    a = src.create_dataset("a", data=np.arange(20, dtype="i2").reshape(4, 5), chunks=(3, 2),
                           compressor=numcodecs.Zlib(level=3), order="F", fill_value=9,
                           filters=[numcodecs.Delta(dtype="i2")])
    a.attrs["x"] = [1, 2]
    s = src.create_dataset("s", data=np.array(["a", "bb"], dtype=object),
                           object_codec=numcodecs.VLenUTF8())
    dest = group()
    assert zarr.copy(a, dest) == (1, 0, 40)
    b = dest["a"]
    assert (b.chunks, b.order, b.fill_value, b.compressor) == ((3, 2), "F", 9, a.compressor)
    assert b.filters == a.filters and b.attrs["x"] == [1, 2]
    np.testing.assert_array_equal(b[:], a[:])
    zarr.copy(s, dest, name="renamed", without_attrs=True)
    assert dest["renamed"][:].tolist() == ["a", "bb"]
    zarr.copy(a, dest, name="small", chunks=(2, 5), compressor=None, if_exists="replace")
    assert dest["small"].chunks == (2, 5) and dest["small"].compressor is None


def test_without_attrs_shallow_and_root_name() -> None:
    src = group()
    src.attrs["r"] = 1
    src.create_group("g").attrs["a"] = 1
    src["g"].create_group("deep").zeros("z", shape=2)
    src["g"].zeros("top", shape=3)
    dest = group()
    lines: list[str] = []
    assert zarr.copy(src["g"], dest, shallow=True, without_attrs=True, log=lines.append)[0] == 2
    assert lines[:2] == ["copy /g", "copy /g/top (3,) float64"]
    assert list(dest["g"]) == ["top"] and dest["g"].attrs.asdict() == {}
    with pytest.raises(TypeError, match="name"):
        zarr.copy(src, dest)
    assert zarr.copy(src, dest, name="whole")[0] == 5
    assert dest["whole"].attrs["r"] == 1 and "whole/g/deep/z" in dest
    out = group()
    zarr.copy_all(src, out, without_attrs=True)
    assert out.attrs.asdict() == {}


def test_if_exists() -> None:
    src = group()
    src.create_dataset("a", data=np.arange(4), chunks=2)
    src.create_group("g").create_dataset("b", data=np.ones(2), chunks=1)
    dest = group()
    zarr.copy_all(src, dest)
    with pytest.raises(CopyError, match="'a' already exists"):
        zarr.copy_all(src, dest)
    lines: list[str] = []
    assert zarr.copy_all(src, dest, if_exists="skip", log=lines.append) == (1, 2, 0)
    assert lines == ["skip /a (4,) int64", "copy /g", "skip /g/b (2,) float64",
                     "all done: 1 copied, 2 skipped, 0 bytes copied"]
    dest["a"][:] = 7
    assert zarr.copy(src["a"], dest, if_exists="replace") == (1, 0, 32)
    assert dest["a"][:].tolist() == [0, 1, 2, 3]
    dest["g/b"].resize(4)  # now only half of its chunks are stored
    assert zarr.copy(src["g"], dest, if_exists="skip_initialized")[:2] == (2, 0)
    assert zarr.copy(src["g"], dest, if_exists="skip_initialized")[:2] == (1, 1)
    # an array where a group would go
    other = group()
    other.zeros("g", shape=1)
    with pytest.raises(CopyError, match="array 'g'"):
        zarr.copy(src["g"], other)
    assert zarr.copy(src["g"], other, if_exists="skip") == (0, 1, 0)
    assert zarr.copy(src["g"], other, if_exists="replace")[:2] == (2, 0)
    assert isinstance(other["g"], Group)
    with pytest.raises(ValueError, match="if_exists"):
        zarr.copy(src["a"], dest, if_exists="sometimes")
    with pytest.raises(ValueError, match="group"):
        zarr.copy(src["a"], MemoryStore())


def test_dry_run_changes_nothing() -> None:
    src = group()
    src.create_dataset("g/a", data=np.arange(4), chunks=2)
    dest = group()
    dest.create_dataset("g/a", data=np.zeros(4), chunks=2)
    before = dict(dest.store.items())
    lines: list[str] = []
    assert zarr.copy_all(src, dest, dry_run=True, if_exists="replace", log=lines.append) == (
        2, 0, 0)
    assert lines == ["copy /g", "copy /g/a (4,) int64", "dry run: 2 copied, 0 skipped"]
    assert dict(dest.store.items()) == before
    empty = group()
    assert zarr.copy(src["g"], empty, dry_run=True) == (2, 0, 0) and len(empty.store) == 1


def test_log_to_path_and_bad_log(tmp_path: Path) -> None:
    src = group()
    src.create_dataset("a", data=np.arange(3))
    log = tmp_path / "copy.log"
    zarr.copy(src["a"], group(), log=str(log))
    assert log.read_text().splitlines() == ["copy /a (3,) int64",
                                            "all done: 1 copied, 0 skipped, 24 bytes copied"]
    with pytest.raises(TypeError, match="log"):
        zarr.copy(src["a"], group(), log=42)


class SpySource:
    """Wraps an array and records the number of elements of every read."""

    def __init__(self, array: Any) -> None:
        self._array = array
        self.reads: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._array, name)

    def __getitem__(self, sel: Any) -> Any:
        out = self._array[sel]
        self.reads.append(out.size)
        return out


def test_copy_goes_chunk_by_chunk() -> None:
    src = group()
    a = src.create_dataset("big", data=np.arange(10_000).reshape(100, 100), chunks=(10, 25))
    spy = SpySource(a)
    dest = group()
    zarr.copy(spy, dest)  # type: ignore[arg-type]
    assert len(spy.reads) == 40 and max(spy.reads) == 250
    np.testing.assert_array_equal(dest["big"][:], a[:])


def test_blocks_without_chunks_are_bounded() -> None:
    shape = (3000, 2000)
    blocks = list(_blocks(shape, None, 8))
    assert max(math.prod(s.stop - s.start for s in b) for b in blocks) * 8 <= 16 * 2**20
    covered = np.zeros(shape, dtype=bool)
    for b in blocks:
        assert not covered[b].any()
        covered[b] = True
    assert covered.all()
    assert list(_blocks((), (), 8)) == [()]
    assert list(_blocks((0, 5), (2, 2), 8)) == []


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    src = group()
    src.create_dataset("a", data=np.arange(100), chunks=10)
    src.create_dataset("b", data=np.arange(50), chunks=10)
    stream = io.StringIO()
    zarr.copy_all(src, group(), progress=stream)
    text = stream.getvalue()
    assert "100%" in text and "1,200/1,200 bytes" in text and text.endswith("\n")
    zarr.copy_all(src, group(), progress=True)  # stderr is not a terminal: nothing drawn
    assert capsys.readouterr().err == ""
    tty = TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    zarr.copy_store(src.store, {}, progress=True)
    assert "keys" in tty.getvalue() and "100%" in tty.getvalue()


# ----------------------------------------------------------------------------- copy_store


def test_copy_store_raw_bytes_and_paths() -> None:
    store1 = MemoryStore()
    root = group(store1)
    root.create_dataset("foo/bar/baz", data=np.arange(100), chunks=(50,))
    root.create_dataset("spam", data=np.arange(100, 200), chunks=(30,))
    lines: list[str] = []
    store2: dict[str, bytes] = {}
    n = zarr.copy_store(store1, store2, log=lines.append)
    assert n[:2] == (11, 0) and n[2] == sum(len(v) for v in store2.values())
    assert lines[:4] == ["copy .zgroup", "copy foo/.zgroup", "copy foo/bar/.zgroup",
                         "copy foo/bar/baz/.zarray"]
    assert lines[-1] == f"all done: 11 copied, 0 skipped, {n[2]:,} bytes copied"
    assert store2 == {k: store1[k] for k in store1}  # byte for byte
    assert group(store2)["foo/bar/baz"][:].tolist() == list(range(100))
    # sub-paths: exact prefixes
    store1["foo/barx/.zgroup"] = b'{"zarr_format": 2}'
    out: dict[str, bytes] = {}
    lines.clear()
    zarr.copy_store(store1, out, source_path="foo/bar", dest_path="new", log=lines.append)
    assert sorted(out) == ["new/.zgroup", "new/baz/.zarray", "new/baz/0", "new/baz/1"]
    assert lines[0] == "copy foo/bar/.zgroup -> new/.zgroup"


def test_copy_store_filters_and_if_exists(tmp_path: Path) -> None:
    src = {"a/.zarray": b"{}", "a/0": b"x", "a/1": b"yy", "b/0": b"z"}
    dest: dict[str, bytes] = {}
    assert zarr.copy_store(src, dest, excludes=r"^a/\d") == (2, 0, 3)
    assert sorted(dest) == ["a/.zarray", "b/0"]
    dest.clear()
    assert zarr.copy_store(src, dest, excludes=[r"\d$"], includes=r"a/1") == (2, 0, 4)
    assert sorted(dest) == ["a/.zarray", "a/1"]
    with pytest.raises(CopyError, match="a/.zarray"):
        zarr.copy_store(src, dest)
    assert zarr.copy_store(src, dest, if_exists="skip") == (2, 2, 2)
    dest["b/0"] = b"old"
    assert zarr.copy_store(src, dest, if_exists="replace")[:2] == (4, 0) and dest["b/0"] == b"z"
    fresh: dict[str, bytes] = {}
    log = tmp_path / "log.txt"
    assert zarr.copy_store(src, fresh, dry_run=True, log=str(log)) == (4, 0, 0)
    assert fresh == {} and log.read_text().splitlines()[-1] == "dry run: 4 copied, 0 skipped"
    with pytest.raises(ValueError, match="if_exists"):
        zarr.copy_store(src, fresh, if_exists="skip_initialized")
    zarr.copy_store(src, fresh, excludes="A/", flags=__import__("re").IGNORECASE)
    assert sorted(fresh) == ["b/0"]


def test_scalar_and_empty_datasets(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "odd.h5", mode="w") as f:
        f.create_dataset("scalar", data=3.5)
        f.create_dataset("empty", shape=(0, 4), dtype="i4")
        dest = group()
        assert zarr.copy_all(f, dest)[:2] == (2, 0)
        assert dest["scalar"].shape == () and dest["scalar"][()] == 3.5
        assert dest["empty"].shape == (0, 4) and dest["empty"][:].shape == (0, 4)
        with h5py.File(tmp_path / "back.h5", mode="w") as back:
            zarr.copy_all(dest, back)
            assert back["scalar"][()] == 3.5 and back["empty"].shape == (0, 4)
