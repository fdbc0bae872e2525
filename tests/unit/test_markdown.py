"""The markdown report renders to the tables and folds it promises, and no
path from an archive can inject markup."""

from __future__ import annotations

import dataclasses
import re

import pytest
from markdown_it import MarkdownIt

from layerscope.analysis import Analysis, analyze
from layerscope.policy.budgets import judge
from layerscope.policy.values import Limit, Policy
from layerscope.report import render
from layerscope.report.markdown import text
from tests.builders import file, image_of, wh

HOSTILE = "tmp/a|b*c*_[x](http://e)<script>alert(1)</script>`q`"


def html_of(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


@pytest.fixture(scope="module")
def result() -> Analysis:
    image = image_of(
        [file("keep", 10_000), file(HOSTILE, 4000)],
        [file("app/bin", 6000)],
        [wh(HOSTILE)],
        history=["RUN make | tee log", "COPY bin /app/bin", "RUN rm -rf /tmp/*"],
    )
    r = analyze(image)
    return dataclasses.replace(
        r,
        budgets=judge(r, Policy(), {"max_total": Limit(1000), "max_layers": Limit(10)}),
    )


def test_title_carries_the_verdict(result: Analysis) -> None:
    md = render("markdown", result)
    first = md.splitlines()[0]
    assert first.startswith("## layerscope: ")
    assert "❌ failed" in first
    passing = dataclasses.replace(result, budgets=result.budgets[1:])
    assert "✅ passed" in render("markdown", passing).splitlines()[0]
    assert "passed" not in render("markdown", dataclasses.replace(result, budgets=()))[:80]


def test_tables_render_with_one_row_per_layer_and_budget(result: Analysis) -> None:
    out = html_of(render("markdown", result))
    tables = re.findall(r"<table>.*?</table>", out, re.S)
    # figures, budgets, layers
    assert len(tables) == 3
    budgets, layers = tables[1], tables[2]
    assert budgets.count("<tr>") == 1 + 2
    assert "max_total" in budgets and "❌" in budgets and "✅" in budgets
    assert layers.count("<tr>") == 1 + 3
    # Every layer row has exactly five cells, even with a | in the command.
    for row in re.findall(r"<tr>.*?</tr>", layers, re.S)[1:]:
        assert row.count("<td") == 5
    assert "<code>make | tee log</code>" in layers
    assert re.search(r"<details><summary>Layers \(3\)</summary>\s*<table>", out)


def test_findings_carry_size_rule_and_fix(result: Analysis) -> None:
    out = html_of(render("markdown", result))
    f = result.findings[0]
    assert f"<code>{f.rule}</code>" in out
    assert "fix:" in out
    assert "3.9 KiB" in out


def test_hostile_path_stays_text(result: Analysis) -> None:
    out = html_of(render("markdown", result))
    assert "<script>" not in out
    assert "&lt;script&gt;" in out
    assert "<a href" not in out
    assert "<em>" not in out
    # The path comes back verbatim as text.
    # (layer paths are normalised: the // collapses.)
    path = "/tmp/a|b*c*_[x](http:/e)&lt;script&gt;alert(1)&lt;/script&gt;`q`"
    assert f"<code>{path}</code>" in out


def test_text_escapes_and_shortens() -> None:
    assert text("a|b") == "a\\|b"
    assert text("x\ny\tz") == "x y z"
    assert text("abcdef", 4) == "abc…"
    assert text("\x1b[31mred") == "\\\\x1b\\[31mred"
