"""Strict JSON text formatted as zarr-python 2.18 writes metadata, fast.

:func:`dumps` returns exactly what ``json.dumps(obj, indent=4, sort_keys=True,
ensure_ascii=True, separators=(",", ": "), allow_nan=False)`` returns (numpy booleans,
integers and floats included), but without the standard library's generator-based
pure-Python encoder, which ``json`` falls back to whenever ``indent`` is given.
Strings and floats are encoded by the same functions ``json`` uses, so the text is
byte-for-byte the same. NaN, infinities and non-string object keys are refused with
a message that gives their location.
"""

from __future__ import annotations

import json
import json.encoder
import math
import numbers
from typing import Any

import numpy as np

__all__ = ["NumpyEncoder", "check_strict_json", "dumps"]

_INDENT = "    "
_encode_str = json.encoder.encode_basestring_ascii  # the C function json itself uses
_int_repr = int.__repr__
_float_repr = float.__repr__
_INF = math.inf


class NumpyEncoder(json.JSONEncoder):
    """JSON encoder that also writes numpy booleans, integers and floats (and any Real)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, numbers.Integral):
            return int(o)
        if isinstance(o, numbers.Real):
            return float(o)
        return super().default(o)


_default = NumpyEncoder().default


def check_strict_json(obj: Any, where: str = "$", active: set[int] | None = None) -> None:
    """Raise if ``obj`` holds a non-finite float or a non-string object key.

    Raises
    ------
    ValueError
        For NaN or an infinity; the message gives its location (``$['a'][1]``).
    TypeError
        For an object key that is not a str; the message gives its location.

    Examples
    --------
    >>> check_strict_json({"a": [1, float("nan")]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot write nan at $['a'][1] as JSON: NaN and Infinity are not valid ...
    """
    if active is None:
        active = set()
    if isinstance(obj, (float, np.floating)):
        if not math.isfinite(obj):
            raise ValueError(
                f"cannot write {float(obj)!r} at {where} as JSON: NaN and Infinity are not valid "
                "in strict JSON; store them as strings such as 'NaN' or 'Infinity'"
            )
    elif isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:  # the encoder reports the circular reference itself
            return
        active.add(id(obj))
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise TypeError(
                        f"JSON object keys must be str, but key {k!r} at {where} is "
                        f"{type(k).__name__}; convert it to str explicitly"
                    )
                check_strict_json(v, f"{where}[{k!r}]", active)
        else:
            for i, v in enumerate(obj):
                check_strict_json(v, f"{where}[{i}]", active)
        active.discard(id(obj))


def _float_str(o: float) -> str:
    if o != o or o == _INF or o == -_INF:
        raise ValueError(f"cannot write {o!r} as strict JSON")
    return _float_repr(o)


def _format(o: Any, nl: str) -> str:
    """The text of ``o``; ``nl`` is a newline plus the current indent.

    Values of exactly the JSON types take this fast path; anything else goes to
    :func:`_format_other`. Problems (NaN, non-str keys, circular references, values
    JSON cannot represent) raise some exception; :func:`dumps` then lets the standard
    library raise its own error.
    """
    t = type(o)
    if t is str:
        return _encode_str(o)
    if t is int:
        return _int_repr(o)
    if o is None:
        return "null"
    if t is bool:
        return "true" if o else "false"
    if t is dict:
        if not o:
            return "{}"
        inner = nl + _INDENT
        items = [_encode_str(k) + ": " + _format(o[k], inner) for k in sorted(o)]
        return "{" + inner + ("," + inner).join(items) + nl + "}"
    if t is list or t is tuple:
        if not o:
            return "[]"
        inner = nl + _INDENT
        return "[" + inner + ("," + inner).join([_format(v, inner) for v in o]) + nl + "]"
    if t is float:
        return _float_str(o)
    return _format_other(o, nl)


def _format_other(o: Any, nl: str) -> str:
    """Subclasses of the JSON types, as the standard library encodes them; else ``default``."""
    if isinstance(o, str):
        return _encode_str(o)
    if isinstance(o, int):  # bool cannot be subclassed: True/False took the fast path
        return _int_repr(o)
    if isinstance(o, float):
        return _float_str(o)
    if isinstance(o, dict):
        return _format(dict(o.items()), nl)  # the items the standard library encodes
    if isinstance(o, (list, tuple)):
        return _format(list(o), nl)
    return _format(_default(o), nl)


def dumps(obj: Any) -> str:
    """Encode ``obj`` as strict JSON text: indent 4, sorted keys, ASCII only.

    The result equals ``json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=True,
    separators=(",", ": "), allow_nan=False, cls=NumpyEncoder)``.

    Raises
    ------
    ValueError
        If ``obj`` holds NaN or an infinity (the message gives its location), or
        refers to itself.
    TypeError
        If ``obj`` holds a non-string object key (the message gives its location) or
        a value JSON cannot represent.

    Examples
    --------
    >>> print(dumps({"b": [1, np.int64(2)], "a": None}))
    {
        "a": null,
        "b": [
            1,
            2
        ]
    }
    """
    try:
        return _format(obj, "\n")
    except Exception:
        # a NaN or non-str key anywhere: raise with its location; anything else
        # (circular reference, a value JSON cannot represent): the standard library's error
        check_strict_json(obj)
        return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=True,
                          separators=(",", ": "), allow_nan=False, cls=NumpyEncoder)
