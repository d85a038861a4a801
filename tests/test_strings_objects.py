"""Fixed strings, object arrays with every numcodecs object codec, datetimes, structured dtypes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numcodecs
import numcodecs.pickles
import numpy as np
import pytest

import zarrdask as zarr
from zarrdask.errors import MetadataError

# ------------------------------------------------------------------ helpers


def assert_objects_equal(actual: np.ndarray, expected: list[Any] | np.ndarray) -> None:
    """Element-wise equality for object arrays that may hold arrays."""
    actual = np.asarray(actual, dtype=object)
    expected_arr = np.empty(len(expected), dtype=object)
    expected_arr[:] = list(expected)
    assert actual.shape == expected_arr.shape
    for got, want in zip(actual.tolist(), expected_arr.tolist(), strict=True):
        if isinstance(want, np.ndarray):
            assert isinstance(got, np.ndarray)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        else:
            assert got == want, (got, want)
            assert type(got) is type(want), (type(got), type(want))


# ------------------------------------------------------------ fixed strings


def test_fixed_bytes() -> None:
    z = zarr.zeros(10, dtype="S6", chunks=3)
    assert z.dtype == np.dtype("S6")
    z[0] = b"Hello"
    z[1] = b"world!"
    z[2] = b"truncated"  # numpy semantics: cut to the item size
    expected = np.zeros(10, dtype="S6")
    expected[:3] = [b"Hello", b"world!", b"trunca"]
    np.testing.assert_array_equal(z[:], expected)
    np.testing.assert_array_equal(z.vindex[[1, 0]], expected[[1, 0]])
    assert json.loads(z.store[".zarray"])["fill_value"] == ""


def test_fixed_unicode() -> None:
    words = np.array(["¡Hola!", "Γεια", "こんにちは", ""], dtype="U5")
    z = zarr.array(words, chunks=3)
    assert z.dtype == np.dtype("<U5")
    np.testing.assert_array_equal(z[:], words)
    np.testing.assert_array_equal(z.oindex[[3, 2]], words[[3, 2]])
    z.vindex[[0]] = ["ñ"]
    assert z[0] == "ñ"


@pytest.mark.parametrize(("dtype", "fill", "encoded"),
                         [("S3", b"ab", "YWI="), ("U3", "äb", "äb"), (">U2", "x", "x")])
def test_fixed_string_fill_values(dtype: str, fill: Any, encoded: str) -> None:
    z = zarr.full(5, fill, dtype=dtype, chunks=2)
    assert json.loads(z.store[".zarray"])["fill_value"] == encoded
    np.testing.assert_array_equal(z[:], np.full(5, fill, dtype=dtype))
    reopened = zarr.Array(z.store)
    assert reopened.fill_value == fill


# ------------------------------------------------------------ object codecs


CODECS: dict[str, tuple[Callable[[], Any], list[Any]]] = {
    "vlen-utf8": (numcodecs.VLenUTF8, ["a", "", "Γεια σου κόσμε!", "こんにちは", "zz"]),
    "vlen-bytes": (numcodecs.VLenBytes, [b"a", b"", b"\x00\xff", b"xyz" * 10, b"q"]),
    "vlen-array": (lambda: numcodecs.VLenArray("<i4"),
                   [np.array([1, 2, 3], dtype="<i4"), np.array([], dtype="<i4"),
                    np.array([7], dtype="<i4"), np.arange(20, dtype="<i4"),
                    np.array([-1, -2], dtype="<i4")]),
    "json": (numcodecs.JSON, [42, "foo", ["bar", "baz"], {"a": 1, "b": 2.5}, None]),
    "msgpack": (numcodecs.MsgPack, [42, "foo", ["bar", 1], {"a": 1, "b": [1, 2]}, 2.5]),
    "pickle": (numcodecs.Pickle, [42, "foo", (1, 2), {"a": frozenset([1])}, 3 + 4j]),
    "categorize": (lambda: numcodecs.Categorize(["red", "green", "blue"], dtype=object),
                   ["red", "green", "blue", "red", "blue"]),
}


@pytest.fixture
def allow_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to unpickling, as numcodecs requires, for this test only."""
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True)


@pytest.mark.usefixtures("allow_pickle")
@pytest.mark.parametrize("name", list(CODECS))
def test_object_codec_round_trip(name: str) -> None:
    make_codec, values = CODECS[name]
    codec = make_codec()
    z = zarr.empty(len(values), dtype=object, object_codec=codec, chunks=2)
    assert z.dtype == np.dtype(object)
    assert type(z.filters[0]) is type(codec)
    z[:] = _as_object_array(values)
    assert_objects_equal(z[:], values)
    # one element at a time, including values that numpy would otherwise broadcast
    z[1] = values[3]
    expected = list(values)
    expected[1] = values[3]
    assert_objects_equal(z[:], expected)
    # point and orthogonal selections over object arrays
    assert_objects_equal(z.vindex[[4, 0]], [expected[4], expected[0]])
    assert_objects_equal(z.oindex[[True, False, True, False, False]], [expected[0], expected[2]])
    z.vindex[[2]] = _as_object_array([values[0]])
    expected[2] = values[0]
    assert_objects_equal(zarr.Array(z.store)[:], expected)  # reopened from the store


def _as_object_array(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def test_object_elements_hold_lists_dicts_and_arrays() -> None:
    z = zarr.empty(5, dtype=object, object_codec=numcodecs.JSON())
    z[0] = 42
    z[1] = "foo"
    z[2] = ["bar", "baz", "qux"]
    z[3] = {"a": 1, "b": 2.2}
    assert z[:].tolist() == [42, "foo", ["bar", "baz", "qux"], {"a": 1, "b": 2.2}, None]
    assert z[2] == ["bar", "baz", "qux"]
    zd = zarr.empty((), dtype=object, object_codec=numcodecs.JSON())  # a 0-d object array
    zd[()] = [1, 2]
    assert zd[()] == [1, 2]
    zd[...] = {"x": None}
    assert zd[...] == {"x": None}


def test_ragged_arrays() -> None:
    z = zarr.empty(5, dtype=object, object_codec=numcodecs.VLenArray(int), chunks=4)
    z[0] = np.array([1, 3, 5])
    z[1] = np.array([4])
    z[2] = np.array([7, 9, 14])
    # an unwritten element of a stored chunk is an empty array; one of a missing chunk
    # is the fill value (None), as in zarr-python
    assert_objects_equal(z[:4], [np.array([1, 3, 5]), np.array([4]), np.array([7, 9, 14]),
                                 np.array([], dtype=np.int64)])
    assert z[4] is None
    assert_objects_equal(z.vindex[[2, 2]], [np.array([7, 9, 14])] * 2)
    z2 = zarr.empty((2, 2), dtype="array:f4", chunks=(1, 2))
    z2[1, 0] = np.array([0.5, 1.5], dtype="f4")
    got = z2[1, 0]
    assert got.dtype == np.dtype("f4")
    np.testing.assert_array_equal(got, [0.5, 1.5])


@pytest.mark.parametrize("t", ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4",
                               "f8", ">i4", "c8", "c16", "b1", "M8[s]", "m8[ms]"])
def test_array_shorthand_for_every_primitive(t: str) -> None:
    z = zarr.empty(3, dtype=f"array:{t}", chunks=2)
    assert z[2] is None  # a missing chunk reads as the fill value
    assert z.dtype == np.dtype(object)
    assert z.filters == [numcodecs.VLenArray(np.dtype(t))]
    value = np.array([1, 0, 1]).astype(t)
    z[0] = value
    got = z[0]
    assert got.dtype == np.dtype(t)
    np.testing.assert_array_equal(got, value)
    assert zarr.Array(z.store)[1].size == 0  # unwritten, in a stored chunk


@pytest.mark.parametrize(("dtype", "codec"), [(str, numcodecs.VLenUTF8()),
                                              (bytes, numcodecs.VLenBytes())])
def test_str_and_bytes_shorthands(dtype: type, codec: Any) -> None:
    z = zarr.empty(3, dtype=dtype, filters=[numcodecs.Zlib(1)])
    assert z.dtype == np.dtype(object)
    assert z.filters == [codec, numcodecs.Zlib(1)]  # the object codec comes first
    value = "x" if dtype is str else b"x"
    z[:] = value
    assert z[:].tolist() == [value] * 3
    meta = json.loads(z.store[".zarray"])
    assert meta["dtype"] == "|O"
    assert meta["filters"][0] == codec.get_config()


def test_object_array_without_codec_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="object_codec"):
        zarr.zeros(3, dtype=object)
    with pytest.raises(ValueError, match="object_codec"):
        zarr.array(np.array(["a", None], dtype=object))
    # metadata that claims objects but names no object codec
    z = zarr.zeros(3, dtype=str)
    meta = json.loads(z.store[".zarray"])
    meta["filters"] = None
    z.store[".zarray"] = json.dumps(meta).encode()
    with pytest.raises(MetadataError, match="object codec"):
        zarr.Array(z.store)


@pytest.mark.parametrize(
    ("make", "unwritten"),
    [
        (lambda: zarr.full(5, "x", dtype=str, chunks=2), "x"),
        (lambda: zarr.empty(5, dtype=str, chunks=2), None),
        (lambda: zarr.zeros(5, dtype=str, chunks=2), 0),
        (lambda: zarr.full(5, "abc", dtype=object, object_codec=numcodecs.MsgPack(),
                           chunks=2), "abc"),
        (lambda: zarr.full(5, {"a": 1}, dtype=object, object_codec=numcodecs.JSON(),
                           chunks=2), {"a": 1}),
    ],
)
def test_object_fill_values(make: Callable[[], Any], unwritten: Any) -> None:
    z = make()
    assert z.fill_value == unwritten
    assert zarr.Array(z.store).fill_value == unwritten
    assert z[:].tolist() == [unwritten] * 5
    written = "y" if not isinstance(unwritten, dict) else {"b": 2}
    z[2] = written
    row = z[:].tolist()
    # elements of chunks never stored read as the fill value (element 3 shares a stored
    # chunk: it holds whatever the codec makes of the fill value, as in zarr-python)
    assert row[:2] == [unwritten] * 2 and row[4] == unwritten and row[2] == written


# ----------------------------------------------------------------- pickle


def test_pickle_decode_requires_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", False)
    z = zarr.empty(4, dtype=object, object_codec=numcodecs.Pickle(), chunks=2)
    z[:] = _as_object_array([{1}, (2,), "three", 4.0])  # encoding needs no opt-in
    with pytest.raises(RuntimeError) as info:
        z[:]
    assert type(info.value).__name__ == "UnsafeDecodeError"
    message = str(info.value)
    assert "cannot decode chunk '0'" in message
    assert "ALLOW_UNSAFE_PICKLE_DECODE" in message  # says how to allow it
    with pytest.raises(RuntimeError, match="ALLOW_UNSAFE_PICKLE_DECODE"):
        z[0] = "partial writes read the old chunk"
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True)
    assert z[:].tolist() == [{1}, (2,), "three", 4.0]


# --------------------------------------------------------------- datetimes

UNITS = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("kind", ["M8", "m8"])
def test_datetime_every_unit_with_nat_fill(kind: str, unit: str) -> None:
    dtype = np.dtype(f"<{kind}[{unit}]")
    nat = np.datetime64("NaT") if kind == "M8" else np.timedelta64("NaT")
    z = zarr.full(5, nat, dtype=dtype, chunks=2)
    assert json.loads(z.store[".zarray"])["fill_value"] == -(2**63)
    assert np.isnat(z[:]).all()
    assert np.isnat(zarr.Array(z.store).fill_value)
    if kind == "M8":
        value = np.datetime64("1970-01-02", unit) if unit in ("ps", "fs", "as") else \
            np.datetime64("2001-02-03", unit)
        z[1] = str(value)  # assignment from a string
    else:
        value = np.timedelta64(3, unit)
        z[1] = value
    z.vindex[[3]] = [value]
    expected = np.full(5, nat, dtype=dtype)
    expected[[1, 3]] = value
    np.testing.assert_array_equal(z[:], expected)
    assert z[:].dtype == dtype


def test_datetime_tutorial_and_string_fill() -> None:
    z = zarr.array(["2007-07-13", "2006-01-13", "2010-08-13"], dtype="M8[D]")
    assert repr(z).endswith("(3,) datetime64[D]>")
    assert z[0] == np.datetime64("2007-07-13")
    z[0] = "1999-12-31"
    np.testing.assert_array_equal(
        z[:], np.array(["1999-12-31", "2006-01-13", "2010-08-13"], dtype="M8[D]"))
    zf = zarr.full(2, "2000-01-01", dtype="M8[D]")
    assert json.loads(zf.store[".zarray"])["fill_value"] == 10957
    assert zf[0] == np.datetime64("2000-01-01")
    zt = zarr.full(2, np.timedelta64(1, "h"), dtype="m8[s]")  # converted, not reinterpreted
    assert zt[0] == np.timedelta64(3600, "s")


@pytest.mark.parametrize("dtype", ["M8", "m8", "datetime64", "timedelta64", "<M8"])
def test_datetime_without_unit_is_a_clear_error(dtype: str) -> None:
    with pytest.raises(ValueError, match="unit"):
        zarr.zeros(3, dtype=dtype)


# -------------------------------------------------------------- structured

NESTED = np.dtype([("id", "<u2"), ("pos", [("x", "<f4"), ("y", "<f4")]),
                   ("tag", "S3"), ("m", "<i2", (2, 2))])


def test_structured_nested_and_sub_array_fields() -> None:
    fill = (7, (0.5, -0.5), b"abc", [[1, 2], [3, 4]])
    z = zarr.full((3, 2), fill, dtype=NESTED, chunks=(2, 1))
    expected = np.full((3, 2), np.array(fill, dtype=NESTED))
    np.testing.assert_array_equal(z[...], expected)
    assert zarr.Array(z.store).fill_value == np.array(fill, dtype=NESTED)
    z["pos", 1] = [(1.0, 2.0), (3.0, 4.0)]
    z.set_orthogonal_selection(([2], slice(None)), [[[[9, 9], [9, 9]], [[8, 8], [8, 8]]]],
                               fields="m")
    expected["pos"][1] = [(1.0, 2.0), (3.0, 4.0)]
    expected["m"][2] = [[[9, 9], [9, 9]], [[8, 8], [8, 8]]]
    np.testing.assert_array_equal(z[...], expected)
    np.testing.assert_array_equal(z["m"], expected["m"])
    assert z["m"].shape == (3, 2, 2, 2)
    np.testing.assert_array_equal(z.vindex[[0, 2], [1, 0], "m"], expected["m"][[0, 2], [1, 0]])
    both = z.get_mask_selection(np.eye(3, 2, dtype=bool), fields=["tag", "id"])
    assert both.dtype.names == ("tag", "id")
    np.testing.assert_array_equal(both["id"], expected["id"][np.eye(3, 2, dtype=bool)])
    z.set_coordinate_selection(([0], [0]), [(b"new", 11)],
                               fields=["tag", "id"])
    assert z[0, 0]["tag"] == b"new" and z[0, 0]["id"] == 11
