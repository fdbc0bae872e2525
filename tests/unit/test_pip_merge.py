"""The merge-install fix (LS309) on crafted images through the real archive reader."""

from __future__ import annotations

from layerscope.analysis import analyze
from layerscope.dockerfile.layer_map import map_image
from layerscope.dockerfile.parser import Dockerfile, parse
from layerscope.fix.model import Evidence
from layerscope.fix.planner import apply, plan
from tests.builders import docker_archive, file, layer_tar, read_archive

SP = "usr/lib/python3/site-packages"
_TEXT = (
    "FROM base\n"
    "RUN pip install --no-cache-dir -r requirements.txt\n"
    "# the fixed version\n"
    "RUN pip install --no-cache-dir six==1.16.0\n"
)


def _evidence(df: Dockerfile, second: str) -> Evidence:
    layers = [
        [file("bin/sh", 1)],
        [file(f"{SP}/six.py", 3000), file(f"{SP}/six-1.15.0.dist-info/RECORD", 50)],
        [file(f"{SP}/six.py", 3100), file(f"{SP}/six-1.16.0.dist-info/RECORD", 50)],
    ]
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
        {"created_by": "/bin/sh -c pip install --no-cache-dir -r requirements.txt"},
        {"created_by": f"/bin/sh -c {second}"},
    ]
    result = analyze(read_archive(docker_archive([layer_tar(m) for m in layers], history)))
    return Evidence(result, map_image(result.image, df))


def test_the_reinstall_moves_into_the_run_before_it() -> None:
    df = parse(_TEXT)
    ev = _evidence(df, "pip install --no-cache-dir six==1.16.0")
    fixes = [f for f in plan(df, ev) if f.kind == "merge-install"]
    (fix,) = fixes
    assert (fix.rule, fix.line, fix.bytes) == ("LS309", 2, 3000)
    assert apply(_TEXT, fixes) == (
        "FROM base\n"
        "RUN pip install --no-cache-dir -r requirements.txt \\\n"
        "    && pip install --no-cache-dir six==1.16.0\n"
        "# the fixed version\n"
    )


def test_no_merge_without_an_image_or_with_a_command_list_that_is_not_and_only() -> None:
    assert [f for f in plan(parse(_TEXT)) if f.kind == "merge-install"] == []
    text = _TEXT.replace("six==1.16.0", "six==1.16.0; true")
    df = parse(text)
    ev = _evidence(df, "pip install --no-cache-dir six==1.16.0; true")
    assert [f for f in plan(df, ev) if f.kind == "merge-install"] == []
