"""numpy as the oracle for every selection kind, get and set, through real arrays.

For basic, orthogonal, coordinate, mask and block selections, and for ``fields=``
on structured arrays, hypothesis draws an array (0-d and zero-length axes
included, any chunk shape, numeric, string, datetime and object dtypes, C and F
order, with or without stored chunks) and a selection. Reading must give what
numpy gives for the same selection; writing must leave the array equal to a
numpy array written the same way. Bad selections raise the zarr 2.18 error types.
"""

from __future__ import annotations

import math
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrdask as zarr
from zarrdask.errors import BoundsCheckError, VindexInvalidSelectionError

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = ["i1", "<u2", ">i4", "<i8", "<f8", ">f4", "<c8", "|b1", "<M8[s]", "<m8[ms]",
          "|S3", "<U2", "str"]
STRUCT = np.dtype([("x", "<i4"), ("y", [("p", "f4"), ("q", "S2")]), ("z", "u1", (2,))])


# -------------------------------------------------------------------- values


def _values(n: int, dtype: np.dtype | str, offset: int = 0) -> np.ndarray:
    """``n`` distinctive values of a dtype (``"str"`` means object strings)."""
    base = np.arange(offset, offset + n) % 97 + 1
    if dtype == "str":
        return np.array([f"s{v}" for v in base], dtype=object).reshape(n)
    dtype = np.dtype(dtype)
    if dtype.names:
        out = np.zeros(n, dtype=dtype)
        out["x"] = base
        out["y"]["p"] = base / 2
        out["y"]["q"] = base.astype("S2")
        out["z"] = np.stack([base % 7, base % 5], axis=-1)
        return out
    if dtype.kind in "SU":
        return base.astype(dtype)
    if dtype.kind == "b":
        return (base % 3 == 0).astype(dtype)
    if dtype.kind in "mM":
        return base.astype(np.int64).astype(dtype)
    return base.astype(dtype)


def _np_dtype(dtype: str | np.dtype) -> np.dtype:
    return np.dtype(object) if dtype == "str" else np.dtype(dtype)


def _fill(dtype: str | np.dtype) -> Any:
    if dtype == "str":
        return ""
    dt = np.dtype(dtype)
    if dt.names:
        return None
    return _values(1, dt, offset=50)[0]


@st.composite
def arrays(draw: st.DrawFn, min_ndim: int = 0, structured: bool = False) -> dict[str, Any]:
    """A zarrdask array and its numpy twin."""
    ndim = draw(st.integers(min_ndim, 3))
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(1, s + 1))) for s in shape)
    dtype: Any = STRUCT if structured else draw(st.sampled_from(DTYPES))
    order = draw(st.sampled_from("CF"))
    prefill = draw(st.booleans())
    fill = _fill(dtype)
    kwargs: dict[str, Any] = {"dtype": object, "object_codec": numcodecs.VLenUTF8()} \
        if dtype == "str" else {"dtype": dtype}
    z = zarr.full(shape, fill, chunks=chunks, order=order, store=zarr.MemoryStore(), **kwargs)
    if prefill:
        a = _values(math.prod(shape), dtype).reshape(shape)
        z[...] = a
    else:
        a = np.full(shape, fill if fill is not None else 0, dtype=_np_dtype(dtype))
        if fill is None:
            a = np.zeros(shape, dtype=_np_dtype(dtype))
    return {"z": z, "a": a, "dtype": dtype}


def _axis_array(draw: st.DrawFn, extent: int, unique: bool = False) -> np.ndarray:
    if extent == 0:
        return np.zeros(0, dtype=np.int64)
    strategy = st.integers(-extent, extent - 1)
    values = draw(st.lists(strategy, max_size=6, unique_by=(lambda v: v % extent)
                           if unique else None))
    return np.array(values, dtype=np.int64)


@st.composite
def basic_selections(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    sel: list[Any] = []
    for s in shape:
        if s and draw(st.booleans()):
            sel.append(draw(st.integers(-s, s - 1)))
        else:
            sel.append(slice(draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.one_of(st.none(), st.integers(1, 3)))))
    if shape and draw(st.booleans()):
        k = draw(st.integers(0, len(shape) - 1))
        return (*sel[:k], Ellipsis)
    return tuple(sel)


@st.composite
def orthogonal_selections(draw: st.DrawFn, shape: tuple[int, ...],
                          unique: bool = False) -> tuple[Any, ...]:
    sel: list[Any] = []
    for s in shape:
        kinds = ["int", "slice", "ints", "bools"] if s else ["slice", "ints", "bools"]
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            sel.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            sel.append(slice(draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.one_of(st.none(), st.integers(-s - 1, s + 1))),
                             draw(st.integers(1, 3))))
        elif kind == "ints":
            sel.append(_axis_array(draw, s, unique=unique))
        else:
            sel.append(np.array(draw(st.lists(st.booleans(), min_size=s, max_size=s)),
                                dtype=bool))
    return tuple(sel)


def _ortho_index(sel: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[tuple[Any, ...], list[int]]:
    """An orthogonal selection as an ``np.ix_`` index, and the integer axes it drops."""
    arrays = []
    int_axes = []
    for axis, (s, n) in enumerate(zip(sel, shape, strict=True)):
        if isinstance(s, int | np.integer):
            arrays.append(np.array([s % n]))
            int_axes.append(axis)
        elif isinstance(s, slice):
            arrays.append(np.arange(*s.indices(n)))
        elif s.dtype == bool:
            arrays.append(np.flatnonzero(s))
        else:
            arrays.append(s)
    return np.ix_(*arrays) if arrays else (), int_axes


def numpy_oget(a: np.ndarray, sel: tuple[Any, ...]) -> np.ndarray:
    index, int_axes = _ortho_index(sel, a.shape)
    result = a[index]
    result = result.squeeze(axis=tuple(int_axes)) if int_axes else result
    return result[()] if result.ndim == 0 else result  # a scalar, as zarr returns


def numpy_oset(a: np.ndarray, sel: tuple[Any, ...], value: np.ndarray) -> None:
    index, int_axes = _ortho_index(sel, a.shape)
    a[index] = np.expand_dims(value, tuple(int_axes)) if int_axes else value


@st.composite
def coordinate_selections(draw: st.DrawFn, shape: tuple[int, ...],
                          unique: bool = False) -> tuple[Any, ...]:
    if any(s == 0 for s in shape):
        return tuple(np.zeros(0, dtype=np.int64) for _ in shape)
    n = draw(st.integers(0, 8))
    if unique:
        size = math.prod(shape)
        flat = draw(st.lists(st.integers(0, size - 1), min_size=min(n, size),
                             max_size=min(n, size), unique=True))
        coords = np.unravel_index(np.array(flat, dtype=np.int64), shape)
        return tuple(c - s * draw(st.booleans()) for c, s in zip(coords, shape, strict=True))
    sel: list[Any] = []
    for axis, s in enumerate(shape):
        if axis == 0 and len(shape) > 1 and draw(st.booleans()):
            m = draw(st.integers(1, 3))
            col = draw(st.lists(st.integers(-s, s - 1), min_size=m, max_size=m))
            sel.append(np.array(col).reshape(-1, 1))  # broadcasts against the others
        elif draw(st.integers(0, 5)) == 0:
            sel.append(draw(st.integers(-s, s - 1)))
        else:
            sel.append(np.array(draw(st.lists(st.integers(-s, s - 1), min_size=n, max_size=n)),
                                dtype=np.int64))
    return tuple(sel)


def _check_equal(actual: Any, expected: Any) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


def _whole(a: np.ndarray) -> Any:
    """What ``z[...]`` gives for the whole array: a scalar for a 0-d array, as in zarr."""
    return a[()] if a.ndim == 0 else a


def _new_values(shape: tuple[int, ...], dtype: Any) -> Any:
    """Values to write: an array of ``shape``, or a scalar when ``shape`` is ``()``.

    (numpy would store a 0-d object array itself in an object element.)
    """
    n = math.prod(shape)
    values = _values(n, dtype, offset=200).reshape(shape)
    return values[()] if values.ndim == 0 else values


# ------------------------------------------------------------------- basic


@SETTINGS
@given(st.data())
def test_basic_get_set(data: st.DataObject) -> None:
    case = data.draw(arrays())
    z, a = case["z"], case["a"]
    sel = data.draw(basic_selections(a.shape))
    _check_equal(z.get_basic_selection(sel), a[sel])
    _check_equal(z[sel], a[sel])
    value = _new_values(np.shape(a[sel]), case["dtype"])
    z.set_basic_selection(sel, value)
    a[sel] = value
    _check_equal(z[...], _whole(a))


# -------------------------------------------------------------- orthogonal


@SETTINGS
@given(st.data())
def test_orthogonal_get_set(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    sel = data.draw(orthogonal_selections(a.shape, unique=True))
    expected = numpy_oget(a, sel)
    _check_equal(z.get_orthogonal_selection(sel), expected)
    _check_equal(z.oindex[sel], expected)
    value = _new_values(np.shape(expected), case["dtype"])
    if data.draw(st.booleans()):
        z.set_orthogonal_selection(sel, value)
    else:
        z.oindex[sel] = value
    numpy_oset(a, sel, value)
    _check_equal(z[...], _whole(a))


@SETTINGS
@given(st.data())
def test_orthogonal_repeated_indices_read(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    sel = data.draw(orthogonal_selections(a.shape))
    _check_equal(z.oindex[sel], numpy_oget(a, sel))


# -------------------------------------------------------------- coordinate


@SETTINGS
@given(st.data())
def test_coordinate_get_set(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    sel = data.draw(coordinate_selections(a.shape))
    # zarr 2.x treats a scalar coordinate as a 1-element array: all-scalar gives shape (1,)
    index = tuple(np.reshape(s, -1) if np.ndim(s) == 0 else s for s in sel)
    expected = a[index]
    _check_equal(z.get_coordinate_selection(sel), expected)
    _check_equal(z.vindex[sel], expected)
    # repeated points: the last value written wins, as in numpy
    value = _new_values(np.shape(expected), case["dtype"])
    if data.draw(st.booleans()):
        z.set_coordinate_selection(sel, value)
    else:
        z.vindex[sel] = value
    a[index] = value
    _check_equal(z[...], _whole(a))


@SETTINGS
@given(st.data())
def test_coordinate_set_scalar_and_lists(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    sel = data.draw(coordinate_selections(a.shape, unique=True))
    scalar = _new_values((1,), case["dtype"])[0]
    z.set_coordinate_selection(tuple(s.tolist() for s in sel), scalar)
    a[sel] = scalar
    _check_equal(z[...], _whole(a))


# -------------------------------------------------------------------- mask


@SETTINGS
@given(st.data())
def test_mask_get_set(data: st.DataObject) -> None:
    case = data.draw(arrays())
    z, a = case["z"], case["a"]
    flat = data.draw(st.lists(st.booleans(), min_size=a.size, max_size=a.size))
    mask = np.array(flat, dtype=bool).reshape(a.shape)
    _check_equal(z.get_mask_selection(mask), a[mask])
    if a.ndim:
        _check_equal(z.vindex[mask], a[mask])
    value = _new_values((int(mask.sum()),), case["dtype"])
    z.set_mask_selection(mask, value)
    a[mask] = value
    _check_equal(z[...], _whole(a))


# ------------------------------------------------------------------- block


@SETTINGS
@given(st.data())
def test_block_get_set(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    sel: list[Any] = []
    region: list[slice] = []
    for n, c in zip(z.cdata_shape, z.chunks, strict=True):
        if n and data.draw(st.booleans()):
            i = data.draw(st.integers(-n, n - 1))
            sel.append(i)
            region.append(slice((i % n) * c, (i % n + 1) * c))
        else:
            start = data.draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = data.draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            sel.append(slice(start, stop))
            b, e, _ = slice(start, stop).indices(n)
            region.append(slice(b * c, max(b, e) * c))
    expected = a[tuple(region)]
    _check_equal(z.get_block_selection(tuple(sel)), expected)
    _check_equal(z.blocks[tuple(sel)], expected)
    value = _new_values(np.shape(expected), case["dtype"])
    z.blocks[tuple(sel)] = value
    a[tuple(region)] = value
    _check_equal(z[...], _whole(a))


# ------------------------------------------------------------------ fields


FIELD_CHOICES = ["x", "y", "z", ["x", "z"], ["z", "x"], ["y", "x", "z"]]


def _field_view(a: np.ndarray, fields: Any) -> np.ndarray:
    if isinstance(fields, str):
        return a[fields]
    # a packed copy, as zarr returns for several fields
    out = np.empty(a.shape, dtype=[(f, a.dtype.fields[f][0]) for f in fields])
    for f in fields:
        out[f] = a[f]
    return out


def _field_values(expected: np.ndarray, fields: Any, n_offset: int = 300) -> np.ndarray:
    full = _values(expected.size if isinstance(fields, list) else
                   math.prod(expected.shape[:expected.ndim - len(STRUCT[fields].shape)]),
                   STRUCT, offset=n_offset)
    if isinstance(fields, str):
        sub = full[fields]
        return sub.reshape(expected.shape)
    return _field_view(full, fields).reshape(expected.shape)


def _set_fields(a: np.ndarray, index: Any, fields: Any, value: np.ndarray) -> None:
    if isinstance(fields, str):
        a[fields][index] = value
    else:
        for f in fields:
            a[f][index] = value[f]


@SETTINGS
@given(st.data())
def test_fields_every_method(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1, structured=True))
    z, a = case["z"], case["a"]
    fields = data.draw(st.sampled_from(FIELD_CHOICES))
    kind = data.draw(st.sampled_from(["basic", "orthogonal", "coordinate", "mask", "block"]))
    if kind == "basic":
        sel = data.draw(basic_selections(a.shape))
        expected = _field_view(a[sel], fields) if np.ndim(a[sel]) else _field_view(
            a[sel].reshape(1), fields)[0]
        got = z.get_basic_selection(sel, fields=fields)
        _check_equal(got, expected)
        if isinstance(fields, str):
            _check_equal(z[(fields, *sel)] if isinstance(sel, tuple) else z[fields, sel],
                         expected)
        value = _field_values(np.asarray(expected), fields)
        z.set_basic_selection(sel, value, fields=fields)
        _set_fields(a, sel, fields, value)
    elif kind == "orthogonal":
        sel = data.draw(orthogonal_selections(a.shape, unique=True))
        expected = numpy_oget(_field_view(a, fields), sel) if isinstance(fields, list) else \
            _sub_oget(a[fields], sel)
        _check_equal(z.get_orthogonal_selection(sel, fields=fields), expected)
        _check_equal(z.oindex[(*sel, fields) if isinstance(fields, str) else sel + (fields,)],
                     expected)
        value = _field_values(expected, fields)
        z.set_orthogonal_selection(sel, value, fields=fields)
        index, int_axes = _ortho_index(sel, a.shape)
        value_full = np.expand_dims(value, tuple(int_axes)) if int_axes else value
        _set_fields(a, index, fields, value_full)
    elif kind == "coordinate":
        sel = data.draw(coordinate_selections(a.shape, unique=True))
        expected = _field_view(a, fields)[sel]
        if expected.ndim == 0 or (isinstance(fields, str) and
                                  expected.ndim == len(STRUCT[fields].shape)):
            expected = expected.reshape((1,) + expected.shape)
        _check_equal(z.get_coordinate_selection(sel, fields=fields), expected)
        value = _field_values(expected, fields)
        z.vindex[(*sel, fields) if isinstance(fields, str) else sel + (fields,)] = value
        _set_fields(a, sel, fields, value.reshape(_field_view(a, fields)[sel].shape))
    elif kind == "mask":
        flat = data.draw(st.lists(st.booleans(), min_size=a.size, max_size=a.size))
        mask = np.array(flat, dtype=bool).reshape(a.shape)
        expected = _field_view(a, fields)[mask]
        _check_equal(z.get_mask_selection(mask, fields=fields), expected)
        value = _field_values(expected, fields)
        z.set_mask_selection(mask, value, fields=fields)
        _set_fields(a, mask, fields, value)
    else:
        sel = tuple(slice(None) for _ in a.shape)
        expected = _field_view(a, fields)
        _check_equal(z.get_block_selection(sel, fields=fields), expected)
        value = _field_values(expected, fields)
        z.set_block_selection(sel, value, fields=fields)
        _set_fields(a, sel, fields, value)
    _check_equal(z[...], _whole(a))


def _sub_oget(field: np.ndarray, sel: tuple[Any, ...]) -> np.ndarray:
    """Orthogonal selection on a field view whose sub-array axes trail the array's."""
    index, int_axes = _ortho_index(sel, field.shape[:len(sel)])
    result = field[(*index, Ellipsis)]
    result = result.squeeze(axis=tuple(int_axes)) if int_axes else result
    return result[()] if result.ndim == 0 else result


def test_fields_in_getitem_and_setitem() -> None:
    a = _values(6, STRUCT).reshape(2, 3)
    z = zarr.array(a, chunks=(1, 2))
    _check_equal(z["x"], a["x"])
    _check_equal(z["z", 1], a["z"][1])
    _check_equal(z[["x", "z"], 0, 1:], _field_view(a, ["x", "z"])[0, 1:])
    _check_equal(z["y"]["p"], a["y"]["p"])  # nested fields
    z["x", 0] = [7, 8, 9]
    z[1, "z"] = [[1, 2], [3, 4], [5, 6]]
    a["x"][0] = [7, 8, 9]
    a["z"][1] = [[1, 2], [3, 4], [5, 6]]
    _check_equal(z[...], _whole(a))
    with pytest.raises(IndexError, match="no field named 'nope'"):
        z["nope"]
    with pytest.raises(IndexError, match="has no fields"):
        zarr.zeros(3)["x"]


def test_structured_fill_value() -> None:
    fill = (5, (1.5, b"ab"), [3, 4])
    z = zarr.full((4,), fill, chunks=2, dtype=STRUCT)
    expected = np.array([fill] * 4, dtype=STRUCT)
    _check_equal(z[...], expected)
    z[1] = (0, (0.0, b""), [0, 0])
    expected[1] = (0, (0.0, b""), [0, 0])
    _check_equal(z[...], expected)
    _check_equal(z.get_coordinate_selection([3, 1], fields="z"), expected["z"][[3, 1]])


# ---------------------------------------------------------- __getitem__ dispatch


@pytest.mark.interop
def test_getitem_dispatch_matches_zarr() -> None:
    zarr2 = pytest.importorskip("zarr")
    items: list[Any] = [0, -1, np.int64(2), slice(None), slice(1, 3), slice(None, None, 2),
                        [0, 2], [2, 0, 2], np.array([1, 0]), Ellipsis]
    checked = 0
    for shape in [(7,), (5, 6), (3, 4, 5)]:
        a = np.arange(math.prod(shape)).reshape(shape)
        theirs, ours = zarr2.array(a, chunks=2), zarr.array(a, chunks=2)
        for sel in _selections(items, len(shape)):
            try:
                expected = theirs[sel]
            except Exception:  # noqa: BLE001 - zarr refuses it; we may do more
                continue
            _check_equal(ours[sel], expected)
            checked += 1
    assert checked > 500


def _selections(items: list[Any], ndim: int) -> list[Any]:
    import itertools

    out: list[Any] = []
    for n in range(1, ndim + 1):
        for combo in itertools.product(items, repeat=n):
            out.append(combo)
            if n == 1:
                out.append(combo[0])
    return out


@SETTINGS
@given(st.data())
def test_setitem_dispatch_matches_numpy(data: st.DataObject) -> None:
    case = data.draw(arrays(min_ndim=1))
    z, a = case["z"], case["a"]
    if a.ndim == 1 and a.shape[0]:
        idx = data.draw(st.lists(st.integers(0, a.shape[0] - 1), unique=True, max_size=4))
        sel: Any = idx
    else:
        sel = data.draw(coordinate_selections(a.shape, unique=True))
    value = _new_values(np.shape(a[sel]), case["dtype"])
    z[sel] = value
    a[sel] = value
    _check_equal(z[...], _whole(a))


# --------------------------------------------------------------------- errors


@pytest.fixture
def z2d() -> zarr.Array:
    return zarr.array(np.arange(15).reshape(3, 5), chunks=(2, 2))


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        # mask of the wrong shape
        (lambda z: z.get_mask_selection(np.ones((3, 4), bool)), IndexError, ["(3, 5)", "(3, 4)"]),
        (lambda z: z.set_mask_selection(np.ones((5, 3), bool), 1), IndexError, ["(3, 5)"]),
        (lambda z: z.vindex[np.ones((3, 4), bool)], VindexInvalidSelectionError, ["mask"]),
        # float indices
        (lambda z: z[0.5], IndexError, ["float"]),
        (lambda z: z.oindex[[0.5], :], IndexError, ["float64"]),
        (lambda z: z.get_coordinate_selection(([0.5], [1])), IndexError, ["float64"]),
        (lambda z: z.vindex[[0.0, 1.0], [1, 2]], VindexInvalidSelectionError, ["coordinate"]),
        # too many indices
        (lambda z: z[0, 1, 2], IndexError, ["too many indices", "2-dimensional"]),
        (lambda z: z.oindex[0, 1, 2], IndexError, ["too many indices"]),
        (lambda z: z.get_coordinate_selection(([0], [1], [2])), IndexError, ["3 index arrays"]),
        (lambda z: z.blocks[0, 0, 0], IndexError, ["too many indices"]),
        # out of bounds, naming the axis and the index
        (lambda z: z[3], BoundsCheckError, ["axis 0", "index 3"]),
        (lambda z: z[0, -6], BoundsCheckError, ["axis 1", "index -6"]),
        (lambda z: z.oindex[:, [0, 7]], BoundsCheckError, ["axis 1", "index 7"]),
        (lambda z: z.vindex[[0, 1], [4, 5]], BoundsCheckError, ["axis 1", "index 5"]),
        (lambda z: z.set_coordinate_selection(([9], [0]), 1), BoundsCheckError,
         ["axis 0", "index 9"]),
        (lambda z: z.blocks[2], BoundsCheckError, ["axis 0", "index 2"]),
        # mixed dimensions / kinds in vindex
        (lambda z: z.vindex[[0, 1], :], VindexInvalidSelectionError, ["slice"]),
        (lambda z: z.vindex[[0, 1]], VindexInvalidSelectionError, ["2 in all"]),
        (lambda z: z.vindex[[0, 1], [1, 2, 3]], ValueError, ["broadcast"]),
        # values of the wrong shape or type
        (lambda z: z.set_coordinate_selection(([0, 1], [1, 2]), [1, 2, 3]), ValueError,
         ["(3,)", "(2,)"]),
        (lambda z: z.set_coordinate_selection((np.array([[0], [1]]), [1, 2]), np.ones((3, 2))),
         ValueError, ["(3, 2)", "(2, 2)"]),
        (lambda z: z.set_mask_selection(np.eye(3, 5, dtype=bool), [1, 2]), ValueError,
         ["(2,)", "(3,)"]),
        (lambda z: z.set_orthogonal_selection(([0, 1], [1, 2]), [1, 2, 3]), ValueError,
         ["(3,)", "(2, 2)"]),
        (lambda z: z.set_coordinate_selection(([0, 1], [1, 2]), "abc"), ValueError, ["'abc'"]),
    ],
)
def test_bad_selections(z2d: zarr.Array, call: Any, error: type, words: list[str]) -> None:
    before = z2d[...]
    with pytest.raises(error) as info:
        call(z2d)
    for word in words:
        assert word in str(info.value)
    _check_equal(z2d[...], before)  # nothing was changed


@pytest.mark.interop
@pytest.mark.parametrize(
    "call",
    [
        lambda z: z.get_mask_selection(np.ones((3, 4), bool)),
        lambda z: z.oindex[[0.5], :],
        lambda z: z.get_coordinate_selection(([0.5], [1])),
        lambda z: z[0, 1, 2],
        lambda z: z[3],
        lambda z: z.oindex[:, [0, 7]],
        lambda z: z.vindex[[0, 1], [4, 5]],
        lambda z: z.vindex[[0, 1], :],
        lambda z: z.vindex[[0, 1], [1, 2, 3]],
        lambda z: z.blocks[2],
    ],
)
def test_bad_selection_error_types_match_zarr(z2d: zarr.Array, call: Any) -> None:
    zarr2 = pytest.importorskip("zarr")
    theirs = zarr2.array(np.arange(15).reshape(3, 5), chunks=(2, 2))
    with pytest.raises(Exception) as expected:
        call(theirs)
    with pytest.raises(Exception) as actual:
        call(z2d)
    builtin = next(t for t in type(expected.value).__mro__ if t.__module__ == "builtins")
    assert isinstance(actual.value, builtin)
    assert type(actual.value).__name__ == type(expected.value).__name__ or \
        type(expected.value).__name__ in ("IndexError", "ValueError")


# ----------------------------------------------------------- fast point selection


class _CountingStore(dict):  # type: ignore[type-arg]
    """A dict store that records every chunk key read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if not key.startswith("."):
            self.reads.append(key)
        return super().__getitem__(key)


def test_point_selection_reads_each_chunk_once() -> None:
    store = _CountingStore()
    z = zarr.zeros((100, 100), chunks=(10, 10), dtype="i4", store=store)
    a = np.arange(10000, dtype="i4").reshape(100, 100)
    z[...] = a
    rng = np.random.default_rng(1)
    points = (rng.integers(0, 100, 5000), rng.integers(0, 100, 5000))
    store.reads.clear()
    np.testing.assert_array_equal(z.vindex[points], a[points])
    assert len(store.reads) == len(set(store.reads)) == 100
    mask = np.zeros((100, 100), dtype=bool)
    mask[::7, ::3] = True
    store.reads.clear()
    np.testing.assert_array_equal(z.vindex[mask], a[mask])
    assert len(store.reads) == len(set(store.reads))


def test_point_selection_decodes_in_parallel() -> None:
    import threading

    import zarrdask.codecs

    threads: set[str] = set()
    original = zarrdask.codecs.CodecPipeline.decode

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return original(self, *args, **kwargs)

    z = zarr.zeros((64, 64), chunks=(8, 8), dtype="f8")
    z[...] = 1.5
    points = (np.arange(64)[::-1], np.arange(64))
    with pytest.MonkeyPatch.context() as mp, zarr.config.set(
            codec_threads=4, min_parallel_chunk_bytes=0):
        mp.setattr(zarrdask.codecs.CodecPipeline, "decode", spy)
        assert (z.vindex[points] == 1.5).all()
    assert any(name.startswith("zarrdask-codec") for name in threads)
