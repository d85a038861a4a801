"""Zarr v2 metadata: frozen value objects to and from JSON, validated completely when parsed.

``.zarray``, ``.zgroup`` and ``.zattrs`` documents are read into :class:`ArrayMeta`,
:class:`GroupMeta` and plain dicts here, and written back byte-for-byte as zarr-python 2.18
writes them (indent 4, sorted keys), except that the JSON we write is strict: NaN and
Infinity must be encoded as strings. This module knows nothing about stores.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json
import math
import numbers
import operator
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from zarrdask.errors import MetadataError
from zarrdask.jsonfmt import NumpyEncoder, dumps
from zarrdask.keys import ARRAY_META_KEY, ATTRS_KEY, GROUP_META_KEY

__all__ = [
    "JSON",
    "ArrayMeta",
    "GroupMeta",
    "copy_json",
    "encode_array_meta",
    "encode_dtype",
    "encode_fill_value",
    "encode_group_meta",
    "json_dumps",
    "json_loads",
    "normalize_dtype",
    "normalize_fill_value",
    "parse_array_meta",
    "parse_attrs",
    "parse_dtype",
    "parse_fill_value",
    "parse_group_meta",
]

JSON = Any
ZARR_FORMAT = 2
_MAX_DIM = 2**63
_REQUIRED_ARRAY_KEYS = ("shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters")
# dtype shorthands of zarr 2.x: name -> numcodecs codec id of the object codec it implies
_OBJECT_SHORTHANDS = {"str": "vlen-utf8", "bytes": "vlen-bytes", "array": "vlen-array"}
_FLOAT_STRINGS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# what numpy, base64 and the converters below raise for a value that does not fit a dtype
_VALUE_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, UnicodeError)


# ----------------------------------------------------------------------------- JSON


def json_dumps(obj: Any) -> bytes:
    """Encode ``obj`` as strict JSON bytes, formatted as zarr-python 2.18 writes metadata.

    Raises
    ------
    ValueError
        If ``obj`` holds NaN or an infinity (the message gives its location).
    TypeError
        If ``obj`` holds a non-string object key or a value JSON cannot represent.

    Examples
    --------
    >>> json_dumps({"b": [1], "a": np.float32(0.5)})
    b'{\\n    "a": 0.5,\\n    "b": [\\n        1\\n    ]\\n}'
    """
    return dumps(obj).encode("ascii")


def json_loads(data: bytes | str, key: str) -> Any:
    """Decode JSON read from store key ``key``; bare ``NaN``/``Infinity`` are accepted.

    Raises
    ------
    MetadataError
        If the data is empty, not UTF-8 or not valid JSON; the message names ``key``.

    Examples
    --------
    >>> json_loads(b'{"a": NaN}', ".zattrs")
    {'a': nan}
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise MetadataError(f"{key!r} is not UTF-8 encoded JSON: {e}") from e
    elif isinstance(data, str):
        text = data
    else:
        raise MetadataError(f"{key!r} must hold JSON bytes or str, got {type(data).__name__}")
    if not text.strip():
        raise MetadataError(f"{key!r} is empty; expected a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(
            f"{key!r} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from e
    except RecursionError as e:
        raise MetadataError(f"{key!r} is nested too deeply to be read as JSON") from e


_ATOMS = (str, int, float, bool, type(None))


def copy_json(value: Any) -> Any:
    """Copy a JSON-able value: dicts, lists and tuples are copied, other values shared.

    Much cheaper than :func:`copy.deepcopy` for metadata documents; objects that are
    neither containers nor immutable scalars are deep-copied.

    Examples
    --------
    >>> doc = {"id": "blosc", "x": [1, {"y": 2}]}
    >>> copy_json(doc) == doc and copy_json(doc)["x"][1] is not doc["x"][1]
    True
    """
    t = type(value)
    if t in _ATOMS:
        return value
    if t is dict:
        return {k: v if type(v) in _ATOMS else copy_json(v) for k, v in value.items()}
    if t is list:
        return [v if type(v) in _ATOMS else copy_json(v) for v in value]
    if t is tuple:
        return tuple(v if type(v) in _ATOMS else copy_json(v) for v in value)
    return copy.deepcopy(value)


def _load_object(data: bytes | str | Mapping[str, Any], key: str) -> dict[str, Any]:
    """Return ``data`` as a dict, decoding JSON if needed; it must be a JSON object."""
    obj = dict(data) if isinstance(data, Mapping) else json_loads(data, key)
    if not isinstance(obj, dict):
        raise MetadataError(
            f"{key!r} must hold a JSON object, but holds a {type(obj).__name__}: {obj!r:.80}"
        )
    return obj


def _named(error: MetadataError, key: str) -> MetadataError:
    """A :class:`MetadataError` like ``error`` whose message names the store key."""
    return MetadataError(f"invalid metadata in {key!r}: {error}")


@contextmanager
def _naming(key: str) -> Iterator[None]:
    """Prefix the message of a :class:`MetadataError` raised inside with the store key."""
    try:
        yield
    except MetadataError as e:
        raise _named(e, key) from e


def _check_zarr_format(value: Any) -> None:
    if type(value) is not int or value != ZARR_FORMAT:
        raise MetadataError(f"zarr_format must be the integer 2, got {value!r}")


# ----------------------------------------------------------------------------- dtypes


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Return why ``dtype`` cannot be stored (generic datetime units anywhere), or None."""
    if dtype.subdtype is not None:
        return _dtype_problem(dtype.subdtype[0])
    if dtype.fields is not None:
        for field in dtype.fields.values():
            problem = _dtype_problem(field[0])
            if problem:
                return problem
        return None
    if dtype.kind in "mM" and np.datetime_data(dtype)[0] == "generic":
        return (
            f"datetime64/timedelta64 dtype {dtype.str!r} has no unit; units are required, "
            "e.g. 'M8[ns]' or 'm8[s]'"
        )
    return None


def normalize_dtype(dtype: Any, object_codec: Any = None) -> tuple[np.dtype, Any | None]:
    """Turn a user-given dtype into a numpy dtype and the object codec it implies.

    Accepts anything :func:`numpy.dtype` accepts plus the zarr 2.x shorthands ``str``
    (object dtype with ``VLenUTF8``), ``bytes`` (``VLenBytes``) and ``'array:T'``
    (``VLenArray(T)``). A given ``object_codec`` is returned unchanged. A sub-array dtype
    is returned as is; the caller moves its shape into the array shape.

    Raises
    ------
    ValueError
        For datetime64/timedelta64 without a unit or a shorthand without its argument.
    TypeError
        If numpy does not understand ``dtype``.

    Examples
    --------
    >>> normalize_dtype("i4")
    (dtype('int32'), None)
    >>> normalize_dtype(str)
    (dtype('O'), VLenUTF8())
    """
    if dtype is str or dtype is bytes:
        dtype = dtype.__name__
    if isinstance(dtype, str):
        name, _, arg = dtype.partition(":")
        if name in _OBJECT_SHORTHANDS:
            if object_codec is None:
                import numcodecs

                config: dict[str, Any] = {"id": _OBJECT_SHORTHANDS[name]}
                if name == "array":
                    if not arg:
                        raise ValueError(
                            f"dtype {dtype!r} needs an element dtype, e.g. 'array:i4'"
                        )
                    config["dtype"] = arg
                object_codec = numcodecs.get_codec(config)
            return np.dtype(object), object_codec
    try:
        result = np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise type(e)(f"invalid dtype {dtype!r}: {e}") from e
    problem = _dtype_problem(result)
    if problem:
        raise ValueError(problem)
    return result, object_codec


def encode_dtype(dtype: np.dtype) -> str | list:
    """Encode a dtype as zarr v2 JSON: its ``str``, or for structured dtypes its descr as lists.

    Examples
    --------
    >>> encode_dtype(np.dtype(">f8"))
    '>f8'
    >>> encode_dtype(np.dtype([("a", "i4"), ("b", "S2", (2,))]))
    [['a', '<i4'], ['b', '|S2', [2]]]
    """
    if dtype.fields is None:
        return dtype.str

    def to_lists(item: Any) -> Any:
        if isinstance(item, (list, tuple)):
            return [to_lists(x) for x in item]
        return item

    return to_lists(dtype.descr)


def _descr_from_json(value: list) -> list[tuple]:
    """Convert a JSON structured dtype description into a numpy descr (lists -> tuples)."""
    if not value:
        raise MetadataError("structured dtype [] has no fields")
    fields = []
    for field in value:
        if not isinstance(field, (list, tuple)) or len(field) not in (2, 3):
            raise MetadataError(f"structured dtype field {field!r} is not [name, dtype(, shape)]")
        name, sub = field[0], field[1]
        if isinstance(name, list) and len(name) == 2 and all(isinstance(n, str) for n in name):
            name = tuple(name)  # (title, name)
        elif not isinstance(name, str):
            raise MetadataError(f"structured dtype field name {name!r} is not a string")
        if isinstance(sub, list):
            sub = _descr_from_json(sub)
        elif not isinstance(sub, str):
            raise MetadataError(f"dtype of field {name!r} must be a string or a list, got {sub!r}")
        if len(field) == 3:
            shape = field[2]
            if isinstance(shape, list):
                shape = tuple(_check_dims(shape, f"shape of field {name!r}", minimum=0))
            elif type(shape) is not int or shape < 0:
                raise MetadataError(f"shape of field {name!r} must be a list, got {shape!r}")
            fields.append((name, sub, shape))
        else:
            fields.append((name, sub))
    return fields


def _parse_dtype(value: Any) -> np.dtype:
    if isinstance(value, str):
        spec: Any = value
    elif isinstance(value, list):
        spec = _descr_from_json(value)
    else:
        raise MetadataError(f"dtype must be a string or a list of fields, got {value!r}")
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError, SyntaxError) as e:
        raise MetadataError(f"dtype {value!r} is not a valid numpy dtype: {e}") from e
    problem = _dtype_problem(dtype)
    if problem:
        raise MetadataError(problem)
    return dtype


def parse_dtype(value: Any, key: str = ARRAY_META_KEY) -> np.dtype:
    """Decode a zarr v2 JSON dtype (inverse of :func:`encode_dtype`).

    Raises
    ------
    MetadataError
        If ``value`` is not a valid dtype; the message names ``key`` and ``value``.

    Examples
    --------
    >>> parse_dtype([["a", "<i4"], ["b", ">f8", [2]]])
    dtype([('a', '<i4'), ('b', '>f8', (2,))])
    """
    with _naming(key):
        return _parse_dtype(value)


# ----------------------------------------------------------------------------- fill values


def _as_scalar(value: Any) -> Any:
    """Unwrap a 0-d array; refuse arrays and sequences where a scalar is needed."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(f"a scalar is needed, got an array of shape {value.shape}")
        return value[()]
    if isinstance(value, (list, dict, set)):
        raise ValueError(f"a scalar is needed, got a {type(value).__name__}")
    return value


@functools.lru_cache(maxsize=64)
def _iinfo(dtype: np.dtype) -> np.iinfo:
    return np.iinfo(dtype)


def _to_int(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, (str, bytes)):
        number = int(value)
    elif isinstance(value, (bool, np.bool_, numbers.Integral)):
        number = int(value)
    elif isinstance(value, numbers.Real):
        as_float = float(value)
        if not as_float.is_integer():
            raise ValueError("not an integer")
        number = int(as_float)
    else:
        raise ValueError(f"{type(value).__name__} is not an integer")
    info = _iinfo(dtype)
    if not info.min <= number <= info.max:
        raise ValueError(f"out of range [{info.min}, {info.max}]")
    return dtype.type(number)


def _to_float(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, str):
        number = _FLOAT_STRINGS[value] if value in _FLOAT_STRINGS else float(value)
    elif isinstance(value, (numbers.Real, np.bool_)):
        number = value
    else:
        raise ValueError(f"{type(value).__name__} is not a real number")
    with np.errstate(over="ignore"):
        result = np.array(number, dtype=dtype)[()]
    if np.isinf(result) and not np.isinf(number):
        raise ValueError("out of range (overflows to infinity)")
    return result


def _to_complex(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError("a complex fill value is a pair [real, imag]")
        real, imag = value
    elif isinstance(value, (str, numbers.Number, np.bool_)):
        number = complex(value)
        real, imag = number.real, number.imag
    else:
        raise ValueError(f"{type(value).__name__} is not a complex number")
    part = np.dtype(f"f{dtype.itemsize // 2}")
    result = np.zeros((), dtype=dtype)
    result.real = _to_float(real, part)
    result.imag = _to_float(imag, part)
    return result[()]


def _to_bool(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, numbers.Number) and value in (0, 1):
        return np.bool_(value == 1)
    raise ValueError("expected true or false")


def _to_fixed_bytes(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, str):
        value = value.encode("ascii")
    if isinstance(value, bytes) and len(value.rstrip(b"\x00")) > dtype.itemsize:
        raise ValueError(f"{len(value)} bytes do not fit in {dtype.itemsize}")
    return np.array(value, dtype=dtype)[()]


def _to_void(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, (bytes, bytearray)):
        if len(value) != dtype.itemsize:
            raise ValueError(f"{len(value)} bytes given, the dtype has {dtype.itemsize}")
        return np.frombuffer(bytes(value), dtype=dtype).copy()[0]
    result = np.array(value, dtype=dtype)
    if result.ndim != 0:
        raise ValueError("a single structured value is needed")
    return result[()]


def _to_datetime(value: Any, dtype: np.dtype) -> Any:
    native = dtype.newbyteorder("=")
    if isinstance(value, numbers.Integral) and not isinstance(
        value, (bool, np.bool_, np.timedelta64)  # timedelta64 is Integral: keep its units
    ):
        return np.array(int(value), dtype=np.int64).view(native)[()]
    return np.array(value, dtype=native)[()]


def _coerce(value: Any, dtype: np.dtype) -> Any:
    """Convert one (non-None, non-object) fill value to a numpy scalar of ``dtype``."""
    if dtype.kind == "c" and isinstance(value, (list, tuple)):
        return _to_complex(value, dtype)
    value = _as_scalar(value)
    if isinstance(value, np.generic) and value.dtype in (dtype, dtype.newbyteorder("=")):
        return value
    kind = dtype.kind
    if kind == "b":
        return _to_bool(value)
    if kind in "iu":
        return _to_int(value, dtype)
    if kind == "f":
        return _to_float(value, dtype)
    if kind == "c":
        return _to_complex(value, dtype)
    if kind == "S":
        return _to_fixed_bytes(value, dtype)
    if kind == "U":
        if not isinstance(value, str):
            raise ValueError("a str is needed")
        if len(value) > dtype.itemsize // 4:
            raise ValueError(f"{len(value)} characters do not fit in {dtype.itemsize // 4}")
        return np.array(value, dtype=dtype)[()]
    if kind == "V":
        return _to_void(value, dtype)
    if kind in "mM":
        return _to_datetime(value, dtype)
    raise ValueError(f"unsupported dtype kind {kind!r}")  # pragma: no cover


@functools.lru_cache(maxsize=64)
def _zero(dtype: np.dtype) -> Any:
    """The all-zeros scalar of ``dtype`` (numpy scalars are immutable, so it is shared)."""
    return np.zeros((), dtype=dtype)[()]


def normalize_fill_value(fill_value: Any, dtype: np.dtype) -> Any:
    """Turn a user-given fill value into a numpy scalar of ``dtype`` (or None).

    ``0`` means all zeros for every dtype (``b''`` for ``S``, ``''`` for ``U``, zeroed
    records for structured dtypes). For object dtypes the value is kept as given.

    Raises
    ------
    ValueError
        If the value does not fit the dtype (NaN for an int dtype, 300 for ``u1``, a
        string that does not parse, ...); the message names the value and the dtype.

    Examples
    --------
    >>> normalize_fill_value("NaN", np.dtype("f4"))
    np.float32(nan)
    >>> normalize_fill_value(0, np.dtype("S3"))
    np.bytes_(b'')
    """
    if fill_value is None or dtype.hasobject:
        return fill_value
    if type(fill_value) is dtype.type and dtype.kind in "iufc" and fill_value.dtype == dtype:
        # already a scalar of this dtype: what the general path below returns, cheaply
        return _zero(dtype) if fill_value == 0 else fill_value
    if (
        isinstance(fill_value, numbers.Number)
        and not isinstance(fill_value, np.void)
        and fill_value == 0
    ):
        return _zero(dtype)
    try:
        return _coerce(fill_value, dtype)
    except _VALUE_ERRORS as e:
        raise ValueError(f"fill_value {fill_value!r} is not valid for dtype {dtype}: {e}") from e


def _object_codec_from_filters(filters: Any) -> Any:
    """Return the object codec (first filter) for object-holding structured dtypes."""
    if not filters:
        raise ValueError("an object codec (first filter) is needed for an object dtype")
    import numcodecs

    return numcodecs.get_codec(dict(filters[0]))


def encode_fill_value(value: Any, dtype: np.dtype, object_codec: Any = None) -> JSON:
    """Encode a decoded fill value as zarr-python 2.18 writes it in ``.zarray``.

    Examples
    --------
    >>> encode_fill_value(np.float64("nan"), np.dtype("f8"))
    'NaN'
    >>> encode_fill_value(np.complex64(complex(1, float("inf"))), np.dtype("c8"))
    [1.0, 'Infinity']
    >>> encode_fill_value(np.bytes_(b"ab"), np.dtype("S3"))
    'YWI='
    """
    if value is None:
        return None
    kind = dtype.kind
    if kind == "V" and dtype.hasobject:
        if object_codec is None:
            raise ValueError(f"an object codec is needed to encode a fill value of dtype {dtype}")
        return base64.standard_b64encode(object_codec.encode(value)).decode("ascii")
    if kind == "O":
        try:
            json_dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"fill_value {value!r} of an object array cannot be stored in JSON metadata: {e}"
            ) from e
        return value
    if kind == "f":
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if kind == "c":
        part = np.dtype("f8")
        return [encode_fill_value(value.real, part), encode_fill_value(value.imag, part)]
    if kind in "iu":
        return int(value)
    if kind == "b":
        return bool(value)
    if kind == "S":
        return base64.standard_b64encode(bytes(value)).decode("ascii")
    if kind == "V":
        raw = np.array(value, dtype=dtype).tobytes()
        return base64.standard_b64encode(raw).decode("ascii")
    if kind == "U":
        return str(value)
    if kind in "mM":
        return int(np.asarray(value, dtype=dtype.newbyteorder("=")).view(np.int64))
    raise ValueError(f"unsupported dtype {dtype}")  # pragma: no cover


def _parse_fill_value(value: JSON, dtype: np.dtype, object_codec: Any = None) -> Any:
    """Decode a JSON fill value; raise an unprefixed MetadataError if it does not fit."""
    try:
        return _decode_fill_value(value, dtype, object_codec)
    except _VALUE_ERRORS as e:
        raise MetadataError(f"fill_value {value!r} is not valid for dtype {dtype}: {e}") from e


def _decode_fill_value(value: JSON, dtype: np.dtype, object_codec: Any) -> Any:
    """Decode a JSON fill value leniently, as zarr-python reads them."""
    if value is None:
        return None
    kind = dtype.kind
    if type(value) is int and value == 0 and kind in "biufcmM":
        return _zero(dtype)  # the common case, as _coerce would decode it
    if kind == "V" and dtype.hasobject:
        if object_codec is None:
            raise ValueError("an object codec is needed to decode it")
        decoded = object_codec.decode(base64.standard_b64decode(value))
        return np.array(decoded, dtype=dtype)[()]
    if kind == "O":
        return value
    if kind == "S" and isinstance(value, str):
        try:
            raw: Any = base64.standard_b64decode(value)
        except ValueError:  # binascii.Error
            raw = value  # written before base64 encoding, e.g. "0"
        return np.array(raw, dtype=dtype)[()]
    if kind == "S":
        return np.array(_as_scalar(value), dtype=dtype)[()]  # lenient, e.g. 0 -> b"0"
    if kind == "V":
        if isinstance(value, str):
            return _to_void(base64.b64decode(value, validate=True), dtype)
        if value == 0 and not isinstance(value, bool):
            return np.zeros((), dtype=dtype)[()]
        raise ValueError("expected base64-encoded bytes")
    if kind == "U":
        return np.array(_as_scalar(value), dtype=dtype)[()]
    return _coerce(value, dtype)


def parse_fill_value(
    value: JSON, dtype: np.dtype, object_codec: Any = None, key: str = ARRAY_META_KEY
) -> Any:
    """Decode a JSON fill value of ``dtype`` (inverse of :func:`encode_fill_value`).

    Raises
    ------
    MetadataError
        If the value does not fit the dtype; the message names ``key``, value and dtype.

    Examples
    --------
    >>> parse_fill_value("-Infinity", np.dtype(">f8"))
    np.float64(-inf)
    >>> parse_fill_value(-9223372036854775808, np.dtype("M8[ns]"))
    np.datetime64('NaT','ns')
    """
    with _naming(key):
        return _parse_fill_value(value, dtype, object_codec)


# ----------------------------------------------------------------------------- array metadata


def _check_dims(value: Any, name: str, minimum: int) -> tuple[int, ...]:
    """Validate a shape-like sequence of ints >= ``minimum`` and < 2**63."""
    t = type(value)
    if (t is tuple or t is list) and all(
        type(d) is int and minimum <= d < _MAX_DIM for d in value
    ):
        return tuple(value)
    if not isinstance(value, (list, tuple)):
        raise MetadataError(f"{name} must be a list of integers, got {value!r}")
    dims = []
    for dim in value:
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
            raise MetadataError(f"{name} must be a list of integers, got {value!r}")
        dim = operator.index(dim)
        if not minimum <= dim < _MAX_DIM:
            bound = "non-negative" if minimum == 0 else "positive"
            raise MetadataError(f"{name} must hold {bound} integers below 2**63, got {value!r}")
        dims.append(dim)
    return tuple(dims)


def _check_codec_config(config: Any, name: str) -> dict[str, Any]:
    if type(config) is not dict:
        if not isinstance(config, Mapping):
            raise MetadataError(
                f"{name} must be a codec config with a string 'id', got {config!r}")
        config = dict(config)
    if not isinstance(config.get("id"), str):
        raise MetadataError(f"{name} must be a codec config with a string 'id', got {config!r}")
    return copy_json(config)


@dataclass(frozen=True, slots=True, eq=False)
class ArrayMeta:
    """The contents of a ``.zarray`` document, validated; ``fill_value`` is decoded.

    Equality compares the JSON encodings, so NaN fill values compare equal.

    Examples
    --------
    >>> meta = ArrayMeta((10,), (4,), np.dtype("f8"), None, np.float64(0), "C", None, None)
    >>> meta.cdata_shape, meta.nchunks, meta.separator
    ((3,), 3, '.')
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    compressor: dict | None
    fill_value: Any
    order: str
    filters: tuple[dict, ...] | None
    dimension_separator: str | None
    zarr_format: int = ZARR_FORMAT

    def __post_init__(self) -> None:
        _check_zarr_format(self.zarr_format)
        shape = _check_dims(self.shape, "shape", minimum=0)
        chunks = _check_dims(self.chunks, "chunks", minimum=1)
        if len(chunks) != len(shape):
            raise MetadataError(
                f"chunks {list(chunks)} has {len(chunks)} dimensions but shape {list(shape)} "
                f"has {len(shape)}"
            )
        dtype = self.dtype
        if not isinstance(dtype, np.dtype):
            raise MetadataError(f"dtype must be a numpy dtype, got {dtype!r}")
        if dtype.subdtype is not None:
            raise MetadataError(
                f"dtype {dtype} is a sub-array dtype; put its shape into the array shape"
            )
        problem = _dtype_problem(dtype)
        if problem:
            raise MetadataError(problem)
        if self.order not in ("C", "F"):
            raise MetadataError(f"order must be 'C' or 'F', got {self.order!r}")
        if self.dimension_separator not in (None, ".", "/"):
            raise MetadataError(
                "dimension_separator must be '.' or '/' (or absent), "
                f"got {self.dimension_separator!r}"
            )
        compressor = self.compressor
        if compressor is not None:
            compressor = _check_codec_config(compressor, "compressor")
        filters = self.filters
        if filters is not None:
            if not isinstance(filters, (list, tuple)):
                raise MetadataError(f"filters must be null or a list, got {filters!r}")
            filters = tuple(
                _check_codec_config(f, f"filters[{i}]") for i, f in enumerate(filters)
            )
        hasobject = dtype.hasobject
        if hasobject and not filters:
            raise MetadataError(
                f"dtype {encode_dtype(dtype)!r} holds objects, so its object codec must be "
                f"the first filter, but filters is {self.filters!r}"
            )
        try:
            fill_value = normalize_fill_value(self.fill_value, dtype)
        except ValueError as e:
            raise MetadataError(str(e)) from e
        if hasobject and dtype.kind == "O" and fill_value is not None:
            try:
                json.dumps(fill_value, cls=NumpyEncoder)
            except TypeError as e:
                raise MetadataError(
                    f"fill_value {fill_value!r} of an object array cannot be stored in JSON: {e}"
                ) from e
        setter = object.__setattr__
        setter(self, "shape", shape)
        setter(self, "chunks", chunks)
        setter(self, "compressor", compressor)
        setter(self, "filters", filters)
        setter(self, "fill_value", fill_value)

    @property
    def separator(self) -> str:
        """The chunk key separator: ``dimension_separator`` or the default ``"."``."""
        return self.dimension_separator or "."

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """The number of chunks along each axis (0 for zero-length axes)."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks, strict=True))

    @property
    def nchunks(self) -> int:
        """The total number of chunks (1 for a 0-d array)."""
        return math.prod(self.cdata_shape)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-able ``.zarray`` dict, with the keys zarr-python 2.18 writes."""
        out: dict[str, Any] = {
            "chunks": list(self.chunks),
            "compressor": copy_json(self.compressor),
            "dtype": encode_dtype(self.dtype),
            "fill_value": self._encoded_fill_value(),
            "filters": None if self.filters is None else [copy_json(f) for f in self.filters],
            "order": self.order,
            "shape": list(self.shape),
            "zarr_format": self.zarr_format,
        }
        if self.dimension_separator is not None:
            out["dimension_separator"] = self.dimension_separator
        return out

    def replace(self, **changes: Any) -> ArrayMeta:
        """Return a copy with ``changes`` applied, validated again."""
        return dataclasses.replace(self, **changes)

    def _encoded_fill_value(self) -> JSON:
        codec = None
        if self.dtype.kind == "V" and self.dtype.hasobject and self.fill_value is not None:
            codec = _object_codec_from_filters(self.filters)
        return encode_fill_value(self.fill_value, self.dtype, codec)

    def __eq__(self, other: object) -> bool:
        """Equal when the JSON encodings are (so NaN fill values compare equal)."""
        if not isinstance(other, ArrayMeta):
            return NotImplemented
        if self is other:
            return True
        return (
            self.shape == other.shape
            and self.chunks == other.chunks
            and self.order == other.order
            and self.dimension_separator == other.dimension_separator
            and self.zarr_format == other.zarr_format
            and self.compressor == other.compressor
            and (None if self.filters is None else list(self.filters))
            == (None if other.filters is None else list(other.filters))
            and encode_dtype(self.dtype) == encode_dtype(other.dtype)
            and self._encoded_fill_value() == other._encoded_fill_value()
        )


def _fast_array_meta(obj: dict[str, Any]) -> ArrayMeta | None:
    """The common ``.zarray`` document, parsed and validated in one pass; else None.

    Plain dtype strings, no filters, integer dimensions, a codec dict or null: the
    same checks and result as :class:`ArrayMeta` validation. Anything else, and any
    problem, returns None so that the general path parses it (and raises its errors).
    """
    try:
        zarr_format = obj["zarr_format"]
        shape = obj["shape"]
        chunks = obj["chunks"]
        dtype_json = obj["dtype"]
        compressor = obj["compressor"]
        fill_json = obj["fill_value"]
        order = obj["order"]
        filters = obj["filters"]
    except KeyError:
        return None
    separator = obj.get("dimension_separator")
    if (type(zarr_format) is not int or zarr_format != ZARR_FORMAT
            or type(dtype_json) is not str or filters is not None
            or order not in ("C", "F") or separator not in (None, ".", "/")
            or type(shape) is not list or type(chunks) is not list
            or len(shape) != len(chunks)):
        return None
    for dim in shape:
        if type(dim) is not int or not 0 <= dim < _MAX_DIM:
            return None
    for dim in chunks:
        if type(dim) is not int or not 1 <= dim < _MAX_DIM:
            return None
    if compressor is not None:
        if type(compressor) is not dict or type(compressor.get("id")) is not str:
            return None
        compressor = copy_json(compressor)
    try:
        dtype = np.dtype(dtype_json)
        if (dtype.hasobject or dtype.subdtype is not None or dtype.fields is not None
                or _dtype_problem(dtype)):
            return None
        fill_value = normalize_fill_value(_decode_fill_value(fill_json, dtype, None), dtype)
    except Exception:  # the general path raises the right error
        return None
    meta = object.__new__(ArrayMeta)
    setter = object.__setattr__
    setter(meta, "shape", tuple(shape))
    setter(meta, "chunks", tuple(chunks))
    setter(meta, "dtype", dtype)
    setter(meta, "compressor", compressor)
    setter(meta, "fill_value", fill_value)
    setter(meta, "order", order)
    setter(meta, "filters", None)
    setter(meta, "dimension_separator", separator)
    setter(meta, "zarr_format", zarr_format)
    return meta


def _array_meta_from_json(obj: dict[str, Any]) -> ArrayMeta:
    meta = _fast_array_meta(obj)
    if meta is not None:
        return meta
    if "zarr_format" not in obj:
        raise MetadataError("missing required key 'zarr_format'")
    _check_zarr_format(obj["zarr_format"])
    missing = [k for k in _REQUIRED_ARRAY_KEYS if k not in obj]
    if missing:
        raise MetadataError(f"missing required key(s) {', '.join(map(repr, missing))}")
    dtype = _parse_dtype(obj["dtype"])
    filters = obj["filters"]
    codec = None
    if dtype.kind == "V" and dtype.hasobject and obj["fill_value"] is not None:
        try:
            codec = _object_codec_from_filters(filters)
        except _VALUE_ERRORS as e:
            raise MetadataError(f"cannot decode fill_value without the object codec: {e}") from e
    return ArrayMeta(
        shape=obj["shape"],
        chunks=obj["chunks"],
        dtype=dtype,
        compressor=obj["compressor"],
        fill_value=_parse_fill_value(obj["fill_value"], dtype, codec),
        order=obj["order"],
        filters=filters,
        dimension_separator=obj.get("dimension_separator"),
        zarr_format=obj["zarr_format"],
    )


def parse_array_meta(
    data: bytes | str | Mapping[str, Any], key: str = ARRAY_META_KEY
) -> ArrayMeta:
    """Parse and fully validate a ``.zarray`` document (JSON bytes/str or a decoded mapping).

    Unknown extra keys are ignored. Codec configs are checked for shape only, so an
    unknown codec id still opens.

    Raises
    ------
    MetadataError
        For any problem; the message names ``key`` and what was wrong.

    Examples
    --------
    >>> meta = parse_array_meta(b'{"zarr_format": 2, "shape": [4], "chunks": [2], '
    ...     b'"dtype": "<f4", "compressor": null, "fill_value": "NaN", "order": "C", '
    ...     b'"filters": null}')
    >>> meta.shape, meta.dtype, meta.fill_value
    ((4,), dtype('float32'), np.float32(nan))
    """
    obj = data if type(data) is dict else _load_object(data, key)  # read, never changed
    try:
        return _array_meta_from_json(obj)
    except MetadataError as e:
        raise _named(e, key) from e


def encode_array_meta(meta: ArrayMeta) -> bytes:
    """Encode array metadata as ``.zarray`` bytes, exactly as zarr-python 2.18 writes them."""
    return json_dumps(meta.to_json())


# ----------------------------------------------------------------------------- groups, attributes


@dataclass(frozen=True, slots=True)
class GroupMeta:
    """The contents of a ``.zgroup`` document."""

    zarr_format: int = ZARR_FORMAT

    def __post_init__(self) -> None:
        _check_zarr_format(self.zarr_format)


def parse_group_meta(
    data: bytes | str | Mapping[str, Any], key: str = GROUP_META_KEY
) -> GroupMeta:
    """Parse a ``.zgroup`` document: a JSON object whose ``zarr_format`` is the integer 2.

    Examples
    --------
    >>> parse_group_meta(b'{"zarr_format": 2}')
    GroupMeta(zarr_format=2)
    """
    obj = _load_object(data, key)
    with _naming(key):
        if "zarr_format" not in obj:
            raise MetadataError("missing required key 'zarr_format'")
        return GroupMeta(obj["zarr_format"])


_GROUP_DOCUMENT = json_dumps({"zarr_format": ZARR_FORMAT})


def encode_group_meta(meta: GroupMeta | None = None) -> bytes:
    """Encode group metadata as ``.zgroup`` bytes (the same for every zarr v2 group).

    Examples
    --------
    >>> encode_group_meta()
    b'{\\n    "zarr_format": 2\\n}'
    """
    return _GROUP_DOCUMENT


def parse_attrs(data: bytes | str | Mapping[str, Any], key: str = ATTRS_KEY) -> dict[str, Any]:
    """Parse a ``.zattrs`` document, which must be a JSON object.

    Examples
    --------
    >>> parse_attrs(b'{"units": "m"}')
    {'units': 'm'}
    """
    return _load_object(data, key)
