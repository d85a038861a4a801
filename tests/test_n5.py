"""N5 stores: the on-disk format, interop with zarr-python 2.18.7's N5Store both ways, bad blocks.

zarr-python is the oracle only: it reads what zarrdask writes and writes what zarrdask reads.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrdask
from zarrdask.errors import ChunkDecodeError, KeyValidationError, MetadataError
from zarrdask.storage import N5FSStore, N5Store

zarr = pytest.importorskip("zarr")

pytestmark = pytest.mark.interop

COMPRESSORS: dict[str, Any] = {
    "raw": None,
    "zlib": numcodecs.Zlib(level=3),
    "gzip": numcodecs.GZip(level=5),
    "bz2": numcodecs.BZ2(level=7),
    "xz": numcodecs.LZMA(preset=2),
    "blosc": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
    "lz4": numcodecs.LZ4(),
    "zstd": numcodecs.Zstd(level=2),
}
DTYPES = ["u1", ">u2", "<i4", "i8", "<f4", ">f8", "i1", "u8"]


def _zarr_n5(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return zarr.N5Store(str(path))


def _attributes(path: Path) -> dict[str, Any]:
    return json.loads((path / "attributes.json").read_text())


def _data(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.random(shape) * 100).astype(dtype)


# -- format ---------------------------------------------------------------------------------


def test_layout_header_and_byte_order(tmp_path: Path) -> None:
    root = tmp_path / "a.n5"
    z = zarrdask.zeros((6, 4), chunks=(3, 2), dtype="<u2", store=N5Store(root),
                       path="arr", compressor=None)
    z[...] = np.arange(24, dtype="u2").reshape(6, 4)
    assert _attributes(root) == {"n5": "2.0.0"}
    assert _attributes(root / "arr") == {
        "dimensions": [4, 6], "blockSize": [2, 3], "dataType": "uint16",
        "compression": {"type": "raw"},
    }
    # chunk (1, 0) of the zarr grid is the block at grid position [0, 1] in N5 order: 0/1
    block = (root / "arr" / "0" / "1").read_bytes()
    assert block[:12].hex() == "0000" "0002" "00000002" "00000003"
    expected = np.arange(24, dtype="u2").reshape(6, 4)[3:6, 0:2]
    assert block[12:] == expected.astype(">u2").tobytes()
    assert sorted(p.name for p in (root / "arr").iterdir()) == ["0", "1", "attributes.json"]


def test_keys_listing_and_metadata_translation(tmp_path: Path) -> None:
    store = N5Store(tmp_path / "a.n5")
    g = zarrdask.group(store=store)
    z = g.zeros("x/y", shape=(5, 7), chunks=(2, 3), dtype="f4", compressor=None)
    z[...] = 1
    z.attrs["units"] = "m"
    g.attrs["title"] = "t"
    assert sorted(store) == [".zattrs", ".zgroup", "x/.zgroup", "x/y/.zarray", "x/y/.zattrs",
                             *[f"x/y/{i}.{j}" for i in range(3) for j in range(3)]]
    assert store.listdir("x/y")[:2] == [".zarray", ".zattrs"]
    assert store.listdir("") == [".zattrs", ".zgroup", "x"]
    meta = json.loads(store["x/y/.zarray"])
    assert meta["shape"] == [5, 7] and meta["chunks"] == [2, 3] and meta["fill_value"] == 0
    assert meta["dtype"] == np.dtype("f4").str
    assert json.loads(store["x/y/.zattrs"]) == {"units": "m"}
    assert _attributes(tmp_path / "a.n5") == {"n5": "2.0.0", "title": "t"}
    assert store.getsize("x/y/0.0") == 12 + 6 * 4
    with pytest.raises(KeyError):
        store["x/.zarray"]
    with pytest.raises(KeyError):
        store["x/y/.zgroup"]
    del store["x/y/.zattrs"]
    assert "x/y/.zattrs" not in store and "x/y/.zarray" in store


# -- interop: zarrdask writes, zarr-python 2.18 reads -----------------------------------------


@pytest.mark.parametrize("name", list(COMPRESSORS))
@pytest.mark.parametrize("dtype", DTYPES[:3] + DTYPES[-2:])
def test_zarr_python_reads_ours(tmp_path: Path, name: str, dtype: str) -> None:
    data = _data((13, 9), dtype)
    store = N5Store(tmp_path / "ours.n5")
    z = zarrdask.open_array(store, mode="w", path="g/a", shape=data.shape, chunks=(5, 4),
                            dtype=dtype, compressor=COMPRESSORS[name])
    z[...] = data
    z.attrs["note"] = [1, "two"]
    theirs = zarr.open_array(_zarr_n5(tmp_path / "ours.n5"), mode="r", path="g/a")
    np.testing.assert_array_equal(theirs[...], data)
    assert theirs.attrs.asdict() == {"note": [1, "two"]}


def test_zarr_python_reads_our_root_array_and_groups(tmp_path: Path) -> None:
    data = _data((10,), "i4")
    zarrdask.save_array(N5Store(tmp_path / "root.n5"), data)
    np.testing.assert_array_equal(zarr.open_array(_zarr_n5(tmp_path / "root.n5"), mode="r")[...],
                                  data)
    g = zarrdask.open_group(str(tmp_path / "tree.n5"), mode="w")
    g.create_group("sub").zeros("leaf", shape=(3, 3), chunks=(2, 2), dtype="u1")[...] = 7
    theirs = zarr.open_group(_zarr_n5(tmp_path / "tree.n5"), mode="r")
    assert theirs["sub/leaf"][...].tolist() == [[7] * 3] * 3


# -- interop: zarr-python 2.18 writes, zarrdask reads -----------------------------------------


@pytest.mark.parametrize("name", list(COMPRESSORS))
@pytest.mark.parametrize("dtype", DTYPES[3:6])
def test_we_read_zarr_python(tmp_path: Path, name: str, dtype: str) -> None:
    data = _data((11, 6), dtype)
    zs = _zarr_n5(tmp_path / "theirs.n5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_array(zs, mode="w", path="a/b", shape=data.shape, chunks=(4, 5),
                            dtype=dtype, compressor=COMPRESSORS[name])
        z[...] = data
        z.attrs["k"] = {"v": 1}
    ours = zarrdask.open_array(N5Store(tmp_path / "theirs.n5"), mode="r", path="a/b")
    np.testing.assert_array_equal(ours[...], data)
    assert ours.attrs.asdict() == {"k": {"v": 1}}
    assert ours.dtype == np.dtype(dtype).newbyteorder("=")
    # and through the .n5 path routing and the fsspec flavour
    np.testing.assert_array_equal(zarrdask.open(str(tmp_path / "theirs.n5"), mode="r")["a/b"][...],
                                  data)
    fs = N5FSStore((tmp_path / "theirs.n5").as_uri(), mode="r")
    np.testing.assert_array_equal(zarrdask.open_array(fs, mode="r", path="a/b")[...], data)


def test_we_update_zarr_python_data(tmp_path: Path) -> None:
    zs = _zarr_n5(tmp_path / "t.n5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.zeros((8, 8), chunks=(3, 3), dtype="i2", store=zs, path="m")[...] = 5
    ours = zarrdask.open_array(N5Store(tmp_path / "t.n5"), mode="r+", path="m")
    ours[2:6, 2:6] = -1
    ours.resize(9, 8)
    expected = np.full((9, 8), 5, dtype="i2")
    expected[8:] = 0
    expected[2:6, 2:6] = -1
    np.testing.assert_array_equal(zarr.open_array(zs, mode="r", path="m")[...], expected)


def test_n5fsstore_writes_for_zarr_python(tmp_path: Path) -> None:
    url = (tmp_path / "fs.n5").as_uri()
    z = zarrdask.open(url, mode="w", shape=(7, 5), chunks=(3, 3), dtype="f8", path="v")
    assert isinstance(z.store, N5FSStore)
    z[...] = np.arange(35.0).reshape(7, 5)
    theirs = zarr.open_array(_zarr_n5(tmp_path / "fs.n5"), mode="r", path="v")
    np.testing.assert_array_equal(theirs[...], np.arange(35.0).reshape(7, 5))


# -- blocks written by other N5 libraries, and broken ones -------------------------------------


def _make_array(tmp_path: Path, compression: dict[str, Any]) -> Path:
    folder = tmp_path / "java.n5" / "d"
    folder.mkdir(parents=True)
    (tmp_path / "java.n5" / "attributes.json").write_text('{"n5": "4.0.0"}')
    (folder / "attributes.json").write_text(json.dumps({
        "dimensions": [5, 3], "blockSize": [4, 2], "dataType": "int16",
        "compression": compression}))
    return folder


def _block(shape_n5: tuple[int, ...], payload: bytes, mode: int = 0,
           count: int | None = None) -> bytes:
    header = struct.pack(f">HH{len(shape_n5)}I", mode, len(shape_n5), *shape_n5)
    if mode == 1:
        header += struct.pack(">I", count if count is not None else int(np.prod(shape_n5)))
    return header + payload


def test_short_edge_blocks_and_varlength_blocks(tmp_path: Path) -> None:
    folder = _make_array(tmp_path, {"type": "gzip", "level": 6})
    # zarr shape (3, 5), chunks (2, 4); the edge block (1, 1) is 1 x 1 as Java N5 writes it
    full = np.arange(8, dtype=">i2").reshape(2, 4)
    (folder / "0").mkdir()
    (folder / "1").mkdir()
    gz = numcodecs.GZip(6)
    (folder / "0" / "0").write_bytes(_block((4, 2), gz.encode(full.tobytes())))
    (folder / "1" / "1").write_bytes(_block((1, 1), gz.encode(np.array([99], ">i2").tobytes())))
    (folder / "0" / "1").write_bytes(  # mode 1 (varlength) header with the element count
        _block((4, 1), gz.encode(np.array([1, 2, 3, 4], ">i2").tobytes()), mode=1))
    z = zarrdask.open_array(N5Store(tmp_path / "java.n5"), mode="r", path="d")
    assert z.shape == (3, 5) and z.chunks == (2, 4)
    expected = np.zeros((3, 5), dtype="i2")
    expected[:2, :4] = full
    expected[2, :4] = [1, 2, 3, 4]
    expected[2, 4] = 99
    np.testing.assert_array_equal(z[...], expected)
    np.testing.assert_array_equal(z[2:, 4:], [[99]])


@pytest.mark.parametrize("case", ["three-bytes", "truncated-data", "wrong-ndim", "too-big",
                                  "bad-mode", "varlength-count"])
def test_broken_blocks_name_the_key(tmp_path: Path, case: str) -> None:
    folder = _make_array(tmp_path, {"type": "raw"})
    good = np.arange(8, dtype=">i2").tobytes()
    block = {
        "three-bytes": b"\x00\x00\x02",
        "truncated-data": _block((4, 2), good[:-3]),
        "wrong-ndim": _block((4, 2, 1), good),
        "too-big": _block((5, 2), good + b"\x00\x00" * 2),
        "bad-mode": _block((4, 2), good, mode=7),
        "varlength-count": _block((4, 2), good, mode=1, count=3),
    }[case]
    (folder / "0").mkdir()
    (folder / "0" / "0").write_bytes(block)
    z = zarrdask.open_array(N5Store(tmp_path / "java.n5"), mode="r", path="d")
    with pytest.raises(ChunkDecodeError, match=r"d/0\.0"):
        z[...]


def test_decompression_is_bounded(tmp_path: Path) -> None:
    folder = _make_array(tmp_path, {"type": "gzip", "level": 6, "useZlib": True})
    (folder / "0").mkdir()
    bomb = numcodecs.Zlib(9).encode(b"\x00" * 10_000_000)  # far more than one 16-byte block
    (folder / "0" / "0").write_bytes(_block((4, 2), bomb))
    z = zarrdask.open_array(N5Store(tmp_path / "java.n5"), mode="r", path="d")
    with pytest.raises(ChunkDecodeError, match="more than the expected 16 bytes"):
        z[...]


def test_n5_1x_compression_type_and_xz(tmp_path: Path) -> None:
    folder = _make_array(tmp_path, {"type": "xz", "preset": 6})
    attrs = json.loads((folder / "attributes.json").read_text())
    del attrs["compression"]
    attrs["compressionType"] = "raw"
    (folder / "attributes.json").write_text(json.dumps(attrs))
    (folder / "0").mkdir()
    (folder / "0" / "0").write_bytes(_block((4, 2), np.arange(8, dtype=">i2").tobytes()))
    z = zarrdask.open_array(N5Store(tmp_path / "java.n5"), mode="r", path="d")
    assert z[:2, :4].ravel().tolist() == list(range(8))


# -- what N5 cannot store: refused up front, nothing written -----------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fill_value": 3}, "fill value"),
    ({"fill_value": float("nan"), "dtype": "f4"}, "fill value"),
    ({"order": "F"}, "order"),
    ({"filters": [numcodecs.Delta("i4")]}, "filters"),
    ({"dtype": "bool"}, "dtype"),
    ({"dtype": "c16"}, "dtype"),
    ({"dtype": "M8[s]"}, "dtype"),
    ({"dimension_separator": "/"}, "dimension_separator"),
])
def test_unsupported_arrays_refused(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    store = N5Store(tmp_path / "x.n5")
    args = {"shape": (4, 4), "chunks": (2, 2), "dtype": "i4", **kwargs}
    with pytest.raises(ValueError, match=match):
        zarrdask.create(store=store, path="a", **args)
    assert not (tmp_path / "x.n5" / "a").exists()


def test_reserved_attribute_names_refused(tmp_path: Path) -> None:
    store = N5Store(tmp_path / "x.n5")
    g = zarrdask.group(store=store)
    g.attrs["ok"] = 1
    for name in ("dimensions", "n5", "blockSize", "dataType", "compression"):
        with pytest.raises(ValueError, match="reserves"):
            g.attrs[name] = [1]
    assert g.attrs.asdict() == {"ok": 1}
    assert "a" not in g and list(g.groups()) == []


def test_attributes_json_is_not_a_key(tmp_path: Path) -> None:
    store = N5Store(tmp_path / "x.n5")
    for key in ("attributes.json", "g/attributes.json", "attributes.json/x"):
        with pytest.raises(KeyValidationError):
            store[key] = b"{}"
    assert list(store) == []


def test_corrupt_attributes_json(tmp_path: Path) -> None:
    store = N5Store(tmp_path / "x.n5")
    zarrdask.zeros((2,), chunks=(1,), dtype="u1", store=store, path="a")
    target = tmp_path / "x.n5" / "a" / "attributes.json"
    target.write_text('{"dimensions": [2], "blockSize": ')
    with pytest.raises(MetadataError, match="a/attributes.json"):
        zarrdask.open_array(store, mode="r", path="a")
    with pytest.raises(MetadataError):
        store["a/.zattrs"] = b'{"x": 1}'
    assert target.read_text() == '{"dimensions": [2], "blockSize": '  # never rewritten
    target.write_text('{"dimensions": [2], "blockSize": [0], "dataType": "uint8", '
                      '"compression": {"type": "raw"}}')
    with pytest.raises(MetadataError, match="blockSize"):
        store["a/.zarray"]


def test_read_only_and_pickle(tmp_path: Path) -> None:
    import pickle

    store = N5Store(tmp_path / "x.n5")
    zarrdask.zeros((4,), chunks=(2,), dtype="u1", store=store, path="a")[...] = 3
    ro = N5Store(tmp_path / "x.n5", read_only=True)
    with pytest.raises(PermissionError):
        ro["a/.zattrs"] = b'{"x": 1}'
    with pytest.raises(PermissionError):
        ro["a/0"] = b""
    clone = pickle.loads(pickle.dumps(ro))
    assert clone == ro and clone.read_only
    assert zarrdask.open_array(clone, mode="r", path="a")[...].tolist() == [3, 3, 3, 3]
    assert len(pickle.dumps(store)) < 400


def test_dimension_separator_argument() -> None:
    with pytest.raises(ValueError, match="block paths"):
        N5Store("x.n5", dimension_separator="/")


def test_errors_other_than_missing_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    from zarrdask.storage import DirectoryStore

    store = N5Store(tmp_path / "x.n5")
    z = zarrdask.zeros((4, 4), chunks=(2, 2), dtype="u1", store=store, path="a")
    z[...] = 1
    original = DirectoryStore.__getitem__

    def unreadable(self: DirectoryStore, key: str) -> bytes:
        if key == "a/1/0":  # the block of chunk (0, 1)
            raise PermissionError(13, "Permission denied", key)
        return original(self, key)

    monkeypatch.setattr(DirectoryStore, "__getitem__", unreadable)
    with pytest.raises(PermissionError):
        z[...]
    assert z[2:, :].tolist() == [[1] * 4] * 2  # other chunks still read
    del store["a/1.1"]
    assert z[2:, 2:].tolist() == [[0, 0], [0, 0]]  # only a missing block reads as fill


def test_threads_updating_one_attributes_json(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # The synchronizer locks '.zattrs' for attributes and '.zarray' for resize; in N5 both
    # live in one attributes.json, so the store itself must serialise its updates.
    store = N5Store(tmp_path / "x.n5")
    z = zarrdask.zeros((4,), chunks=(2,), dtype="u1", store=store, path="a",
                       synchronizer=zarrdask.ThreadSynchronizer())

    def work(i: int) -> None:
        if i % 2:
            z.attrs[f"k{i}"] = i
        else:
            z.resize(4 + i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(40)))
    attrs = _attributes(tmp_path / "x.n5" / "a")
    assert {f"k{i}" for i in range(1, 40, 2)} <= set(attrs)  # no attribute update lost
    assert attrs["dimensions"][0] in {4 + i for i in range(0, 40, 2)}
    assert attrs["dataType"] == "uint8"
