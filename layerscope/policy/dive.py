"""dive's ``.dive-ci``: read as a layerscope policy, so a team can switch
without rewriting it."""

from __future__ import annotations

from pathlib import Path

from layerscope.errors import ConfigError
from layerscope.policy.values import Limit, Policy, ValueKind, parse_value

DIVE_FILE = ".dive-ci"

# dive's CI rules and the layerscope budgets they become (see docs/ci.md for
# how the figures differ).
DIVE_RULES = {
    "lowestEfficiency": ("min_efficiency", ValueKind.FRACTION),
    "highestWastedBytes": ("max_wasted", ValueKind.SIZE),
    "highestUserWastedPercent": ("max_wasted_percent", ValueKind.FRACTION),
}


# What dive assumes for a rule its .dive-ci leaves out (dive 0.13: the CI
# config's defaults); ``highestWastedBytes`` is off unless set.
DIVE_DEFAULTS = {
    "lowestEfficiency": "0.9",
    "highestWastedBytes": "disabled",
    "highestUserWastedPercent": "0.1",
}


def _dive_values(path: Path) -> dict[str, str]:
    """The ``rules:`` mapping of a .dive-ci file, parsed as the YAML it is
    (block or flow style), with dive's default for every rule left out."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: the file is not UTF-8 text") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a .dive-ci: nested too deeply") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with a `rules:` key")
    rules = document.get("rules")
    if rules is None:
        rules = {}
    if not isinstance(rules, dict):
        raise ConfigError(f"{path}: `rules:` must be a mapping")
    values = dict(DIVE_DEFAULTS)
    for key, value in rules.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            raise ConfigError(f"{path}: rule {key}: {value!r} is not a number, size or `disabled`")
        values[str(key)] = "" if value is None else str(value).strip()
    return values


def dive_policy(path: Path) -> Policy:
    """A policy from dive's ``.dive-ci`` rules (``disabled`` rules are skipped;
    rules the file leaves out get dive's defaults, as dive applies them)."""
    limits: dict[str, Limit] = {}
    notes = []
    values = _dive_values(path)
    for key, value in values.items():
        if key not in DIVE_RULES:
            notes.append(f"{path}: dive rule {key!r} has no layerscope equivalent; ignored")
            continue
        if value.lower() == "disabled" or not value:
            continue
        name, kind = DIVE_RULES[key]
        try:
            if kind is ValueKind.FRACTION and not value.endswith("%") and float(value) > 1:
                # dive's user-wasted ratio can pass 1; ours (wasted / total) cannot.
                notes.append(f"{path}: {key} {value} is above 1: read as 100%")
                value = "1"
            limits[name] = Limit(parse_value(kind, value))
        except ValueError as e:
            raise ConfigError(f"{path}: {key}: {e}") from None
    return Policy(path=str(path), origin="dive", limits=limits, notes=tuple(notes))
