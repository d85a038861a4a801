"""Tree views of a hierarchy: the text tree of ``Group.tree()`` and, in Jupyter, an ipytree widget.

The renderer works on any h5py-style group: an object with ``name`` and
``items()`` whose members are groups or arrays (anything with ``shape`` and
``dtype``). zarrdask groups and h5py files and groups both qualify.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["TreeNode", "TreeViewer", "build_tree", "render_tree", "tree_widget"]


@dataclass(frozen=True, slots=True)
class _Style:
    """The four drawing strings of one tree style."""

    branch: str  # connector of a member that has later siblings
    last: str  # connector of the last member
    pipe: str  # indent under a member that has later siblings
    blank: str  # indent under the last member


_UNICODE = _Style(branch="├── ", last="└── ", pipe="│   ", blank="    ")
_ASCII = _Style(branch="+-- ", last="+-- ", pipe="|   ", blank="    ")


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One node of a rendered tree.

    Attributes
    ----------
    label : str
        The text shown: the member name, plus ``shape dtype`` for arrays.
    is_array : bool
        Whether the node is an array (a leaf) rather than a group.
    children : tuple of TreeNode
        Members, sorted by name; empty for arrays and for groups cut off by ``level``.
    """

    label: str
    is_array: bool
    children: tuple[TreeNode, ...] = ()


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype")


def _basename(obj: Any) -> str:
    name = getattr(obj, "name", None) or ""
    return name.rsplit("/", 1)[-1] or "/"


def _label(obj: Any, name: str) -> str:
    if _is_array(obj):
        return f"{name} {tuple(obj.shape)} {obj.dtype}"
    return name


def build_tree(group: Any, level: int | None = None) -> TreeNode:
    """Build the tree of ``group`` down to ``level`` levels below it (all levels if None).

    Parameters
    ----------
    group : group-like
        A zarrdask group, an h5py file or group, or an array (a one-node tree).
    level : int, optional
        Depth limit; ``0`` shows only ``group`` itself.

    Returns
    -------
    TreeNode

    Raises
    ------
    ValueError
        If ``level`` is negative.
    """
    if level is not None and (isinstance(level, bool) or int(level) != level or level < 0):
        raise ValueError(f"level must be None or a non-negative integer, got {level!r}")

    def node(obj: Any, name: str, depth: int) -> TreeNode:
        if _is_array(obj):
            return TreeNode(_label(obj, name), True)
        children: tuple[TreeNode, ...] = ()
        if level is None or depth < level:
            members = sorted(obj.items(), key=lambda kv: kv[0])
            children = tuple(node(child, key, depth + 1) for key, child in members)
        return TreeNode(name, False, children)

    return node(group, _basename(group), 0)


def _lines(node: TreeNode, style: _Style) -> Iterator[str]:
    yield node.label

    def walk(children: tuple[TreeNode, ...], indent: str) -> Iterator[str]:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            yield indent + (style.last if last else style.branch) + child.label
            yield from walk(child.children, indent + (style.blank if last else style.pipe))

    yield from walk(node.children, " ")


def render_tree(node: TreeNode, ascii_only: bool = False) -> str:
    """Render a tree as text, laid out as zarr-python 2.x prints it.

    Examples
    --------
    >>> leaf = TreeNode("baz (100,) int64", True)
    >>> print(render_tree(TreeNode("/", False, (TreeNode("foo", False, (leaf,)),))))
    /
     └── foo
         └── baz (100,) int64
    """
    return "\n".join(_lines(node, _ASCII if ascii_only else _UNICODE))


def tree_widget(node: TreeNode, expand: bool = False) -> Any:
    """Build an ``ipytree.Tree`` widget of a tree (raises ImportError without ipytree)."""
    import ipytree  # optional dependency, only for Jupyter

    def make(n: TreeNode) -> Any:
        icon = "table" if n.is_array else "folder"
        return ipytree.Node(n.label, [make(c) for c in n.children], opened=expand, icon=icon)

    widget = ipytree.Tree()
    widget.add_node(make(node))
    return widget


class TreeViewer:
    """The result of ``Group.tree()``: text when printed, a widget in Jupyter when ipytree is there.

    Parameters
    ----------
    group : group-like
        The group to show (zarrdask or h5py).
    expand : bool, optional
        Open every node of the widget.
    level : int, optional
        Depth limit.
    """

    __slots__ = ("expand", "level", "node")

    def __init__(self, group: Any, expand: bool = False, level: int | None = None) -> None:
        self.expand = expand
        self.level = level
        self.node = build_tree(group, level)

    def __str__(self) -> str:
        return render_tree(self.node)

    __repr__ = __str__

    def __bytes__(self) -> bytes:
        return render_tree(self.node, ascii_only=True).encode("ascii", "replace")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        try:
            widget = tree_widget(self.node, expand=self.expand)
        except ImportError:
            return {"text/plain": str(self)}
        return widget._repr_mimebundle_(**kwargs)
