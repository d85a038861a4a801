"""Hierarchies shared with zarr-python 2.18: each opens the other's groups (consolidated too)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr as zarr_python  # the test oracle (zarr-python 2.18)

import zarrdask as zarr

pytestmark = pytest.mark.interop


def fill(root: object) -> None:
    """Build the same hierarchy with either library (same h5py-style API)."""
    root.attrs["title"] = "shared"  # type: ignore[attr-defined]
    foo = root.create_group("foo")  # type: ignore[attr-defined]
    foo.attrs.update(n=3, nested={"a": [1, 2]})
    bar = foo.create_dataset("bar/baz", data=np.arange(100, dtype="i8").reshape(10, 10),
                             chunks=(3, 4), compressor=numcodecs.Zlib(level=1))
    bar.attrs["units"] = "m"
    root.create_dataset("spam", data=np.linspace(0, 1, 7), chunks=(2,),  # type: ignore[attr-defined]
                        fill_value=np.nan)
    root.create_dataset("strs", data=np.array(["a", "bb", "ccc"], dtype=object),  # type: ignore[attr-defined]
                        object_codec=numcodecs.VLenUTF8())
    root.create_group("empty")  # type: ignore[attr-defined]


def assert_same(ours: zarr.Group, theirs: zarr_python.Group) -> None:
    assert str(ours.tree()) == str(theirs.tree())
    assert list(ours) == list(theirs)
    assert ours.attrs.asdict() == theirs.attrs.asdict()
    names: list[str] = []
    theirs.visit(names.append)
    seen: list[str] = []
    ours.visit(seen.append)
    assert seen == names
    for name in names:
        a, b = ours[name], theirs[name]
        assert a.attrs.asdict() == b.attrs.asdict()
        if isinstance(b, zarr_python.Array):
            assert (a.shape, a.chunks, a.dtype) == (b.shape, b.chunks, b.dtype)
            np.testing.assert_array_equal(a[...], b[...])


@pytest.mark.parametrize("nested", [False, True])
def test_zarr_python_reads_our_hierarchy(tmp_path: Path, nested: bool) -> None:
    path = str(tmp_path / "ours.zarr")
    store = zarr.NestedDirectoryStore(path) if nested else zarr.DirectoryStore(path)
    fill(zarr.group(store))
    ours = zarr.open_group(store, mode="r")
    with warnings.catch_warnings():  # zarr-python deprecates NestedDirectoryStore
        warnings.simplefilter("ignore", FutureWarning)
        theirs_store = (zarr_python.NestedDirectoryStore(path) if nested
                        else zarr_python.DirectoryStore(path))
    theirs = zarr_python.open_group(theirs_store, mode="r")
    assert_same(ours, theirs)
    info = [line.replace("zarr.", "zarrdask.") for line in repr(theirs["foo"].info).splitlines()
            if not line.startswith("Read-only")]
    writable = zarr.open_group(store, mode="r+")  # zarr prints "Read-only : False"; we do not
    assert repr(writable["foo"].info).splitlines() == info


def test_we_read_zarr_python_hierarchy(tmp_path: Path) -> None:
    path = str(tmp_path / "theirs.zarr")
    fill(zarr_python.open_group(path, mode="w"))
    assert_same(zarr.open_group(path, mode="r"), zarr_python.open_group(path, mode="r"))
    assert isinstance(zarr.open(path, mode="r"), zarr.Group)
    loaded = zarr.load(path)
    np.testing.assert_array_equal(loaded["spam"], np.linspace(0, 1, 7))


def test_consolidated_both_ways(tmp_path: Path) -> None:
    ours_path, theirs_path = str(tmp_path / "ours.zarr"), str(tmp_path / "theirs.zarr")
    fill(zarr.open_group(ours_path, mode="w"))
    zarr.consolidate_metadata(ours_path)
    fill(zarr_python.open_group(theirs_path, mode="w"))
    zarr_python.consolidate_metadata(theirs_path)
    assert (Path(ours_path) / ".zmetadata").read_bytes() == (
        Path(theirs_path) / ".zmetadata").read_bytes()
    for path in (ours_path, theirs_path):
        ours = zarr.open_consolidated(path)
        theirs = zarr_python.open_consolidated(path)
        assert_same(ours, theirs)


def test_zarr_python_sees_our_consolidated_updates(tmp_path: Path) -> None:
    path = str(tmp_path / "c.zarr")
    fill(zarr_python.open_group(path, mode="w"))
    zarr_python.consolidate_metadata(path)
    root = zarr.open_group(path, mode="a")
    root["spam"].resize(9)
    root.create_group("added").attrs["by"] = "zarrdask"
    root.move("foo/bar", "moved")
    theirs = zarr_python.open_consolidated(path, mode="r")
    assert theirs["spam"].shape == (9,) and theirs["added"].attrs["by"] == "zarrdask"
    assert "moved/baz" in theirs and "foo/bar" not in theirs
    assert_same(zarr.open_group(path, mode="r"), zarr_python.open_group(path, mode="r"))


def test_move_matches_zarr_python_on_directory_store(tmp_path: Path) -> None:
    ours_path, theirs_path = str(tmp_path / "ours.zarr"), str(tmp_path / "theirs.zarr")
    fill(zarr.open_group(ours_path, mode="w"))
    fill(zarr_python.open_group(theirs_path, mode="w"))
    zarr.open_group(ours_path).move("foo/bar", "x/y")
    zarr_python.open_group(theirs_path).move("foo/bar", "x/y")
    assert_same(zarr.open_group(ours_path, mode="r"),
                zarr_python.open_group(theirs_path, mode="r"))


def test_copy_between_libraries(tmp_path: Path) -> None:
    theirs = zarr_python.group()
    fill(theirs)
    ours = zarr.group()
    n = zarr.copy_all(theirs, ours)
    assert n[:2] == (6, 0)  # foo, foo/bar, foo/bar/baz, spam, strs, empty
    assert_same(ours, theirs)
    back = zarr_python.group()
    with warnings.catch_warnings():  # zarr-python warns when the object codec is a filter
        warnings.simplefilter("ignore", FutureWarning)
        zarr_python.copy_all(ours, back)
    assert_same(ours, back)
