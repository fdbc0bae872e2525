"""CI options shared by ``layerscope IMAGE`` and ``layerscope diff``: budget
flags, the policy file, ``--ci`` and several ``-o`` outputs.

The budget flags come from the budget tables (``budget.IMAGE_BUDGETS``), so
a new budget is one row there and gets its flag here for free.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from layerscope.errors import UsageError
from layerscope.policy.values import Limit, Policy, ValueKind, parse_value

if TYPE_CHECKING:
    from layerscope.analysis import BudgetResult

_METAVAR = {ValueKind.SIZE: "SIZE", ValueKind.FRACTION: "PCT", ValueKind.COUNT: "N"}


def _value_type(kind: ValueKind, flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return parse_value(kind, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = flag  # argparse names the type in its messages
    return parse


def add_budget_arguments(parser: argparse.ArgumentParser, budgets: Sequence[Any]) -> None:
    """One ``--max-...``/``--min-...`` flag per budget row."""
    group = parser.add_argument_group(
        "budgets",
        "fail (exit 1) when a limit is broken; the same names, in snake_case, "
        "go under [budgets] in .layerscope.toml",
    )
    for b in budgets:
        metavar = "RATIO" if b.name.startswith("min_") else _METAVAR[b.kind]
        spelled = " (5% or 0.05)" if b.kind is ValueKind.FRACTION else ""
        group.add_argument(
            b.flag,
            dest=f"budget_{b.name}",
            type=_value_type(b.kind, b.flag),
            metavar=metavar,
            help=(b.help + spelled).replace("%", "%%"),
        )
    group.add_argument(
        "--budget-level",
        metavar="NAME=LEVEL",
        action="append",
        default=[],
        help="fail, warn or off for one budget (max_total, --max-total) or rule (LS101), "
        "over what the policy file says; a warn budget is reported but does not fail; "
        "repeatable",
    )


def add_ci_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ci``, ``--config`` and ``--no-config``."""
    parser.add_argument(
        "--ci",
        action="store_true",
        help="no interactive view: a short summary with the budget verdicts; exit 0 when "
        "every budget holds, 1 when one fails (also when CI=true)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="policy file (.layerscope.toml, pyproject.toml or .dive-ci); default: the "
        "first found from the working directory upward",
    )
    parser.add_argument(
        "--no-config", action="store_true", help="ignore policy files (only flags count)"
    )


def in_ci_environment() -> bool:
    """``CI=true`` (or 1, yes) in the environment, as CI services set it."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def ci_mode(args: argparse.Namespace) -> bool:
    """``--ci`` or ``CI=true`` in the environment."""
    return bool(getattr(args, "ci", False)) or in_ci_environment()


def budget_levels(args: argparse.Namespace) -> dict[str, str]:
    """``--budget-level NAME=LEVEL`` as {budget name or rule ID: level}."""
    from layerscope.policy.budgets import KINDS
    from layerscope.policy.file import RULE_ID, SEVERITIES

    out: dict[str, str] = {}
    for item in getattr(args, "budget_level", None) or []:
        name, sep, level = item.partition("=")
        name = name.strip().removeprefix("--").replace("-", "_")
        level = level.strip().lower()
        if not sep or level not in SEVERITIES:
            raise UsageError(f"--budget-level {item}: write NAME=fail, NAME=warn or NAME=off")
        if RULE_ID.match(name.upper()):
            from layerscope.rules import all_rules

            name = name.upper()
            if name not in {r.id for r in all_rules()}:
                raise UsageError(f"--budget-level {item}: {name} is not a layerscope rule")
        elif name not in KINDS:
            raise UsageError(
                f"--budget-level {item}: no budget {name!r} (known: {', '.join(KINDS)})"
            )
        out[name] = level
    return out


def overrides(args: argparse.Namespace, budgets: Sequence[Any]) -> dict[str, Limit]:
    """The limits given as flags. A flag replaces the policy file's entry for
    that budget, value and level (``fail``, or what ``--budget-level`` says)."""
    levels = budget_levels(args)
    out = {}
    for b in budgets:
        value = getattr(args, f"budget_{b.name}", None)
        if value is not None:
            out[b.name] = Limit(value, levels.get(b.name, "fail"))
    return out


def _with_levels(policy: Policy, args: argparse.Namespace) -> Policy:
    """``policy`` with ``--budget-level`` applied to its budgets and rules."""
    import dataclasses

    from layerscope.policy.values import RulePolicy

    levels = budget_levels(args)
    if not levels:
        return policy
    flagged = {k for k in levels if getattr(args, f"budget_{k}", None) is not None}
    limits = dict(policy.limits)
    named = list(policy.named)
    rules = dict(policy.rules)
    for name, level in levels.items():
        if name.startswith("LS"):
            rules[name] = dataclasses.replace(rules.get(name, RulePolicy()), level=level)
            continue
        known = name in flagged
        if name in limits:
            limits[name] = dataclasses.replace(limits[name], severity=level)
            known = True
        for i, n in enumerate(named):
            if name in n.limits:
                changed = {**n.limits, name: dataclasses.replace(n.limits[name], severity=level)}
                named[i] = dataclasses.replace(n, limits=changed)
                known = True
        if not known:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"--budget-level {name}={level}: {name} has no limit (give {flag} or set it "
                "in the policy file)"
            )
    return dataclasses.replace(policy, limits=limits, named=tuple(named), rules=rules)


def load(args: argparse.Namespace) -> Policy:
    """The policy in force: ``--config``, else discovery, none with ``--no-config``;
    then ``--budget-level``."""
    import dataclasses

    from layerscope.policy.budgets import KINDS
    from layerscope.policy.file import find_policy, load_policy

    if args.no_config:
        if args.config:
            raise UsageError("--config and --no-config exclude each other")
        policy = Policy(reason="--no-config")
    elif args.config:
        policy = dataclasses.replace(load_policy(args.config, KINDS), reason="named by --config")
    else:
        policy = find_policy(os.getcwd(), KINDS)
    return _with_levels(policy, args)


def budget_lines(budgets: Sequence[BudgetResult]) -> list[str]:
    """One stderr line per budget that does not hold (warn ones too), so an
    exit status of 1 always has its reason in the log."""
    from layerscope.report.summary import relation, verdict

    out = []
    for b in budgets:
        if b.passed:
            continue
        word = "failed" if verdict(b) == "FAIL" else "warning"
        where = b.message.rsplit("; set in ", 1)[1] if "; set in " in b.message else ""
        source = f" (set in {where})" if where else ""
        out.append(f"layerscope: budget {word}: {b.name} {relation(b)}{source}\n")
    return out


def policy_line(policy: Policy) -> str:
    """Which policy file applies and why (empty when none does)."""
    if not policy.path:
        return ""
    kind = " (dive rules)" if policy.origin == "dive" else ""
    why = f", {policy.reason}" if policy.reason else ""
    return f"policy: {policy.path}{kind}{why}\n"


def plan(args: argparse.Namespace) -> tuple[list[tuple[str, str]], str | None]:
    """The ``-o`` files and the stdout format, checked before any work."""
    from layerscope.cli.output import plan_outputs
    from layerscope.report import EXTENSIONS, FORMATS

    files, stdout_fmt = plan_outputs(args.output, args.format, EXTENSIONS, formats=FORMATS)
    if ci_mode(args) and args.format is None and "-" not in (args.output or []):
        stdout_fmt = None
    return files, stdout_fmt


def emit(
    args: argparse.Namespace,
    result: Any,
    policy: Policy,
    planned: tuple[list[tuple[str, str]], str | None] | None = None,
    *,
    render: Callable[[str, Any], str] | None = None,
    summary: Callable[[Any], str] | None = None,
) -> None:
    """Write every report ``-o`` asks for, the stdout report, in CI mode the
    short summary (to stdout when nothing else goes there, else stderr),
    GitHub Actions' annotations and step summary when run there, and one
    stderr line per broken budget whatever the format. A report that could
    not be written is a usage error (exit 2) once the others are written.
    ``render`` and ``summary`` default to one analysis's reports;
    ``--all-platforms`` passes its own for a list of analyses."""
    import sys

    from layerscope.cli import github
    from layerscope.cli.output import write_output, write_reports
    from layerscope.report import render as render_analysis
    from layerscope.report import summary as summary_module

    render = render or render_analysis
    summary = summary or summary_module.render

    files, stdout_fmt = planned or plan(args)
    errors = write_reports(
        result,
        files,
        stdout_fmt,
        policy,
        render,
        write_output,
        quiet=bool(getattr(args, "quiet", False)),
    )
    if ci_mode(args):
        stream = sys.stderr if stdout_fmt is not None else sys.stdout
        stream.write(policy_line(policy))
        stream.write(summary(result))
        stream.flush()
    for analysis in result if isinstance(result, list) else [result]:
        errors += github.publish(analysis)
        sys.stderr.writelines(budget_lines(analysis.budgets))
    sys.stderr.flush()
    if errors:
        raise UsageError("; ".join(errors))
