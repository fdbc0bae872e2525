"""Policy files: discovery, parsing, sizes and fractions, dive's .dive-ci."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscope.errors import ConfigError
from layerscope.policy.budgets import KINDS
from layerscope.policy.file import find_policy, load_policy
from layerscope.policy.values import Limit, parse_count, parse_fraction, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300MB", 300_000_000),
        ("300mb", 300_000_000),
        ("300M", 300_000_000),
        ("1.5GiB", 1_610_612_736),
        ("1.5 GiB", 1_610_612_736),
        ("4KiB", 4096),
        ("2kB", 2000),
        ("1048576", 1_048_576),
        ("12B", 12),
        ("0", 0),
        (".5KiB", 512),
        (4096, 4096),
        (2.0, 2),
    ],
)
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-1", -1, "1.2.3MB", "12 parsecs", "1e6", True, None])
def test_parse_size_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5%", 0.05),
        ("0.05", 0.05),
        (0.05, 0.05),
        ("100%", 1.0),
        (1, 1.0),
        ("0", 0.0),
        ("2.5%", 0.025),
    ],
)
def test_parse_fraction(text: object, expected: float) -> None:
    assert parse_fraction(text) == pytest.approx(expected)


def test_parse_fraction_refuses_ambiguous_and_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"ambiguous: write 5% or 0\.05"):
        parse_fraction("5")
    for bad in ("150%", "-1%", "x%", "nan", True):
        with pytest.raises(ValueError):
            parse_fraction(bad)


def test_parse_count() -> None:
    assert parse_count("12") == 12
    assert parse_count(3) == 3
    for bad in (-1, "1.5", "x", True, 2.0):
        with pytest.raises(ValueError):
            parse_count(bad)


POLICY = """\
min_bytes = "4KiB"

[budgets]
max_total = "300MB"
max_wasted_percent = "5%"
max_reclaimable = { limit = "50MiB", severity = "warn" }
max_layers = 20

[budgets.api]
match = "api:*"
max_total = "1GB"

[budgets.workers]
match = ["worker:*", "*/worker-*:*"]
max_layer = "100MB"

[rules]
LS101 = "fail"
LS102 = { level = "warn", min_bytes = "1MB" }
LS201 = "off"
"""


def test_load_policy_file(tmp_path: Path) -> None:
    path = tmp_path / ".layerscope.toml"
    path.write_text(POLICY)
    p = load_policy(path, KINDS)
    assert p.origin == "layerscope"
    assert p.path == str(path)
    assert p.min_bytes == 4096
    assert p.limits == {
        "max_total": Limit(300_000_000),
        "max_wasted_percent": Limit(0.05),
        "max_reclaimable": Limit(50 << 20, "warn"),
        "max_layers": Limit(20),
    }
    assert [(n.name, n.patterns) for n in p.named] == [
        ("api", ("api:*",)),
        ("workers", ("worker:*", "*/worker-*:*")),
    ]
    assert p.named[0].limits == {"max_total": Limit(1_000_000_000)}
    assert {k: (r.level, r.min_bytes) for k, r in p.rules.items()} == {
        "LS101": ("fail", None),
        "LS102": ("warn", 1_000_000),
        "LS201": ("off", None),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[budgets]\nmax_totl = '1MB'\n", "unknown budget 'max_totl'"),
        ("[budgets]\nmax_total = '1 parsec'\n", "budget max_total: '1 parsec' is not a size"),
        ("[budgets]\nmax_wasted_percent = 5\n", "ambiguous"),
        ("[budgets]\nmax_total = { limit = '1MB', severity = 'loud' }\n", "severity must be"),
        ("[budgets]\nmax_total = { severity = 'warn' }\n", "takes { limit"),
        ("[budgets.api]\nmatch = 3\n", "match must be"),
        ("[budgets.api]\nmatch = 'a*'\nmax_foo = 1\n", "unknown budget 'max_foo'"),
        ("[rules]\nLS101 = 'loud'\n", "level must be"),
        ("[rules]\nfoo = 'warn'\n", "not a rule ID"),
        ("[rules]\nLS101 = { level = 'warn', min_bytes = 'x' }\n", "min_bytes"),
        ("budget = 1\n", "unknown key 'budget'"),
        ("[budgets\n", "not valid TOML"),
    ],
)
def test_bad_policy_is_a_config_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / ".layerscope.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path).replace(".", r"\.")) as exc:
        load_policy(path, KINDS)
    assert message in str(exc.value)


def test_find_policy_walks_up_from_nested_directory(tmp_path: Path) -> None:
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_total = '1MB'\n")
    nested = tmp_path / "a" / "b" / "c"
    nested.mkdir(parents=True)
    p = find_policy(nested, KINDS)
    assert p.path == str(tmp_path / ".layerscope.toml")
    assert p.limits["max_total"] == Limit(1_000_000)


def test_pyproject_without_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_layers = 3\n")
    inner = tmp_path / "proj"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_policy(inner, KINDS).path == str(tmp_path / ".layerscope.toml")
    (inner / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n[tool.layerscope.budgets]\nmax_layers = 7\n"
    )
    p = find_policy(inner, KINDS)
    assert p.path == str(inner / "pyproject.toml")
    assert p.limits == {"max_layers": Limit(7)}


def test_nearest_wins_and_layerscope_policy_beats_dive(tmp_path: Path) -> None:
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_layers = 3\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.9\n")
    # A layerscope policy anywhere up the tree is preferred over a .dive-ci.
    assert find_policy(inner, KINDS).origin == "layerscope"


DIVE_CI = """\
---
rules:
  # If the efficiency is measured below X%, mark as failed.
  lowestEfficiency: 0.95
  # Expressed in B, KB, MB, and GB.
  highestWastedBytes: 20MB   # trailing comment
  highestUserWastedPercent: "0.20"
"""


def test_dive_ci_is_read_when_no_layerscope_policy(tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text(DIVE_CI)
    nested = tmp_path / "sub"
    nested.mkdir()
    p = find_policy(nested, KINDS)
    assert p.origin == "dive"
    assert p.limits == {
        "min_efficiency": Limit(0.95),
        "max_wasted": Limit(20_000_000),
        "max_wasted_percent": Limit(0.20),
    }


def test_dive_ci_disabled_and_unknown_rules(tmp_path: Path) -> None:
    path = tmp_path / ".dive-ci"
    path.write_text("rules:\n  lowestEfficiency: disabled\n  someFutureRule: 3\n")
    p = load_policy(path, KINDS)
    # The rule left out gets dive's default, as dive applies it.
    assert p.limits == {"max_wasted_percent": Limit(0.1)}
    assert any("someFutureRule" in n for n in p.notes)
    path.write_text("rules:\n  highestUserWastedPercent: 1.5\n")
    p = load_policy(path, KINDS)
    assert p.limits == {"max_wasted_percent": Limit(1.0), "min_efficiency": Limit(0.9)}
    assert any("above 1" in n for n in p.notes)
    path.write_text("rules:\n  highestWastedBytes: lots\n")
    with pytest.raises(ConfigError, match="highestWastedBytes"):
        load_policy(path, KINDS)


def test_no_policy_anywhere(tmp_path: Path) -> None:
    p = find_policy(tmp_path, KINDS)
    # /tmp's parents might hold a stray policy on a developer machine; the
    # tmp_path itself has none, so any policy found is above it.
    assert p.path == "" or not p.path.startswith(str(tmp_path))


def test_config_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such policy file"):
        load_policy(tmp_path / "missing.toml", KINDS)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.layerscope\] table"):
        load_policy(tmp_path / "pyproject.toml", KINDS)
