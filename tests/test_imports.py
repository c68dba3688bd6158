"""No import circles in bench/ and research/: import-linter checks the eduscore package (the
`acyclic_siblings` contract in pyproject.toml); these two folders are outside it, so their import
graph is built here from the source, lazy imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path, package: str) -> str:
    return package if path.stem == "__init__" else f"{package}.{path.stem}"


def imports_of(path: Path, package: str) -> set[str]:
    """The modules of `package` that the file at `path` imports, wherever the import sits."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom):
            module = package if node.level else node.module or ""
            if node.level and node.module:
                module = f"{package}.{node.module}"
            if module == package:  # `from bench import tiers` imports a module of the package
                out |= {f"{package}.{a.name}" for a in node.names}
            elif module.split(".")[0] == package:
                out.add(module)
    return out


def graph_of(package: str) -> dict[str, set[str]]:
    files = sorted((ROOT / package).glob("*.py"))
    names = {_module_name(p, package) for p in files}
    return {_module_name(p, package): imports_of(p, package) & names for p in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as [a, b, ..., a], or None (depth-first, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("package", ["bench", "research"])
def test_no_import_circles(package: str) -> None:
    graph = graph_of(package)
    assert len(graph) > 3, f"{package}/ read as {sorted(graph)}"
    assert find_cycle(graph) is None, f"import circle in {package}/: {find_cycle(graph)}"


def test_the_circle_bench_had_is_found(tmp_path: Path) -> None:
    """The checker can fail: bench/__main__ and bench/tiers importing each other (lazily)."""
    (tmp_path / "__main__.py").write_text("from bench import tiers\n")
    (tmp_path / "tiers.py").write_text("def f():\n    from bench.__main__ import stages\n")
    graph = {_module_name(p, "bench"): imports_of(p, "bench") for p in tmp_path.glob("*.py")}
    assert find_cycle(graph) == ["bench.__main__", "bench.tiers", "bench.__main__"]
