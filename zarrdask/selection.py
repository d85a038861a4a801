"""Which selection method ``z[...]`` means, as zarr-python 2.18 decides it.

``pop_fields`` separates field names from the selection; ``dispatch_selection``
returns ``"basic"``, ``"orthogonal"`` or ``"vectorized"``. Pure functions.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from zarrdask.indexing import is_basic_selection

__all__ = ["dispatch_selection", "pop_fields"]


def _is_field_name(x: Any) -> bool:
    return isinstance(x, str) or (
        isinstance(x, list) and len(x) > 0 and all(isinstance(i, str) for i in x)
    )


def pop_fields(selection: Any) -> tuple[Any, Any]:
    """Split field names (strings, or a list of strings) out of a selection.

    Examples
    --------
    >>> pop_fields(("foo", slice(0, 2)))
    ('foo', (slice(0, 2, None),))
    >>> pop_fields(["a", "b"])
    (['a', 'b'], ())
    >>> pop_fields(3)
    (None, 3)
    """
    if _is_field_name(selection):
        return selection, ()
    if not isinstance(selection, tuple):
        return None, selection
    names = [s for s in selection if isinstance(s, str)]
    lists = [s for s in selection if isinstance(s, list) and s and all(
        isinstance(i, str) for i in s)]
    fields: Any = None
    if names and lists:
        raise IndexError("give fields either as strings or as one list of strings, not both")
    if len(lists) > 1:
        raise IndexError("give at most one list of field names")
    if names:
        fields = names[0] if len(names) == 1 else names
    elif lists:
        fields = lists[0]
    rest = tuple(s for s in selection if not _is_field_name(s))
    return fields, rest


def _is_int_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and all(
        isinstance(i, int | np.integer) and not isinstance(i, bool) for i in x)


def _is_bool_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and all(isinstance(i, bool | np.bool_) for i in x)


def _is_int_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind in "ui"


def _is_bool_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "b"


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def dispatch_selection(selection: Any, ndim: int) -> Literal["basic", "orthogonal", "vectorized"]:
    """Decide how ``z[selection]`` is read or written.

    * basic: integers, slices and Ellipsis;
    * vectorized (``vindex``): a boolean mask of the array's rank, or one integer
      array (or list) per axis with no slices;
    * orthogonal (``oindex``): otherwise, with at most one integer array and
      any slices, integers and 1-d boolean arrays.

    Examples
    --------
    >>> dispatch_selection((slice(None), 1), 2)
    'basic'
    >>> dispatch_selection(([0, 2], [1, 3]), 2)
    'vectorized'
    >>> dispatch_selection(([0, 2], slice(None)), 2)
    'orthogonal'
    """
    if is_basic_selection(selection):
        return "basic"
    sel = selection[0] if isinstance(selection, tuple) and len(selection) == 1 else selection
    if (_is_bool_array(sel) or _is_bool_list(sel)) and np.ndim(sel) == ndim and ndim > 1:
        return "vectorized"
    if isinstance(selection, tuple) and len(selection) == ndim and not any(
        isinstance(s, slice) or s is Ellipsis for s in selection
    ):
        arrays = [s for s in selection if _is_int_list(s) or _is_int_array(s)]
        if arrays and all(_is_int(s) or _is_int_list(s) or _is_int_array(s) for s in selection):
            if len(arrays) > 1 or any(np.ndim(a) > 1 for a in arrays):
                return "vectorized"
    if _is_int_array(sel) and sel.ndim > 1:
        return "vectorized"
    return "orthogonal"
