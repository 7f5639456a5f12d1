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


# The sans-I/O cores: frames, answers and the current time go in; events and outputs come out.
CORES = (
    "bpbfx.exceptions", "bpbfx.events", "bpbfx.book", "bpbfx.backoff", "bpbfx.stats",
    "bpbfx.readiness", "bpbfx._json", "bpbfx.sink", "bpbfx.backfill",
    "bpbfx.backpack.backfill", "bpbfx.bitfinex.backfill",
    "bpbfx.backpack.streams", "bpbfx.backpack.events", "bpbfx.backpack.decode",
    "bpbfx.backpack.book", "bpbfx.backpack.protocol", "bpbfx.backpack.orders.rules",
    "bpbfx.backpack.orders.markets", "bpbfx.backpack.orders.model", "bpbfx.backpack.orders.inputs",
    "bpbfx.backpack.orders.handles", "bpbfx.backpack.orders.core",
    "bpbfx.bitfinex.channels", "bpbfx.bitfinex.checksum", "bpbfx.bitfinex.events",
    "bpbfx.bitfinex.decode", "bpbfx.bitfinex.book", "bpbfx.bitfinex.outputs",
    "bpbfx.bitfinex.protocol", "bpbfx.bitfinex.orders",
    "bpbfx.unified.events", "bpbfx.unified.symbols", "bpbfx.sinks.wire", "bpbfx.sinks.item",
    "bpbfx.sinks.plan",
)
IO_MODULES = {"threading", "socket", "ssl", "selectors", "queue", "websocket", "urllib3", "redis",
              "subprocess", "multiprocessing", "http"}
# Credentials and signing, shared by cores and shells: they read keys from the environment, the
# clock (Backpack's signing time) and hold the process-wide Bitfinex nonce source under a lock,
# but do no network I/O.
AUTH = ("bpbfx.backpack.auth", "bpbfx.bitfinex.auth")
NETWORK_MODULES = IO_MODULES - {"threading"}
APPLICATIONS = ("bpbfx.cli", "bpbfx.collect", "bpbfx.bench", "bpbfx.sim", "bpbfx.__main__")


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _stdlib_imports(module: str) -> set[str]:
    parts = module.split(".")
    path = PACKAGE.parent.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = PACKAGE.parent.joinpath(*parts, "__init__.py")
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_cores_do_no_io() -> None:
    """A core module imports no threading, socket, TLS, HTTP or Redis module, and no module
    outside the cores but credentials and signing (a package core may import its own
    submodules)."""
    graph = import_graph()
    cores = {name for name in graph if _in(name, CORES)}
    assert len(cores) >= len(CORES)
    io = {name: sorted(_stdlib_imports(name) & IO_MODULES) for name in sorted(cores)}
    assert {name: found for name, found in io.items() if found} == {}
    outside = {name: sorted(d for d in graph[name] if d not in cores and d not in AUTH) for name in sorted(cores)}
    assert {name: deps for name, deps in outside.items() if deps} == {}


def test_credentials_and_signing_do_no_network_io() -> None:
    """The auth modules the cores may import touch no socket, TLS, HTTP or Redis module, and
    import nothing but the error tree."""
    graph = import_graph()
    for name in AUTH:
        assert sorted(_stdlib_imports(name) & NETWORK_MODULES) == []
        assert graph[name] <= {"bpbfx.exceptions"}


def test_the_library_does_not_import_the_applications() -> None:
    """Nothing but the applications imports the command line, the collector, the benchmarks or
    the simulators (the factory builds simulators for ``--sim``); the simulators import nothing
    else of the package, so their protocol code stays independent of the clients'."""
    graph = import_graph()
    allowed = {"bpbfx.factory": ("bpbfx.sim",)}
    wrong = {}
    for name, deps in sorted(graph.items()):
        if _in(name, APPLICATIONS):
            continue
        bad = sorted(d for d in deps if _in(d, APPLICATIONS) and not _in(d, allowed.get(name, ())))
        if bad:
            wrong[name] = bad
    assert wrong == {}
    sim_outside = {name: sorted(d for d in deps if not _in(d, ("bpbfx.sim",)))
                   for name, deps in graph.items() if _in(name, ("bpbfx.sim",))}
    assert {name: deps for name, deps in sim_outside.items() if deps} == {}
