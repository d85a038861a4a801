"""Diagnostics text in the zarr tutorial's layout, and its HTML form for Jupyter."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable

__all__ = ["InfoReporter", "format_info", "human_readable_size"]

_UNITS = ("K", "M", "G", "T", "P")


def human_readable_size(size: int, always: bool = True) -> str:
    """Format a byte count as ``"8000000 (7.6M)"`` (or just ``"7.6M"`` with ``always``).

    Examples
    --------
    >>> human_readable_size(8000000, always=False)
    '8000000 (7.6M)'
    >>> human_readable_size(800, always=False)
    '800'
    >>> human_readable_size(33240)
    '32.5K'
    """
    short = str(size)
    value = float(size)
    for unit in _UNITS:
        if value < 1024:
            break
        value /= 1024
        short = f"{value:.1f}{unit}"
    if always:
        return short
    return str(size) if size < 1024 else f"{size} ({short})"


def format_info(items: list[tuple[str, str]], width: int = 80) -> str:
    """Format (name, value) rows with aligned colons, wrapping long values.

    Examples
    --------
    >>> print(format_info([("Type", "x"), ("Data type", "int32")]))
    Type      : x
    Data type : int32
    <BLANKLINE>
    """
    pad = max((len(k) for k, _ in items), default=0)
    lines = []
    for key, value in items:
        head = key.ljust(pad) + " : "
        rest = " " * pad + " : "
        wrapped = textwrap.wrap(value, width=width, initial_indent=head, subsequent_indent=rest)
        lines.extend(wrapped or [head.rstrip()])
    return "\n".join(lines) + "\n"


class InfoReporter:
    """Shows diagnostics as text (``repr``) and as an HTML table in Jupyter."""

    __slots__ = ("_items",)

    def __init__(self, items: Callable[[], list[tuple[str, str]]]) -> None:
        self._items = items

    def __repr__(self) -> str:
        return format_info(self._items())

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<tr><th style="text-align: left">{html.escape(k)}</th>'
            f'<td style="text-align: left">{html.escape(v)}</td></tr>'
            for k, v in self._items()
        )
        return f'<table class="zarr-info"><tbody>{rows}</tbody></table>'
