"""grader's imports point one way (model -> backends -> lab -> runner -> cli, features on top), and a
`grade` command imports only what it uses.

Every import counts, also one inside a function: moving an import into a function hides a circle from
Python's start-up but not from the design, so it does not break one here.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"

# Circles another stream is breaking; each stays listed (as an expected failure) until it is gone.
EXPECTED_CIRCLES: dict[frozenset[str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, dict[str, list[str]]]:
    """module -> {imported grader module: ["file:line", ...]}, over every import statement in grader/."""
    modules = {_module_name(p): p for p in GRADER.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, list[str]]] = {m: {} for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                found = known(target)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if found and found != module and where not in graph[module].get(found, []):
                    graph[module].setdefault(found, []).append(where)
    return graph


def import_circles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(circles)


def describe(circle: list[str], graph: dict[str, dict[str, list[str]]]) -> str:
    edges = [f"    {a} -> {b} ({', '.join(graph[a][b])})" for a in circle for b in sorted(graph[a]) if b in circle]
    return "  " + " <-> ".join(circle) + "\n" + "\n".join(edges)


def test_the_circle_finder_finds_a_circle_hidden_in_a_function():
    graph = {"a": {"b": ["a.py:3"]}, "b": {"c": ["b.py:9"]}, "c": {"a": ["c.py:40 (inside a function)"]}, "d": {"a": ["d.py:1"]}}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert "c -> a (c.py:40 (inside a function))" in describe(["a", "b", "c"], graph)


def test_no_import_circle_among_graders_modules():
    graph = import_graph()
    assert "grader.lab" in graph["grader.runner"]  # the graph sees grader's own imports
    circles = import_circles(graph)
    unexpected = [c for c in circles if frozenset(c) not in EXPECTED_CIRCLES]
    assert not unexpected, "import circles (give the shared thing a home both can import):\n" + \
        "\n".join(describe(c, graph) for c in unexpected)
    if circles:
        pytest.xfail("circles left for another stream:\n" + "\n".join(
            f"{describe(c, graph)}\n    ({EXPECTED_CIRCLES[frozenset(c)]})" for c in circles))


def test_the_runner_does_not_know_the_workshop_and_the_workshop_cli_not_the_cli():
    graph = import_graph()
    assert not [m for m in graph["grader.runner"] if m.startswith("grader.workshop")]
    assert not [m for m in graph["grader.lab"] if m.startswith("grader.workshop")]
    assert "grader.cli" not in graph["grader.workshop.cli"]


# What a command must not import: the kubernetes client (and its ~800 pydantic models), and the code of
# features the command does not use. Checked by the modules loaded, not by a clock.
HEAVY = ("kubernetes", "pydantic", "jsonschema", "grader.cluster.cli", "grader.cluster.kind", "grader.workshop.setup")


@pytest.mark.parametrize("argv", [
    ["sim", "matrix", "examples/three-tier.yaml"],
    ["lesson4", "--sim", "--solution"],
    ["list"],
    ["hint", "lesson1"],
])
def test_a_simulator_command_loads_neither_the_kubernetes_client_nor_unused_features(argv, tmp_path):
    code = ("import json, sys\nfrom grader.cli import main\nrc = main(sys.argv[1:])\n"
            f"print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})]))")
    env = dict(os.environ, GRADE_HOME=str(tmp_path), GRADE_EXERCISES=str(ROOT / "exercises"),
               GRADE_STATE=str(tmp_path / "progress.json"), KUBECONFIG=str(tmp_path / "none"))
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    rc, loaded = json.loads(p.stdout.strip().splitlines()[-1])
    assert rc in (0, 1), p.stdout + p.stderr
    assert loaded == [], f"`grade {' '.join(argv)}` imported {loaded}"
