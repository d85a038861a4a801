"""The import direction of ARCHITECTURE.md: modules import only from their own layer or below.

Also: dask and distributed are imported only by ``zarrdask/dask_array.py`` (and the
dask-free planner beside it never imports them), xarray only by the xarray backend
modules, and zarr-python never.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "zarrdask"

# layer of each module (by dotted name relative to the package); lower numbers sit lower
LAYERS: dict[str, int] = {
    "errors": 0, "config": 0, "info": 0,
    "keys": 1, "grid": 1, "parallel": 1,
    "node": 4, "meta": 2, "jsonfmt": 2,
    "indexing": 2, "indexing_points": 2, "selection": 2, "codecs": 2, "sync": 2,
    "storage": 3,
    "chunkio": 4, "attrs": 4, "readahead": 4,
    "core": 5,
    "creation": 6, "convenience": 6, "hierarchy": 6, "consolidated": 6, "copying": 6, "tree": 6,
    "consolidated_format": 6, "group_io": 6, "group_members": 6,
    "dask_plan": 6,
    "dask_array": 7, "xarray_backend": 7, "xarray_writer": 7, "cli": 7, "testing": 7,
    "__main__": 8, "__init__": 8,
}
ONLY_IMPORTER = {"dask": {"dask_array", "xarray_writer"}, "distributed": {"dask_array"},
                 "xarray": {"xarray_backend", "xarray_writer"}, "zarr": set()}


def _layer_of(module: str) -> int:
    top = module.split(".")[0]
    if top not in LAYERS:
        raise AssertionError(f"module zarrdask.{module} has no layer in tests/test_layers.py")
    return LAYERS[top]


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"] or ["__init__"]
        out.append((".".join(parts), path))
    return out


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list[str]:
    """Imports that run (those under ``if TYPE_CHECKING:`` are for annotations only)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if _is_type_checking_block(node):
            node.body = []  # type: ignore[attr-defined]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "zarrdask":
                names.extend(f"zarrdask.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_go_downwards(module: str, path: Path) -> None:
    own = _layer_of(module)
    own_top = module.split(".")[0]
    for name in _imports(path):
        top = name.split(".")[0]
        if top in ONLY_IMPORTER:
            assert own_top in ONLY_IMPORTER[top], f"zarrdask.{module} imports {name}"
        if top != "zarrdask" or name == "zarrdask":
            continue
        target = name.split(".", 1)[1]
        if target.split(".")[0] == own_top:
            continue
        assert _layer_of(target) <= own, (
            f"zarrdask.{module} (layer {own}) imports zarrdask.{target} "
            f"(layer {_layer_of(target)}): imports must go downwards"
        )
