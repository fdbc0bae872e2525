"""GitHub Actions' own outputs, used when ``GITHUB_ACTIONS=true``.

- One ``::error`` annotation (``::warning`` for a ``warn`` level) per broken
  budget and per finding of a rule the policy sets to ``fail``, with the
  Dockerfile file and line when known (paths relative to the workspace).
  Written to stderr: the runner reads workflow commands from both streams,
  and stdout may carry a report.
- The markdown report appended to ``$GITHUB_STEP_SUMMARY`` (the diff's,
  for ``layerscope diff``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from layerscope.analysis import Analysis
from layerscope.base.attribution import Origin, finding_origin
from layerscope.counts import counted
from layerscope.names import printable
from layerscope.report.summary import relation, verdict
from layerscope.report.where import budget_location, relative, repository_root

if TYPE_CHECKING:  # the image command does not load the diff's model
    from layerscope.comparison import Diff

MAX_ANNOTATIONS = 50  # GitHub shows 10 per kind per step; keep the log short too


def active() -> bool:
    """True inside a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS", "").strip().lower() == "true"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, title: str, where: tuple[str, int] | None) -> str:
    props = []
    if where is not None:
        rel = relative(where[0], repository_root())
        if rel is not None:
            props += [f"file={_prop(rel)}", f"line={where[1]}"]
    props.append(f"title={_prop(title)}")
    return f"::{kind} {','.join(props)}::{_data(printable(message))}\n"


def workflow_commands(result: Analysis) -> list[str]:
    """The workflow commands for ``result`` (no more than MAX_ANNOTATIONS)."""
    out = []
    for b in result.budgets:
        if b.passed:
            continue
        kind = "error" if verdict(b) == "FAIL" else "warning"
        out.append(
            _command(
                kind,
                f"{b.name}: {relation(b)}",
                f"layerscope budget {b.name}",
                budget_location(result, b),
            )
        )
    failing = {
        b.name.removeprefix("rule:")
        for b in result.budgets
        if b.name.startswith("rule:") and b.severity == "fail"
    }
    out.extend(
        _command(
            "error",
            f"{f.message} Fix: {f.fix}" if f.fix else f.message,
            f"layerscope {f.rule}",
            f.location,
        )
        for f in result.findings
        if f.rule in failing and finding_origin(result, f) is Origin.OWN
    )
    if len(out) > MAX_ANNOTATIONS:
        more = len(out) - MAX_ANNOTATIONS
        out = [*out[:MAX_ANNOTATIONS], f"::notice::{counted(more, 'more annotation')} not shown\n"]
    return out


def publish_diff(diff: Diff) -> list[str]:
    """For ``layerscope diff``: an annotation per broken budget (about the
    image, no file) and the diff's markdown in the step summary."""
    if not active():
        return []
    from layerscope.report.diff import render_markdown

    for b in diff.budgets:
        if not b.passed:
            kind = "error" if verdict(b) == "FAIL" else "warning"
            sys.stderr.write(
                _command(kind, f"{b.name}: {relation(b)}", f"layerscope budget {b.name}", None)
            )
    sys.stderr.flush()
    return _append_summary(render_markdown(diff))


def _append_summary(text: str) -> list[str]:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return []
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        return [f"cannot append to $GITHUB_STEP_SUMMARY {target}: {e.strerror or e}"]
    return []


def publish(result: Analysis) -> list[str]:
    """Annotations and the step summary when inside GitHub Actions; returns
    the errors met (a step summary that cannot be written)."""
    if not active():
        return []
    sys.stderr.writelines(workflow_commands(result))
    sys.stderr.flush()
    from layerscope.report import markdown

    return _append_summary(markdown.render(result))
