"""Small helpers for the rule tests: crafted images through the real archive
reader, and findings of one rule."""

from __future__ import annotations

from collections.abc import Sequence

from layerscope.analysis import Analysis, analyze
from layerscope.model import Image
from layerscope.rules import Finding
from layerscope.rules.context import Options
from tests.builders import F, docker_archive, layer_tar, read_archive


def image(
    *layers: Sequence[F],
    history: Sequence[str] | None = None,
    env: Sequence[str] | Sequence[tuple[str, str]] = ("PATH=/usr/bin", "HOME=/root"),
    cmd: Sequence[str] | None = None,
) -> Image:
    """An image of ``layers``; ``history`` are created_by lines, one a layer."""
    hist = None if history is None else [{"created_by": h} for h in history]
    pairs = [e if isinstance(e, str) else "=".join(e) for e in env]
    config: dict[str, object] = {"Env": pairs}
    if cmd is not None:
        config["Cmd"] = list(cmd)
    return read_archive(
        docker_archive([layer_tar(m) for m in layers], hist, config_extra={"config": config})
    )


def run(*layers: Sequence[F], **kw: object) -> Analysis:
    """Analyze crafted layers with every rule, thresholds at their defaults."""
    options = kw.pop("options", None)
    assert options is None or isinstance(options, Options)
    return analyze(image(*layers, **kw), options)  # type: ignore[arg-type]


def of(result: Analysis, prefix: str) -> list[Finding]:
    """Findings whose rule ID starts with ``prefix`` (``LS2`` or ``LS205``)."""
    return [f for f in result.findings if f.rule.startswith(prefix)]


def cause(f: Finding) -> str:
    return dict(f.extra)["cause"]
