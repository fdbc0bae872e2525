"""``layerscope fix`` and ``layerscope IMAGE --dockerfile``: output, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerscope.cli import main
from tests.builders import docker_archive, file, layer_tar

DOCKERFILE = """\
FROM base
RUN apt-get update
RUN apt-get install -y git
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _archive(tmp_path: Path) -> Path:
    layers = [
        [file("bin/sh", 10)],
        [file("var/lib/apt/lists/x_Packages", 5000)],
        [file("usr/bin/git", 900)],
        [],
        [file("app/requirements.txt", 10), file("app/main.py", 100)],
        [file("usr/lib/python3/site.py", 2000), file("root/.cache/pip/http/a", 700)],
    ]
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
        {"created_by": "/bin/sh -c apt-get update"},
        {"created_by": "/bin/sh -c apt-get install -y git"},
        {"created_by": "/bin/sh -c #(nop) WORKDIR /app"},
        {"created_by": "/bin/sh -c #(nop) COPY dir:" + "b" * 64 + " in . "},
        {"created_by": "/bin/sh -c pip install -r requirements.txt"},
    ]
    path = tmp_path / "image.tar"
    path.write_bytes(docker_archive([layer_tar(m) for m in layers], history))
    return path


def test_fix_prints_a_diff_and_one_line_per_fix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fix", "--dockerfile", "Dockerfile"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("--- Dockerfile\n+++ Dockerfile\n")
    assert "+RUN apt-get update && apt-get install -y git" in out
    assert "+COPY requirements.txt ./" in out
    assert err.splitlines() == [
        "Dockerfile:3: merge-update: run the package index update of line 2 in the RUN of "
        "line 3 that installs, so the lists are never stale",
        "Dockerfile:3: no-cache: keep the apt cache out of the layer of line 3",
        "Dockerfile:5: reorder: copy the source (line 5) after the pip install, manifests first",
        "Dockerfile:6: no-cache: keep the pip cache out of the layer of line 6",
    ]


def test_fix_with_the_image_reports_bytes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _archive(project)
    assert main(["fix", str(image), "--dockerfile", "Dockerfile", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fixes = {f["kind"] + str(f["line"]): f for f in report["fixes"]}
    assert fixes["no-cache6"]["bytes"] == 700
    # the lists stay stored until the install RUN removes them: the move alone saves
    # nothing, the cleanup the no-cache fix adds to that RUN saves them
    assert fixes["merge-update3"]["bytes"] == 0
    assert fixes["no-cache3"]["bytes"] == 5000
    assert fixes["reorder5"]["rebuild_bytes"] == 2700
    assert report["diff"].startswith("--- Dockerfile")
    assert {f["rule"] for f in report["findings"]} == {"LS501", "LS502"}
    assert report["verify"] is None


def test_check_lists_problems_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fix", "--dockerfile", "Dockerfile", "--check"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Dockerfile:2: LS502 " in err and "Dockerfile:5: LS501 " in err
    clean = project / "clean.Dockerfile"
    clean.write_text("FROM base\nCOPY app /app\n")
    assert main(["fix", "--dockerfile", str(clean), "--check"]) == 0
    assert main(["fix", "--dockerfile", str(clean)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("clean.Dockerfile: nothing to fix\n")


def test_output_file_and_only(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--dockerfile", "Dockerfile", "--only", "reorder", "-o", "p.diff"]) == 0
    assert capsys.readouterr().out == ""
    diff = (project / "p.diff").read_text()
    assert "+COPY requirements.txt ./" in diff and "apt-get update &&" not in diff


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fix", "--dockerfile", "missing"], "cannot read Dockerfile missing"),
        (["fix", "--dockerfile", "Dockerfile", "--verify"], "--verify needs --context"),
        (["fix", "--dockerfile", "Dockerfile", "--only", "nope"], "unknown fix kind nope"),
        (["fix", "--dockerfile", "Dockerfile", "--target", "x"], "no build stage named 'x'"),
        (["fix"], "the following arguments are required: --dockerfile"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_main_command_locates_findings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = _archive(project)
    code = main([str(image), "--dockerfile", "Dockerfile", "--format", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    located = {(f["rule"], f["location"]["line"]) for f in report["findings"] if f["location"]}
    assert ("LS501", 5) in located and ("LS502", 2) in located
    assert all(f["location"]["file"] == "Dockerfile" for f in report["findings"] if f["location"])
