"""Collected timings and the markdown report: medians, ratios, the issue's targets, memory.

Nothing here runs a benchmark; ``bench.py`` fills a :class:`Results` and asks for tables.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["MEMORY_TARGET", "TARGETS", "MemoryResult", "Results", "Target", "format_report_tables"]

OURS = "zarrdask"


@dataclass(frozen=True, slots=True)
class Target:
    """``zarrdask time / reference time <= at_most`` on report row ``row``."""

    row: str
    reference: str
    at_most: float


#: The issue's targets ("zarrdask time at most ..."), one per (row, reference).
TARGETS: tuple[Target, ...] = (
    Target("W1", "zarr2", 0.5), Target("W1", "tensorstore", 0.8), Target("W1", "limit", 1.6),
    Target("W2", "zarr2", 0.8), Target("W2", "tensorstore", 1.0), Target("W2", "limit", 1.3),
    Target("W3", "tensorstore", 1.0), Target("W4 row", "tensorstore", 1.0),
    Target("W4 col", "tensorstore", 1.0), Target("W5", "tensorstore", 1.0),
    Target("W6 write", "zarr2", 0.8), Target("W6 read", "zarr2", 0.8),
    Target("W7 write", "zarr2", 0.5), Target("W7 read", "zarr2", 0.8),
    Target("W8 create", "zarr2", 0.5), Target("W8 open", "zarr2", 1.0),
    Target("W8 open consolidated", "zarr2", 1.0),
)
#: Peak memory of W2 above the baseline, as a multiple of the array's size, for zarrdask.
MEMORY_TARGET = 1.1


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """One memory probe: bytes above the baseline at the peak, and the array's bytes."""

    label: str
    above: int
    nbytes: int
    baseline: int
    method: str

    @property
    def multiple(self) -> float:
        """Peak above baseline as a multiple of the array's size."""
        return self.above / self.nbytes


@dataclass(slots=True)
class Results:
    """Every run's seconds per (row, implementation), and why a cell has no number."""

    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    stored_bytes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, row: str, impl: str, value: float | str) -> None:
        """Record one run: seconds, or a reason (``"n/a: ..."``, ``"error: ..."``)."""
        if isinstance(value, str):
            self.notes.setdefault((row, impl), value)
        else:
            self.times.setdefault((row, impl), []).append(float(value))

    def median(self, row: str, impl: str) -> float | None:
        """Median seconds, or ``None`` when there is no number."""
        runs = self.times.get((row, impl))
        return statistics.median(runs) if runs else None

    def ratio(self, row: str, impl: str, reference: str) -> float | None:
        """``impl`` median / ``reference`` median, when both exist."""
        ours, theirs = self.median(row, impl), self.median(row, reference)
        return None if ours is None or not theirs else ours / theirs

    def cell(self, row: str, impl: str) -> str:
        """A table cell: the median, or a short reason."""
        median = self.median(row, impl)
        if median is not None:
            return f"{median:.3f}"
        note = self.notes.get((row, impl), "-")
        return note.split(":")[0]


def _fmt(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def timing_table(results: Results, impls: list[tuple[str, str]],
                 rows: list[tuple[str, str]]) -> list[str]:
    """Median seconds per row and implementation, then zarrdask's ratios."""
    names = [name for name, _ in impls]
    refs = [(r, label) for r, label in (("zarr2", "zarr-python 2.18"),
                                        ("tensorstore", "tensorstore"), ("limit", "LIMIT"))
            if r in names and OURS in names]
    header = ["workload", "what"] + [f"{label} (s)" for _, label in impls]
    header += [f"zarrdask / {label}" for _, label in refs]
    body = []
    for row, what in rows:
        line = [row, what] + [results.cell(row, name) for name in names]
        line += [_fmt(results.ratio(row, OURS, ref)) for ref, _ in refs]
        body.append(line)
    return _table(header, body)


def limit_table(results: Results, impls: list[tuple[str, str]],
                rows: list[tuple[str, str]]) -> list[str]:
    """Every implementation's median as a multiple of LIMIT's."""
    others = [(n, label) for n, label in impls if n != "limit"]
    if not others or "limit" not in [n for n, _ in impls]:
        return []
    body = [[row] + [_fmt(results.ratio(row, n, "limit")) for n, _ in others]
            for row, _ in rows]
    return _table(["workload"] + [f"{label} / LIMIT" for _, label in others], body)


def targets_table(results: Results, impls: list[tuple[str, str]], rows: list[str],
                  memory: dict[str, MemoryResult]) -> tuple[list[str], list[str]]:
    """The issue's targets with the measured ratio and pass/fail; and the missed ones."""
    labels = dict(impls)
    body, missed = [], []
    for target in TARGETS:
        if target.row not in rows or OURS not in labels:
            continue
        ratio = results.ratio(target.row, OURS, target.reference)
        if ratio is None:
            verdict = "n/a"
        elif ratio <= target.at_most:
            verdict = "pass"
        else:
            verdict = "**FAIL**"
            missed.append(f"{target.row} vs {labels.get(target.reference, target.reference)}: "
                          f"{ratio:.2f} > {target.at_most}")
        body.append([target.row, f"zarrdask / {labels.get(target.reference, target.reference)}",
                     f"<= {target.at_most}", _fmt(ratio), verdict])
    if OURS in memory:
        mem = memory[OURS]
        ok = mem.multiple <= MEMORY_TARGET
        if not ok:
            missed.append(f"W2 peak memory: {mem.multiple:.2f}x > {MEMORY_TARGET}x")
        body.append(["W2 memory", "peak above baseline / array size", f"<= {MEMORY_TARGET}",
                     f"{mem.multiple:.2f}", "pass" if ok else "**FAIL**"])
    return _table(["workload", "ratio", "target", "measured", "verdict"], body), missed


def memory_table(memory: dict[str, MemoryResult]) -> list[str]:
    """Peak memory of W2 above baseline per implementation."""
    body = [[m.label, f"{m.baseline / 1e6:.0f}", f"{m.above / 1e6:.0f}", f"{m.multiple:.2f}"]
            for m in memory.values()]
    return _table(["implementation", "baseline RSS (MB)", "peak above baseline (MB)",
                   "x array size"], body)


def format_report_tables(results: Results, impls: list[tuple[str, str]],
                         rows: list[tuple[str, str]],
                         memory: dict[str, MemoryResult]) -> dict[str, list[str]]:
    """All tables by title (an empty list when a table has nothing to show)."""
    targets, missed = targets_table(results, impls, [r for r, _ in rows], memory)
    return {
        "timings": timing_table(results, impls, rows),
        "limit": limit_table(results, impls, rows),
        "targets": targets,
        "missed": [f"- {m}" for m in missed],
        "memory": memory_table(memory) if memory else [],
    }
