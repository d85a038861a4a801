"""Tests of zarrdask.meta: metadata value objects, JSON encoding, validation.

zarr-python 2.18 (installed as ``zarr``) is the oracle for the bytes we write.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarrdask.errors import MetadataError
from zarrdask.meta import (
    ArrayMeta,
    GroupMeta,
    encode_array_meta,
    encode_dtype,
    encode_fill_value,
    encode_group_meta,
    json_dumps,
    json_loads,
    normalize_dtype,
    normalize_fill_value,
    parse_array_meta,
    parse_attrs,
    parse_dtype,
    parse_fill_value,
    parse_group_meta,
)

zarr = pytest.importorskip("zarr")

KEY = "grp/arr/.zarray"


def same_value(a: Any, b: Any) -> bool:
    """Compare scalars, NaN equal to NaN, NaT equal to NaT, structured by bytes."""
    if a is None or b is None:
        return a is b
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.dtype.kind == "V" or b_arr.dtype.kind == "V":
        return a_arr.tobytes() == b_arr.tobytes()
    if a_arr.dtype.kind in "fcmM":
        return bool(np.array_equal(a_arr, b_arr, equal_nan=True))
    return bool(a == b)


def make_meta(dtype: Any, fill_value: Any = 0, **kw: Any) -> ArrayMeta:
    args: dict[str, Any] = dict(
        shape=(10, 7),
        chunks=(3, 7),
        dtype=np.dtype(dtype),
        compressor=None,
        fill_value=fill_value,
        order="C",
        filters=None,
        dimension_separator=None,
    )
    args.update(kw)
    return ArrayMeta(**args)


def base_json(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "zarr_format": 2,
        "shape": [10, 7],
        "chunks": [3, 7],
        "dtype": "<f8",
        "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
        "fill_value": 0.0,
        "order": "C",
        "filters": None,
    }
    doc.update(changes)
    return doc


# --------------------------------------------------------------------------- JSON


def test_json_dumps_matches_zarr_formatting() -> None:
    obj = {"b": [1, 2.5, "x"], "a": {"z": None, "y": True}, "ü": "é", "n": np.int64(3)}
    assert json_dumps(obj) == zarr.util.json_dumps(obj)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_json_dumps_refuses_non_finite_floats(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\$\['a'\]\[1\].*NaN and Infinity"):
        json_dumps({"a": [1, bad]})


def test_json_dumps_refuses_non_string_keys() -> None:
    with pytest.raises(TypeError, match="key 1"):
        json_dumps({"a": {1: "x"}})


def test_json_dumps_unserialisable_is_type_error() -> None:
    with pytest.raises(TypeError):
        json_dumps({"a": object()})


def test_json_loads_accepts_bare_nan() -> None:
    out = json_loads(b'{"a": NaN, "b": Infinity, "c": -Infinity}', ".zattrs")
    assert math.isnan(out["a"]) and out["b"] == math.inf and out["c"] == -math.inf


@pytest.mark.parametrize("data", [b"", b"   \n", b'{"a": 1', b"\xff\xfe\x00", "nope", b"[1,]"])
def test_json_loads_errors_name_the_key(data: bytes | str) -> None:
    with pytest.raises(MetadataError, match="some/.zattrs"):
        json_loads(data, "some/.zattrs")


# --------------------------------------------------------------------------- dtypes

ROUND_TRIP_DTYPES = (
    ["|b1"]
    + [f"{bo}{k}{n}" for bo in "<>" for k in "iu" for n in (1, 2, 4, 8)]
    + [f"{bo}f{n}" for bo in "<>" for n in (2, 4, 8)]
    + [f"{bo}c{n}" for bo in "<>" for n in (8, 16)]
    + [
        f"{bo}{k}8[{u}]"
        for bo in "<>"
        for k in "Mm"
        for u in ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as")
    ]
    + ["|S5", "<U5", ">U5", "|V7", "|O"]
)

NESTED = np.dtype(
    [
        ("a", "<i4"),
        ("b", ">f8", (2, 3)),
        ("c", [("x", "|u1"), ("y", "<M8[ms]", (2,)), ("z", "|S3")]),
        ("d", [("deep", [("q", "<c8")])], (2,)),
    ]
)


@pytest.mark.parametrize("dtype_str", ROUND_TRIP_DTYPES)
def test_dtype_round_trip(dtype_str: str) -> None:
    dtype = np.dtype(dtype_str)
    encoded = encode_dtype(dtype)
    assert encoded == dtype.str
    back = parse_dtype(json.loads(json.dumps(encoded)))
    assert back == dtype and back.str == dtype.str


def test_structured_dtype_round_trip() -> None:
    encoded = encode_dtype(NESTED)
    assert encoded[1] == ["b", ">f8", [2, 3]]
    assert encoded == json.loads(json.dumps(NESTED.descr))  # what zarr writes
    assert parse_dtype(json.loads(json.dumps(encoded))) == NESTED


@pytest.mark.parametrize("dtype_str", ROUND_TRIP_DTYPES)
def test_array_meta_round_trip_every_dtype(dtype_str: str) -> None:
    dtype = np.dtype(dtype_str)
    filters = [{"id": "vlen-utf8"}] if dtype.hasobject else None
    meta = make_meta(dtype, 0 if not dtype.hasobject else "", filters=filters)
    data = encode_array_meta(meta)
    back = parse_array_meta(data)
    assert back == meta
    assert back.dtype == dtype
    assert same_value(back.fill_value, meta.fill_value)
    assert encode_array_meta(back) == data


def test_structured_array_meta_round_trip() -> None:
    fill = np.zeros((), dtype=NESTED)
    fill["a"] = -5
    fill["c"]["z"] = b"ab"
    meta = make_meta(NESTED, fill[()])
    back = parse_array_meta(encode_array_meta(meta))
    assert back.dtype == NESTED
    assert back.fill_value.tobytes() == fill.tobytes()
    assert back.fill_value["a"] == -5


def test_normalize_dtype_shorthands() -> None:
    dt, codec = normalize_dtype(str)
    assert dt == np.dtype(object) and codec == numcodecs.VLenUTF8()
    dt, codec = normalize_dtype(bytes)
    assert dt == np.dtype(object) and codec == numcodecs.VLenBytes()
    dt, codec = normalize_dtype("str")
    assert dt == np.dtype(object) and isinstance(codec, numcodecs.VLenUTF8)
    dt, codec = normalize_dtype("array:i4")
    assert dt == np.dtype(object) and codec == numcodecs.VLenArray("<i4")
    given_codec = numcodecs.JSON()
    assert normalize_dtype(str, given_codec) == (np.dtype(object), given_codec)
    assert normalize_dtype(object, given_codec) == (np.dtype(object), given_codec)
    assert normalize_dtype(">i2") == (np.dtype(">i2"), None)
    assert normalize_dtype(float) == (np.dtype("f8"), None)
    assert normalize_dtype(NESTED) == (NESTED, None)


@pytest.mark.parametrize("dtype", ["M8", "m8", "datetime64", np.dtype("m8"), [("a", "M8")]])
def test_normalize_dtype_requires_datetime_units(dtype: Any) -> None:
    with pytest.raises(ValueError, match="units are required"):
        normalize_dtype(dtype)


def test_normalize_dtype_errors() -> None:
    with pytest.raises(TypeError, match="'foo'"):
        normalize_dtype("foo")
    with pytest.raises(ValueError, match="array:i4"):
        normalize_dtype("array")


# --------------------------------------------------------------------------- oracle

ORACLE_CASES: list[dict[str, Any]] = [
    dict(shape=(100, 50), chunks=(10, 7), dtype="f8", fill_value=np.nan),
    dict(shape=(100,), chunks=(10,), dtype="f4", fill_value=np.inf),
    dict(shape=(100,), chunks=(10,), dtype="f2", fill_value=-np.inf),
    dict(shape=(100,), chunks=(10,), dtype=">f8", fill_value=1.5),
    dict(shape=(100,), chunks=(10,), dtype="f4", fill_value=0.1),
    dict(shape=(5,), dtype="c16", fill_value=complex(np.nan, np.inf)),
    dict(shape=(5,), dtype="c8", fill_value=complex(1.5, -np.inf)),
    dict(shape=(5,), dtype="<M8[ns]", fill_value=np.datetime64("NaT")),
    dict(shape=(5,), dtype=">m8[s]", fill_value=np.timedelta64(-3, "s")),
    dict(shape=(5,), dtype="M8[D]", fill_value="2020-01-02"),
    dict(shape=(5,), dtype="S3", fill_value=b"ab"),
    dict(shape=(5,), dtype="S3", fill_value=0),
    dict(shape=(5,), dtype="U4", fill_value="xyz"),
    dict(shape=(5,), dtype="V4", fill_value=b"abcd"),
    dict(shape=(5,), dtype=[("a", "<i4"), ("b", ">f8", (2,))], fill_value=0),
    dict(shape=(5,), dtype=[("a", "<i4"), ("b", "S2")], fill_value=(7, b"hi")),
    dict(shape=(5,), dtype=NESTED, fill_value=None),
    dict(shape=(5,), dtype="i4", fill_value=None),
    dict(shape=(5,), dtype="u1", fill_value=255),
    dict(shape=(5,), dtype=">i8", fill_value=-(2**63)),
    dict(shape=(5,), dtype="b1", fill_value=True),
    dict(shape=(30, 20), chunks=(7, 6), dtype="i2", order="F"),
    dict(shape=(30, 20), chunks=(7, 6), dtype="i2", dimension_separator="/"),
    dict(shape=(30, 20), chunks=(7, 6), dtype="i2", dimension_separator="."),
    dict(shape=(50,), dtype="i4", filters=[numcodecs.Delta("i4")], compressor=numcodecs.Zstd(3)),
    dict(shape=(50,), dtype="f8", compressor=numcodecs.Blosc("zstd", 9, 2)),
    dict(shape=(50,), dtype="f8", compressor=None),
    dict(shape=(), dtype="f8", fill_value=3.0),
    dict(shape=(0, 4), chunks=(3, 2), dtype="i4"),
    dict(shape=(5,), dtype=str, fill_value=""),
    dict(shape=(5,), dtype=str, fill_value=None),
    dict(shape=(5,), dtype=object, object_codec=numcodecs.JSON(), fill_value=0),
    dict(shape=(5,), dtype="array:i4", fill_value=None),
]


def _zarr_zarray(tmp_path: Path, kwargs: dict[str, Any]) -> tuple[bytes, Any]:
    path = tmp_path / "x.zarr"
    z = zarr.open(str(path), mode="w", **kwargs)
    return (path / ".zarray").read_bytes(), z


@pytest.mark.parametrize("kwargs", ORACLE_CASES, ids=range(len(ORACLE_CASES)))
def test_byte_identical_with_zarr(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    data, z = _zarr_zarray(tmp_path, kwargs)
    meta = parse_array_meta(data, ".zarray")
    assert encode_array_meta(meta) == data
    assert meta.to_json() == json.loads(data)
    assert meta.shape == z.shape and meta.chunks == z.chunks
    assert meta.dtype == z.dtype and meta.order == z.order
    if meta.dtype.kind == "O":
        assert meta.fill_value == json.loads(data)["fill_value"]
    elif meta.dtype.kind == "c" and np.isinf(np.imag(kwargs["fill_value"])):
        # zarr 2.18 decodes [re, inf] as re + 1j*inf = nan+infj; we keep the real part
        assert same_value(meta.fill_value, kwargs["fill_value"])
    else:
        assert same_value(meta.fill_value, z.fill_value)


@pytest.mark.parametrize("kwargs", ORACLE_CASES[:20], ids=range(20))
def test_zarr_reads_what_we_build(kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    dtype, _ = normalize_dtype(kwargs["dtype"])
    fill = normalize_fill_value(kwargs.get("fill_value", 0), dtype)
    meta = ArrayMeta(
        shape=kwargs["shape"],
        chunks=kwargs.get("chunks", kwargs["shape"]),
        dtype=dtype,
        compressor=None,
        fill_value=fill,
        order="C",
        filters=None,
        dimension_separator=None,
    )
    store: dict[str, bytes] = {".zarray": encode_array_meta(meta)}
    z = zarr.open_array(store, mode="r")
    assert z.dtype == dtype
    if dtype.kind != "c":  # zarr 2.18 misreads complex infinities (see above)
        assert same_value(z.fill_value, meta.fill_value)
        if fill is not None:
            assert same_value(z[(0,) * z.ndim], meta.fill_value)


def test_s_fill_value_zero_lenient_like_zarr() -> None:
    dtype = np.dtype("S3")
    for raw in [0, "0", "abc!", "YWI="]:
        expected = zarr.meta.Metadata2.decode_fill_value(raw, dtype)
        assert parse_fill_value(raw, dtype) == expected


@pytest.mark.parametrize(
    ("raw", "dtype", "expected"),
    [
        (math.nan, "f8", np.nan),
        ("NaN", ">f4", np.nan),
        (3, "f8", 3.0),
        ([1, "NaN"], "c8", complex(1, np.nan)),
        (2.0, "i4", 2),
        (-1, ">i2", -1),
        (True, "b1", True),
        (-9223372036854775808, ">M8[ns]", np.datetime64("NaT")),
        (86400, "M8[s]", np.datetime64("1970-01-02")),
        ("NaT", "m8[s]", np.timedelta64("NaT")),
        ("abc", "U2", "ab"),
    ],
)
def test_parse_fill_value_lenient(raw: Any, dtype: str, expected: Any) -> None:
    out = parse_fill_value(raw, np.dtype(dtype))
    assert same_value(out, expected)
    assert isinstance(out, np.generic)


def test_parse_fill_value_big_endian_datetime_is_not_byteswapped() -> None:
    out = parse_fill_value(5, np.dtype(">M8[s]"))
    assert out == np.datetime64(5, "s")
    assert encode_fill_value(out, np.dtype(">M8[s]")) == 5


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["<f2", ">f4", "<f8"]), st.floats(allow_nan=True, allow_infinity=True))
def test_float_fill_value_json_round_trip(dtype_str: str, value: float) -> None:
    dtype = np.dtype(dtype_str)
    with np.errstate(over="ignore"):
        scalar = np.array(value, dtype=dtype)[()]
    encoded = encode_fill_value(scalar, dtype)
    back = parse_fill_value(json.loads(json_dumps(encoded)), dtype)
    assert np.asarray(back).tobytes() == np.asarray(scalar).tobytes() or (
        np.isnan(back) and np.isnan(scalar)
    )


# --------------------------------------------------------------------------- validation

BAD_ARRAY_DOCS: list[tuple[Any, str]] = [
    (b"", "empty"),
    (b'{"zarr_format": 2, "shape": [1', "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"text"', "JSON object"),
    ({k: v for k, v in base_json().items() if k != "zarr_format"}, "'zarr_format'"),
    ({k: v for k, v in base_json().items() if k != "dtype"}, "'dtype'"),
    ({k: v for k, v in base_json().items() if k != "fill_value"}, "'fill_value'"),
    ({k: v for k, v in base_json().items() if k != "filters"}, "'filters'"),
    (base_json(zarr_format=3), "zarr_format"),
    (base_json(zarr_format="2"), "zarr_format"),
    (base_json(zarr_format=2.0), "zarr_format"),
    (base_json(zarr_format=True), "zarr_format"),
    (base_json(shape=[-1, 7]), "shape"),
    (base_json(shape=[10.0, 7]), "shape"),
    (base_json(shape=[True, 7]), "shape"),
    (base_json(shape="10"), "shape"),
    (base_json(shape=[2**63, 7]), "shape"),
    (base_json(chunks=[0, 7]), "chunks"),
    (base_json(chunks=[-3, 7]), "chunks"),
    (base_json(chunks=[3]), "dimensions"),
    (base_json(chunks=[3, 7, 1]), "dimensions"),
    (base_json(chunks=None), "chunks"),
    (base_json(dtype="<q9"), "dtype"),
    (base_json(dtype="foo"), "dtype"),
    (base_json(dtype=5), "dtype"),
    (base_json(dtype="<M8"), "units are required"),
    (base_json(dtype=[["a", "m8"]], fill_value=None), "units are required"),
    (base_json(dtype=[["a"]]), "dtype"),
    (base_json(dtype=[]), "no fields"),
    (base_json(dtype="(2,)i4"), "sub-array"),
    (base_json(order="K"), "order"),
    (base_json(order="c"), "order"),
    (base_json(dimension_separator="-"), "dimension_separator"),
    (base_json(dimension_separator=5), "dimension_separator"),
    (base_json(compressor="blosc"), "compressor"),
    (base_json(compressor={"cname": "lz4"}), "compressor"),
    (base_json(compressor={"id": 5}), "compressor"),
    (base_json(filters={"id": "delta"}), "filters"),
    (base_json(filters=[{"id": "delta"}, "zlib"]), r"filters\[1\]"),
    (base_json(filters=[{"dtype": "<i4"}]), r"filters\[0\]"),
    (base_json(dtype="|O", fill_value=None), "object codec"),
    (base_json(dtype="<i4", fill_value="NaN"), "fill_value"),
    (base_json(dtype="|u1", fill_value=300), "fill_value"),
    (base_json(dtype="<i4", fill_value=1.5), "fill_value"),
    (base_json(dtype="<f2", fill_value=1e10), "fill_value"),
    (base_json(dtype="<f8", fill_value="abc"), "fill_value"),
    (base_json(dtype="<f8", fill_value=[1, 2]), "fill_value"),
    (base_json(dtype="<c16", fill_value=[1, 2, 3]), "fill_value"),
    (base_json(dtype="|b1", fill_value="yes"), "fill_value"),
    (base_json(dtype="|V4", fill_value="not base64!"), "fill_value"),
    (base_json(dtype="|V4", fill_value="YWI="), "fill_value"),
    (base_json(dtype="<M8[ns]", fill_value=2**64), "fill_value"),
]


@pytest.mark.parametrize(("doc", "problem"), BAD_ARRAY_DOCS, ids=range(len(BAD_ARRAY_DOCS)))
def test_invalid_array_meta(doc: Any, problem: str) -> None:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    for given_doc in (data, doc) if isinstance(doc, dict) else (data,):
        with pytest.raises(MetadataError, match=problem) as info:
            parse_array_meta(given_doc, KEY)
        assert KEY in str(info.value)


def test_unknown_keys_ignored_and_unknown_codec_accepted() -> None:
    doc = base_json(extra={"x": 1}, compressor={"id": "no-such-codec", "level": 3})
    meta = parse_array_meta(json.dumps(doc), KEY)
    assert meta.compressor == {"id": "no-such-codec", "level": 3}
    assert "extra" not in meta.to_json()


def test_zero_d_and_zero_length() -> None:
    meta = parse_array_meta(base_json(shape=[], chunks=[]))
    assert meta.shape == () and meta.cdata_shape == () and meta.nchunks == 1
    meta = parse_array_meta(base_json(shape=[0, 10], chunks=[5, 3]))
    assert meta.cdata_shape == (0, 4) and meta.nchunks == 0


def test_array_meta_properties_and_replace() -> None:
    meta = make_meta("i4", 3)
    assert meta.separator == "." and meta.cdata_shape == (4, 1) and meta.nchunks == 4
    assert "dimension_separator" not in meta.to_json()
    slashed = meta.replace(dimension_separator="/", shape=[20, 7])
    assert slashed.separator == "/" and slashed.shape == (20, 7)
    assert slashed.to_json()["dimension_separator"] == "/"
    assert meta.shape == (10, 7)
    with pytest.raises(MetadataError, match="chunks"):
        meta.replace(chunks=(0, 1))
    with pytest.raises(MetadataError, match="fill_value"):
        meta.replace(fill_value="NaN")
    with pytest.raises(MetadataError, match="sub-array"):
        meta.replace(dtype=np.dtype(("i4", (2,))))


def test_array_meta_is_frozen_and_nan_equal() -> None:
    meta = make_meta("f8", np.nan)
    with pytest.raises(AttributeError):
        meta.shape = (1,)  # type: ignore[misc]
    assert meta == make_meta("f8", float("nan"))
    assert meta != make_meta("f8", 0)
    assert isinstance(meta.fill_value, np.float64)


def test_array_meta_copies_codec_configs() -> None:
    config = {"id": "zstd", "level": 1}
    meta = make_meta("i4", compressor=config, filters=[{"id": "delta", "dtype": "<i4"}])
    config["level"] = 9
    meta.to_json()["compressor"]["level"] = 7
    assert meta.compressor == {"id": "zstd", "level": 1}
    assert meta.filters == ({"id": "delta", "dtype": "<i4"},)


def test_object_fill_value_must_be_json() -> None:
    with pytest.raises(MetadataError, match="JSON"):
        make_meta(object, b"", filters=[{"id": "vlen-bytes"}])


# --------------------------------------------------------------------------- fill values


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (0, "S3", b""),
        (0, "U3", ""),
        (0, [("a", "i4"), ("b", "S2")], np.zeros((), "i4,S2")[()]),
        (0, "M8[ns]", np.datetime64(0, "ns")),
        ("NaN", "f4", np.nan),
        ("-inf", "f8", -np.inf),
        (np.nan, "c8", complex(np.nan, 0)),
        (255, "u1", 255),
        (np.int64(-128), "i1", -128),
        (3.0, "i4", 3),
        ("12", "i4", 12),
        (True, "b1", True),
        (b"ab", "S2", b"ab"),
        ("ab", "S2", b"ab"),
        (b"abcd", "V4", np.void(b"abcd")),
        ((1, b"x"), [("a", "i4"), ("b", "S2")], np.array((1, b"x"), "i4,S2")[()]),
        ("2020-01-01", "M8[D]", np.datetime64("2020-01-01")),
        (np.datetime64("NaT"), "M8[ns]", np.datetime64("NaT")),
        (np.array(5), "i8", 5),
    ],
)
def test_normalize_fill_value(value: Any, dtype: Any, expected: Any) -> None:
    dtype = np.dtype(dtype)
    out = normalize_fill_value(value, dtype)
    assert isinstance(out, np.generic)
    assert same_value(out, expected)


def test_normalize_fill_value_object_and_none() -> None:
    obj = {"a": 1}
    assert normalize_fill_value(obj, np.dtype(object)) is obj
    assert normalize_fill_value(None, np.dtype(object)) is None
    assert normalize_fill_value(None, np.dtype("f8")) is None


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        ("NaN", "i4"),
        (np.nan, "i8"),
        (300, "u1"),
        (-1, "u4"),
        (2**63, "i8"),
        (1.5, "i2"),
        ("abc", "f8"),
        (1e10, "f2"),
        (complex(1, 2), "f8"),
        ("yes", "b1"),
        (2, "b1"),
        (5, "U3"),
        ("abcd", "U3"),
        (b"abcd", "S3"),
        ("é", "S3"),
        (b"abc", "V4"),
        ("not a date", "M8[ns]"),
        ([1, 2], "f8"),
        (np.zeros(3), "f8"),
    ],
)
def test_normalize_fill_value_errors(value: Any, dtype: str) -> None:
    with pytest.raises(ValueError, match="fill_value") as info:
        normalize_fill_value(value, np.dtype(dtype))
    assert str(np.dtype(dtype)) in str(info.value)


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (np.float16(np.nan), "f2", "NaN"),
        (np.float64(np.inf), "f8", "Infinity"),
        (np.float32(-np.inf), "f4", "-Infinity"),
        (np.float32(0.1), "f4", float(np.float32(0.1))),
        (np.complex64(complex(np.nan, -np.inf)), "c8", ["NaN", "-Infinity"]),
        (np.int8(-3), "i1", -3),
        (np.uint64(2**64 - 1), "u8", 2**64 - 1),
        (np.bool_(False), "b1", False),
        (np.datetime64("NaT", "ns"), "M8[ns]", -9223372036854775808),
        (np.bytes_(b"\x00\xff"), "S2", base64.standard_b64encode(b"\x00\xff").decode()),
        (np.str_("hé"), "U2", "hé"),
        (None, "f8", None),
        ("x", "O", "x"),
    ],
)
def test_encode_fill_value(value: Any, dtype: str, expected: Any) -> None:
    out = encode_fill_value(value, np.dtype(dtype))
    assert out == expected and type(out) is type(expected)
    if value is not None and dtype != "O":
        zarr_out = zarr.meta.Metadata2.encode_fill_value(value, np.dtype(dtype))
        assert json.dumps(out) == json.dumps(zarr_out)


# --------------------------------------------------------------------------- groups, attrs


def test_group_meta() -> None:
    assert encode_group_meta() == zarr.util.json_dumps({"zarr_format": 2})
    assert encode_group_meta(GroupMeta()) == encode_group_meta()
    assert parse_group_meta(b'{"zarr_format": 2, "other": 1}') == GroupMeta()
    assert parse_group_meta({"zarr_format": 2}) == GroupMeta(2)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[]", b"{}", b'{"zarr_format": 3}', b'{"zarr_format": "2"}']
)
def test_group_meta_errors(data: bytes) -> None:
    with pytest.raises(MetadataError, match="a/b/.zgroup"):
        parse_group_meta(data, "a/b/.zgroup")
    with pytest.raises(MetadataError):
        GroupMeta(3)


def test_parse_attrs() -> None:
    assert parse_attrs(b'{"a": [1, 2], "b": NaN}')["a"] == [1, 2]
    assert parse_attrs({"x": 1}) == {"x": 1}
    for bad in (b"[1]", b"3", b"null", b"", b'{"a":'):
        with pytest.raises(MetadataError, match="g/.zattrs"):
            parse_attrs(bad, "g/.zattrs")


# --------------------------------------------------------------------------- parsing fast path

_FIELD_VALUES: dict[str, list[Any]] = {
    "zarr_format": [2, 3, 2.0, True, "2"],
    "shape": [[10, 7], [0, 3], [], [2**63, 1], [-1, 2], [True, 2], [2.0, 3], (4, 4), [3]],
    "chunks": [[3, 7], [1, 1], [0, 7], [], [3], [3, 7.5], [2**63 - 1, 1]],
    "dtype": ["<f8", "|b1", "<M8[ns]", "<m8", "M8", "|S3", "<U2", ">i2", "|u1", "<c8", "|V4",
              "|O", "nope", 4, [["a", "<i4"]], "<f2"],
    "compressor": [None, {"id": "zlib", "level": 1}, {"level": 1}, {"id": 3}, [], "blosc",
                   {"id": "x", "nested": {"a": [1, 2]}}],
    "fill_value": [0, 0.0, -0.0, 1, -1, 300, "NaN", "Infinity", "-Infinity", None, "AAA=",
                   True, 1.5, [1, 2], "x", 2**70, -(2**63)],
    "order": ["C", "F", "c", None],
    "filters": [None, [], [{"id": "delta", "dtype": "<f8"}], {"id": "x"}],
    "dimension_separator": [".", "/", None, "-", "__absent__"],
}


def _outcome(doc: dict[str, Any]) -> tuple[str, Any]:
    try:
        meta = parse_array_meta(doc, key=KEY)
    except Exception as e:  # compare the error exactly
        return "error", (type(e), str(e))
    fill = meta.fill_value
    return "ok", (meta.to_json(), type(fill), np.asarray(fill).tobytes() if fill is not None
                  else None, meta.shape, meta.chunks, meta.filters, meta.compressor)


# how many leading values of each list above are valid with the others' leading values
_VALID_COUNT = {"zarr_format": 1, "shape": 2, "chunks": 2, "dtype": 11, "compressor": 2,
                "fill_value": 3, "order": 2, "filters": 3, "dimension_separator": 3}


@st.composite
def _documents(draw: Any) -> dict[str, Any]:
    """A valid document, then at most one field replaced by any value (or dropped)."""
    doc = {k: draw(st.sampled_from(v[:_VALID_COUNT[k]])) for k, v in _FIELD_VALUES.items()}
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(_FIELD_VALUES)))
        doc[field] = draw(st.sampled_from([*_FIELD_VALUES[field], "__absent__"]))
    return {k: v for k, v in doc.items() if v != "__absent__"}


@settings(max_examples=500, deadline=None)
@given(_documents())
def test_fast_parse_path_matches_the_general_path(doc: dict[str, Any]) -> None:
    import zarrdask.meta as meta_module

    fast = _outcome(doc)
    original = meta_module._fast_array_meta
    meta_module._fast_array_meta = lambda obj: None  # the general path only
    try:
        general = _outcome(doc)
    finally:
        meta_module._fast_array_meta = original
    assert fast == general


def test_fast_parse_path_is_taken_for_common_documents() -> None:
    import zarrdask.meta as meta_module

    doc = base_json()
    assert meta_module._fast_array_meta(doc) == parse_array_meta(json.dumps(doc).encode())
    assert meta_module._fast_array_meta(base_json(filters=[{"id": "delta", "dtype": "<f8"}])) \
        is None
    meta = parse_array_meta(doc)
    assert meta.compressor == doc["compressor"] and meta.compressor is not doc["compressor"]
