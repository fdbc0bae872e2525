"""docs/ci.md's CI jobs, rehearsed: the GitLab job's script lines and the
GitHub job's growth and verdict steps run in bash against real image
archives, with the real layerscope on PATH (only the lines that build
images or fetch branches are left out: the archives stand in for them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.test_ci_trust import check_codequality, check_junit

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
SAMPLES = REPO / "sample_images"


def _block(marker: str) -> dict[str, object]:
    """The YAML code block of docs/ci.md whose first line is ``marker``."""
    for body in re.findall(r"```yaml\n(.*?)```", DOC, re.S):
        if body.startswith(marker):
            data: dict[str, object] = yaml.safe_load(body)
            return data
    raise AssertionError(f"no yaml block starting {marker!r} in docs/ci.md")


def _workspace(tmp_path: Path, policy: str) -> tuple[Path, dict[str, str]]:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    shutil.copy(SAMPLES / "package-caches" / "Dockerfile", ws / "Dockerfile")
    (ws / ".layerscope.toml").write_text(policy)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "layerscope"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m layerscope "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", PYTHONPATH=str(REPO), CI="true")
    return ws, env


def _images(line: str) -> str:
    new = str(SAMPLES / "package-caches.tar.gz")
    old = str(SAMPLES / "duplicates.tar.gz")
    return line.replace("app:mr", new).replace("app:pr", new).replace("app:base", old)


def _run_gitlab(ws: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    job = _block("# .gitlab-ci.yml")["layerscope"]
    assert isinstance(job, dict)
    lines = [_images(x) for x in job["script"] if not x.startswith(("docker ", "git "))]
    assert any("layerscope diff" in x for x in lines)
    return subprocess.run(
        ["sh", "-c", "\n".join(lines)],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_gitlab_job_keeps_every_status_and_writes_its_reports(tmp_path: Path) -> None:
    ws, env = _workspace(tmp_path, '[budgets]\nmax_layers = 2\nmax_growth = "1GB"\n')
    job = _block("# .gitlab-ci.yml")["layerscope"]
    assert isinstance(job, dict)
    out = _run_gitlab(ws, env)
    assert out.returncode == 1, out.stdout + out.stderr
    reports = job["artifacts"]["reports"]
    check_junit((ws / reports["junit"]).read_text())
    issues = check_codequality((ws / reports["codequality"]).read_text())
    assert any(i["check_name"] == "budget/max_layers" for i in issues)
    for path in job["artifacts"]["paths"]:
        assert (ws / path).is_file(), path
    assert json.loads((ws / "report.json").read_text())["passed"] is False
    # The image fails on a budget; the diff's error (2) must not be lost.
    (ws / ".layerscope.toml").write_text('[budgets]\nmax_layers = 2\nmax_growth = "lots"\n')
    worse = _run_gitlab(ws, env)
    assert worse.returncode == 2
    # Only the diff failing: the first status (0) does not hide it.
    (ws / ".layerscope.toml").write_text('[budgets]\nmax_growth = "1kB"\n')
    growth = _run_gitlab(ws, env)
    assert growth.returncode == 1
    assert "budget failed: max_growth" in growth.stderr


def test_github_job_growth_and_verdict_steps(tmp_path: Path) -> None:
    ws, env = _workspace(tmp_path, '[budgets]\nmax_growth = "1kB"\n')
    steps = _block("# .github/workflows/image.yml")["jobs"]["layerscope"]["steps"]  # type: ignore[index]
    by_name = {s.get("name"): s for s in steps}
    growth = by_name["Growth against the base branch"]["run"]
    verdict = by_name["Verdict"]["run"]
    (tmp_path / "temp" / "layerscope-venv" / "bin").mkdir(parents=True)
    (tmp_path / "temp" / "layerscope-venv" / "bin" / "layerscope").symlink_to(
        tmp_path / "bin" / "layerscope"
    )
    output = tmp_path / "output"
    results = []
    for baseline in (False, True):
        if baseline:  # the base branch's saved report
            subprocess.run(
                [
                    "layerscope",
                    str(SAMPLES / "duplicates.tar.gz"),
                    "--no-config",
                    "-o",
                    "baseline.json",
                ],
                cwd=ws,
                env=env,
                check=True,
                capture_output=True,
            )
        output.write_text("")
        run = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", _images(growth)],
            cwd=ws,
            env={**env, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path / "temp")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        results.append(output.read_text().strip())
    # First run: no baseline yet, judged alone; then the growth budget fails.
    assert results == ["exit-code=0", "exit-code=1"]
    final = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", verdict],
        env={**env, "IMAGE_STATUS": "0", "GROWTH_STATUS": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert final.returncode == 1
