"""No import cycles inside the bnno package, counting imports made inside functions.

Every module is parsed with ``ast`` (nothing is imported), every import statement that
names a bnno module becomes an edge, and the modules that import each other, directly
or through others, are reported by the strongly connected components of that graph.
A package is one node (its ``__init__``): the package importing its own submodules is
fine, a submodule importing the package back closes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "bnno"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, whether it is a package ``__init__``)."""
    found = {}
    for file in sorted(root.rglob("*.py")):
        parts = [package, *file.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (file, is_package)
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` statement reads from."""
    if not node.level:
        return node.module or ""
    # A relative import counts from the module's package (from itself for an __init__).
    base = module.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(tree: ast.AST, module: str, is_package: bool,
                     known: set[str]) -> set[str]:
    """The modules of ``known`` that ``tree`` imports anywhere (also inside functions).

    ``import a.b`` imports ``a.b``; ``from a.b import c`` imports ``a.b``, and ``a.b.c``
    as well when that is a module. A package reading its own submodules
    (``from . import c`` in its ``__init__``) imports those submodules, not itself.
    """
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, is_package)
            if not (is_package and source == module):
                targets.add(source)
            targets.update(f"{source}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known}


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports.

    The parent packages Python runs before a submodule are not edges: running
    ``bnno.models.registry`` first runs ``bnno/models/__init__.py``, which is no cycle
    as long as no submodule imports the package by name (``from bnno.models import x``).
    """
    files = module_files(root, package)
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, (file, is_package) in files.items():
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        graph[module] = imported_modules(tree, module, is_package, known)
        if is_package and _calls(tree, "import_members"):
            # bnno.import_members imports every module of the package at run time.
            graph[module] |= {m for m, (_, pkg) in files.items()
                              if not pkg and m.rpartition(".")[0] == module}
    return graph


def _calls(tree: ast.AST, name: str) -> bool:
    """Whether ``tree`` calls ``name(__name__, ...)``: on its own package (``bnno``'s
    ``import_deferred`` calls it on the packages it deferred, not on ``bnno``)."""
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
               and node.args and getattr(node.args[0], "id", None) == "__name__"
               for node in ast.walk(tree))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` that hold a cycle: more than one
    node, or one node with an edge to itself; each sorted, the list sorted.

    Tarjan's algorithm, iterative (no recursion limit on deep chains).
    """
    nodes = set(graph) | {m for targets in graph.values() for m in targets}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"{', '.join(component)} ({'; '.join(edges)})"


def test_cycle_finder_on_hand_made_graphs():
    # a -> b -> c -> a is one cycle; d hangs off it; e imports itself; f -> g is a DAG.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"g"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]
    assert cycles({"f": {"g", "h"}, "g": {"h"}, "h": set()}) == []
    # Two separate cycles sharing no node are reported apart.
    assert cycles({"p": {"q"}, "q": {"p", "r"}, "r": {"s"}, "s": {"r"}}) == [["p", "q"],
                                                                             ["r", "s"]]


@pytest.mark.parametrize(("source", "module", "is_package", "expected"), [
    ("import bnno.models.bnext", "bnno.x", False, {"bnno.models.bnext"}),
    ("def f():\n    from bnno import runs, errors\n", "bnno.x", False, {"bnno", "bnno.runs"}),
    ("from bnno.models import register", "bnno.models.a", False, {"bnno.models"}),
    ("from bnno.models.registry import get", "bnno.models.a", False, {"bnno.models.registry"}),
    ("from bnno.models import a\nfrom .registry import get", "bnno.models", True,
     {"bnno.models.a", "bnno.models.registry"}),
    ("from .. import runs\nfrom . import a", "bnno.models.b", False,
     {"bnno", "bnno.runs", "bnno.models", "bnno.models.a"}),
    ("import bnno.x", "bnno.x", False, {"bnno.x"}),
    ("import numpy as np\nfrom typing import Any", "bnno.x", False, set()),
])
def test_imports_are_read_from_the_syntax_tree(source, module, is_package, expected):
    known = {"bnno", "bnno.runs", "bnno.x", "bnno.models", "bnno.models.a",
             "bnno.models.bnext", "bnno.models.registry"}
    assert imported_modules(ast.parse(source), module, is_package, known) == expected


def test_packages_that_import_their_members_have_edges_to_them(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / "__init__.py").write_text("from bnno import import_members\n"
                                                  "import_members(__name__, __path__)\n")
    (tmp_path / "reg" / "one.py").write_text("from pkg import reg\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.reg"] == {"pkg.reg.one"}
    assert cycles(graph) == [["pkg.reg", "pkg.reg.one"]]


def test_bnno_has_no_import_cycles():
    graph = import_graph()
    assert {"bnno.training.train", "bnno.models", "bnno.models.bnext"} <= set(graph)
    assert "bnno.runs" in graph["bnno.training.train"]  # imports are found at all
    found = cycles(graph)
    assert not found, "import cycles in bnno:\n" + "\n".join(
        _describe(graph, c) for c in found)


# The floors of the package, from the bottom: a module imports only from its own floor
# and the floors below it (the CLI at the top, recipes and their types at the bottom).
FLOORS = [
    ("bnno", "bnno.errors", "bnno.registry", "bnno.schedules", "bnno.htypes", "bnno.hparams",
     "bnno.runs", "bnno.atomic", "bnno.locks"),
    ("bnno.layers",),
    ("bnno.quantizers", "bnno.optimizers", "bnno.data"),
    ("bnno.models", "bnno.checkpoints"),
    ("bnno.plugins", "bnno.config"),
    ("bnno.training",),
    ("bnno.analysis", "bnno.deploy"),
    ("bnno.train", "bnno.cli"),
]


def floor(module: str) -> int:
    """The floor of ``module``: that of the longest listed prefix."""
    found = [(len(p), i) for i, prefixes in enumerate(FLOORS) for p in prefixes
             if module == p or module.startswith(p + ".")]
    assert found, f"{module} is on no floor: add it to FLOORS"
    return max(found)[1]


def test_imports_run_one_way_down_the_floors():
    graph = import_graph()
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in sorted(targets)
              if floor(b) > floor(a)]
    assert not upward, "imports that run back up:\n" + "\n".join(upward)
    # The recipes' resolution knows no registry.
    assert not graph["bnno.hparams"] & {m for m in graph if m.startswith(
        ("bnno.optimizers", "bnno.quantizers", "bnno.models"))}
