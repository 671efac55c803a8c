"""The package's floors: which room may import which (imports inside functions count).

- ``config`` is the ground floor: plain dataclasses and preset values, it imports
  nothing of the package but its errors; resolving a preset for a method needs
  the registry and lives one floor up, in ``presets``.
- ``experiments`` runs searches; ``report`` reads what they wrote (tables,
  plots, show, status). Reporting may read the experiments' layout; running
  never imports reporting.
- No two modules import each other, directly or through others (a package's
  own ``__init__`` re-exporting its members does not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nasbench_sd

PACKAGE = Path(nasbench_sd.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its text."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nasbench_sd"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in files else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("nasbench_sd")}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), ignoring a
    module's import of its own package's ``__init__``."""
    edges = {m: {d for d in ds if not m.startswith(d + ".")} for m, ds in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p"}, "p": {"p.d"}}
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_config_is_the_ground_floor():
    assert import_graph()["nasbench_sd.config"] <= {"nasbench_sd.errors"}


def test_running_never_imports_reporting():
    graph = import_graph()
    up = sorted((m, d) for m, ds in graph.items() if _room(m) == "experiments" for d in ds if _room(d) == "report")
    assert up == []


def test_methods_do_not_reach_up():
    """A method is a plugin below the loop, the runner and the preset resolution."""
    graph = import_graph()
    above = {"config", "presets", "cards", "search", "experiments", "report", "cli"}
    up = sorted((m, d) for m, ds in graph.items() if _room(m) == "methods" for d in ds if _room(d) in above)
    assert up == []


def test_the_report_room_holds_tables_plots_and_views():
    names = {p.stem for p in (PACKAGE / "report").glob("*.py")}
    assert {"table", "render", "compare", "published", "curves", "plot", "plot_final", "show", "status",
            "ablation"} <= names
    assert not any((PACKAGE / "experiments" / f"{n}.py").exists() for n in ("table", "plot", "show", "render"))
