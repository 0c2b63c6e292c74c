"""The import graph of app/, engine/ and storage/: no circles, and arrows point down only
(DESIGN.md, "Layout and layering": app -> engine, app -> storage; engine and storage
never import each other or app).

The graph is read from the source with `ast`, nothing is imported, so imports inside
functions and under TYPE_CHECKING count too: a circle hidden there still ties two modules
together, and becomes a real one as soon as an import moves. Modules named by a string
(importlib.import_module) are not seen.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

from engine.paths import REPO

PACKAGES = ("app", "engine", "storage")
FORBIDDEN = {("engine", "app"), ("storage", "app"), ("engine", "storage"), ("storage", "engine")}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(name: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules that the module `name` (source at `path`) imports. `from p
    import x` counts as importing p.x when that is a module, else p."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            base = ".".join(part for part in (base, node.module) if part)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found.update(target for target in targets if target in modules)
    return found - {name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}
    return {name: imported(name, path, set(paths)) for name, path in paths.items()}


def shortest_circle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest import path from `start` back to itself (breadth first), if any."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                circle = [node]
                while circle[-1] != start:
                    circle.append(came_from[circle[-1]])
                return [*reversed(circle), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    return None


def circles(graph: dict[str, set[str]]) -> list[str]:
    """One line per circle, "a -> b -> a", each set of modules reported once."""
    found: dict[frozenset[str], list[str]] = {}
    for name in sorted(graph):
        circle = shortest_circle(graph, name)
        if circle:
            found.setdefault(frozenset(circle), circle)
    return [" -> ".join(circle) for circle in found.values()]


def test_the_walker_sees_every_kind_of_import():
    graph = import_graph()
    assert {"app.service", "engine.lcm.model", "storage.store"} <= graph.keys()
    assert "engine.lcm.config" in graph["engine.lcm.schedules"]  # from .config import ...
    assert "engine.lcm.checkpoint" in graph["engine.lcm.model"]  # from . import checkpoint
    assert "engine.lcm" in graph["engine.train.trainer"]  # from engine.lcm import ... (package)
    assert {"engine", "storage"} <= {target.split(".")[0] for target in graph["app.service"]}


def test_the_walker_finds_circles_through_functions_and_type_checking(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert circles(graph) == ["a -> b -> c -> a", "e -> e2 -> e"]
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .sibling import Thing\n"
        "def later():\n    import pkg.other\n"
    )
    assert imported("pkg.m", source, {"pkg.sibling", "pkg.other"}) == {"pkg.sibling", "pkg.other"}


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_engine_and_storage_never_import_app_or_each_other():
    crossings = [
        f"{name} imports {target}"
        for name, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if (name.split(".")[0], target.split(".")[0]) in FORBIDDEN
    ]
    assert crossings == []
