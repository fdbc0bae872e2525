"""The CLI side of budgets: flags from the table, output planning, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from layerscope.cli import ci, output
from layerscope.cli.commands.image import build_parser
from layerscope.errors import UsageError
from layerscope.policy.budgets import IMAGE_BUDGETS
from layerscope.report import EXTENSIONS, FORMATS
from tests.builders import docker_archive, file, layer_tar, wh
from tests.cli import layerscope

REPO = Path(__file__).resolve().parents[2]


def test_cli_formats_are_the_report_formats() -> None:
    fmt = next(a for a in build_parser()._actions if a.dest == "format")
    assert tuple(fmt.choices or ()) == FORMATS


def test_every_budget_has_its_flag() -> None:
    args = build_parser().parse_args(
        [
            "img",
            "--max-total",
            "1.5GiB",
            "--max-wasted-percent",
            "5%",
            "--min-efficiency",
            "0.9",
            "--max-layers",
            "12",
        ]
    )
    limits = ci.overrides(args, IMAGE_BUDGETS)
    assert {k: v.value for k, v in limits.items()} == {
        "max_total": 1_610_612_736,
        "max_wasted_percent": 0.05,
        "min_efficiency": 0.9,
        "max_layers": 12,
    }
    for b in IMAGE_BUDGETS:
        assert b.flag in build_parser().format_help()


@pytest.mark.parametrize(
    ("outputs", "fmt", "files", "stdout"),
    [
        (None, None, [], "table"),
        (None, "json", [], "json"),
        (
            ["r.json", "s.md", "x.sarif", "t.txt"],
            None,
            [("r.json", "json"), ("s.md", "markdown"), ("x.sarif", "sarif"), ("t.txt", "table")],
            None,
        ),
        (["r.out"], "json", [("r.out", "json")], None),
        (["s.md"], "json", [("s.md", "markdown")], "json"),
        (["R.JSON"], None, [("R.JSON", "json")], None),
    ],
)
def test_plan_outputs(
    outputs: list[str] | None, fmt: str | None, files: list[tuple[str, str]], stdout: str | None
) -> None:
    assert output.plan_outputs(outputs, fmt, EXTENSIONS) == (files, stdout)


def test_same_output_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="given twice"):
        output.plan_outputs(["a.json", "./a.json"], None, EXTENSIONS)


def _cli(*args: str, cwd: Path, ci_env: bool = False) -> subprocess.CompletedProcess[str]:
    return layerscope(*args, cwd=cwd, env={"CI": "true"} if ci_env else None, timeout=120)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "img.tar"
    path.write_bytes(
        docker_archive(
            [layer_tar([file("keep", 10_000), file("tmp/x", 5000)]), layer_tar([wh("tmp/x")])]
        )
    )
    return path


def test_exit_codes_and_outputs(archive: Path, tmp_path: Path) -> None:
    ok = _cli(str(archive), "--no-config", "--max-wasted", "5000", "--ci", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ok    max_wasted  4.9 KiB <= 4.9 KiB" in ok.stdout
    bad = _cli(
        str(archive),
        "--no-config",
        "--max-wasted",
        "4999",
        "-o",
        "r.json",
        "-o",
        "s.md",
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is False
    assert (tmp_path / "s.md").read_text().startswith("## layerscope: ")
    # CI=true is --ci: the summary on stdout.
    env = _cli(str(archive), "--no-config", "--max-layers", "1", cwd=tmp_path, ci_env=True)
    assert env.returncode == 1
    assert "FAIL  max_layers  2 > 1" in env.stdout


def test_output_to_a_device_a_fifo_and_a_symlink(archive: Path, tmp_path: Path) -> None:
    """-o renames a temp file over a regular file only: /dev/null and a FIFO
    are written to (renaming would replace the device with a file), and a
    symlink keeps pointing at the report it names."""
    import stat
    import threading

    null = _cli(str(archive), "--no-config", "-o", "/dev/null", cwd=tmp_path)
    assert null.returncode == 0, null.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    piped = _cli(str(archive), "--no-config", "--format", "json", "-o", str(fifo), cwd=tmp_path)
    reader.join(60)
    assert piped.returncode == 0, piped.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["passed"] is True

    (tmp_path / "reports").mkdir()
    link = tmp_path / "latest.json"
    link.symlink_to("reports/r.json")
    linked = _cli(str(archive), "--no-config", "-o", str(link), cwd=tmp_path)
    assert linked.returncode == 0, linked.stderr
    assert link.is_symlink()
    assert json.loads((tmp_path / "reports" / "r.json").read_text())["passed"] is True

    folder = _cli(str(archive), "--no-config", "-o", str(tmp_path / "reports"), cwd=tmp_path)
    assert folder.returncode == 2 and "is a directory" in folder.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-total", "lots"], "is not a size"),
        (["--max-wasted-percent", "5"], "ambiguous"),
        (["--min-efficiency", "120%"], "between 0% and 100%"),
        (["--max-layers", "-1"], "not a whole number"),
        (["--config", "nope.toml"], "no such policy file"),
        (["--config", "x.toml", "--no-config"], "exclude each other"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    archive: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = _cli(str(archive), *args, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert message in out.stderr


def test_bad_policy_file_exits_2(archive: Path, tmp_path: Path) -> None:
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_totl = 1\n")
    out = _cli(str(archive), "--ci", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown budget 'max_totl'" in out.stderr
    assert out.stderr.count("\n") == 1
