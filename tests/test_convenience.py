"""save/load on paths: stores opened from a path are closed (a zip archive is complete)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import zarrdask as zarr
from zarrdask.errors import PathNotFoundError


def test_save_and_load_zip_path_closes_archive(tmp_path: Path) -> None:
    path = str(tmp_path / "a.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        zarr.save(path, np.arange(5))
        assert zipfile.is_zipfile(path)  # written at once, not at garbage collection
        np.testing.assert_array_equal(zarr.load(path), np.arange(5))


def test_save_load_directory_and_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "d.zarr")
    zarr.save(path, np.arange(3))
    np.testing.assert_array_equal(zarr.load(path), np.arange(3))
    with pytest.raises(PathNotFoundError):
        zarr.load(str(tmp_path / "d.zarr"), path="nothing")
