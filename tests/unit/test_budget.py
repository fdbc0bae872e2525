"""Budgets: every image budget's actual figure, both directions, named sets, rules."""

from __future__ import annotations

import dataclasses

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.policy.budgets import (
    GROWTH_BUDGETS,
    IMAGE_BUDGETS,
    KINDS,
    Growth,
    analysis_options,
    evaluate,
    judge,
    limits_for,
)
from layerscope.policy.values import Limit, NamedBudgets, Policy, RulePolicy
from tests.builders import file, image_of, wh

KIB = 1024


@pytest.fixture(scope="module")
def result() -> Analysis:
    # layer 0: 10 KiB kept + 4 KiB removed later; layer 1: 6 KiB; layer 2: removes /tmp/junk.
    image = image_of(
        [file("keep", 10 * KIB), file("tmp/junk", 4 * KIB)],
        [file("app/bin", 6 * KIB)],
        [wh("tmp/junk")],
    )
    # As an OCI layout would tell it: 1000, 2000 and 3000 bytes to pull.
    layers = tuple(
        dataclasses.replace(la, download_bytes=1000 * (la.index + 1)) for la in image.layers
    )
    return analyze(dataclasses.replace(image, layers=layers))


def actuals(result: Analysis) -> dict[str, float]:
    return {b.name: b.actual(result) for b in IMAGE_BUDGETS}


def test_every_image_budget_reads_its_figure(result: Analysis) -> None:
    assert actuals(result) == {
        "max_total": 20 * KIB,
        "max_final": 16 * KIB,
        "max_wasted": 4 * KIB,
        "max_wasted_percent": pytest.approx(0.2),
        "min_efficiency": pytest.approx(0.8),
        "max_reclaimable": result.summary.reclaimable_bytes,
        "max_layer": 14 * KIB,
        "max_layers": 3,
        "max_download": 6000,
        # No base known: every layer is own (layerscope.base.attribution).
        "max_own_total": 20 * KIB,
        "max_own_wasted": 4 * KIB,
        "max_own_reclaimable": result.summary.reclaimable_bytes,
        "max_own_layers": 3,
        "max_base_total": 0,
        "max_base_wasted": 0,
        "max_base_reclaimable": 0,
        "max_image_wasted": 4 * KIB,
        "max_image_reclaimable": result.summary.reclaimable_bytes,
    }
    assert result.summary.reclaimable_bytes >= 4 * KIB


def test_flags_are_the_documented_names() -> None:
    assert [b.flag for b in IMAGE_BUDGETS] == [
        "--max-total",
        "--max-final",
        "--max-wasted",
        "--max-wasted-percent",
        "--min-efficiency",
        "--max-reclaimable",
        "--max-layer",
        "--max-layers",
        "--max-download",
        "--max-own-total",
        "--max-own-wasted",
        "--max-own-reclaimable",
        "--max-own-layers",
        "--max-base-total",
        "--max-base-wasted",
        "--max-base-reclaimable",
        "--max-image-wasted",
        "--max-image-reclaimable",
    ]
    assert set(KINDS) == {b.name for b in (*IMAGE_BUDGETS, *GROWTH_BUDGETS)}


@pytest.mark.parametrize("budget", IMAGE_BUDGETS, ids=lambda b: b.name)
def test_each_budget_holds_at_its_limit_and_fails_past_it(result: Analysis, budget) -> None:  # type: ignore[no-untyped-def]
    actual = budget.actual(result)
    step = 1 if isinstance(actual, int) else 0.01
    # At the limit it holds: max_* is "not more than", min_* "at least".
    [at] = evaluate((budget,), result, {budget.name: Limit(actual)})
    assert at.passed and at.actual == actual and at.limit == actual
    broken = actual + step if budget.at_least else actual - step
    [past] = evaluate((budget,), result, {budget.name: Limit(broken)})
    assert not past.passed
    assert past.severity == "fail"
    assert not dataclasses.replace(result, budgets=(past,)).passed


def test_warn_budget_does_not_fail_the_verdict(result: Analysis) -> None:
    out = evaluate(IMAGE_BUDGETS, result, {"max_total": Limit(1, "warn")})
    assert [(b.name, b.passed, b.severity) for b in out] == [("max_total", False, "warn")]
    assert dataclasses.replace(result, budgets=tuple(out)).passed


def test_off_budget_is_not_evaluated(result: Analysis) -> None:
    assert evaluate(IMAGE_BUDGETS, result, {"max_total": Limit(1, "off")}) == []


def test_named_budgets_match_reference_or_its_last_component() -> None:
    policy = Policy(
        path="p.toml",
        limits={"max_total": Limit(100), "max_layers": Limit(5)},
        named=(
            NamedBudgets("api", ("api:*",), {"max_total": Limit(300)}),
            NamedBudgets("worker", ("worker:*",), {"max_total": Limit(1000)}),
        ),
    )
    limits, origin = limits_for(policy, ["registry.example.com/team/api:1.2"])
    assert limits == {"max_total": Limit(300), "max_layers": Limit(5)}
    assert origin["max_total"] == "p.toml [budgets.api]"
    assert origin["max_layers"] == "p.toml"
    assert limits_for(policy, ["worker:7"])[0]["max_total"] == Limit(1000)
    assert limits_for(policy, ["web:1"])[0]["max_total"] == Limit(100)
    # The command line overrides everything.
    limits, origin = limits_for(policy, ["api:1"], {"max_total": Limit(7)})
    assert limits["max_total"] == Limit(7)
    assert origin["max_total"] == "command line"


def test_rule_levels_become_verdicts_and_options(result: Analysis) -> None:
    rule_ids = sorted({f.rule for f in result.findings})
    assert rule_ids, "the fixture must produce at least one finding"
    hit = rule_ids[0]
    policy = Policy(
        path="p.toml",
        rules={hit: RulePolicy("fail"), "LS199": RulePolicy("warn"), "LS198": RulePolicy("off")},
    )
    verdicts = {b.name: b for b in judge(result, policy)}
    assert set(verdicts) == {f"rule:{hit}", "rule:LS199"}
    failing = verdicts[f"rule:{hit}"]
    assert not failing.passed
    assert failing.actual == sum(f.bytes for f in result.findings if f.rule == hit)
    assert verdicts["rule:LS199"].passed
    options = analysis_options(policy)
    assert options.disabled == frozenset({"LS198"})


def test_rule_off_and_min_bytes_reach_the_analysis(result: Analysis) -> None:
    hit = result.findings[0].rule
    off = analyze(result.image, analysis_options(Policy(rules={hit: RulePolicy("off")})))
    assert all(f.rule != hit for f in off.findings)
    biggest = max(f.bytes for f in result.findings if f.rule == hit)
    high = analyze(
        result.image,
        analysis_options(Policy(rules={hit: RulePolicy("warn", biggest + 1)})),
    )
    assert all(f.rule != hit for f in high.findings)
    floor = analyze(result.image, analysis_options(Policy(min_bytes=biggest + 1)))
    assert all(f.bytes > biggest for f in floor.findings)


def test_growth_budgets() -> None:
    g = Growth(
        old_total=100, new_total=350, old_final=90, new_final=95, old_wasted=10, new_wasted=5
    )
    out = evaluate(
        GROWTH_BUDGETS,
        g,
        {
            "max_growth": Limit(200),
            "max_final_growth": Limit(5),
            "max_wasted_growth": Limit(0),
        },
    )
    assert [(b.name, b.actual, b.passed) for b in out] == [
        ("max_growth", 250, False),
        ("max_final_growth", 5, True),
        ("max_wasted_growth", -5, True),
    ]


def test_max_download_of_an_image_whose_download_is_unknown_is_an_error() -> None:
    from layerscope.errors import SourceError

    plain = analyze(image_of([file("a", 10)]))  # docker save: plain tars
    assert plain.image.download_bytes is None
    with pytest.raises(SourceError, match="--max-download: the source does not tell"):
        evaluate(IMAGE_BUDGETS, plain, {"max_download": Limit(1)})
