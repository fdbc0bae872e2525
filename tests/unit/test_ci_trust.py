"""Issue 16: a CI run never passes or fails without saying why.

Each test names the item of the issue it pins down; every one failed before
the fix. The runs are real CLI processes on the sample archives."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from layerscope.analysis import BudgetResult
from layerscope.policy.budgets import KINDS
from layerscope.policy.file import find_policy, load_policy
from layerscope.policy.values import Limit, parse_size
from layerscope.report.summary import relation
from tests.cli import layerscope

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_images"
CACHES = SAMPLES / "package-caches.tar.gz"  # own layers 50% wasted, LS201 + LS205


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if "GITHUB" not in k}
    return layerscope(*args, cwd=cwd, env=env, base_env=base, timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout: a folder with .git and the sample's Dockerfile."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    shutil.copy(SAMPLES / "package-caches" / "Dockerfile", root / "Dockerfile")
    return root


# 1. A non-UTF-8 policy file is a config error (exit 2, one line), not a traceback.
def test_non_utf8_policy_exits_2_with_one_line(repo: Path) -> None:
    (repo / ".layerscope.toml").write_bytes(b"\xff\xfe")
    out = _cli(str(CACHES), "--ci", cwd=repo)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1
    assert "not UTF-8" in out.stderr and "Traceback" not in out.stderr


# 2. An unknown rule ID is refused: it would never fail.
def test_unknown_rule_id_is_refused(repo: Path) -> None:
    (repo / ".layerscope.toml").write_text('[rules]\nLS999 = "fail"\n')
    out = _cli(str(CACHES), "--ci", cwd=repo)
    assert out.returncode == 2
    assert "LS999 is not a layerscope rule" in out.stderr


# 3. .dive-ci: the rules the file leaves out get dive's defaults.
def test_dive_defaults_fill_what_the_file_leaves_out(repo: Path) -> None:
    dive = repo / ".dive-ci"
    dive.write_text("rules:\n  highestWastedBytes: 20MB\n")
    assert load_policy(dive, KINDS).limits == {
        "max_wasted": Limit(20_000_000),
        "min_efficiency": Limit(0.9),
        "max_wasted_percent": Limit(0.1),
    }
    out = _cli(str(CACHES), "--ci", cwd=repo)
    assert out.returncode == 1  # as dive: 50% of the own layers wasted > 10%
    assert "FAIL  max_wasted_percent" in out.stdout
    dive.write_text("")
    empty = _cli(str(CACHES), "--ci", cwd=repo)
    assert empty.returncode == 1
    assert "none set" not in empty.stdout


# 4. A flow-style .dive-ci is YAML too.
def test_flow_style_dive_ci(repo: Path) -> None:
    dive = repo / ".dive-ci"
    dive.write_text(
        "rules: {lowestEfficiency: 0.95, highestWastedBytes: disabled, "
        "highestUserWastedPercent: '0.20'}\n"
    )
    assert load_policy(dive, KINDS).limits == {
        "min_efficiency": Limit(0.95),
        "max_wasted_percent": Limit(0.20),
    }
    dive.write_text("rules: [oops\n")
    out = _cli(str(CACHES), "--ci", cwd=repo)
    assert out.returncode == 2 and "not valid YAML" in out.stderr
    assert out.stderr.count("\n") == 1


# 5. + "every failing budget on stderr in every mode".
@pytest.mark.parametrize(
    "args",
    [
        ["--format", "table"],
        ["-o", "r.json"],
        ["--format", "json", "-o", "r.md"],
        ["--ci"],
        ["--ci", "--format", "sarif"],
    ],
)
def test_broken_budgets_are_on_stderr_whatever_the_output(repo: Path, args: list[str]) -> None:
    (repo / ".layerscope.toml").write_text('[budgets]\nmax_wasted_percent = "5%"\nmax_layers = 2\n')
    out = _cli(str(CACHES), *args, cwd=repo)
    assert out.returncode == 1
    lines = [x for x in out.stderr.splitlines() if x.startswith("layerscope: budget failed:")]
    assert len(lines) == 2, out.stderr
    assert lines[0].startswith("layerscope: budget failed: max_wasted_percent 50.00% > 5.00%")
    assert lines[1].startswith("layerscope: budget failed: max_layers 4 > 2")
    assert str(repo / ".layerscope.toml") in lines[0]


# 7. One bad -o does not lose the others.
def test_every_writable_output_is_written(repo: Path) -> None:
    out = _cli(
        str(CACHES),
        "--no-config",
        "-o",
        "ok.json",
        "-o",
        "missing/x.md",
        "-o",
        "ok.sarif",
        cwd=repo,
    )
    assert out.returncode == 2
    assert "missing/x.md" in out.stderr
    assert json.loads((repo / "ok.json").read_text())["passed"] is True
    assert json.loads((repo / "ok.sarif").read_text())["version"] == "2.1.0"


# 8. diff refuses a format it cannot write instead of writing a table into it.
def test_diff_refuses_sarif(repo: Path) -> None:
    out = _cli("diff", str(CACHES), str(CACHES), "--no-config", "-o", "d.sarif", cwd=repo)
    assert out.returncode == 2
    assert "cannot write sarif" in out.stderr
    assert not (repo / "d.sarif").exists()


# 9. -o - is stdout.
def test_dash_is_stdout(repo: Path) -> None:
    out = _cli(str(CACHES), "--no-config", "--format", "json", "-o", "-", cwd=repo)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passed"] is True
    assert not (repo / "-").exists()
    both = _cli(str(CACHES), "--no-config", "-o", "-", "-o", "r.md", cwd=repo)
    assert both.stdout.startswith("layerscope") or "Layer" in both.stdout
    assert (repo / "r.md").read_text().startswith("## layerscope")
    assert not (repo / "-").exists()


# 10. Markdown: fixes keep their lines, own-layer figures, a relative
# Dockerfile path, hidden findings counted, the diff's budgets as a table.
def test_markdown_fixes_figures_paths(repo: Path) -> None:
    out = _cli(
        str(CACHES),
        "--no-config",
        "--dockerfile",
        str(repo / "Dockerfile"),
        "--format",
        "markdown",
        "--max-wasted-percent",
        "5%",
        cwd=repo,
    )
    md = out.stdout
    assert "| Own wasted | 300.0 KiB (50.0%) |" in md
    assert str(repo) not in md  # the path is the checkout's: `Dockerfile`
    assert "<code>Dockerfile</code> line" in md
    fence = md.index("     ```\n")
    block = md[fence : md.index("     ```\n", fence + 1)]
    assert "\n     -RUN mkdir -p /var/lib/apt/lists" in block


def test_markdown_counts_findings_it_does_not_show() -> None:
    from layerscope.analysis import analyze
    from layerscope.report import markdown
    from tests.builders import file, image_of, wh

    result = analyze(image_of([file("a", 5000)], [wh("a")], history=["RUN a", "RUN b"]))
    many = dataclasses.replace(result, findings=result.findings * 400)
    text = markdown.render(many)
    total = len(many.findings)
    assert f"{total - 100} more findings not shown here (of {total})" in text


def test_diff_markdown_budgets_are_a_table(repo: Path) -> None:
    out = _cli(
        "diff",
        str(SAMPLES / "duplicates.tar.gz"),
        str(CACHES),
        "--no-config",
        "--max-layers",
        "2",
        "--format",
        "markdown",
        cwd=repo,
    )
    assert out.returncode == 1
    assert "| ❌ | `max_layers` | 4 &gt; 2 |" in out.stdout
    assert "```" not in out.stdout


# 11. Messages say what was compared.
def test_messages() -> None:
    near = BudgetResult("max_total", limit=2_621_439, actual=2_621_440, passed=False)
    assert relation(near) == "2621440 B > 2621439 B"
    with pytest.raises(ValueError, match="whole number of bytes"):
        parse_size("1.5")
    assert parse_size("1.5MB") == 1_500_000


def test_message_and_flag_values(repo: Path) -> None:
    _cli(str(CACHES), "--no-config", "--max-wasted-percent", "5%", "-o", "r.json", cwd=repo)
    [b] = json.loads((repo / "r.json").read_text())["budgets"]
    assert "5% or 0.05" not in b["message"]
    for flag, value in (("--max-total", "1.5"), ("--max-wasted-percent", "inf")):
        bad = _cli(str(CACHES), "--no-config", flag, value, cwd=repo)
        assert bad.returncode == 2, (flag, bad.stderr)
        assert bad.stderr.count("\n") == 1


# 13. The policy search stops at the repository root and says what applied.
def test_policy_above_the_repository_is_not_applied(repo: Path) -> None:
    (repo.parent / ".layerscope.toml").write_text("[budgets]\nmax_layers = 1\n")
    sub = repo / "sub"
    sub.mkdir()
    assert find_policy(sub, KINDS).path == ""
    out = _cli(str(CACHES), "--ci", cwd=sub)
    assert out.returncode == 0, out.stdout
    (repo / ".layerscope.toml").write_text("[budgets]\nmax_layers = 9\n")
    out = _cli(str(CACHES), "--ci", cwd=sub)
    assert f"policy: {repo / '.layerscope.toml'}, found upward from {sub}" in out.stdout
    assert f"stops at the repository root {repo}" in out.stdout


# 14. --help names the subcommands.
def test_help_names_diff_and_fix(tmp_path: Path) -> None:
    out = _cli("--help", cwd=tmp_path)
    assert out.returncode == 0
    usage = out.stdout.split("\n\n")[0]  # the usage block, not a passing mention
    assert "layerscope diff [options] OLD NEW" in usage
    assert "layerscope fix --dockerfile PATH IMAGE" in usage


# --budget-level: warn or fail from the command line, flag beats file.
def test_budget_level_from_the_command_line(repo: Path) -> None:
    (repo / ".layerscope.toml").write_text('[budgets]\nmax_layers = 2\n[rules]\nLS201 = "fail"\n')
    failing = _cli(str(CACHES), "--ci", cwd=repo)
    assert failing.returncode == 1
    assert "budget failed: rule:LS201" in failing.stderr
    eased = _cli(
        str(CACHES),
        "--ci",
        "--budget-level",
        "max_layers=warn",
        "--budget-level",
        "LS201=warn",
        cwd=repo,
    )
    assert eased.returncode == 0, eased.stderr
    assert "layerscope: budget warning: max_layers 4 > 2" in eased.stderr
    stricter = _cli(
        str(CACHES),
        "--no-config",
        "--max-final",
        "1kB",
        "--budget-level",
        "max-final=warn",
        cwd=repo,
    )
    assert stricter.returncode == 0 and "budget warning: max_final" in stricter.stderr
    for bad in ("max_total=warn", "max_totl=warn", "max_layers=maybe", "LS999=warn"):
        out = _cli(str(CACHES), "--ci", "--budget-level", bad, cwd=repo)
        assert out.returncode == 2, (bad, out.stderr)
        assert out.stderr.count("\n") == 1


# GitHub Actions: annotations and the step summary.
def test_github_actions_outputs(repo: Path) -> None:
    summary = repo / "summary.md"
    (repo / ".layerscope.toml").write_text('[budgets]\nmax_layers = 2\n[rules]\nLS205 = "fail"\n')
    out = _cli(
        str(CACHES),
        "--dockerfile",
        "Dockerfile",
        "--format",
        "json",
        cwd=repo,
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(repo),
        },
    )
    assert out.returncode == 1
    json.loads(out.stdout)  # stdout keeps the report clean
    errors = [x for x in out.stderr.splitlines() if x.startswith("::error ")]
    assert any(
        x.startswith("::error file=Dockerfile,line=5,title=layerscope budget max_layers::")
        for x in errors
    ), errors
    assert any("title=layerscope LS205" in x and "file=Dockerfile,line=6" in x for x in errors)
    assert summary.read_text().startswith("## layerscope: ")


# 6. SARIF: policy levels, budgets as results, %SRCROOT%, fingerprints.
def _github_constraints(doc: dict[str, object]) -> None:
    """What GitHub's code scanning documents it needs of an upload."""
    [run] = doc["runs"]  # type: ignore[index]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        assert 1 <= len(res["locations"]) <= 10
        artifact = res["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uri"] and "://" not in artifact["uri"].split("/")[0].rstrip(":")
        assert res["partialFingerprints"]
        assert res["level"] in ("error", "warning", "note")


def test_sarif_follows_the_policy_and_reports_budgets(repo: Path) -> None:
    from tests.unit.test_sarif import validate_sarif

    (repo / ".layerscope.toml").write_text(
        '[budgets]\nmax_layers = 2\nmax_layer = "1kB"\n[rules]\nLS201 = "fail"\nLS205 = "warn"\n'
    )
    runs = []
    for name in ("a.sarif", "b.sarif"):
        out = _cli(str(CACHES), "--dockerfile", "Dockerfile", "-o", name, cwd=repo)
        assert out.returncode == 1
        runs.append(json.loads((repo / name).read_text()))
    doc = runs[0]
    validate_sarif(doc)
    _github_constraints(doc)
    run = doc["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["LS201"]["level"] == "error"  # a note by severity, fail by policy
    assert by_rule["LS205"]["level"] == "warning"
    layers = by_rule["budget/max_layers"]
    loc = layers["locations"][0]["physicalLocation"]
    assert loc == {
        "artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 5},  # FROM
    }
    biggest = by_rule["budget/max_layer"]["locations"][0]["physicalLocation"]
    assert biggest["region"]["startLine"] == 5  # the biggest layer is the base's: FROM
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == f"file://{repo}/"
    # The same alerts next run.
    prints = [
        sorted(json.dumps(r["partialFingerprints"]) for r in d["runs"][0]["results"]) for d in runs
    ]
    assert prints[0] == prints[1]


def test_sarif_without_a_dockerfile_is_about_the_image(repo: Path) -> None:
    from tests.unit.test_sarif import validate_sarif

    out = _cli(str(CACHES), "--no-config", "--max-layers", "2", "--format", "sarif", cwd=repo)
    doc = json.loads(out.stdout)
    validate_sarif(doc)
    _github_constraints(doc)
    for res in doc["runs"][0]["results"]:
        loc = res["locations"][0]
        assert "region" not in loc["physicalLocation"]
        assert loc["logicalLocations"][-1]["name"] == "layerscope-sample/package-caches:latest"
    assert "originalUriBaseIds" not in doc["runs"][0]


# --format junit and --format codequality, checked against their documented shapes.
def check_junit(text: str) -> ET.Element:
    """JUnit XML as GitLab and Jenkins read it (no XSD package on PyPI: the
    documented shape): testsuites > testsuite[name,tests,failures] >
    testcase[name,classname] > failure[message]?; counts add up."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = list(suite)
        assert all(c.tag == "testcase" and c.get("name") and c.get("classname") for c in cases)
        assert int(suite.get("tests", "-1")) == len(cases)
        failures = [c for c in cases if c.find("failure") is not None]
        assert int(suite.get("failures", "-1")) == len(failures)
        for c in failures:
            assert c.find("failure").get("message")  # type: ignore[union-attr]
        for c in cases:
            assert {x.tag for x in c} <= {"failure", "system-out", "skipped", "error"}
    return root


def check_codequality(text: str) -> list[dict[str, object]]:
    import jsonschema

    doc = json.loads(text)
    schema = json.loads((REPO / "tests" / "data" / "codequality-schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(doc)
    prints = [i["fingerprint"] for i in doc]
    assert len(prints) == len(set(prints))  # GitLab drops repeats
    return doc  # type: ignore[no-any-return]


def test_junit_and_codequality(repo: Path) -> None:
    (repo / ".layerscope.toml").write_text(
        '[budgets]\nmax_layers = 2\nmax_total = "1GB"\nmax_final = { limit = "1kB", '
        'severity = "warn" }\n[rules]\nLS201 = "fail"\n'
    )
    out = _cli(
        str(CACHES),
        "--dockerfile",
        "Dockerfile",
        "-o",
        "j.xml",
        "-o",
        "cq.json",
        "--format",
        "codequality",
        cwd=repo,
    )
    assert out.returncode == 1, out.stderr
    root = check_junit((repo / "j.xml").read_text())
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"max_total", "max_final", "max_layers", "rule:LS201"}
    assert cases["max_layers"].find("failure") is not None
    assert cases["rule:LS201"].find("failure") is not None
    assert cases["max_total"].find("failure") is None
    assert "warning" in (cases["max_final"].findtext("system-out") or "")
    issues = check_codequality((repo / "cq.json").read_text())
    by_check = {str(i["check_name"]): i for i in issues}
    assert by_check["LS201"]["severity"] == "critical"  # fail by policy
    assert by_check["budget/max_layers"]["location"] == {
        "path": "Dockerfile",
        "lines": {"begin": 5},
    }
    assert by_check["budget/max_final"]["severity"] == "minor"
    # No budget at all: still a valid report with one passing case.
    none = _cli(str(CACHES), "--no-config", "--format", "junit", cwd=repo)
    assert [c.get("name") for c in check_junit(none.stdout).iter("testcase")] == ["budgets"]
    hostile = _cli(
        str(SAMPLES / "leftovers.tar.gz"), "--no-config", "--format", "codequality", cwd=repo
    )
    assert check_codequality(hostile.stdout)


# --baseline PATH with --baseline-missing ok|error; the diff JSON schema.
def diff_schema_check(doc: dict[str, object]) -> None:
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("layerscope.report").joinpath("schema-diff-v1.json").read_text("utf-8")
    )
    jsonschema.Draft202012Validator(schema).validate(doc)


def test_baseline_missing_and_the_diff_schema(repo: Path) -> None:
    missing = _cli("diff", "--baseline", "base.json", str(CACHES), "--no-config", cwd=repo)
    assert missing.returncode == 2
    assert "--baseline base.json: no such file" in missing.stderr
    first = _cli(
        "diff",
        "--baseline",
        "base.json",
        "--baseline-missing",
        "ok",
        str(CACHES),
        "--no-config",
        "--max-growth",
        "0",
        "--max-layers",
        "2",
        "--format",
        "json",
        cwd=repo,
    )
    assert first.returncode == 1  # NEW's own budget still judges
    doc = json.loads(first.stdout)
    diff_schema_check(doc)
    assert doc["baseline_missing"] is True
    assert [b["name"] for b in doc["budgets"]] == ["max_layers"]  # no growth budget
    assert "baseline base.json not found" in first.stderr
    # The next run has its baseline: a report of the image.
    _cli(str(SAMPLES / "duplicates.tar.gz"), "--no-config", "-o", "base.json", cwd=repo)
    second = _cli(
        "diff",
        "--baseline",
        "base.json",
        "--baseline-missing",
        "ok",
        str(CACHES),
        "--no-config",
        "--max-growth",
        "0",
        "-o",
        "d.json",
        cwd=repo,
    )
    assert second.returncode == 1
    doc = json.loads((repo / "d.json").read_text())
    diff_schema_check(doc)
    assert doc["baseline_missing"] is False and doc["directories"] is None
    assert doc["budgets"][0]["name"] == "max_growth"
    images = _cli(
        "diff",
        str(SAMPLES / "duplicates.tar.gz"),
        str(CACHES),
        "--no-config",
        "--format",
        "json",
        cwd=repo,
    )
    diff_schema_check(json.loads(images.stdout))


def test_format_prefix_and_growth_only(repo: Path) -> None:
    out = _cli(
        str(CACHES),
        "--no-config",
        "--max-layers",
        "2",
        "-o",
        "report.json",
        "-o",
        "codequality:gl-code-quality-report.json",
        cwd=repo,
    )
    assert out.returncode == 1
    assert json.loads((repo / "report.json").read_text())["schema_version"] == 1
    check_codequality((repo / "gl-code-quality-report.json").read_text())
    bad = _cli("diff", str(CACHES), str(CACHES), "-o", "sarif:d.json", cwd=repo)
    assert bad.returncode == 2 and "cannot write sarif" in bad.stderr
    (repo / ".layerscope.toml").write_text('[budgets]\nmax_layers = 2\nmax_growth = "1GB"\n')
    once = _cli("diff", str(CACHES), str(CACHES), "--growth-only", "--format", "json", cwd=repo)
    assert once.returncode == 0, once.stderr
    assert [b["name"] for b in json.loads(once.stdout)["budgets"]] == ["max_growth"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [1, 2]\n", "`rules:` must be a mapping"),
        ("- a\n", "expected a mapping"),
        ("rules: {lowestEfficiency: yes}\n", "is not a number"),
        ("{? {a: 1} : 2}\n", "not valid YAML"),
        ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_hostile_dive_ci_is_one_line(repo: Path, text: str, message: str) -> None:
    (repo / ".dive-ci").write_text(text)
    out = _cli(str(CACHES), "--ci", cwd=repo)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr


def test_github_actions_outputs_of_a_diff(repo: Path) -> None:
    summary = repo / "summary.md"
    out = _cli(
        "diff",
        str(SAMPLES / "duplicates.tar.gz"),
        str(CACHES),
        "--no-config",
        "--max-growth",
        "1kB",
        cwd=repo,
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert out.returncode == 1
    assert "::error title=layerscope budget max_growth::max_growth: +" in out.stderr
    assert summary.read_text().startswith("## layerscope diff: ")


# --quiet silences the policy's notes too (a dive rule with no equivalent).
@pytest.mark.parametrize("extra", [[], ["--quiet"]])
def test_policy_notes_follow_quiet(repo: Path, extra: list[str]) -> None:
    (repo / ".dive-ci").write_text("rules:\n  someFutureRule: 3\n")
    out = _cli(str(CACHES), "--format", "json", *extra, cwd=repo)
    assert out.returncode in (0, 1), out.stderr
    noted = "dive rule 'someFutureRule' has no layerscope equivalent" in out.stderr
    assert noted is (not extra)
