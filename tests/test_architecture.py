"""The package's folders are the pipeline: imports run down the layers only, and never in a cycle.

Every ``import msdepth.X`` (at module level or inside a function) is read from the source with
`ast`. A new top-level module or package must be given a layer here, which is the point: where
it sits in the pipeline is a decision, not an accident.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS: list[set[str]] = [
    {"errors", "config", "presets", "fileio", "devices", "allocator", "speed", "visualize"},
    {"data"},
    {"synth", "models"},
    {"checkpoint", "losses", "metrics"},
    {"train", "inference"},
    {"evaluation", "export"},
    {"quickstart"},
    {"cli", "app", "__init__", "__main__"},
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """msdepth module -> the msdepth modules it imports (``from msdepth.a import b`` -> a)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted((SRC / "msdepth").rglob("*.py")):
        name = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t.startswith("msdepth"))
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_module_has_a_layer():
    tops = {_top(m) for m in _imports()} | {
        _top(_module_name(p)) for p in (SRC / "msdepth").glob("*.py")
    }
    missing = sorted(tops - set(LAYER_OF))
    assert not missing, f"give these a layer in tests/test_architecture.py: {missing}"


def test_imports_never_run_up_the_layers():
    upward = []
    for module, targets in _imports().items():
        for target in targets:
            here, there = _top(module), _top(target)
            if here in LAYER_OF and there in LAYER_OF and LAYER_OF[there] > LAYER_OF[here]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that run back up the pipeline: " + ", ".join(sorted(upward))


def test_no_import_cycles_between_modules():
    graph = _imports()
    modules = set(graph) | {t for ts in graph.values() for t in ts}

    def resolve(target: str) -> str:
        # "from msdepth.data import x" imports the package msdepth.data (its __init__)
        return target if target in modules else target.rsplit(".", 1)[0]

    edges = {m: {resolve(t) for t in graph.get(m, ())} - {m} for m in modules}
    # a package's __init__ re-exporting its own submodules is not a cycle through the package
    for m in modules:
        edges[m] = {t for t in edges[m] if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*stack, nxt]):
                return True
        state[node] = 2
        return False

    for m in sorted(modules):
        if state.get(m) is None and visit(m, [m]):
            break
    assert not cycle, "import cycle: " + " -> ".join(cycle)
