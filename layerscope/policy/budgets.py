"""Budgets: limits on an analysis (or on the growth between two) -> verdicts.

Each budget is one row of a table: its policy key (the flag is the same name
with dashes: ``max_total`` -> ``--max-total``), how its value is spelled,
how to read the actual figure from the result, and which way it compares.
Adding a budget is adding one row.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from layerscope.analysis import Analysis, BudgetResult
from layerscope.base.attribution import Origin, Side, finding_origin, split
from layerscope.counts import counted
from layerscope.errors import SourceError
from layerscope.policy.values import Limit, Policy, ValueKind
from layerscope.rules.context import Options

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Budget(Generic[T]):
    """One kind of budget. ``at_least``: the actual must reach the limit
    (``min_*``); otherwise it must not exceed it (``max_*``)."""

    name: str
    kind: ValueKind
    # None: the figure is not known for this subject (see ``unknown``).
    actual: Callable[[T], float | None]
    help: str
    at_least: bool = False
    unknown: str = ""  # why a None figure cannot be judged

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def holds(self, actual: float, limit: float) -> bool:
        return actual >= limit if self.at_least else actual <= limit


def _own(a: Analysis) -> Side:
    return split(a).own


def _base(a: Analysis) -> Side:
    return split(a).base


SIZE, FRACTION, COUNT = ValueKind.SIZE, ValueKind.FRACTION, ValueKind.COUNT

# Budgets on one image. Sizes are regular-file content bytes, as in the report.
# Waste budgets judge the user's own layers (all layers when the base is
# unknown); sizes and counts judge the whole image (docs/base.md).
IMAGE_BUDGETS: tuple[Budget[Analysis], ...] = (
    Budget("max_total", SIZE, lambda a: a.summary.total_bytes, "total bytes of all layers"),
    Budget("max_final", SIZE, lambda a: a.summary.final_bytes, "bytes visible in the final image"),
    Budget(
        "max_wasted", SIZE, lambda a: _own(a).wasted_bytes, "bytes hidden by later layers (own)"
    ),
    Budget(
        "max_wasted_percent",
        FRACTION,
        lambda a: _own(a).wasted_fraction,
        "wasted / total of own layers",
    ),
    Budget(
        "min_efficiency",
        FRACTION,
        lambda a: _own(a).efficiency,
        "final / total of own layers",
        at_least=True,
    ),
    Budget(
        "max_reclaimable",
        SIZE,
        lambda a: _own(a).reclaimable_bytes,
        "wasted + removable bytes (own)",
    ),
    Budget(
        "max_layer",
        SIZE,
        lambda a: max((s.content_bytes for s in a.layers), default=0),
        "bytes of the biggest layer",
    ),
    Budget("max_layers", COUNT, lambda a: a.summary.layer_count, "number of layers"),
    Budget(
        "max_download",
        SIZE,
        lambda a: a.image.download_bytes,
        "bytes a pull transfers (compressed layers)",
        unknown="the source does not tell what pulling the image transfers (its layers are "
        "stored uncompressed); read an OCI layout, a dir: copy or a registry",
    ),
    # Own layers (built by the Dockerfile) and base layers (came with FROM).
    Budget("max_own_total", SIZE, lambda a: _own(a).total_bytes, "total bytes of own layers"),
    Budget("max_own_wasted", SIZE, lambda a: _own(a).wasted_bytes, "as max_wasted (own)"),
    Budget("max_own_reclaimable", SIZE, lambda a: _own(a).reclaimable_bytes, "as max_reclaimable"),
    Budget("max_own_layers", COUNT, lambda a: _own(a).layer_count, "number of own layers"),
    Budget("max_base_total", SIZE, lambda a: _base(a).total_bytes, "total bytes of base layers"),
    Budget("max_base_wasted", SIZE, lambda a: _base(a).wasted_bytes, "wasted bytes in the base"),
    Budget(
        "max_base_reclaimable",
        SIZE,
        lambda a: _base(a).reclaimable_bytes,
        "reclaimable bytes in the base",
    ),
    Budget(
        "max_image_wasted",
        SIZE,
        lambda a: a.summary.wasted_bytes,
        "wasted bytes of the whole image, base included",
    ),
    Budget(
        "max_image_reclaimable",
        SIZE,
        lambda a: a.summary.reclaimable_bytes,
        "reclaimable bytes of the whole image, base included",
    ),
)


@dataclass(frozen=True, slots=True)
class Growth:
    """What growth budgets read: the old and new figures of a diff."""

    old_total: int
    new_total: int
    old_final: int
    new_final: int
    old_wasted: int
    new_wasted: int


# Budgets on the growth from a baseline to a new image (``layerscope diff``).
GROWTH_BUDGETS: tuple[Budget[Growth], ...] = (
    Budget("max_growth", SIZE, lambda g: g.new_total - g.old_total, "growth of the total bytes"),
    Budget(
        "max_final_growth", SIZE, lambda g: g.new_final - g.old_final, "growth of the final bytes"
    ),
    Budget(
        "max_wasted_growth",
        SIZE,
        lambda g: g.new_wasted - g.old_wasted,
        "growth of the wasted bytes",
    ),
)

KINDS: dict[str, ValueKind] = {
    **{b.name: b.kind for b in IMAGE_BUDGETS},
    **{b.name: b.kind for b in GROWTH_BUDGETS},
}


def _candidates(reference: str) -> list[str]:
    """The reference as given and its last path component (``api:1`` of
    ``registry.example.com/team/api:1``), so ``api:*`` matches both."""
    out = [reference]
    tail = reference.rsplit("/", 1)[-1]
    if tail != reference:
        out.append(tail)
    return out


def limits_for(
    policy: Policy, references: list[str], overrides: Mapping[str, Limit] | None = None
) -> tuple[dict[str, Limit], dict[str, str]]:
    """The limits that apply to an image known by ``references``, and where
    each came from: the policy's plain budgets, then the first matching named
    set, then ``overrides`` (the command line)."""
    limits: dict[str, Limit] = dict(policy.limits)
    origin = dict.fromkeys(limits, policy.path or "policy")
    names = [c for ref in references if ref for c in _candidates(ref)]
    for named in policy.named:
        if any(fnmatch.fnmatchcase(n, p) for n in names for p in named.patterns):
            limits.update(named.limits)
            origin.update(dict.fromkeys(named.limits, f"{policy.path} [budgets.{named.name}]"))
            break
    for key, limit in (overrides or {}).items():
        limits[key] = limit
        origin[key] = "command line"
    return limits, origin


def evaluate(
    budgets: tuple[Budget[T], ...],
    subject: T,
    limits: Mapping[str, Limit],
    origin: Mapping[str, str] | None = None,
) -> list[BudgetResult]:
    """The verdict of every budget in ``budgets`` that has a limit (and is not off)."""
    out = []
    for b in budgets:
        limit = limits.get(b.name)
        if limit is None or limit.severity == "off":
            continue
        actual = b.actual(subject)
        if actual is None:
            # Neither a pass nor a fail: an input the budget cannot judge.
            raise SourceError(f"{b.flag}: {b.unknown}")
        where = (origin or {}).get(b.name, "")
        out.append(
            BudgetResult(
                name=b.name,
                limit=limit.value,
                actual=actual,
                passed=b.holds(actual, limit.value),
                severity=limit.severity,
                message=f"{b.help}; set in {where}" if where else b.help,
            )
        )
    return out


def analysis_options(policy: Policy) -> Options:
    """What the policy's rule table means for the analysis: ``off`` rules are
    not run, ``min_bytes`` become per-rule thresholds."""
    thresholds = {k: r.min_bytes for k, r in policy.rules.items() if r.min_bytes is not None}
    base = Options()
    return Options(
        min_bytes=thresholds,
        default_min_bytes=base.default_min_bytes if policy.min_bytes is None else policy.min_bytes,
        disabled=frozenset(k for k, r in policy.rules.items() if r.level == "off"),
    )


def rule_results(result: Analysis, policy: Policy) -> list[BudgetResult]:
    """One verdict per rule the policy sets to ``fail`` or ``warn``: it holds
    while the rule has no finding (above its threshold). ``limit`` is the
    threshold in bytes, ``actual`` the bytes of the rule's findings. Findings
    in base layers do not count: the Dockerfile cannot fix them."""
    out = []
    for rule_id, r in sorted(policy.rules.items()):
        if r.level == "off":
            continue
        every = [f for f in result.findings if f.rule == rule_id]
        found = [f for f in every if finding_origin(result, f) is Origin.OWN]
        in_base = (
            f" (+{len(every) - len(found)} in the base, not judged)"
            if len(every) > len(found)
            else ""
        )
        floor = r.min_bytes if r.min_bytes is not None else policy.min_bytes or 1
        out.append(
            BudgetResult(
                name=f"rule:{rule_id}",
                limit=floor,
                actual=sum(f.bytes for f in found),
                passed=not found,
                severity=r.level,
                message=(
                    f"{counted(len(found), 'finding')} of {rule_id}{in_base}; set in {policy.path}"
                ),
            )
        )
    return out


def judge(
    result: Analysis,
    policy: Policy,
    overrides: Mapping[str, Limit] | None = None,
    references: tuple[str, ...] = (),
) -> tuple[BudgetResult, ...]:
    """Every budget verdict for one analysed image; named budget sets match
    the image's reference or any of ``references`` (e.g. the argument given)."""
    limits, origin = limits_for(policy, [result.image.reference, *references], overrides)
    return (*evaluate(IMAGE_BUDGETS, result, limits, origin), *rule_results(result, policy))
