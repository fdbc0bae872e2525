"""The package's architecture, checked by reading every import (function-level ones too).

Each package sits on a declared level; a module may import only modules on its own
level or below, and no import cycle may exist anywhere. CONTRIBUTING.md explains the
order; change it here and there together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "layerscope"

# Lowest first. The most specific prefix decides a module's level.
LEVELS: tuple[tuple[str, ...], ...] = (
    # shared ground
    (
        "layerscope",
        "layerscope.errors",
        "layerscope.names",
        "layerscope.counts",
        "layerscope.model",
    ),
    ("layerscope.gcpause", "layerscope.history"),
    ("layerscope.tar",),  # bytes -> tar members; knows nothing of images
    ("layerscope.shell",),
    # the Dockerfile's text and which stages a target builds (not its map to layers: below)
    ("layerscope.dockerfile", "layerscope.stages"),
    ("layerscope.union",),
    ("layerscope.tallies",),  # counts over the replay, in C when built
    ("layerscope.sources",),  # any input -> model.Image
    ("layerscope.rules",),  # replay -> findings
    ("layerscope.analysis",),
    # what follows the analysis: findings located in (and citing) the Dockerfile, the base
    ("layerscope.dockerfile.layer_map", "layerscope.cite", "layerscope.base"),
    ("layerscope.policy",),
    ("layerscope.comparison", "layerscope.fix"),
    ("layerscope.pipeline",),
    ("layerscope.report",),
    ("layerscope.tui",),
    ("layerscope.cli", "layerscope.__main__"),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every layerscope module ``name`` imports, with the line: ``from a import b``
    names the submodule ``a.b`` when there is one."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "layerscope":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "layerscope":
                continue
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            if len(subs) < len(node.names):
                yield target, node.lineno
            for sub in subs:
                yield sub, node.lineno


def _level(name: str) -> int:
    best, level = -1, -1
    for i, prefixes in enumerate(LEVELS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level >= 0, f"{name} is on no declared level: add it to LEVELS"
    return level


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: {target for target, _ in _imports(name, path, known) if target != name}
        for name, path in modules.items()
    }


def test_every_import_points_down() -> None:
    modules = _modules()
    known = set(modules)
    wrong = []
    for name, path in sorted(modules.items()):
        mine = _level(name)
        for target, line in _imports(name, path, known):
            if _level(target) > mine:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} -> {target}")
    assert not wrong, "imports pointing up a level:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = _graph()
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
                continue
            if child not in graph:
                continue
            if child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk above is only worth something if it finds imports inside functions."""
    source = "def f():\n    from layerscope.tui.app import run_tui\n"
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = list(_imports("layerscope.union", path, {"layerscope.tui.app"}))
    assert ("layerscope.tui.app", 2) in found
    assert _level("layerscope.tui.app") > _level("layerscope.union")
