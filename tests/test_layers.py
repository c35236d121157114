"""The house rules, checked on the source: no import cycles (between modules or between
packages), every package imports only the layers below it (the map in the README's
development section), no private module (``_name``) imported from outside its package, and
every package says what it exports (``__all__``).

Every ``import`` statement counts, wherever it sits (module top, inside a function, under
``TYPE_CHECKING``): an import hidden in a function is still an edge of the graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import suanli

SRC = Path(suanli.__file__).parent
ROOT = "suanli"

# The map: each top-level package or module of suanli and what it may import. Core first,
# then the service edge, then the tools; the README's development section shows the same.
CORE = ("catalog", "geo", "perf", "placement", "market", "sim")
MAY_IMPORT: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "defaults": frozenset(),
    "settings": frozenset({"errors", "defaults"}),
    "catalog": frozenset({"errors", "defaults"}),
    "geo": frozenset({"errors", "catalog"}),
    "perf": frozenset({"errors", "defaults", "catalog"}),
    "placement": frozenset({"errors", "defaults", "inputs", "catalog", "geo", "perf"}),
    "market": frozenset({"errors", "catalog", "geo", "perf", "placement"}),
    "sim": frozenset({"errors", "defaults", "catalog", "geo", "perf", "placement", "market"}),
    "inputs": frozenset({"errors", "defaults"}),
    "store": frozenset({"errors", "defaults", "settings", *CORE}),
    "client": frozenset({"errors"}),
    "probe": frozenset({"errors", "catalog", "perf", "client", "__init__"}),
    "api": frozenset({"errors", "defaults", "settings", "inputs", "store", "probe", *CORE}),
    "web": frozenset({"errors", "defaults", "settings", "store", "api", *CORE}),
    "gateway": frozenset({"errors", "defaults", "settings", "client", "store", "api", *CORE}),
    "app": frozenset({"errors", "settings", "store", "api", "web", "gateway", "__init__"}),
    "bench": frozenset(
        {"errors", "defaults", "settings", "client", "store", "api", "app", "probe"}
        | {"gateway", *CORE}
    ),
    "cli": frozenset(
        {"errors", "defaults", "settings", "inputs", "client", "store", "api", "web", "app"}
        | {"probe", "bench", "gateway", "__init__", *CORE}
    ),
    "__main__": frozenset({"cli"}),
    "__init__": frozenset(),
}


def _module_name(path: Path) -> str:
    parts = [ROOT, *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported suanli module, line) for every import statement of one module."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            targets = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in known else source
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target == ROOT or target.startswith(ROOT + "."):
                yield target, node.lineno


@cache
def graph() -> dict[str, dict[str, int]]:
    """module -> {imported suanli module: first line}."""
    known = modules()
    edges: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        out: dict[str, int] = {}
        for target, line in _imports(name, path):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]  # an attribute of a module
            if target != name:
                out.setdefault(target, line)
        edges[name] = out
    return edges


def top(module: str) -> str:
    """The top-level package or module of suanli a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    edges = {m: set(targets) for m, targets in graph().items()}
    assert cycles(edges) == []


def test_no_two_packages_import_each_other() -> None:
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        for target in targets:
            if top(module) != top(target):
                edges.setdefault(top(module), set()).add(top(target))
    assert cycles(edges) == []


def test_every_package_imports_only_the_layers_below_it() -> None:
    unknown = sorted({top(m) for m in modules()} - set(MAY_IMPORT))
    assert unknown == [], f"add {unknown} to MAY_IMPORT here and to the README's map"
    wrong = [
        f"{module}:{line} imports {target}"
        for module, targets in graph().items()
        for target, line in targets.items()
        if top(target) != top(module) and top(target) not in MAY_IMPORT[top(module)]
    ]
    assert wrong == []


def test_the_core_does_no_io_through_the_outer_layers() -> None:
    outer = {"store", "api", "web", "app", "cli", "probe", "bench", "client", "gateway"}
    for package in CORE:
        assert not MAY_IMPORT[package] & outer, package


def _private(module: str) -> str | None:
    """The package a private module (one named ``_x``) belongs to, else None."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_no_private_module_is_imported_from_outside_its_package() -> None:
    wrong = []
    for module, targets in graph().items():
        for target, line in targets.items():
            owner = _private(target)
            if owner is not None and not (module + ".").startswith(owner + "."):
                wrong.append(f"{module}:{line} imports {target}")
    for name, path in modules().items():  # nor a library's private modules
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for imported in names:
                if not imported.startswith(ROOT) and _private(imported) is not None:
                    wrong.append(f"{name}:{node.lineno} imports {imported}")
    assert wrong == []


def test_every_package_says_what_it_exports() -> None:
    missing = []
    for name, path in modules().items():
        if path.name != "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            t.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        if "__all__" not in names:
            missing.append(name)
    assert missing == []


def test_the_checks_see_a_cycle_and_a_private_import() -> None:
    """The checks above can fail: they find what they are for in a made-up graph."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert _private("suanli.catalog._lookup") == "suanli.catalog"
    assert _private("typer._click") == "typer"
    assert _private("suanli.api.routes.offers") is None
    assert top("suanli.api.routes.offers") == "api" and top("suanli") == "__init__"
