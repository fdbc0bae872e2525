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
from layerscope.policy.file import Limit, Policy, ValueKind, parse_value

if TYPE_CHECKING:
    pass

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
        group.add_argument(
            b.flag,
            dest=f"budget_{b.name}",
            type=_value_type(b.kind, b.flag),
            metavar=metavar,
            help=b.help.replace("%", "%%"),
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


def overrides(args: argparse.Namespace, budgets: Sequence[Any]) -> dict[str, Limit]:
    """The limits given as flags (they override the policy file)."""
    out = {}
    for b in budgets:
        value = getattr(args, f"budget_{b.name}", None)
        if value is not None:
            out[b.name] = Limit(value)
    return out


def load(args: argparse.Namespace) -> Policy:
    """The policy in force: ``--config``, else discovery, none with ``--no-config``."""
    from layerscope.policy.budgets import KINDS
    from layerscope.policy.file import find_policy, load_policy

    if args.no_config:
        if args.config:
            raise UsageError("--config and --no-config exclude each other")
        return Policy()
    if args.config:
        return load_policy(args.config, KINDS)
    return find_policy(os.getcwd(), KINDS)


def emit(
    args: argparse.Namespace,
    result: Any,
    policy: Policy,
    *,
    render: Callable[[str, Any], str] | None = None,
    summary: Callable[[Any], str] | None = None,
) -> None:
    """Write every report ``-o`` asks for, the stdout report, and in CI mode
    the short summary (to stdout when nothing else goes there, else stderr).
    ``render`` and ``summary`` default to one analysis's reports; ``--all-platforms``
    gives its own for a list of them."""
    import sys

    from layerscope.cli.output import plan_outputs, write_output, write_reports
    from layerscope.report import EXTENSIONS
    from layerscope.report import render as render_analysis
    from layerscope.report import summary as summary_module

    render = render or render_analysis
    summary = summary or summary_module.render

    files, stdout_fmt = plan_outputs(args.output, args.format, EXTENSIONS)
    ci = ci_mode(args)
    if ci and args.format is None:
        stdout_fmt = None
    write_reports(result, files, stdout_fmt, policy, render, write_output)
    if ci:
        stream = sys.stderr if stdout_fmt is not None else sys.stdout
        if policy.path:
            kind = " (dive rules)" if policy.origin == "dive" else ""
            stream.write(f"policy: {policy.path}{kind}\n")
        stream.write(summary(result))
        stream.flush()
