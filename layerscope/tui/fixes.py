"""The Dockerfile fixes the view shows: the same planner as ``layerscope fix``.

When the analysis knows its Dockerfile, each finding is paired with the
planned fix that edits its lines, and the view shows that fix's real
unified diff instead of the rule's generic rewrite. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.analysis import Analysis
from layerscope.errors import LayerscopeError
from layerscope.fix.model import Fix
from layerscope.rules import Finding


@dataclass(frozen=True, slots=True)
class PlannedFix:
    """One planned fix: the Dockerfile it edits, its first changed line and its diff."""

    fix: Fix
    path: str
    line: int
    diff: str
    short_diff: str  # one line of context: what the view shows


class FixPlan:
    """Every fix ``layerscope fix`` would make to the analysis's Dockerfile.

    Planned on first use; a Dockerfile that cannot be read or planned gives
    no fixes (the view then shows the findings' own fix text) and ``error``
    says why.
    """

    def __init__(self, analysis: Analysis, stage: str | None = None) -> None:
        self.analysis = analysis
        self.stage = stage
        self.error: str | None = None
        self._fixes: list[PlannedFix] | None = None
        self._text = ""
        self._path = ""

    @property
    def known(self) -> bool:
        """True when the analysis has a Dockerfile to fix."""
        return self.analysis.dockerfile is not None

    @property
    def fixes(self) -> list[PlannedFix]:
        if self._fixes is None:
            self._fixes = self._plan()
        return self._fixes

    def _plan(self) -> list[PlannedFix]:
        path = self.analysis.dockerfile
        if path is None:
            return []
        from layerscope.dockerfile.layer_map import map_image
        from layerscope.dockerfile.parser import display_path, load
        from layerscope.fix.diff import unified_diff
        from layerscope.fix.model import Evidence
        from layerscope.fix.planner import apply, plan

        try:
            df = load(path)
            mapping = map_image(self.analysis.image, df, self.stage)
            fixes = plan(df, Evidence(self.analysis, mapping), target=self.stage)
        except LayerscopeError as e:
            self.error = str(e)
            return []
        self._text = df.text
        self._path = display_path(df.path)
        out = []
        for fix in fixes:
            first = min(df.text.count("\n", 0, e.start) + 1 for e in fix.edits)
            new = apply(df.text, [fix])
            diff = unified_diff(df.text, new, self._path)
            short = unified_diff(df.text, new, self._path, context=1)
            out.append(PlannedFix(fix, self._path, first, diff, short))
        return out

    def for_finding(self, finding: Finding) -> PlannedFix | None:
        """The planned fix of ``finding``: same rule, and it edits the finding's line
        (or its main step is that line)."""
        if finding.location is None or not self.fixes:
            return None
        line = finding.location[1]
        best = None
        for planned in self.fixes:
            fix = planned.fix
            if fix.rule != finding.rule:
                continue
            if fix.line == line:
                return planned
            for e in fix.edits:
                start = self._text.count("\n", 0, e.start) + 1
                end = self._text.count("\n", 0, e.end) + 1
                if start <= line <= end:
                    best = planned
        return best

    def patch(self) -> str:
        """The whole patch (every planned fix), as ``layerscope fix`` prints it."""
        from layerscope.fix.diff import unified_diff
        from layerscope.fix.planner import apply

        fixes = self.fixes
        if not fixes:
            return ""
        return unified_diff(self._text, apply(self._text, [p.fix for p in fixes]), self._path)
