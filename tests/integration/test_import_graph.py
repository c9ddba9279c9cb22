"""No import circles in the integration or the agents, not even behind TYPE_CHECKING
(docs/architecture.md): each module can be read knowing only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {
    "bobby_camera": REPO / "custom_components" / "bobby_camera",
    "bobby_edge": REPO / "edge_agents" / "bobby_edge",
}


def _modules(name: str, root: Path) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([name, *parts])] = path
    return found


def import_graph(name: str, root: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports (every import statement, wherever it stands)."""
    modules = _modules(name, root)
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                named = [f"{target}.{alias.name}" for alias in node.names]
                # `from . import protocol` imports the module, not the package's __init__.
                wanted = named if all(n in modules for n in named) else [target, *named]
            elif isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            else:
                continue
            graph[module] |= {w for w in wanted if w in modules and w != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circles(package: str) -> None:
    assert cycles(import_graph(package, PACKAGES[package])) == []


def test_the_check_finds_a_circle(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    hidden = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    (tmp_path / "a.py").write_text(hidden)
    (tmp_path / "b.py").write_text("from . import a\n")
    assert cycles(import_graph("pkg", tmp_path)) == [["pkg.a", "pkg.b"]]


def test_the_recorder_does_not_import_the_hub() -> None:
    graph = import_graph("bobby_camera", PACKAGES["bobby_camera"])
    assert all("bobby_camera.hub" not in graph[m] for m in graph if m.startswith("bobby_camera.recording"))
