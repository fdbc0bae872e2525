"""The rule catalogue: every rule is complete, and docs/rules.md is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerscope.rules import Kind, Rule, Severity, all_rules
from layerscope.rules.doc import generate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
RULES = all_rules()


def _block(doc: str, label: str) -> str:
    """The indented example under ``Label::`` in a docstring ('' when absent)."""
    m = re.search(rf"^\s*{label}::\n((?:\n|[ \t]+\S.*\n?)+)", doc, re.MULTILINE)
    return m.group(1).strip() if m else ""


def test_there_are_rules_of_every_kind() -> None:
    assert {r.kind for r in RULES} == set(Kind)


@pytest.mark.parametrize("r", RULES, ids=[r.id for r in RULES])
def test_rule_is_complete(r: Rule) -> None:
    assert re.fullmatch(r"LS[1-9]\d\d", r.id)
    assert isinstance(r.kind, Kind) and isinstance(r.severity, Severity)
    assert r.title.strip() == r.title and r.title and not r.title.endswith(".")
    assert r.min_bytes >= 1
    summary, _, body = r.doc.partition("\n\n")
    assert len(summary) > 20, f"{r.id}: docstring needs a summary line"
    assert len(body) > 100, f"{r.id}: docstring needs what / why / how to fix"
    bad, good = _block(r.doc, "Bad"), _block(r.doc, "Good")
    assert bad, f"{r.id}: docstring needs a Bad:: example"
    assert good, f"{r.id}: docstring needs a Good:: example"
    assert bad != good


def test_ids_are_unique_and_grouped_by_family() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == len(RULES)
    for r in RULES:
        family = r.func.__module__.rsplit(".", 1)[-1]
        hundreds = {r2.id[2] for r2 in RULES if r2.func.__module__ == r.func.__module__}
        assert len(hundreds) == 1, f"family {family} spans several hundreds"


def test_package_cache_rules_have_the_4_kib_floor() -> None:
    caches = [r for r in RULES if r.kind is Kind.PACKAGE_CACHE]
    assert len(caches) == 20
    assert {r.min_bytes for r in caches} == {4096}


def test_committed_rules_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == generate(), (
        "docs/rules.md is stale: run `python -m layerscope.rules.doc > docs/rules.md`"
    )


def test_generated_page_has_an_entry_and_examples_for_every_rule() -> None:
    text = generate()
    for r in RULES:
        assert f'<a id="{r.id.lower()}"></a>' in text
        assert f"### {r.id}: {r.title}" in text
    assert text.count("```dockerfile") == 2 * len(RULES)
