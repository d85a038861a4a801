"""Reference arrays written by zarr-python 2.18 (``tests/fixtures/``) read by zarrdask.

The fixtures are committed data made by ``tests/fixtures/make_fixtures.py``, so this
module needs no zarr-python: it checks that zarrdask reads every array as the saved
``expected/*.npy`` values, leaves the files untouched, and that re-creating each array
from the metadata zarrdask parsed writes a byte-identical ``.zarray``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrdask
from tests.interop.cases import assert_same_values

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
ENTRIES: list[dict[str, Any]] = MANIFEST["arrays"]

entry_params = pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@entry_params
def test_fixture_values(entry: dict[str, Any]) -> None:
    """zarrdask reads each reference array as the expected values, changing no file."""
    path = FIXTURES / entry["path"]
    before = _files(path)
    array = zarrdask.open_array(str(path), mode="r")
    expected = np.load(FIXTURES / entry["expected"], allow_pickle=False)
    assert array.shape == tuple(entry["shape"])
    assert array.chunks == tuple(entry["chunks"])
    assert array.order == entry["order"]
    assert_same_values(np.asarray(array[...]), expected)
    assert _files(path) == before, "reading a fixture changed its files"


@entry_params
def test_fixture_zarray_reencoded(entry: dict[str, Any], tmp_path: Path) -> None:
    """Re-creating an array from the metadata zarrdask parsed gives the same .zarray bytes."""
    path = FIXTURES / entry["path"]
    original = (path / ".zarray").read_bytes()
    array = zarrdask.open_array(str(path), mode="r")
    kwargs: dict[str, Any] = {}
    separator = json.loads(original).get("dimension_separator")
    if separator is not None:
        kwargs["dimension_separator"] = separator
    zarrdask.open_array(
        str(tmp_path / "copy"),
        mode="w",
        shape=array.shape,
        chunks=array.chunks,
        dtype=array.dtype,
        compressor=array.compressor,
        filters=array.filters,
        order=array.order,
        fill_value=array.fill_value,
        **kwargs,
    )
    assert (tmp_path / "copy" / ".zarray").read_bytes().decode() == original.decode()


def test_manifest_lists_every_fixture() -> None:
    """Every array folder has a manifest entry and an expected file, and the other way round."""
    folders = {p.name for p in (FIXTURES / "data").iterdir() if p.is_dir()}
    assert folders == {e["name"] for e in ENTRIES}
    for entry in ENTRIES:
        assert (FIXTURES / entry["expected"]).is_file(), entry["expected"]
        assert (FIXTURES / entry["path"] / ".zarray").is_file(), entry["path"]
    assert {e["compressor"] for e in ENTRIES} == {"default", "zstd3", "zlib1", "none"}
    assert {e["order"] for e in ENTRIES} == {"C", "F"}
    assert {e["separator"] for e in ENTRIES} == {None, ".", "/"}
