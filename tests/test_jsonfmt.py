"""Tests of zarrdask.jsonfmt: byte-identical to ``json.dumps(indent=4, sort_keys=True)``."""

from __future__ import annotations

import collections
import enum
import fractions
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarrdask.jsonfmt import NumpyEncoder, check_strict_json, dumps


def reference(obj: Any) -> str:
    """What the formatter must return: the standard library's pure-Python encoder."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=True,
                      separators=(",", ": "), allow_nan=False, cls=NumpyEncoder)


def reference_strict(obj: Any) -> str:
    """The previous implementation: locate strict-JSON problems, then encode."""
    check_strict_json(obj)
    return reference(obj)


def outcome(f: Any, obj: Any) -> tuple[str, str]:
    try:
        return "ok", f(obj)
    except (TypeError, ValueError) as e:
        return type(e).__name__, str(e)


finite = st.floats(allow_nan=False, allow_infinity=False)
numpy_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 255).map(np.uint8),
    st.booleans().map(np.bool_),
    finite.map(np.float64),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(np.float32),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), finite, st.text(), numpy_scalars)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=25,
)
# values with strict-JSON problems somewhere: non-finite floats and non-str keys
bad_scalars = st.one_of(scalars, st.sampled_from([math.nan, math.inf, -math.inf,
                                                  np.float32("nan"), np.float64("-inf")]))
bad_like = st.recursive(
    bad_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3)), children,
                        max_size=4),
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(json_like)
def test_dumps_is_byte_identical_to_json(obj: Any) -> None:
    assert dumps(obj) == reference(obj)


@settings(max_examples=300, deadline=None)
@given(bad_like)
def test_dumps_fails_as_before(obj: Any) -> None:
    assert outcome(dumps, obj) == outcome(reference_strict, obj)


@pytest.mark.parametrize("obj", [
    {}, [], (), "", 0, -0.0, 1e300, 5e-324, 2**70, "ü\n\"\\\x00\u2028😀", True, None,
    {"b": {}, "a": [[], {}]}, collections.OrderedDict([("z", 1), ("a", 2)]),
    enum.IntEnum("E", "x")(1), fractions.Fraction(1, 3), np.float16(0.5),
    [np.int32(7), np.bool_(False), (1, (2, [3]))],
])
def test_dumps_edge_cases(obj: Any) -> None:
    assert dumps(obj) == reference(obj)


def test_dumps_refusals_name_the_location() -> None:
    with pytest.raises(ValueError, match=r"\$\['a'\]\[1\].*NaN and Infinity"):
        dumps({"a": [0, np.float32("inf")]})
    with pytest.raises(TypeError, match=r"key 1 at \$\['a'\]"):
        dumps({"a": {1: "x"}})
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": object()})
    with pytest.raises(TypeError, match="ndarray"):
        dumps([np.arange(2)])
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps({"x": loop})
