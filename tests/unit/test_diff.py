"""layerscope diff: layer, directory and finding deltas; baselines; growth budgets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.comparison import compare, load_report, snapshot, snapshot_from_report
from layerscope.errors import SourceError
from layerscope.report.diff import render, to_dict
from layerscope.report.schema import to_dict as report_dict
from tests.builders import docker_archive, file, image_of, layer_tar, wh
from tests.cli import layerscope

BASE = [file("bin/sh", 5000), file("etc/passwd", 100)]
APP = [file("app/main.py", 2000), file("tmp/build.log", 3000)]
CLEAN = [wh("tmp/build.log")]


@pytest.fixture(scope="module")
def old() -> Analysis:
    return analyze(image_of(BASE, APP, CLEAN, history=["ADD base", "COPY app", "RUN rm"]))


@pytest.fixture(scope="module")
def new() -> Analysis:
    # Same base layer; the app layer gains a 40 KB file under /app/data; one more layer.
    app = [*APP, file("app/data/model.bin", 40_000)]
    return analyze(
        image_of(
            BASE,
            app,
            CLEAN,
            [file("usr/lib/x.so", 7000)],
            history=["ADD base", "COPY app", "RUN rm", "RUN make"],
        )
    )


def test_layers_directories_and_findings(old: Analysis, new: Analysis) -> None:
    d = compare(snapshot(old), snapshot(new))
    assert [(x.index, x.status, x.growth) for x in d.layers] == [
        (0, "same", 0),
        (1, "changed", 40_000),
        (2, "same", 0),
        (3, "added", 7000),
    ]
    assert d.dirs is not None
    assert [(x.path, x.old_bytes, x.new_bytes) for x in d.dirs] == [
        ("/app/data", 0, 40_000),
        ("/usr/lib", 0, 7000),
    ]
    # The same finding on both sides is neither new nor gone.
    assert d.new_findings == ()
    assert d.gone_findings == ()
    data = to_dict(d)
    assert data["growth"]["total_bytes"] == 47_000
    assert data["growth"]["layer_count"] == 1


def test_new_and_gone_findings(old: Analysis) -> None:
    fixed = analyze(image_of(BASE, [file("app/main.py", 2000)], history=["ADD base", "COPY app"]))
    d = compare(snapshot(old), snapshot(fixed))
    assert [f.rule for f in d.gone_findings] == [f.rule for f in old.findings]
    assert d.new_findings == ()
    back = compare(snapshot(fixed), snapshot(old))
    assert [f.path for f in back.new_findings] == ["/tmp/build.log"]
    assert [(x.index, x.status) for x in back.layers][-1] == (2, "added")
    assert [(x.index, x.status) for x in d.layers][-1] == (2, "removed")


def test_baseline_report_round_trip(old: Analysis, new: Analysis, tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(report_dict(old)))
    base = load_report(str(path))
    mem = snapshot(old)
    assert base.total_bytes == mem.total_bytes
    assert base.layers == mem.layers
    assert base.findings == mem.findings
    assert base.dirs is None
    d = compare(base, snapshot(new))
    assert d.dirs is None
    assert [x.growth for x in d.layers] == [0, 40_000, 0, 7000]
    assert to_dict(d)["directories"] is None
    assert "not known for a baseline report" in render("table", d)


@pytest.mark.parametrize(
    "data",
    [{}, {"schema_version": 2}, {"schema_version": 1, "summary": {}}, [], "x"],
)
def test_bad_baseline(data: object) -> None:
    with pytest.raises(SourceError, match="not a layerscope JSON report"):
        snapshot_from_report(data, "b.json")


def test_markdown_diff_renders(old: Analysis, new: Analysis) -> None:
    from markdown_it import MarkdownIt

    md = render("markdown", compare(snapshot(old), snapshot(new)))
    out = MarkdownIt("commonmark").enable("table").render(md)
    assert out.count("<table>") == 3
    assert "+39.1 KiB" in out
    assert "<code>/app/data</code>" in out


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return layerscope(*args, cwd=cwd, base_env={"PATH": "/usr/bin:/bin"}, timeout=120)


def test_cli_diff_growth_budget_exit_codes(tmp_path: Path) -> None:
    a = tmp_path / "a.tar"
    b = tmp_path / "b.tar"
    a.write_bytes(docker_archive([layer_tar(BASE)]))
    b.write_bytes(docker_archive([layer_tar(BASE), layer_tar([file("big", 50_000)])]))
    ok = _cli("diff", str(a), str(b), "--max-growth", "50000", "--no-config", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ok    max_growth" in ok.stdout
    bad = _cli("diff", str(a), str(b), "--max-growth", "49999", "-o", "d.json", cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    data = json.loads((tmp_path / "d.json").read_text())
    assert data["passed"] is False
    assert data["budgets"][0] == {
        "name": "max_growth",
        "limit": 49_999,
        "actual": 50_000,
        "passed": False,
        "severity": "fail",
        "message": "growth of the total bytes; set in command line",
    }
    (tmp_path / ".layerscope.toml").write_text("[budgets]\nmax_growth = '10KB'\n")
    nested = tmp_path / "x" / "y"
    nested.mkdir(parents=True)
    via_policy = _cli("diff", str(a), str(b), cwd=nested)
    assert via_policy.returncode == 1
    assert "FAIL  max_growth" in via_policy.stdout
    usage = _cli("diff", str(a), cwd=tmp_path)
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1
