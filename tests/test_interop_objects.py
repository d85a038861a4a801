"""Interop with zarr-python 2.18.7 for strings, every object codec and ragged arrays.

Both directions, on directory stores: what zarrdask writes, zarr 2.18 reads (and
its ``.zarray`` is the document zarr 2.18 writes for the same arguments), and
what zarr 2.18 writes, zarrdask reads, modifies, and zarr 2.18 reads back. Each
array has a stored full chunk, a partly written chunk and a missing chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numcodecs
import numcodecs.pickles
import numpy as np
import pytest

import zarrdask

zarr = pytest.importorskip("zarr", reason="zarr-python 2.18 is the oracle for these tests")

pytestmark = pytest.mark.interop


@dataclass(frozen=True)
class Case:
    """One dtype/codec combination and the values written to it."""

    id: str
    kwargs: Callable[[], dict[str, Any]]  # fresh codec objects for each library
    values: list[Any]
    fill_value: Any = None
    shape: tuple[int, ...] = (7,)
    chunks: tuple[int, ...] = (3,)
    extra: dict[str, Any] = field(default_factory=dict)

    def creation_kwargs(self) -> dict[str, Any]:
        return {"shape": self.shape, "chunks": self.chunks, "fill_value": self.fill_value,
                **self.kwargs(), **self.extra}

    def data(self) -> np.ndarray:
        arr = np.empty(len(self.values), dtype=object)
        arr[:] = self.values
        kw = self.kwargs()
        dtype = kw.get("dtype")
        if isinstance(dtype, str) and dtype[0] in "SU<>|":
            return np.array(self.values, dtype=dtype)
        return arr


RAGGED_I4 = [np.array([1, 2, 3], dtype="<i4"), np.array([], dtype="<i4"),
             np.array([7], dtype="<i4"), np.arange(10, dtype="<i4"),
             np.array([-5, 5], dtype="<i4")]
WORDS = ["¡Hola mundo!", "", "Γεια σου κόσμε!", "こんにちは世界", "x"]

CASES = [
    Case("S6", lambda: {"dtype": "S6"}, [b"Hello", b"", b"world!", b"ab", b"\x00z"],
         fill_value=b"zz"),
    Case("U20", lambda: {"dtype": "<U20"}, WORDS, fill_value="fill"),
    Case(">U3", lambda: {"dtype": ">U3"}, ["abc", "d", "", "ΓΕ", "z"], fill_value=""),
    Case("vlen-utf8", lambda: {"dtype": object, "object_codec": numcodecs.VLenUTF8()}, WORDS,
         fill_value=""),
    Case("str-shorthand", lambda: {"dtype": str}, WORDS, fill_value="missing"),
    Case("vlen-bytes", lambda: {"dtype": object, "object_codec": numcodecs.VLenBytes()},
         [b"a", b"", b"\xff\x00", b"bytes" * 5, b"q"], fill_value=None),
    Case("bytes-shorthand", lambda: {"dtype": bytes}, [b"a", b"", b"\xff", b"b", b"c"]),
    Case("vlen-array-i4", lambda: {"dtype": object, "object_codec": numcodecs.VLenArray("<i4")},
         RAGGED_I4),
    Case("array-shorthand-f8", lambda: {"dtype": "array:f8"},
         [np.array([0.5]), np.array([]), np.array([1.0, np.inf]), np.array([2.0]),
          np.array([-1.0, 0.0, 1.0])]),
    Case("ragged-2d", lambda: {"dtype": "array:u2"},
         [np.array([i] * (i % 3), dtype="<u2") for i in range(5)],
         shape=(7, 2), chunks=(3, 1)),
    Case("json", lambda: {"dtype": object, "object_codec": numcodecs.JSON()},
         [42, "foo", ["bar", "baz"], {"a": 1, "b": 2.5}, None], fill_value=None),
    Case("json-fill", lambda: {"dtype": object, "object_codec": numcodecs.JSON()},
         [1, "two", [3], {"four": 4}, 5.5], fill_value={"empty": True}),
    Case("msgpack", lambda: {"dtype": object, "object_codec": numcodecs.MsgPack()},
         [42, "foo", ["bar", 1], {"a": [1, 2]}, 2.5], fill_value="none"),
    Case("pickle", lambda: {"dtype": object, "object_codec": numcodecs.Pickle()},
         [42, "foo", (1, 2), {"s": frozenset([1])}, 3 + 4j], fill_value=0),
    Case("categorize",
         lambda: {"dtype": object,
                  "object_codec": numcodecs.Categorize(["red", "green", "blue"], dtype=object)},
         ["red", "green", "blue", "red", "green"], fill_value=None),
    Case("vlen-utf8-extra-filter",
         lambda: {"dtype": object, "object_codec": numcodecs.VLenUTF8(),
                  "filters": [numcodecs.Zlib(1)]},
         WORDS, fill_value="", extra={"compressor": None}),
]


@pytest.fixture(autouse=True)
def _allow_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pickle case decodes data this test wrote itself: opt in for these tests."""
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True)


case_params = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


def _region(case: Case) -> tuple[slice, ...]:
    """Chunk 0 in full and part of chunk 1; later chunks stay missing."""
    n = len(case.values)
    return (slice(0, n),) + tuple(slice(0, 1) for _ in case.shape[1:])


def _write(lib: Any, case: Case, path: Path) -> Any:
    z = lib.open_array(str(path), mode="w", **case.creation_kwargs())
    values = case.data()
    z[_region(case)] = values.reshape((-1,) + (1,) * (len(case.shape) - 1))
    return z


def assert_same(actual: Any, expected: Any) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    for got, want in zip(actual.reshape(-1).tolist(), expected.reshape(-1).tolist(),
                         strict=True):
        if isinstance(want, np.ndarray):
            assert isinstance(got, np.ndarray) and got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        elif isinstance(want, float) and np.isnan(want):
            assert np.isnan(got)
        else:
            assert got == want and type(got) is type(want), (got, want)


def _zarray(path: Path) -> dict[str, Any]:
    return json.loads((path / ".zarray").read_text())


@case_params
def test_zarrdask_writes_what_zarr2_writes(case: Case, tmp_path: Path) -> None:
    ours = _write(zarrdask, case, tmp_path / "ours.zarr")
    theirs = _write(zarr, case, tmp_path / "theirs.zarr")
    assert _zarray(tmp_path / "ours.zarr") == _zarray(tmp_path / "theirs.zarr")
    assert sorted(p.name for p in (tmp_path / "ours.zarr").iterdir()) == \
        sorted(p.name for p in (tmp_path / "theirs.zarr").iterdir())
    assert_same(ours[...], theirs[...])
    assert repr(ours.filters) == repr(theirs.filters)


@case_params
def test_zarrdask_write_zarr2_read(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    ours = _write(zarrdask, case, path)
    reference = _write(zarr, case, tmp_path / "reference.zarr")[...]
    read = zarr.open_array(str(path), mode="r")
    assert_same(read[...], reference)
    assert_same(read[...], ours[...])
    if isinstance(case.fill_value, (str, bytes)) or case.fill_value is None:
        assert read.fill_value == case.fill_value


@case_params
def test_zarr2_write_zarrdask_read_modify(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    theirs = _write(zarr, case, path)
    ours = zarrdask.open_array(str(path), mode="r+")
    assert_same(ours[...], theirs[...])
    assert ours.fill_value == theirs.fill_value or (
        ours.fill_value is None and theirs.fill_value is None)
    # point and orthogonal selections read the same as zarr's
    points = ([0, 4, 2, 4],) + tuple([0, 0, 0, 0] for _ in case.shape[1:])
    assert_same(ours.vindex[points], theirs.vindex[points])
    # modify: one element of a stored chunk and one of a missing chunk
    last = (case.shape[0] - 1,) + (0,) * (len(case.shape) - 1)
    first = (1,) + (0,) * (len(case.shape) - 1)
    new_values = case.data()[[3, 0]]
    for index, value in zip((first, last), new_values, strict=True):
        ours[index] = value
        theirs[index] = value
    again = zarr.open_array(str(path), mode="r")
    assert_same(again[...], theirs[...])


def test_ragged_tutorial_both_ways(tmp_path: Path) -> None:
    for writer, reader in ((zarrdask, zarr), (zarr, zarrdask)):
        path = tmp_path / f"{writer.__name__}.zarr"
        z = writer.open_array(str(path), mode="w", shape=4, dtype=object, fill_value=None,
                              object_codec=numcodecs.VLenArray(int))
        z[0] = np.array([1, 3, 5])
        z[1] = np.array([4])
        z[2] = np.array([7, 9, 14])
        got = reader.open_array(str(path), mode="r")[:]
        assert_same(got, z[:])
        assert [len(x) for x in got] == [3, 1, 3, 0]
