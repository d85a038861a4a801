"""The interoperability case matrix: one place that says which arrays are written and read.

Each :class:`Case` names a dtype, compressor, filters, memory order, dimension
separator, shape, chunks, fill value and the region that is written (the rest of
the array is left as missing chunks). The matrix is a pairwise-style selection,
not the full product: every dtype meets every compressor, every compressor meets
every (order, separator) pair, and every integer dtype is tried with and without
a ``Delta`` filter. The module imports only numpy and numcodecs, so the fixture
generator, the in-process tests and the zarr 3 driver specs can all share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

__all__ = [
    "CASES",
    "COMPRESSORS",
    "DEFAULT_COMPRESSOR",
    "DTYPES",
    "EXTRA_CASES",
    "MATRIX_CASES",
    "Case",
    "assert_same_fill",
    "assert_same_values",
    "case_by_id",
]

#: What zarr-python 2.18 uses when no compressor is given.
DEFAULT_COMPRESSOR: Codec = numcodecs.Blosc(
    cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE, blocksize=0
)

#: Compressor axis: name -> codec (``"default"`` means "pass no compressor argument").
COMPRESSORS: dict[str, Codec | None] = {
    "default": DEFAULT_COMPRESSOR,
    "zstd3": numcodecs.Zstd(level=3),
    "zlib1": numcodecs.Zlib(level=1),
    "none": None,
}

STRUCT_SUBARRAY = np.dtype([("a", "<i4"), ("b", "<f8", (2,))])
STRUCT_FLAT = np.dtype([("a", "<i4"), ("b", "<f8")])

#: dtype axis: (case-id stem, dtype, fill value as given to ``open_array``).
DTYPES: list[tuple[str, np.dtype, Any]] = [
    ("bool", np.dtype("bool"), True),
    ("i1", np.dtype("i1"), -7),
    ("li4", np.dtype("<i4"), 0),
    ("bi4", np.dtype(">i4"), 42),
    ("u8", np.dtype("<u8"), 2**64 - 1),
    ("lf2", np.dtype("<f2"), float("nan")),
    ("lf4", np.dtype("<f4"), float("nan")),
    ("bf8", np.dtype(">f8"), float("nan")),
    ("c16", np.dtype("<c16"), complex(1.5, -2.0)),
    ("M8ns", np.dtype("<M8[ns]"), np.datetime64("NaT", "ns")),
    ("m8s", np.dtype("<m8[s]"), np.timedelta64("NaT", "s")),
    ("S7", np.dtype("S7"), b"zz"),
    ("U5", np.dtype("<U5"), "ab"),
    ("struct", STRUCT_SUBARRAY, (1, (2.0, 3.0))),
    ("structflat", STRUCT_FLAT, (-1, 0.5)),
]

#: (order, separator) axis; separator ``None`` means "pass no dimension_separator".
LAYOUTS: list[tuple[str, str | None]] = [
    ("C", None),
    ("F", "/"),
    ("C", "."),
    ("F", None),
    ("C", "/"),
    ("F", "."),
]

STANDARD_SHAPE = (13, 7)
STANDARD_CHUNKS = (5, 3)
#: Rows 0-9 (two full chunk rows, the third missing); columns 1-4 (two partial chunk
#: columns, the third missing). So every case has full, partial and missing chunks.
STANDARD_REGION = ((0, 10), (1, 5))


@dataclass(frozen=True, slots=True)
class Case:
    """One array to write with one library and read with another.

    Parameters
    ----------
    id : str
        Test id, also the directory name of the array.
    dtype : numpy.dtype
        The array's dtype.
    compressor : str
        A key of :data:`COMPRESSORS`.
    delta : bool
        Whether to use a ``Delta`` filter (integers only).
    order : str
        ``"C"`` or ``"F"``.
    separator : str or None
        Dimension separator passed to ``open_array`` (``None``: not passed).
    shape, chunks : tuple of int
        Array shape and chunk shape.
    fill_value : Any
        Fill value passed to ``open_array``; ``...`` means "not passed".
    region : tuple of (start, stop) pairs or None
        The region written; ``None`` writes the whole array.
    """

    id: str
    dtype: np.dtype
    compressor: str = "default"
    delta: bool = False
    order: str = "C"
    separator: str | None = None
    shape: tuple[int, ...] = STANDARD_SHAPE
    chunks: tuple[int, ...] = STANDARD_CHUNKS
    fill_value: Any = field(default=0)
    region: tuple[tuple[int, int], ...] | None = STANDARD_REGION

    @property
    def compressor_codec(self) -> Codec | None:
        """The compressor codec the array is expected to have.

        zarr 2.18 gives a 0-d array no compressor when none is asked for.
        """
        if self.compressor == "default" and self.shape == ():
            return None
        return COMPRESSORS[self.compressor]

    @property
    def filter_codecs(self) -> list[Codec] | None:
        """The filters the array is expected to have (``None`` for no filters)."""
        if self.delta:
            return [numcodecs.Delta(dtype=self.dtype.str)]
        return None

    @property
    def effective_separator(self) -> str:
        """The separator used on disk."""
        return self.separator or "."

    @property
    def fill_array(self) -> np.ndarray | None:
        """The fill value as a 0-d array of the dtype (``None`` when the fill is null)."""
        if self.fill_value is None:
            return None
        if self.fill_value is ...:
            return np.zeros((), dtype=self.dtype)
        return np.array(self.fill_value, dtype=self.dtype)

    @property
    def selection(self) -> tuple[slice, ...]:
        """The written region as a tuple of slices (``...`` for everything)."""
        if self.region is None:
            return tuple(slice(None) for _ in self.shape)
        return tuple(slice(start, stop) for start, stop in self.region)

    def creation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a zarr 2.x style ``open_array(path, mode="w", **kwargs)``."""
        kwargs: dict[str, Any] = {
            "shape": self.shape,
            "chunks": self.chunks,
            "dtype": self.dtype,
            "order": self.order,
            "filters": self.filter_codecs,
        }
        if self.compressor != "default":
            kwargs["compressor"] = self.compressor_codec
        if self.separator is not None:
            kwargs["dimension_separator"] = self.separator
        if self.fill_value is not ...:
            kwargs["fill_value"] = self.fill_value
        return kwargs

    def data(self) -> np.ndarray:
        """Deterministic values for the whole array (only :attr:`selection` is written)."""
        return make_values(self.dtype, self.shape, seed=sum(map(ord, self.id)))

    def expected(self) -> np.ndarray:
        """What a reader must return: the written region, the fill value elsewhere."""
        data = self.data()
        fill = self.fill_array
        if self.region is None or fill is None:
            return data
        out = np.empty(self.shape, dtype=self.dtype)
        out[...] = fill
        out[self.selection] = data[self.selection]
        return out


def make_values(dtype: np.dtype, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Return deterministic, non-trivial values of ``dtype`` (with NaN/NaT/inf where possible).

    Parameters
    ----------
    dtype : numpy.dtype
        The dtype, including structured dtypes whose fields are numeric.
    shape : tuple of int
        The output shape.
    seed : int
        Seed of the random generator.
    """
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype.fields is not None:
        out = np.zeros(n, dtype=dtype)
        for i, name in enumerate(dtype.names or ()):
            sub_dtype, _ = dtype.fields[name][:2]
            base, sub_shape = sub_dtype.base, sub_dtype.shape
            values = make_values(base, (n, *sub_shape), seed + 1 + i)
            # structured fields are compared with ==, so keep NaN out of them
            if base.kind in "fc":
                values = np.nan_to_num(values, nan=1.25, posinf=2.5, neginf=-2.5)
            out[name] = values
        return out.reshape(shape)
    kind = dtype.kind
    if kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, n, dtype=dtype.newbyteorder("="), endpoint=True)
    elif kind == "f":
        flat = (rng.standard_normal(n) * 1000).astype(dtype)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dtype)
        where = np.arange(len(specials)) * 7
        where = where[where < n]
        flat[where] = specials[: len(where)]
    elif kind == "c":
        flat = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
        if n > 3:
            flat[3] = complex(np.nan, 1.0)
    elif kind in "mM":
        flat = rng.integers(-(2**40), 2**40, n, dtype=np.int64).astype(dtype)
        flat[::11] = np.array("NaT", dtype=dtype)
    elif kind == "S":
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABC0123456789", dtype="S1")
        lengths = rng.integers(0, dtype.itemsize + 1, n)
        flat = np.array(
            [b"".join(rng.choice(letters, int(k))) for k in lengths], dtype=dtype
        )
    elif kind == "U":
        alphabet = list("abcxyzé日本ß🙂")
        lengths = rng.integers(0, dtype.itemsize // 4 + 1, n)
        flat = np.array(["".join(rng.choice(alphabet, int(k))) for k in lengths], dtype=dtype)
    else:  # pragma: no cover - the matrix has no other kinds
        raise ValueError(f"no value generator for dtype {dtype!r}")
    return np.ascontiguousarray(flat.astype(dtype)).reshape(shape)


def _matrix() -> list[Case]:
    cases: list[Case] = []
    compressors = list(COMPRESSORS)
    int_index = 0
    for d, (stem, dtype, fill) in enumerate(DTYPES):
        for j, comp in enumerate(compressors):
            order, sep = LAYOUTS[(j + d) % len(LAYOUTS)]
            delta = dtype.kind in "iu" and (j + int_index) % 2 == 0
            parts = [stem, comp, order, {None: "nosep", ".": "dot", "/": "slash"}[sep]]
            if delta:
                parts.append("delta")
            cases.append(
                Case(
                    id="-".join(parts),
                    dtype=dtype,
                    compressor=comp,
                    delta=delta,
                    order=order,
                    separator=sep,
                    fill_value=fill,
                )
            )
        if dtype.kind in "iu":
            int_index += 1
    return cases


def _extras() -> list[Case]:
    return [
        Case("f8-1d-defaultfill", np.dtype("<f8"), shape=(17,), chunks=(4,),
             fill_value=..., region=((2, 11),)),
        Case("i2-3d", np.dtype("<i2"), compressor="zstd3", order="F", separator="/",
             shape=(5, 6, 7), chunks=(2, 3, 4), fill_value=-1, region=((0, 4), (1, 6), (0, 4))),
        Case("f4-nullfill", np.dtype("<f4"), compressor="zlib1", fill_value=None, region=None),
        Case("u1-emptydim", np.dtype("u1"), shape=(0, 5), chunks=(2, 2), fill_value=3,
             region=None),
        Case("i4-0d", np.dtype("<i4"), shape=(), chunks=(), fill_value=3, region=None),
        Case("c16-nanfill", np.dtype("<c16"), compressor="none", order="F",
             fill_value=complex(np.nan, np.nan)),
        Case("f8-onechunk", np.dtype("<f8"), compressor="zstd3", shape=(6, 4), chunks=(6, 4),
             fill_value=float("inf"), region=((0, 3), (0, 4))),
    ]


#: The pairwise dtype x compressor x layout x filter selection (standard shape).
MATRIX_CASES: list[Case] = _matrix()
#: Other shapes and fill values: 1-d, 3-d, 0-d, an empty dimension, null/NaN/inf fills.
EXTRA_CASES: list[Case] = _extras()
#: Every interop case; ids are unique.
CASES: list[Case] = MATRIX_CASES + EXTRA_CASES


def case_by_id(case_id: str) -> Case:
    """Return the case with this id (``KeyError`` naming it if there is none)."""
    for case in CASES:
        if case.id == case_id:
            return case
    raise KeyError(f"no interop case {case_id!r}")


def _same_floats(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN")
    mask = ~np.isnan(expected)
    np.testing.assert_array_equal(actual[mask], expected[mask], err_msg=what)


def assert_same_values(actual: np.ndarray, expected: np.ndarray, what: str = "values") -> None:
    """Assert equal dtype, shape and values (NaN equals NaN, NaT equals NaT, fields one by one)."""
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype!r} != {expected.dtype!r}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.fields is not None:
        for name in expected.dtype.names or ():
            assert_same_values(actual[name], expected[name], f"{what}[{name!r}]")
    elif expected.dtype.kind == "f":
        _same_floats(actual, expected, what)
    elif expected.dtype.kind == "c":
        _same_floats(actual.real, expected.real, f"{what} (real part)")
        _same_floats(actual.imag, expected.imag, f"{what} (imaginary part)")
    elif expected.dtype.kind in "mM":
        np.testing.assert_array_equal(actual.view("i8"), expected.view("i8"), err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def assert_same_fill(actual: Any, case: Case, what: str = "fill_value") -> None:
    """Assert a reader's fill value equals the case's (``None`` only for a null fill)."""
    expected = case.fill_array
    if expected is None:
        assert actual is None, f"{what}: expected None, got {actual!r}"
        return
    assert actual is not None, f"{what}: expected {expected!r}, got None"
    assert_same_values(np.array(actual, dtype=case.dtype), expected, what)
