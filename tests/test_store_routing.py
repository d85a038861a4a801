"""``normalize_store_arg``: which store a user's ``store`` argument becomes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import zarrdask
from zarrdask.storage import (
    DirectoryStore,
    MemoryStore,
    N5FSStore,
    N5Store,
    is_readonly,
    normalize_store_arg,
)

fsspec_store = pytest.importorskip("zarrdask.storage.fsspec")
zip_store = pytest.importorskip("zarrdask.storage.zip")


def test_none_mapping_and_folder(tmp_path: Path) -> None:
    assert isinstance(normalize_store_arg(None), MemoryStore)
    d: dict[str, bytes] = {}
    assert normalize_store_arg(d) is d
    for arg in (str(tmp_path / "x.zarr"), tmp_path / "x.zarr"):
        store = normalize_store_arg(arg, mode="w")
        assert type(store) is DirectoryStore and store.path == str(tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()  # nothing is created by choosing
    with pytest.raises(TypeError, match="MutableMapping"):
        normalize_store_arg(42)


@pytest.mark.parametrize("name", ["x.n5", "x.n5/", "sub/dir/x.n5"])
def test_n5_paths(tmp_path: Path, name: str) -> None:
    store = normalize_store_arg(os.path.join(tmp_path, name), mode="w")
    assert type(store) is N5Store
    with pytest.raises(ValueError, match="block paths"):
        normalize_store_arg(str(tmp_path / "y.n5"), dimension_separator="/")


def test_zip_paths_get_the_mode(tmp_path: Path) -> None:
    path = str(tmp_path / "x.zip")
    with pytest.raises(FileNotFoundError):
        normalize_store_arg(path, mode="r")
    store = normalize_store_arg(path, mode="w")
    assert isinstance(store, zip_store.ZipStore) and not is_readonly(store)
    store["a"] = b"1"
    store.close()
    ro = normalize_store_arg(path, mode="r")
    assert isinstance(ro, zip_store.ZipStore) and is_readonly(ro) and ro["a"] == b"1"
    ro.close()


def test_urls_become_fsstores_with_mode_and_options(tmp_path: Path) -> None:
    store = normalize_store_arg("memory://routing/a", mode="w")
    assert isinstance(store, fsspec_store.FSStore) and not is_readonly(store)
    store["k"] = b"v"
    ro = normalize_store_arg("memory://routing/a", mode="r")
    assert is_readonly(ro) and ro["k"] == b"v"
    with pytest.raises(PermissionError):
        ro["k"] = b"w"
    chained = normalize_store_arg("simplecache::memory://routing/a", mode="r")
    assert isinstance(chained, fsspec_store.FSStore) and chained["k"] == b"v"
    sep = normalize_store_arg("memory://routing/b", mode="w", dimension_separator="/")
    assert sep._dimension_separator == "/"
    with_options = normalize_store_arg((tmp_path / "opt").as_uri(), mode="w",
                                       storage_options={"auto_mkdir": True})
    assert isinstance(with_options, fsspec_store.FSStore)
    n5 = normalize_store_arg("memory://routing/c.n5", mode="w")
    assert isinstance(n5, N5FSStore)


def test_storage_options_need_a_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="storage_options"):
        normalize_store_arg(str(tmp_path / "x.zarr"), storage_options={"anon": True})


def test_convenience_functions_route_strings(tmp_path: Path) -> None:
    data = np.arange(12).reshape(3, 4)
    for target in (str(tmp_path / "a.n5"), "memory://routing/conv", str(tmp_path / "a.zarr")):
        zarrdask.save(target, data)
        np.testing.assert_array_equal(zarrdask.load(target), data)
        z = zarrdask.open(target, mode="r")
        np.testing.assert_array_equal(z[...], data)
    root = zarrdask.open(str(tmp_path / "example.n5"), mode="w")  # the tutorial's example
    assert isinstance(root.store, N5Store)
    root.zeros("foo/bar", shape=(10, 10), chunks=(5, 5), dtype="i4")[...] = 42
    assert zarrdask.open_group(str(tmp_path / "example.n5"), mode="r")["foo/bar"][0, 0] == 42
    path = str(tmp_path / "z.zip")
    z = zarrdask.open_array(path, mode="w", shape=(4,), chunks=(2,), dtype="u1")
    z[...] = 9
    z.store.close()
    assert zarrdask.open_array(path, mode="r")[...].tolist() == [9] * 4
