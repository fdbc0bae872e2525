"""CI mode end to end: the real CLI on real images built from the busybox base.

Every budget passes at its limit and fails past it with exit 1; policy files
are found from a nested working directory; dive's .dive-ci is imported;
two builds of one Dockerfile are diffed with a growth budget; the markdown
renders, the SARIF validates against the official schema and the JSON
against the shipped one.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from markdown_it import MarkdownIt

from layerscope.policy.budgets import IMAGE_BUDGETS
from tests.cli import layerscope as run_layerscope

from .imagebuild import build_image

REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
WASTE_TAG = "layerscope-test/ci-waste:1"
DIFF_TAGS = ("layerscope-test/ci-diff:v1", "layerscope-test/ci-diff:v2")

WASTE_DOCKERFILE = """\
FROM {base}
RUN mkdir -p /data && dd if=/dev/zero of=/data/blob bs=1024 count=512 2>/dev/null \\
    && echo keep > /data/keep
COPY app.bin /app/app.bin
RUN rm /data/blob
"""
APP_BIN = bytes(range(256)) * 1200  # 300 KiB

DIFF_DOCKERFILE = """\
FROM {base}
COPY app/ /app/
RUN ls -l /app > /app.list
"""
BIG = bytes(range(256)) * 8192  # 2 MiB


def layerscope(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; CI is unset unless ``env`` sets it (the suite runs under CI=true)."""
    return run_layerscope(*args, cwd=cwd, env=env)


def rmi(*tags: str) -> None:
    subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True, check=False)


@pytest.fixture(scope="module")
def waste_image(busybox_base: str) -> Iterator[str]:
    """Four layers: the base, a RUN storing 512 KiB, a COPY of 300 KiB, a RUN deleting the blob."""
    yield build_image(WASTE_TAG, WASTE_DOCKERFILE.format(base=busybox_base), {"app.bin": APP_BIN})
    rmi(WASTE_TAG)


@pytest.fixture(scope="module")
def report(waste_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = layerscope(waste_image, "--format", "json", "--no-config")
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.fixture(scope="module")
def diff_images(busybox_base: str) -> Iterator[tuple[str, str]]:
    """Two BuildKit builds of one Dockerfile; the second context adds a 2 MiB file."""
    dockerfile = DIFF_DOCKERFILE.format(base=busybox_base)
    old = build_image(DIFF_TAGS[0], dockerfile, {"app/a.txt": b"a\n"}, buildkit=True)
    new = build_image(
        DIFF_TAGS[1], dockerfile, {"app/a.txt": b"a\n", "app/big.bin": BIG}, buildkit=True
    )
    yield old, new
    rmi(*DIFF_TAGS)


def test_figures_of_the_built_image(report: dict[str, Any]) -> None:
    s = report["summary"]
    assert s["layer_count"] == 4
    assert s["wasted_bytes"] == 512 * 1024
    assert s["own"]["layer_count"] == 3
    assert s["own"]["wasted_bytes"] == 512 * 1024
    assert report["budgets"] == []
    assert report["passed"] is True


def _actuals(report: dict[str, Any]) -> dict[str, float]:
    """Every image budget's figure, read from the JSON report. Waste budgets
    judge the own layers (the base's waste is not the Dockerfile's to fix)."""
    s = report["summary"]
    own, base = s["own"], s["base"]
    return {
        "max_total": s["total_bytes"],
        "max_final": s["final_bytes"],
        "max_wasted": own["wasted_bytes"],
        "max_wasted_percent": own["wasted_bytes"] / own["total_bytes"],
        "min_efficiency": (own["total_bytes"] - own["wasted_bytes"]) / own["total_bytes"],
        "max_reclaimable": own["reclaimable_bytes"],
        "max_layer": max(layer["content_bytes"] for layer in report["layers"]),
        "max_layers": s["layer_count"],
        "max_own_total": own["total_bytes"],
        "max_own_wasted": own["wasted_bytes"],
        "max_own_reclaimable": own["reclaimable_bytes"],
        "max_own_layers": own["layer_count"],
        "max_base_total": base["total_bytes"],
        "max_base_wasted": base["wasted_bytes"],
        "max_base_reclaimable": base["reclaimable_bytes"],
        "max_image_wasted": s["wasted_bytes"],
        "max_image_reclaimable": s["reclaimable_bytes"],
    }


def _limits(name: str, actual: float) -> tuple[str, str]:
    """(a limit that holds, a limit that is broken) as command-line text."""
    if name == "min_efficiency":
        return f"{math.floor(actual * 1e6) / 1e6}", f"{min(1.0, actual + 0.01)}"
    if name == "max_wasted_percent":
        # Percent form for this one: 5% style.
        return f"{math.ceil(actual * 1e6) / 1e4}%", f"{(actual - 0.01) * 100}%"
    return str(int(actual)), str(int(actual) - 1)


# An engine export tells no download size (max_download: test_producers_real.py).
@pytest.mark.parametrize("name", [b.name for b in IMAGE_BUDGETS if b.name != "max_download"])
def test_each_budget_passes_and_fails(
    waste_image: str, report: dict[str, Any], name: str, tmp_path: Path
) -> None:
    # A new budget row needs its figure in _actuals: a KeyError here says so.
    actual = _actuals(report)[name]
    holds, broken = _limits(name, actual)
    flag = "--" + name.replace("_", "-")

    ok = layerscope(waste_image, "--ci", "--no-config", flag, holds, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"ok    {name}" in ok.stdout
    assert "result: PASSED" in ok.stdout
    if actual == 0 and not name.startswith("min_"):
        return  # nothing below zero to break it with

    bad = layerscope(waste_image, "--ci", "--no-config", flag, broken, "-o", "r.json", cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"FAIL  {name}" in bad.stdout
    assert "result: FAILED" in bad.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    [verdict] = data["budgets"]
    assert verdict["name"] == name
    assert verdict["passed"] is False
    assert verdict["severity"] == "fail"
    assert verdict["actual"] == pytest.approx(actual)
    assert data["passed"] is False


def test_ci_env_means_ci_mode(waste_image: str, tmp_path: Path) -> None:
    out = layerscope(
        waste_image, "--no-config", "--max-layers", "3", cwd=tmp_path, env={"CI": "true"}
    )
    assert out.returncode == 1
    assert out.stdout.startswith(f"layerscope: {waste_image}")
    assert "FAIL  max_layers  4 > 3" in out.stdout
    # --format json in CI mode: JSON on stdout, the summary on stderr.
    js = layerscope(
        waste_image,
        "--no-config",
        "--max-layers",
        "3",
        "--format",
        "json",
        cwd=tmp_path,
        env={"CI": "true"},
    )
    assert js.returncode == 1
    assert json.loads(js.stdout)["passed"] is False
    assert "result: FAILED" in js.stderr


def test_bad_budget_value_is_a_usage_error(waste_image: str, tmp_path: Path) -> None:
    out = layerscope(waste_image, "--max-wasted-percent", "5", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert "ambiguous" in out.stderr


def test_policy_file_found_from_nested_directory(
    waste_image: str, report: dict[str, Any], tmp_path: Path
) -> None:
    wasted = report["summary"]["wasted_bytes"]
    (tmp_path / ".layerscope.toml").write_text(
        f"[budgets]\nmax_wasted = {wasted - 1}\nmax_layers = {{ limit = 2, severity = 'warn' }}\n"
    )
    nested = tmp_path / "services" / "api" / "src"
    nested.mkdir(parents=True)
    out = layerscope(waste_image, "--ci", cwd=nested)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"policy: {tmp_path / '.layerscope.toml'}" in out.stdout
    assert "FAIL  max_wasted" in out.stdout
    assert "warn  max_layers" in out.stdout
    # A flag overrides the file.
    flag = layerscope(waste_image, "--ci", "--max-wasted", "1GB", cwd=nested)
    assert flag.returncode == 0, flag.stdout
    # A pyproject.toml with [tool.layerscope] nearer the cwd wins.
    (tmp_path / "services" / "pyproject.toml").write_text(
        "[project]\nname = 'api'\n\n[tool.layerscope.budgets]\nmax_layers = 10\n"
    )
    near = layerscope(waste_image, "--ci", cwd=nested)
    assert near.returncode == 0, near.stdout
    assert "ok    max_layers  4 <= 10" in near.stdout
    # --config names a file explicitly.
    cfg = layerscope(
        waste_image, "--ci", "--config", str(tmp_path / ".layerscope.toml"), cwd=nested
    )
    assert cfg.returncode == 1


def test_named_budgets_and_rule_levels(
    waste_image: str, report: dict[str, Any], tmp_path: Path
) -> None:
    total = report["summary"]["total_bytes"]
    (tmp_path / ".layerscope.toml").write_text(
        f"""\
[budgets]
max_total = "1GB"

[budgets.ci]
match = "ci-waste:*"
max_total = {total - 1}

[budgets.other]
match = "worker:*"
max_total = 1
"""
    )
    out = layerscope(waste_image, "--format", "json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    [b] = json.loads(out.stdout)["budgets"]
    assert (b["name"], b["limit"], b["passed"]) == ("max_total", total - 1, False)
    assert "[budgets.ci]" in b["message"]

    assert any(f["rule"] == "LS101" for f in report["findings"])
    (tmp_path / ".layerscope.toml").write_text('[rules]\nLS101 = "fail"\n')
    rule = layerscope(waste_image, "--format", "json", cwd=tmp_path)
    assert rule.returncode == 1
    [b] = json.loads(rule.stdout)["budgets"]
    assert b["name"] == "rule:LS101"
    assert b["passed"] is False
    (tmp_path / ".layerscope.toml").write_text('[rules]\nLS101 = "off"\n')
    off = layerscope(waste_image, "--format", "json", cwd=tmp_path)
    assert off.returncode == 0
    assert not [f for f in json.loads(off.stdout)["findings"] if f["rule"] == "LS101"]


def test_dive_ci_import(waste_image: str, tmp_path: Path) -> None:
    dive = tmp_path / ".dive-ci"
    dive.write_text(
        "rules:\n"
        "  lowestEfficiency: 0.3\n"
        "  highestWastedBytes: 100KB\n"
        "  highestUserWastedPercent: disabled\n"
    )
    out = layerscope(waste_image, "--ci", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"policy: {dive} (dive rules)" in out.stdout
    assert "ok    min_efficiency" in out.stdout
    assert "FAIL  max_wasted" in out.stdout
    assert "max_wasted_percent" not in out.stdout
    dive.write_text("rules:\n  highestWastedBytes: 1MB\n  highestUserWastedPercent: 0.9\n")
    # As dive does, the rule left out gets dive's default (lowestEfficiency 0.9).
    defaulted = layerscope(waste_image, "--ci", cwd=tmp_path)
    assert defaulted.returncode == 1
    assert "FAIL  min_efficiency" in defaulted.stdout
    dive.write_text(
        "rules:\n  highestWastedBytes: 1MB\n  highestUserWastedPercent: 0.9\n"
        "  lowestEfficiency: disabled\n"
    )
    assert layerscope(waste_image, "--ci", cwd=tmp_path).returncode == 0
    # A layerscope policy beside it takes precedence.
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_layers = 1\n")
    again = layerscope(waste_image, "--ci", cwd=tmp_path)
    assert again.returncode == 1
    assert "FAIL  max_layers" in again.stdout


def test_several_outputs_markdown_sarif_and_json(waste_image: str, tmp_path: Path) -> None:
    out = layerscope(
        waste_image,
        "--ci",
        "--no-config",
        "--max-total",
        "10MB",
        "--max-wasted",
        "100KiB",
        "-o",
        "report.json",
        "-o",
        "summary.md",
        "-o",
        "report.sarif",
        "-o",
        "report.txt",
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    schema = json.loads(
        resources.files("layerscope.report").joinpath("schema-v1.json").read_text("utf-8")
    )
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert [(b["name"], b["passed"]) for b in data["budgets"]] == [
        ("max_total", True),
        ("max_wasted", False),
    ]

    html = MarkdownIt("commonmark").enable("table").render((tmp_path / "summary.md").read_text())
    assert html.startswith("<h2>layerscope: <code>layerscope-test/ci-waste:1</code> ❌ failed</h2>")
    assert "<details><summary>Layers (4)</summary>" in html
    assert html.count("<table>") == 3
    assert "<code>LS101</code>" in html
    assert "<code>/data/blob</code>" in html

    sarif = json.loads((tmp_path / "report.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    results = sarif["runs"][0]["results"]
    # One result per finding and one per broken budget.
    assert len(results) == len(data["findings"]) + 1
    assert {r["ruleId"] for r in results} == {f["rule"] for f in data["findings"]} | {
        "budget/max_wasted"
    }

    assert (tmp_path / "report.txt").read_text().startswith("Image:")


def test_diff_of_two_builds(diff_images: tuple[str, str], tmp_path: Path) -> None:
    old, new = diff_images
    grown = layerscope(
        "diff",
        old,
        new,
        "--ci",
        "--no-config",
        "--max-growth",
        "1MB",
        "-o",
        "d.json",
        cwd=tmp_path,
    )
    assert grown.returncode == 1, grown.stdout + grown.stderr
    assert "FAIL  max_growth" in grown.stdout
    d = json.loads((tmp_path / "d.json").read_text())
    growth = d["growth"]["total_bytes"]
    assert len(BIG) <= growth < len(BIG) + 4096  # the file, plus a longer /app.list
    assert [x["status"] for x in d["layers"]] == ["same", "changed", "changed"]
    assert d["directories"][0] == {
        "path": "/app",
        "old_bytes": 2,
        "new_bytes": 2 + len(BIG),
        "growth": len(BIG),
    }
    assert d["passed"] is False
    assert (
        layerscope("diff", old, new, "--no-config", "--max-growth", "3MB", cwd=tmp_path).returncode
        == 0
    )

    # The same through a baseline report and a policy file with max_growth.
    base = layerscope(old, "--no-config", "-o", "base.json", cwd=tmp_path)
    assert base.returncode == 0, base.stderr
    (tmp_path / ".layerscope.toml").write_text('[budgets]\nmax_growth = "500KB"\n')
    md = layerscope("diff", "--baseline", "base.json", new, "-o", "diff.md", cwd=tmp_path)
    assert md.returncode == 1, md.stdout + md.stderr
    html = MarkdownIt("commonmark").enable("table").render((tmp_path / "diff.md").read_text())
    assert "❌ failed" in html
    assert "<td>❌</td>\n<td><code>max_growth</code></td>" in html  # a budget table row
