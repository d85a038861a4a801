"""Bad inputs (RELIABILITY.md): each gets a clear zarrdask error and changes nothing on disk."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrdask as zarr
from zarrdask.errors import (
    BadCompressorError,
    ChunkDecodeError,
    ContainsArrayError,
    KeyValidationError,
    MetadataError,
)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def existing(tmp_path: Path) -> tuple[Path, Any]:
    path = tmp_path / "a.zarr"
    z = zarr.open_array(str(path), mode="w", shape=(10, 10), chunks=(5, 5), dtype="i4")
    z[:] = np.arange(100).reshape(10, 10)
    return path, z


CREATION_CASES = [
    (dict(shape=(-1, 5)), ValueError, "negative"),
    (dict(shape=(10,), chunks=0), ValueError, "must be positive"),
    (dict(shape=(10,), chunks=-3), ValueError, "must be positive"),
    (dict(shape=(10,), chunks=(2, 2)), ValueError, "more dimensions"),
    (dict(shape=(2**64,)), ValueError, "too large"),
    (dict(shape=(2**40,), chunks=2**40), ValueError, "smaller chunks"),
    (dict(shape=(1.5,)), TypeError, "non-integer"),
    (dict(shape=(10,), dtype="M8"), ValueError, "unit"),
    (dict(shape=(10,), dtype="not-a-dtype"), TypeError, "not-a-dtype"),
    (dict(shape=(10,), dtype=object), ValueError, "object_codec"),
    (dict(shape=(10,), order="X"), ValueError, "order"),
    (dict(shape=(10,), dimension_separator=":"), ValueError, "dimension_separator"),
    (dict(shape=(10,), compressor="zlib"), BadCompressorError, "numcodecs codec"),
    (dict(shape=(10,), dtype="i4", fill_value="NaN"), ValueError, "NaN"),
    (dict(shape=(10,), dtype="u1", fill_value=300), ValueError, "300"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), CREATION_CASES)
def test_bad_creation_arguments_write_nothing(tmp_path: Path, kwargs: dict[str, Any],
                                              error: type[Exception], match: str) -> None:
    path = tmp_path / "new.zarr"
    with pytest.raises(error, match=match):
        zarr.open_array(str(path), mode="w", **kwargs)
    assert not path.exists() or snapshot(path) == {}


@pytest.mark.parametrize(("kwargs", "error", "match"), CREATION_CASES[:6])
def test_bad_creation_over_existing_changes_nothing(existing: tuple[Path, Any],
                                                    kwargs: dict[str, Any],
                                                    error: type[Exception], match: str) -> None:
    path, _ = existing
    before = snapshot(path)
    with pytest.raises(error, match=match):
        zarr.open_array(str(path), mode="w", **kwargs)
    assert snapshot(path) == before


def test_w_minus_on_existing(existing: tuple[Path, Any]) -> None:
    path, _ = existing
    before = snapshot(path)
    with pytest.raises(ContainsArrayError, match="contains an array"):
        zarr.open_array(str(path), mode="w-", shape=(3,))
    assert snapshot(path) == before


def test_path_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        zarr.open_array(str(f), mode="w", shape=(3,))
    assert f.read_bytes() == b"x"


@pytest.mark.parametrize("document", [b"", b"{", b"[]", b'{"zarr_format": 2}',
                                      b'{"zarr_format": 3, "shape": [1]}'])
def test_corrupt_zarray_is_metadata_error_naming_key(existing: tuple[Path, Any],
                                                      document: bytes) -> None:
    path, _ = existing
    (path / ".zarray").write_bytes(document)
    with pytest.raises(MetadataError, match=r"\.zarray"):
        zarr.open_array(str(path), mode="r+")
    assert (path / ".zarray").read_bytes() == document  # never rewritten


def corrupt_chunk(path: Path, data: bytes, key: str = "0.0") -> None:
    (path / key).write_bytes(data)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_blosc_chunk_names_key(existing: tuple[Path, Any], damage: str) -> None:
    path, z = existing
    good = (path / "0.1").read_bytes()
    data = {"truncate": good[: len(good) // 2], "garbage": b"\x00" * 40, "empty": b""}[damage]
    corrupt_chunk(path, data)
    with pytest.raises(ChunkDecodeError, match="'0.0'"):
        z[:]
    np.testing.assert_array_equal(z[5:, 5:], np.arange(100).reshape(10, 10)[5:, 5:])


def test_zlib_decompression_bomb_is_refused(tmp_path: Path) -> None:
    z = zarr.open_array(str(tmp_path / "b.zarr"), mode="w", shape=(10,), chunks=(10,),
                        dtype="u1", compressor=numcodecs.Zlib(1))
    (tmp_path / "b.zarr" / "0").write_bytes(zlib.compress(b"\x00" * 50_000_000))
    with pytest.raises(ChunkDecodeError, match="more than the expected 10 bytes"):
        z[:]


def test_blosc_header_size_mismatch(tmp_path: Path) -> None:
    z = zarr.open_array(str(tmp_path / "c.zarr"), mode="w", shape=(10,), chunks=(10,), dtype="u1")
    big = numcodecs.Blosc().encode(np.zeros(10**6, "u1"))
    (tmp_path / "c.zarr" / "0").write_bytes(big)
    with pytest.raises(ChunkDecodeError, match="expected 10"):
        z[:]


def test_uncompressed_chunk_of_wrong_length(tmp_path: Path) -> None:
    z = zarr.open_array(str(tmp_path / "d.zarr"), mode="w", shape=(10,), chunks=(10,),
                        dtype="i4", compressor=None)
    (tmp_path / "d.zarr" / "0").write_bytes(b"\x01" * 39)
    with pytest.raises(ChunkDecodeError, match="39 bytes; expected 40"):
        z[:]


def test_folder_where_chunk_file_should_be_reads_as_missing(existing: tuple[Path, Any]) -> None:
    path, z = existing
    os.remove(path / "0.0")
    os.mkdir(path / "0.0")
    assert (z[:5, :5] == 0).all()


def test_unknown_codec_opens_metadata_but_data_names_codec(existing: tuple[Path, Any]) -> None:
    path, _ = existing
    meta = (path / ".zarray").read_text().replace('"blosc"', '"no-such-codec"')
    (path / ".zarray").write_text(meta)
    z = zarr.open_array(str(path), mode="r")
    assert z.shape == (10, 10)
    z.attrs.asdict()
    with pytest.raises(ValueError, match="no-such-codec"):
        z[:]


@pytest.mark.parametrize("key", ["../evil", "/abs", "a//b", "a\\b", "a/../../b", "x\x00"])
def test_directory_store_keys_cannot_escape(tmp_path: Path, key: str) -> None:
    root = tmp_path / "root"
    store = zarr.DirectoryStore(str(root))
    with pytest.raises(KeyValidationError):
        store[key] = b"data"
    assert not (tmp_path / "evil").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["root"])


@pytest.mark.parametrize("path", ["../x", "a/../b", "./a"])
def test_array_paths_with_dot_segments_rejected(path: str) -> None:
    store: dict[str, bytes] = {}
    with pytest.raises(KeyValidationError):
        zarr.create((3,), store=store, path=path)
    assert store == {}


def test_wrong_value_type_changes_nothing() -> None:
    z = zarr.array(np.arange(10), chunks=5)
    before = dict(z.store)
    with pytest.raises(ValueError):
        z[:] = "not a number"
    with pytest.raises(ValueError, match="broadcast"):
        z[:5] = np.arange(3)
    assert dict(z.store) == before
