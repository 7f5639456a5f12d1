"""The package's shape: no import cycles (counting imports inside functions; imports under
``if TYPE_CHECKING:`` aside, as they never run), and one error tree that holds every error."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bpbfx"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth, skipping ``if TYPE_CHECKING:`` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of bpbfx it imports``.

    An edge goes to the module an import names: ``from .x import y`` depends on ``x`` (or on
    ``x.y`` when that is a module).  The package ``__init__`` modules Python runs on the way are
    not counted: re-exporting names from a package's ``__init__`` is not a dependency of its
    submodules on each other.
    """
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                for alias in node.names:
                    # ``from pkg import module`` depends on that module; ``from pkg import name``
                    # on the module (or package) that defines the name.
                    sub = f"{prefix}.{alias.name}"
                    targets.append(sub if sub in files else prefix)
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    """No two modules of bpbfx import each other, directly or through others."""
    assert cycles(import_graph()) == []


def test_every_error_is_in_the_tree_and_exported() -> None:
    """Every BpbfxError subclass anywhere in bpbfx is defined in bpbfx.exceptions, drawn in its
    docstring tree and exported from bpbfx."""
    import bpbfx
    from bpbfx import exceptions

    skip = ("bpbfx.__main__",)
    found: set[type] = set()
    for info in pkgutil.walk_packages(bpbfx.__path__, "bpbfx."):
        if info.name.startswith(skip):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, exceptions.BpbfxError):
                found.add(value)
    outside = sorted(c.__qualname__ for c in found if c.__module__ != "bpbfx.exceptions")
    assert outside == []
    tree = exceptions.__doc__ or ""
    assert sorted(c.__name__ for c in found if c.__name__ not in tree) == []
    assert sorted(c.__name__ for c in found if c.__name__ not in bpbfx.__all__) == []
