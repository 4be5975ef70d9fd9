"""The packages of app/ depend on each other one way, read from the source with ``ast``.

Every import counts, at the top of a module or inside a function: a deferred import is still a
dependency. ``app/main.py``, ``app/cli.py`` and ``app/jobs.py`` compose the service, and
``app/simulation/`` drives the whole of it through a simulated year; they may import anything and
no domain imports them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
COMPOSITION = frozenset({"app.main", "app.cli", "app.jobs", "app.simulation"})
# The model registry that Alembic reads: it imports every domain's models on purpose, and its
# imports are left out of the package graph (every package would otherwise be in a cycle).
CORE_REGISTRY = "app.core.models"


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, e.g. app.needs.service
    target: str  # the imported module (or module.name for ``from module import name``)
    line: int

    def where(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    """Every import statement of a file, wherever it stands, as absolute module names."""
    source = path.read_text(encoding="utf-8")
    return imports_in(source, module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(module, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def package_of(module: str) -> str | None:
    """``app.<package>`` of an app module; the module itself for a composition module."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def app_imports() -> list[Import]:
    return [found for path in sorted(APP.rglob("*.py")) for found in imports_of(path)]


def package_graph(found: list[Import]) -> dict[str, dict[str, list[Import]]]:
    """package → package it imports → the imports that make the edge."""
    graph: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for item in found:
        source, target = package_of(item.module), package_of(item.target)
        if item.module == CORE_REGISTRY or source in COMPOSITION:
            continue
        if source and target and source != target:
            graph[source][target].append(item)
    return graph


def strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """The groups of packages that reach each other (Tarjan), each with more than one package."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, {})):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def simple_cycles(group: list[str], graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Every cycle inside ``group`` that passes each package once, from its smallest package."""
    cycles: list[list[str]] = []

    def extend(path: list[str]) -> None:
        for successor in sorted(set(graph[path[-1]]) & set(group)):
            if successor == path[0]:
                cycles.append([*path, successor])
            elif successor > path[0] and successor not in path:
                extend([*path, successor])

    for start in group:
        extend([start])
    return sorted(cycles, key=lambda cycle: (len(cycle), cycle))


def describe_cycles(graph: dict[str, dict[str, list[Import]]]) -> list[str]:
    """Each group of packages that import each other: a cycle, then where each edge comes from."""
    lines = []
    for group in strongly_connected(graph):
        lines += ["cycle: " + " → ".join(cycle) for cycle in simple_cycles(group, graph)]
        for source in group:
            for target in sorted(set(graph[source]) & set(group)):
                places = sorted({f"{item.module}:{item.line}" for item in graph[source][target]})
                lines.append(f"    {source} → {target}: {', '.join(places)}")
    return lines


def test_no_cycle_between_app_packages() -> None:
    cycles = describe_cycles(package_graph(app_imports()))
    assert not cycles, "packages of app/ import each other:\n" + "\n".join(cycles)


def test_nothing_imports_the_composition_modules() -> None:
    offending = [
        item.where()
        for item in app_imports()
        if package_of(item.target) in COMPOSITION and package_of(item.module) not in COMPOSITION
    ]
    assert not offending, "\n".join(offending)


def test_core_imports_no_domain_package_but_in_the_model_registry() -> None:
    offending = [
        item.where()
        for item in app_imports()
        if package_of(item.module) == "app.core"
        and item.module != CORE_REGISTRY
        and package_of(item.target) not in (None, "app.core")
    ]
    assert not offending, "app.core is plumbing, it imports no domain:\n" + "\n".join(offending)


def test_matching_imports_no_app_database_or_web_code() -> None:
    forbidden = ("app", "sqlalchemy", "fastapi")
    offending = [
        item.where()
        for path in sorted((ROOT / "matching").rglob("*.py"))
        for item in imports_of(path)
        if item.target.split(".")[0] in forbidden
    ]
    assert not offending, "matching/ is arrays in, pairs out:\n" + "\n".join(offending)


def test_imports_inside_functions_count_and_relative_ones_are_resolved() -> None:
    source = (
        "import app.core.db\n"
        "from . import schemas\n"
        "from ..needs.models import Need\n"
        "def later():\n"
        "    from app.offers import service\n"
    )
    found = imports_in(source, "app.pairings.service")
    assert [item.target for item in found] == [
        "app.core.db",
        "app.pairings.schemas",
        "app.needs.models.Need",
        "app.offers.service",
    ]
    assert [package_of(item.target) for item in found] == [
        "app.core",
        "app.pairings",
        "app.needs",
        "app.offers",
    ]
