"""Where a budget verdict points in the Dockerfile, and paths relative to the
repository root: shared by SARIF, the CI annotations and Code Quality.

Image-wide budgets point at the ``FROM`` line of the stage the image was
built from (the Dockerfile's last stage, followed to the stage that names an
outside base); per-layer budgets (``max_layer``) at the line of the step that
made the layer. Without a known Dockerfile there is no line: the verdict is
about the image.
"""

from __future__ import annotations

import os

from layerscope.analysis import Analysis, BudgetResult

# Budgets about one layer: the step that made that layer is to blame.
PER_LAYER = {"max_layer"}


def _dockerfile(path: str) -> object | None:
    from layerscope.dockerfile.parser import load
    from layerscope.errors import LayerscopeError

    try:
        return load(path)
    except (LayerscopeError, OSError):
        return None


def from_line(path: str) -> int | None:
    """The ``FROM`` line the image's base came in by (None if unreadable)."""
    from layerscope.dockerfile.parser import Dockerfile

    df = _dockerfile(path)
    if not isinstance(df, Dockerfile) or not df.stages:
        return None
    stage = df.stages[-1]
    seen = set()
    while stage.parent is not None and stage.parent not in seen:
        seen.add(stage.parent)
        stage = df.stages[stage.parent]
    return stage.line


def _layer_line(result: Analysis, path: str, layer: int) -> int | None:
    from layerscope.dockerfile.layer_map import map_image
    from layerscope.dockerfile.parser import Dockerfile

    df = _dockerfile(path)
    if not isinstance(df, Dockerfile):
        return None
    try:
        step = map_image(result.image, df).step_for_layer(result.image, layer)
    except Exception:  # a map that cannot be made: fall back to FROM
        return None
    return None if step is None else step.line


def budget_location(result: Analysis, b: BudgetResult) -> tuple[str, int] | None:
    """(Dockerfile path, line) a broken budget points at, or None without a
    Dockerfile. Rule verdicts point at their first own finding's line."""
    path = result.dockerfile
    if not path:
        return None
    line: int | None = None
    if b.name.startswith("rule:"):
        rule = b.name.removeprefix("rule:")
        line = next((f.location[1] for f in result.findings if f.rule == rule and f.location), None)
    elif b.name in PER_LAYER and result.layers:
        biggest = max(result.layers, key=lambda s: s.content_bytes)
        line = _layer_line(result, path, biggest.index)
    if line is None:
        line = from_line(path)
    return path, max(1, line or 1)


def repository_root(start: str | None = None) -> str:
    """The directory holding ``.git`` from ``start`` (the working directory)
    upward; else ``start`` itself. ``$GITHUB_WORKSPACE`` wins when set."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        return os.path.realpath(workspace)
    here = os.path.realpath(start or os.getcwd())
    probe = here
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return here
        probe = parent


def relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators, or None when it
    lies outside."""
    full = os.path.realpath(path)
    try:
        rel = os.path.relpath(full, root)
    except ValueError:
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel.replace(os.sep, "/")
