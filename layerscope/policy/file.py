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

How sizes and fractions are spelled: ``policy/values.py``; dive's file:
``policy/dive.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layerscope.errors import ConfigError
from layerscope.policy.dive import DIVE_FILE, dive_policy
from layerscope.policy.values import (
    Limit,
    NamedBudgets,
    Policy,
    RulePolicy,
    ValueKind,
    parse_size,
    parse_value,
)

POLICY_FILE = ".layerscope.toml"
PYPROJECT = "pyproject.toml"
SEVERITIES = ("fail", "warn", "off")
RULE_ID = re.compile(r"^LS\d{3}$")


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
    import tomllib  # only for a policy file: 3 ms of every run without one

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
