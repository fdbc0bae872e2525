"""action.yml: its steps run as a GitHub runner runs them (bash -eo pipefail,
GITHUB_OUTPUT per step, GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE,
GITHUB_ACTION_PATH), expressions resolved from the inputs and earlier steps'
outputs. The install step really installs the Action's checkout into a venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _resolve(text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
    def one(m: re.Match[str]) -> str:
        parts = m.group(1).split(".")
        if parts[0] == "inputs":
            return inputs[parts[1]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        if m.group(1) == "github.action_path":
            return str(REPO)
        raise AssertionError(f"unknown expression {m.group(0)}")

    return EXPR.sub(one, text)


def _outputs(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def run_action(
    given: dict[str, str],
    workspace: Path,
    temp: Path,
    done: dict[str, dict[str, str]] | None = None,
) -> tuple[int, dict[str, str], str, dict[str, dict[str, str]]]:
    """Run the composite steps (but those in ``done``, whose outputs are
    given); returns (status, action outputs, stderr, step outputs)."""
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    inputs.update(given)
    for name, spec in ACTION["inputs"].items():
        assert not spec.get("required") or inputs[name], name
    steps: dict[str, dict[str, str]] = dict(done or {})
    summary = temp / "step-summary.md"
    status, stderr = 0, ""
    for i, step in enumerate(ACTION["runs"]["steps"]):
        assert step["shell"] == "bash"
        if step["id"] in steps:
            continue
        output = temp / f"output-{i}"
        output.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update(
            GITHUB_ACTIONS="true",
            CI="true",
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_WORKSPACE=str(workspace),
            GITHUB_ACTION_PATH=str(REPO),
            RUNNER_TEMP=str(temp),
        )
        env.pop("PYTHONPATH", None)  # the installed layerscope, not this tree
        for key, value in step.get("env", {}).items():
            env[key] = _resolve(str(value), inputs, steps)
        # Scripts never hold expressions: inputs reach them as variables only.
        assert not EXPR.search(step["run"]), step["id"]
        script = temp / f"step-{i}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        stderr += proc.stderr
        steps[step["id"]] = _outputs(output)
        status = proc.returncode
        if status != 0:
            break
    outputs = {k: _resolve(v["value"], inputs, steps) for k, v in ACTION["outputs"].items()}
    return status, outputs, stderr, steps


@pytest.mark.slow
def test_action_installs_runs_and_reports(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / ".git").mkdir(parents=True)
    shutil.copy(REPO / "sample_images" / "package-caches" / "Dockerfile", workspace / "Dockerfile")
    shutil.copy(REPO / "sample_images" / "package-caches.tar.gz", workspace / "image.tar.gz")
    (workspace / ".layerscope.toml").write_text("[budgets]\nmax_layers = 2\n")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    status, out, stderr, steps = run_action(
        {"image": "image.tar.gz", "dockerfile": "Dockerfile", "args": "--max-total 1GB"},
        workspace,
        temp,
    )
    assert status == 1, stderr
    assert out["passed"] == "false" and out["exit-code"] == "1"
    report = json.loads((workspace / out["json"]).read_text())
    assert {b["name"] for b in report["budgets"]} == {"max_total", "max_layers"}
    assert json.loads((workspace / out["sarif"]).read_text())["version"] == "2.1.0"
    assert (workspace / out["junit"]).read_text().startswith("<?xml")
    assert (workspace / out["markdown"]).read_text().startswith("## layerscope: ")
    assert "::error file=Dockerfile,line=5,title=layerscope budget max_layers::" in stderr
    assert (temp / "step-summary.md").read_text().startswith("## layerscope: ")

    # fail-on-budget false: the verdict is recorded, the step passes.
    (temp / "step-summary.md").unlink()
    status, out, stderr, _ = run_action(
        {"image": "image.tar.gz", "fail-on-budget": "false", "report-dir": "out"},
        workspace,
        temp,
        done={"install": steps["install"]},
    )
    assert status == 0, stderr
    assert out["passed"] == "false" and out["exit-code"] == "1"
    assert out["json"] == "out/layerscope.json" and (workspace / out["json"]).is_file()
    assert "::error title=layerscope budget max_layers::" in stderr  # no Dockerfile: no file=
