"""Real Node build patterns (tests/realworld) that serve only the build output:
LS308 counts the sources left next to it, checked against the engine's own
export of the image, and the multi-stage build it advises, built here, ships
exactly those bytes fewer. npm fetches from the real registry (``--network
host``); both builders.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.pipeline import with_dockerfile
from layerscope.rules import Finding
from layerscope.sources.interface import SourceOptions
from layerscope.sources.rehash import open_image_with_digests

from .imagebuild import _docker
from .realworld_build import bases, build, cached, verify_project

pytestmark = pytest.mark.slow
BUILDERS = pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])


def _ls308(name: str, buildkit: bool, tmp: Path) -> tuple[Finding, str]:
    _, text, tag = build(name, buildkit=buildkit)
    (tmp / "Dockerfile").write_text(text)
    result = analyze(open_image_with_digests(tag, source="docker", options=SourceOptions()))
    result = with_dockerfile(result, str(tmp / "Dockerfile"))
    (f,) = [f for f in result.findings if f.rule == "LS308"]
    return f, tag


def _exported_files(tag: str) -> dict[str, int]:
    """Regular files of the image's filesystem as the engine exports a container of it."""
    name = f"ls-h21a-export-{uuid.uuid4().hex[:12]}"
    subprocess.run([_docker(), "create", "--name", name, tag], check=True, capture_output=True)
    try:
        with subprocess.Popen([_docker(), "export", name], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as t:
                files = {m.name.lstrip("./"): m.size for m in t if m.isreg()}
            proc.stdout.read()
        assert proc.returncode == 0
    finally:
        subprocess.run([_docker(), "rm", name], check=True, capture_output=True)
    return files


def _under(files: dict[str, int], root: str, but: str) -> int:
    return sum(n for p, n in files.items() if p.startswith(root) and not p.startswith(but))


@BUILDERS
def test_vite_app_served_with_serve(buildkit: bool, tmp_path: Path) -> None:
    """A Vite app: manifests, npm install, COPY . ., npm run build, a global serve,
    CMD serve -s dist. Everything in /app but dist (src/, index.html, the
    manifests, node_modules with vite, esbuild and rollup) is counted, as the
    engine's export has it; the finding sits on the build's line."""
    f, tag = _ls308("vite-serve", buildkit, tmp_path)
    files = _exported_files(tag)
    assert f.bytes == _under(files, "app/", "app/dist/") > 10 << 20
    assert f.reclaimable and f.location is not None and f.location[1] == 11
    assert "/app/node_modules/@esbuild/linux-x64/bin/esbuild" in f.paths
    assert "which is all the command (serve -s dist) serves" in f.message
    assert "+RUN npm install -g serve\n" in f.fix
    assert "+COPY --from=build /app/dist ./dist" in f.fix


@BUILDERS
def test_welcome_to_docker_sources_next_to_build(buildkit: bool, tmp_path: Path) -> None:
    """docker/welcome-to-docker removes node_modules in the RUN that builds: what
    stays next to /app/build are src/, public/ and the manifests; the global serve
    is quoted out of that one RUN."""
    f, tag = _ls308("welcome-to-docker", buildkit, tmp_path)
    files = _exported_files(tag)
    assert f.bytes == _under(files, "app/", "app/build/") > 0
    assert f.path_count == 4 and "/app/src/index.js" in f.paths
    assert "+RUN npm install -g serve\n" in f.fix


_MULTI_STAGE = """\
FROM {node} AS build
WORKDIR /app
COPY package*.json ./
RUN npm install
COPY . .
RUN npm run build

FROM {node}
RUN npm install -g serve
WORKDIR /app
COPY --from=build /app/dist ./dist
EXPOSE 3000
CMD ["serve", "-s", "dist"]
"""


@BUILDERS
def test_vite_multi_stage_advice_ships_the_predicted_bytes_fewer(
    buildkit: bool, tmp_path: Path
) -> None:
    """The advice, applied by hand as the fix text lays it out: the image built from
    it holds the same /app/dist and serve, and its /app is smaller by exactly the
    bytes LS308 predicted."""
    f, tag = _ls308("vite-serve", buildkit, tmp_path)
    from tests.realworld import load

    project = load("vite-serve")
    text = _MULTI_STAGE.format(node=bases()["node:18-alpine"])
    patched = cached("vite-serve-multistage", text, project.files, buildkit=buildkit)
    before, after = _exported_files(tag), _exported_files(patched)
    dist = {p: n for p, n in before.items() if p.startswith("app/dist/")}
    assert dist and {p: n for p, n in after.items() if p.startswith("app/dist/")} == dist
    assert any(p.startswith("usr/local/lib/node_modules/serve/") for p in after)
    assert _under(before, "app/", "\0") - _under(after, "app/", "\0") == f.bytes
    config = json.loads(
        subprocess.run(
            [_docker(), "image", "inspect", "--format", "{{json .Config.Cmd}}", patched],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    assert config == ["serve", "-s", "dist"]


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_verify_vite_savings_are_predicted_or_explained(builder: str, tmp_path: Path) -> None:
    """fix --verify on the Vite image: the npm cache fixes of lines 7 and 13. The
    steps each fix changed save exactly the predicted bytes; where the total
    differs (npm's logs of the later steps record their timings), the report names
    each step that wrote other bytes when rebuilt, and the parts add up."""
    from layerscope.fix.verify import report

    project, text, _ = build("vite-serve", buildkit=builder == "buildkit")
    v, fixes = verify_project(project, text, tmp_path / "ctx", builder, "vite", keep=False)
    assert [(f.kind, f.line) for f in fixes] == [("no-cache", 7), ("no-cache", 13)]
    text_report = report(v)
    for s in v.fixes:
        assert s.fix.bytes > 0
        if s.saved_bytes == s.fix.bytes:
            assert s.steps == ()
            continue
        changed = [n for step, n in s.steps if not step]
        assert changed == [s.fix.bytes]
        assert sum(n for _, n in s.steps) == s.saved_bytes
        assert f"the patched step(s) saved {s.fix.bytes} bytes" in text_report
