"""The table report for people: fixes and messages whole (prose wrapped, Dockerfile
lines on one line each), and a layer without an instruction said for what it is."""

from __future__ import annotations

import dataclasses

from layerscope.analysis import analyze
from layerscope.report import text
from layerscope.rules.types import Finding, Kind, Severity
from tests.builders import file, image_of, wh

LONG_RUN = "RUN apt-get install -y " + " ".join(f"package-number-{i}" for i in range(30))


def test_fix_text_is_wrapped_never_cut() -> None:
    image = image_of(
        [file("keep", 10)],
        [file("tmp/x", 5000)],
        [wh("tmp/x")],
        history=["", "/bin/sh -c make", "/bin/sh -c rm -rf /tmp/x"],
    )
    result = analyze(image)
    prose = "Because " + " ".join(f"reason{i}" for i in range(60)) + " END-OF-PROSE"
    finding = Finding(
        rule="LS101",
        kind=Kind.REMOVED_LATER,
        severity=Severity.MEDIUM,
        bytes=5000,
        layer=1,
        message="a message " + " ".join(f"word{i}" for i in range(60)) + " END-OF-MESSAGE",
        fix=f"{prose}\n-{LONG_RUN}\n+{LONG_RUN} && rm -rf /tmp/x\n{LONG_RUN}",
        paths=("/tmp/x",),
    )
    out = text.render(dataclasses.replace(result, findings=(finding,)))
    fixes = out[out.index("Fixes:") :]
    assert "…" not in fixes
    assert "END-OF-PROSE" in fixes and "END-OF-MESSAGE" in fixes
    lines = fixes.splitlines()
    # Dockerfile lines stay whole on one line each, to be pasted.
    assert f"          -{LONG_RUN}" in lines
    assert f"          +{LONG_RUN} && rm -rf /tmp/x" in lines
    assert f"          {LONG_RUN}" in lines
    # Prose is wrapped at the fix width, every word kept.
    start = next(i for i, line in enumerate(lines) if "fix: Because" in line)
    end = lines.index(f"          -{LONG_RUN}")
    prose_lines = lines[start:end]
    assert len(prose_lines) > 1
    assert all(len(line) <= text.FIX_WIDTH + 10 for line in prose_lines)
    assert " ".join(" ".join(line.split()) for line in prose_lines) == "fix: " + prose


def test_layer_without_instruction_says_what_it_is() -> None:
    image = image_of(
        [file("keep", 10)],
        [file("app", 10)],
        history=["", "/bin/sh -c #(nop) COPY file:abc in /app "],
    )
    out = text.render(analyze(image))
    assert "UNKNOWN" not in out
    assert "(no command recorded)" in out
