"""A second ``pip install`` in real Dockerfiles (tests/realworld), both builders:
packages pip installed again (LS309, and the merge-install fix that
``fix --verify`` measures), development requirements in the image (LS310), a
second pip (LS311). The bytes are checked against ``docker save`` and the
engine's export. pip fetches from the real index (``--network host``).
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.pipeline import with_dockerfile
from layerscope.rules import Finding
from layerscope.sources.interface import SourceOptions
from layerscope.sources.rehash import open_image_with_digests

from .imagebuild import docker_save
from .realworld_build import build, verify_project
from .test_realworld_outputs_real import _exported_files

pytestmark = pytest.mark.slow
BUILDERS = pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])


def _analyzed(name: str, buildkit: bool, tmp: Path) -> tuple[Analysis, str, str]:
    _, text, tag = build(name, buildkit=buildkit)
    (tmp / "Dockerfile").write_text(text)
    result = analyze(open_image_with_digests(tag, source="docker", options=SourceOptions()))
    return with_dockerfile(result, str(tmp / "Dockerfile")), text, tag


def _layers(tag: str, tmp: Path) -> list[dict[str, int]]:
    """Every layer's members (regular files with their sizes; whiteouts as -1)."""
    out = []
    with tarfile.open(docker_save(tag, tmp / "image.tar")) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for name in manifest[0]["Layers"]:
            member = outer.extractfile(name)
            assert member is not None
            with tarfile.open(fileobj=member) as layer:
                out.append(
                    {m.name.lstrip("./"): m.size if m.isreg() else -1 for m in layer if m.isreg()
                     or "/.wh." in "/" + m.name}
                )  # fmt: skip
    return out


def _one(result: Analysis, rule: str) -> Finding:
    (f,) = [f for f in result.findings if f.rule == rule]
    return f


@BUILDERS
def test_flask_package_installed_again(buildkit: bool, tmp_path: Path) -> None:
    """requirements.txt pins werkzeug 3.0.3, the next RUN installs gunicorn and
    werkzeug 3.1.3: the 3.0.3 files stay in the first install's layer. LS309
    counts exactly the files of that layer the image no longer shows (from docker
    save and the export), names the versions, and LS101/LS102 give no rm advice."""
    result, _, tag = _analyzed("flask-gunicorn", buildkit, tmp_path)
    f = _one(result, "LS309")
    assert f.location is not None and f.location[1] == 6
    layers = _layers(tag, tmp_path)
    assert f.layer is not None and f.hidden_by == f.layer + 1
    first, second = layers[f.layer], layers[f.hidden_by]
    shown = _exported_files(tag)
    hidden = {
        p: n for p, n in first.items()
        if n > 0 and (p not in shown or p in second)
    }  # fmt: skip
    assert f.bytes == sum(hidden.values()) > 1 << 20
    assert all("/werkzeug" in p for p in hidden)
    assert "(werkzeug 3.0.3 -> 3.1.3)" in f.message
    assert "+RUN pip install --no-cache-dir -r requirements.txt && pip install" in f.fix
    assert [g for g in result.findings if g.rule in ("LS101", "LS102") and g.layer == f.layer] == []


@BUILDERS
def test_flask_dev_requirements_in_the_image(buildkit: bool, tmp_path: Path) -> None:
    """pip install -r requirements-dev.txt (pytest) in an image that runs gunicorn:
    every file that layer adds is counted, as docker save has it."""
    result, _, tag = _analyzed("flask-gunicorn", buildkit, tmp_path)
    f = _one(result, "LS310")
    assert f.location is not None and f.location[1] == 8 and f.layer is not None
    files = _layers(tag, tmp_path)[f.layer]
    assert f.bytes == sum(n for n in files.values() if n > 0)
    assert any("/_pytest/" in p for p in f.paths + tuple(files))
    assert f.fix.startswith("No automatic fix is proposed")


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_verify_flask_merge_install(builder: str, tmp_path: Path) -> None:
    """fix --verify: the one fix is merge-install on line 6, and the engine measures
    exactly the bytes the image predicted."""
    project, text, _ = build("flask-gunicorn", buildkit=builder == "buildkit")
    v, fixes = verify_project(project, text, tmp_path / "ctx", builder, "flask")
    assert [(f.kind, f.line) for f in fixes] == [("merge-install", 6)]
    assert fixes[0].bytes > 1 << 20 and v.saved_bytes == fixes[0].bytes


@BUILDERS
def test_django_dev_second_pip(buildkit: bool, tmp_path: Path) -> None:
    """django-on-docker's pip install --upgrade pip: a second pip beside the base's
    (Debian's python3-pip here); the bytes are the pip files of that layer."""
    result, _, tag = _analyzed("django-dev", buildkit, tmp_path)
    f = _one(result, "LS311")
    assert f.location is not None and f.location[1] == 15 and f.layer is not None
    files = _layers(tag, tmp_path)[f.layer]
    pip = re.compile(r".*-packages/pip(?:/|-[^/]+\.dist-info/)|usr/(?:local/)?bin/pip[0-9.]*\Z")
    assert f.bytes == sum(n for p, n in files.items() if n > 0 and pip.match(p)) > 5 << 20
    assert "the base image's pip stays in /usr/lib/python3/dist-packages/pip" in f.message
    assert "-RUN pip install --upgrade pip" in f.fix
