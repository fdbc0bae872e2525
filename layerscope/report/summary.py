"""The short CI summary (figures, top findings, budget verdicts) and the
plain formatting helpers the markdown and SARIF reports share.

No humanize here: these reports are core (see CONTRIBUTING.md), so sizes are
formatted by a few lines of our own, in binary units like the table.
"""

from __future__ import annotations

from layerscope.analysis import Analysis, BudgetResult
from layerscope.counts import counted
from layerscope.names import printable
from layerscope.policy.budgets import KINDS
from layerscope.policy.values import ValueKind

TOP_FINDINGS = 5
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: float) -> str:
    """Bytes for people: ``512 B``, ``1.5 MiB`` (negative stays negative)."""
    sign = "-" if n < 0 else ""
    value = abs(float(n))
    if value < 1024:
        return f"{sign}{int(value)} B"
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{sign}{value:.1f} {unit}"


def signed_size(n: float) -> str:
    """A growth: ``+1.5 MiB``, ``-512 B``, ``0 B``."""
    return ("+" if n > 0 else "") + size(n)


def budget_value(name: str, value: float, *, signed: bool = False) -> str:
    """A budget's limit or actual as people write it: size, percent or count
    (``signed`` for a growth: ``+1.5 MiB``)."""
    kind = KINDS.get(name, ValueKind.SIZE)
    if kind is ValueKind.FRACTION:
        return f"{value:.2%}"
    if kind is ValueKind.COUNT:
        return str(int(value))
    return signed_size(value) if signed else size(value)


def relation(b: BudgetResult) -> str:
    """``12 MiB > 10 MiB`` style comparison text for one verdict."""
    if b.name.startswith("rule:"):
        return f"{b.message.split(';')[0]} ({size(b.actual)})"
    ops = (">=", "<") if b.name.startswith("min_") else ("<=", ">")
    op = ops[0] if b.passed else ops[1]
    growth = "growth" in b.name
    actual = budget_value(b.name, b.actual, signed=growth)
    limit = budget_value(b.name, b.limit)
    if b.actual != b.limit and actual.lstrip("+") == limit:
        # Rounded alike, yet different: show what was compared.
        kind = KINDS.get(b.name, ValueKind.SIZE)
        if kind is ValueKind.FRACTION:
            return f"{b.actual:.6%} {op} {b.limit:.6%}"
        sign = "+" if growth and b.actual > 0 else ""
        return f"{sign}{int(b.actual)} B {op} {int(b.limit)} B"
    return f"{actual} {op} {limit}"


def verdict(b: BudgetResult) -> str:
    """``ok``, ``FAIL`` or ``warn``."""
    if b.passed:
        return "ok"
    return "FAIL" if b.severity == "fail" else "warn"


def verdict_lines(budgets: tuple[BudgetResult, ...], passed: bool) -> list[str]:
    """The budget verdict block, ending with the overall result line."""
    if not budgets:
        return [
            "budgets: none set (flags like --max-total, or a .layerscope.toml)",
            "result: PASSED",
        ]
    width = max(len(b.name) for b in budgets)
    out = ["budgets:"]
    out.extend(f"  {verdict(b):<4}  {b.name:<{width}}  {relation(b)}" for b in budgets)
    broken = sum(1 for b in budgets if not b.passed and b.severity == "fail")
    warned = sum(1 for b in budgets if not b.passed and b.severity != "fail")
    tail = f", {counted(warned, 'warning')}" if warned else ""
    if passed:
        out.append(f"result: PASSED ({counted(len(budgets), 'budget')}{tail})")
    else:
        out.append(f"result: FAILED ({broken} of {counted(len(budgets), 'budget')} broken{tail})")
    return out


def render(result: Analysis) -> str:
    """The short human summary ``--ci`` prints: figures, top findings, verdicts."""
    image = result.image
    s = result.summary
    wasted_pct = s.wasted_bytes / s.total_bytes if s.total_bytes else 0.0
    out = [
        f"layerscope: {printable(image.reference or image.id)} ({image.id[:19]})",
        f"  total {size(s.total_bytes)} in {counted(s.layer_count, 'layer')}, "
        f"final {size(s.final_bytes)}, "
        f"wasted {size(s.wasted_bytes)} ({wasted_pct:.1%}), efficiency {s.efficiency:.1%}, "
        f"reclaimable {size(s.reclaimable_bytes)}",
    ]
    if result.base_layer_count:
        # Waste budgets judge the own layers: show their figures too.
        from layerscope.base.attribution import split

        own = split(result).own
        out.append(
            f"  own layers ({own.layer_count}, after {result.base_layer_count} base): total "
            f"{size(own.total_bytes)}, wasted {size(own.wasted_bytes)} "
            f"({own.wasted_fraction:.1%}), efficiency {own.efficiency:.1%}, "
            f"reclaimable {size(own.reclaimable_bytes)}"
        )
    if result.findings:
        shown = result.findings[:TOP_FINDINGS]
        out.append(f"  top findings ({len(shown)} of {len(result.findings)}):")
        for f in shown:
            where = printable(f.paths[0]) if f.paths else ""
            out.append(f"    {size(f.bytes):>10}  {f.rule}  {f.kind.value}  {where}")
            out.append(f"                fix: {printable(' '.join(f.fix.split()))[:200]}")
    else:
        out.append("  no waste found")
    out.extend(f"  warning: {printable(w)}" for w in image.warnings)
    out.extend(verdict_lines(result.budgets, result.passed))
    return "\n".join(out) + "\n"
