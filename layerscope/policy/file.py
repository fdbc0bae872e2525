"""The policy file: where it is, what it says, and how its values are spelled.

A policy is ``.layerscope.toml`` or the ``[tool.layerscope]`` table of a
``pyproject.toml``, the first one found from the working directory upward
(``--config PATH`` names one). When no layerscope policy exists, dive's
``.dive-ci`` is read instead, so a team can switch without rewriting it.

```toml
min_bytes = "4KiB"            # default per-finding threshold

[budgets]
max_total = "300MB"           # sizes: 300MB, 1.5GiB, 1048576 (plain bytes)
max_wasted_percent = "5%"     # or 0.05
max_reclaimable = { limit = "50MB", severity = "warn" }

[budgets.api]                 # a named budget set for matching images
match = "api:*"
max_total = "300MB"

[rules]
LS101 = "fail"                # fail | warn | off
LS102 = { level = "warn", min_bytes = "1MB" }
```

Sizes: ``B``, decimal ``kB``/``MB``/``GB``/``TB`` (also ``k``, ``M``,
``G``, ``T``), binary ``KiB``/``MiB``/``GiB``/``TiB``; units are
case-insensitive. Fractions: ``5%`` or ``0.05`` (a bare number above 1 is
refused as ambiguous).
"""

from __future__ import annotations

import enum
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerscope.errors import ConfigError

POLICY_FILE = ".layerscope.toml"
PYPROJECT = "pyproject.toml"
DIVE_FILE = ".dive-ci"
SEVERITIES = ("fail", "warn", "off")
RULE_ID = re.compile(r"^LS\d{3}$")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1 << 10,
    "kib": 1 << 10,
    "mi": 1 << 20,
    "mib": 1 << 20,
    "gi": 1 << 30,
    "gib": 1 << 30,
    "ti": 1 << 40,
    "tib": 1 << 40,
}


class ValueKind(enum.Enum):
    """How a budget's limit is spelled and compared."""

    SIZE = "size"  # bytes
    FRACTION = "fraction"  # 0..1, written 5% or 0.05
    COUNT = "count"  # a whole number


def parse_size(value: object) -> int:
    """``300MB``, ``1.5GiB``, ``1048576`` (or a TOML integer) -> bytes.

    Raises ValueError with a message fit for a person.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a size")
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number of bytes (write e.g. 1.5MB)")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a size")
    m = _SIZE.match(value)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(f"{value!r} is not a size (write e.g. 300MB, 1.5GiB or 1048576)")
    number = float(m.group(1))
    if _UNITS[unit] == 1 and not number.is_integer():
        # `--max-total 1.5` is a slip for 1.5MB or 1.5GB, not a 2-byte limit.
        raise ValueError(f"{value!r} is not a whole number of bytes (write e.g. 1.5MB)")
    return round(number * _UNITS[unit])


def parse_fraction(value: object) -> float:
    """``5%`` or ``0.05`` (or a TOML number) -> 0.05; must lie in 0..1."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a fraction")
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text[:-1] if percent else text)
    except ValueError:
        raise ValueError(f"{value!r} is not a fraction (write e.g. 5% or 0.05)") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a number between 0% and 100%")
    if percent:
        number /= 100
    elif number > 1:
        raise ValueError(f"{value!r} is ambiguous: write {number:g}% or {number / 100:g}")
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError(f"{value!r} is not between 0% and 100%")
    return number


def parse_count(value: object) -> int:
    """A whole number of at least 0."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a count")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError(f"{value!r} is not a whole number")


def parse_value(kind: ValueKind, value: object) -> float:
    """Parse ``value`` as a limit of ``kind`` (sizes and counts stay ints)."""
    if kind is ValueKind.SIZE:
        return parse_size(value)
    if kind is ValueKind.FRACTION:
        return parse_fraction(value)
    return parse_count(value)


@dataclass(frozen=True, slots=True)
class Limit:
    """One budget's limit and what breaking it means (``fail`` or ``warn``;
    ``off`` switches an inherited budget off)."""

    value: float
    severity: str = "fail"


@dataclass(frozen=True, slots=True)
class NamedBudgets:
    """Budgets that apply to images whose reference matches one of ``patterns``."""

    name: str
    patterns: tuple[str, ...]
    limits: Mapping[str, Limit]


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """What a rule's findings mean for the verdict, and its size floor."""

    level: str = "warn"
    min_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a policy file says. ``path`` is where it came from ('' for
    none), ``origin`` is ``layerscope``, ``dive`` or ``none``."""

    path: str = ""
    origin: str = "none"
    limits: Mapping[str, Limit] = field(default_factory=dict)
    named: tuple[NamedBudgets, ...] = ()
    rules: Mapping[str, RulePolicy] = field(default_factory=dict)
    min_bytes: int | None = None
    notes: tuple[str, ...] = ()
    # Why this file applies (``--config``, or where the upward search found it).
    reason: str = ""


def _limit(path: str, key: str, kind: ValueKind, raw: object) -> Limit:
    severity = "fail"
    value = raw
    if isinstance(raw, dict):
        unknown = set(raw) - {"limit", "severity"}
        if unknown or "limit" not in raw:
            raise ConfigError(f"{path}: budget {key} takes {{ limit = ..., severity = ... }}")
        value = raw["limit"]
        severity = str(raw.get("severity", "fail"))
        if severity not in SEVERITIES:
            raise ConfigError(f"{path}: budget {key}: severity must be one of fail, warn, off")
    try:
        return Limit(parse_value(kind, value), severity)
    except ValueError as e:
        raise ConfigError(f"{path}: budget {key}: {e}") from None


def _limits(
    path: str, table: Mapping[str, Any], kinds: Mapping[str, ValueKind]
) -> dict[str, Limit]:
    return {key: _limit(path, key, kinds[key], raw) for key, raw in table.items()}


def _budgets(
    path: str, table: object, kinds: Mapping[str, ValueKind]
) -> tuple[dict[str, Limit], tuple[NamedBudgets, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [budgets] must be a table")
    plain: dict[str, Any] = {}
    named: list[NamedBudgets] = []
    for key, raw in table.items():
        if key in kinds:
            plain[key] = raw
        elif isinstance(raw, dict) and "match" in raw:
            patterns = raw["match"]
            if isinstance(patterns, str):
                patterns = [patterns]
            if not (isinstance(patterns, list) and all(isinstance(p, str) for p in patterns)):
                raise ConfigError(f"{path}: [budgets.{key}] match must be a pattern or a list")
            rest = {k: v for k, v in raw.items() if k != "match"}
            unknown = sorted(set(rest) - set(kinds))
            if unknown:
                raise ConfigError(f"{path}: [budgets.{key}]: unknown budget {unknown[0]!r}")
            named.append(NamedBudgets(key, tuple(patterns), _limits(path, rest, kinds)))
        else:
            raise ConfigError(
                f"{path}: unknown budget {key!r} (known: {', '.join(kinds)}; a named budget "
                "set is a table with `match`)"
            )
    return _limits(path, plain, kinds), tuple(named)


def _rules(path: str, table: object) -> dict[str, RulePolicy]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [rules] must be a table")
    from layerscope.rules import all_rules

    known = sorted(r.id for r in all_rules())
    out: dict[str, RulePolicy] = {}
    for rule_id, raw in table.items():
        if not RULE_ID.match(rule_id):
            raise ConfigError(f"{path}: [rules] {rule_id!r} is not a rule ID like LS101")
        if rule_id not in known:
            # A typo must not pass silently: `LS999 = "fail"` would never fail.
            raise ConfigError(
                f"{path}: [rules] {rule_id} is not a layerscope rule (known: {known[0]} to "
                f"{known[-1]}, see docs/rules.md)"
            )
        level, floor = raw, None
        if isinstance(raw, dict):
            if set(raw) - {"level", "min_bytes"}:
                raise ConfigError(
                    f"{path}: rule {rule_id} takes {{ level = ..., min_bytes = ... }}"
                )
            level = raw.get("level", "warn")
            if "min_bytes" in raw:
                try:
                    floor = parse_size(raw["min_bytes"])
                except ValueError as e:
                    raise ConfigError(f"{path}: rule {rule_id} min_bytes: {e}") from None
        if level not in SEVERITIES:
            raise ConfigError(f"{path}: rule {rule_id}: level must be one of fail, warn, off")
        out[rule_id] = RulePolicy(str(level), floor)
    return out


def policy_from_table(
    path: str, table: Mapping[str, Any], kinds: Mapping[str, ValueKind]
) -> Policy:
    """Validate the parsed TOML table of a layerscope policy."""
    unknown = sorted(set(table) - {"budgets", "rules", "min_bytes"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} (expected budgets, rules, min_bytes)"
        )
    limits, named = _budgets(path, table.get("budgets", {}), kinds)
    min_bytes = None
    if "min_bytes" in table:
        try:
            min_bytes = parse_size(table["min_bytes"])
        except ValueError as e:
            raise ConfigError(f"{path}: min_bytes: {e}") from None
    return Policy(
        path=path,
        origin="layerscope",
        limits=limits,
        named=named,
        rules=_rules(path, table.get("rules", {})),
        min_bytes=min_bytes,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _pyproject_table(path: Path) -> dict[str, Any] | None:
    tool = _read_toml(path).get("tool", {})
    table = tool.get("layerscope") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.layerscope] must be a table")
    return table


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


def load_policy(path: str | os.PathLike[str], kinds: Mapping[str, ValueKind]) -> Policy:
    """Read the policy file at ``path`` (.layerscope.toml, pyproject.toml or .dive-ci)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such policy file")
    if p.name == DIVE_FILE or p.suffix in (".yaml", ".yml"):
        return dive_policy(p)
    if p.name == PYPROJECT:
        table = _pyproject_table(p)
        if table is None:
            raise ConfigError(f"{p}: no [tool.layerscope] table")
        return policy_from_table(str(p), table, kinds)
    return policy_from_table(str(p), _read_toml(p), kinds)


def repository_root(start: str | os.PathLike[str]) -> Path | None:
    """The nearest directory from ``start`` upward that holds ``.git`` (a
    folder, or the file of a worktree or submodule), else None."""
    here = Path(start).resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return None


def find_policy(start: str | os.PathLike[str], kinds: Mapping[str, ValueKind]) -> Policy:
    """The first layerscope policy from ``start`` upward, else the nearest
    ``.dive-ci``, else an empty policy. The search stops at the repository
    root (the first directory holding ``.git``): a policy above a checkout
    belongs to someone else."""
    import dataclasses

    here = Path(start).resolve()
    root = repository_root(here)
    chain = [here, *here.parents]
    if root is not None:
        chain = chain[: chain.index(root) + 1]
    limit = f"repository root {root}" if root is not None else "filesystem root"
    dive: Path | None = None
    found: Policy | None = None
    for directory in chain:
        candidate = directory / POLICY_FILE
        if candidate.is_file():
            found = load_policy(candidate, kinds)
            break
        candidate = directory / PYPROJECT
        if candidate.is_file():
            table = _pyproject_table(candidate)
            if table is not None:
                found = policy_from_table(str(candidate), table, kinds)
                break
        candidate = directory / DIVE_FILE
        if dive is None and candidate.is_file():
            dive = candidate
    if found is None and dive is not None:
        found = dive_policy(dive)
    if found is None:
        return Policy(reason=f"no policy file from {here} up to the {limit}")
    return dataclasses.replace(
        found, reason=f"found upward from {here} (the search stops at the {limit})"
    )
