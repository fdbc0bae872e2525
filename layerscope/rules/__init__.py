"""The rule registry: every rule is a function registered with ``@rule``.

IDs are permanent and never reused, grouped by hundreds: LS1xx hidden bytes,
LS2xx package caches, LS3xx leftovers, LS4xx duplicates, LS5xx cache-busting
order. A rule's docstring is its documentation page.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from layerscope.rules.types import Finding, Kind, Rule, RuleFunc, Severity

__all__ = ["Finding", "Kind", "Rule", "Severity", "all_rules", "rule"]

_REGISTRY: dict[str, Rule] = {}
# Rule families, one module each; importing one registers its rules.
_FAMILIES = (
    "hidden",
    "caches",
    "leftovers",
    "hostfiles",
    "bytecode",
    "served_output",
    "pip_installs",
    "duplicates",
    "order",
)


def rule(
    rule_id: str, *, kind: Kind, severity: Severity, title: str, min_bytes: int = 1
) -> Callable[[RuleFunc], RuleFunc]:
    """Register ``func`` as rule ``id``.

    ``min_bytes`` is the rule's default threshold: findings smaller than it
    are dropped unless ``Options.min_bytes`` sets another for this rule.
    """

    def register(func: RuleFunc) -> RuleFunc:
        if rule_id in _REGISTRY:
            raise ValueError(f"rule {rule_id} registered twice")
        _REGISTRY[rule_id] = Rule(rule_id, kind, severity, title, func, min_bytes)
        return func

    return register


def all_rules() -> list[Rule]:
    """Every registered rule, in ID order."""
    for family in _FAMILIES:
        importlib.import_module(f"layerscope.rules.{family}")
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
