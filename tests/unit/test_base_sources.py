"""find_base without an engine: --base archives, the Dockerfile's FROM, fall-through."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscope.base.boundary import Boundary, Signal
from layerscope.base.resolve import find_base, from_dockerfile
from layerscope.errors import SourceError, UsageError
from layerscope.model import Image
from tests.builders import docker_archive, file, layer_tar, read_archive

BASE_LAYERS = [layer_tar([file("bin/sh", 100)]), layer_tar([file("etc/a", 10)])]
APP_LAYERS = [*BASE_LAYERS, layer_tar([file("app/x", 5)])]
HISTORY = [
    {"created": "2024-01-01T00:00:00Z", "comment": "Imported from -"},
    {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c echo a > /etc/a"},
    {"created": "2024-01-01T00:00:02Z", "created_by": '/bin/sh -c #(nop) CMD ["sh"]'},
    {"created": "2024-01-01T00:00:03Z", "created_by": "/bin/sh -c echo x > /app/x"},
]
HISTORY[2]["empty_layer"] = True


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Unit tests need no engine: point DOCKER_HOST at a socket that is not there."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


@pytest.fixture
def app() -> Image:
    return read_archive(docker_archive(APP_LAYERS, HISTORY, repo_tag="team/app:1"))


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_base_archive_whose_layers_are_a_prefix(app: Image, tmp_path: Path) -> None:
    base = write(tmp_path / "base.tar", docker_archive(BASE_LAYERS, HISTORY[:3]))
    assert find_base(app, base=base) == Boundary(2, Signal.FLAG, base)


def test_base_archive_that_is_not_the_base_is_an_error(app: Image, tmp_path: Path) -> None:
    other = write(tmp_path / "other.tar", docker_archive([layer_tar([file("x", 1)])]))
    with pytest.raises(UsageError, match=r"is not this image's base: its layer 0"):
        find_base(app, base=other)
    longer = [*APP_LAYERS, layer_tar([file("y", 1)])]
    bigger = write(tmp_path / "bigger.tar", docker_archive(longer))
    with pytest.raises(UsageError, match=r"has 4 layers, more than this image's 3"):
        find_base(app, base=bigger)


def test_base_scratch_means_no_base_layers(app: Image) -> None:
    assert find_base(app, base="scratch") == Boundary(0, Signal.FLAG, "scratch")


def test_base_reference_without_an_engine_is_an_error(app: Image) -> None:
    with pytest.raises(SourceError, match="cannot reach the docker engine"):
        find_base(app, base="python:3.12")


def test_without_engine_or_dockerfile_the_history_decides(app: Image) -> None:
    assert find_base(app) == Boundary(2, Signal.BASE_CMD)
    assert find_base(app, local=False) == Boundary(2, Signal.BASE_CMD)


DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PY=3.12
FROM --platform=linux/amd64 Python:${PY}-Slim AS builder
RUN pip wheel .
FROM builder AS test
RUN pytest
FROM alpine:3.20 AS other
FROM test
COPY --from=other /etc/os-release /x
"""


def test_final_from_through_the_stages(tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", DOCKERFILE.encode())
    # The final stage builds on `test`, which builds on `builder`: FROM line 3.
    # The reference is kept as written, after ARG expansion (never re-cased).
    ref, where = from_dockerfile(path)
    assert where == (path, 3)
    assert ref == "Python:3.12-Slim"
    assert from_dockerfile(path, target="other") == ("alpine:3.20", (path, 7))


def test_raw_case_of_a_from_without_variables(tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", b"FROM team/base:V1.2\nRUN true\n")
    assert from_dockerfile(path) == ("team/base:V1.2", (path, 1))


def test_dockerfile_from_scratch(app: Image, tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", b"FROM scratch\nCOPY . /\n")
    assert find_base(app, dockerfile=path) == Boundary(0, Signal.DOCKERFILE, "scratch", (path, 1))


def test_unresolved_from_falls_through_but_names_the_base(app: Image, tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", b"FROM team/base:1\nRUN echo x > /app/x\n")
    found = find_base(app, dockerfile=path)
    # No engine to look team/base:1 up in: the history cuts, the FROM names it.
    assert found == Boundary(2, Signal.BASE_CMD, "team/base:1", (path, 1))


def test_from_with_an_unknown_build_arg_warns(app: Image, tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", b"ARG BASE\nFROM $BASE\nRUN true\n")
    found = find_base(app, dockerfile=path)
    assert found.signal is Signal.BASE_CMD
    assert found.warnings and "names a build arg" in found.warnings[0]


def test_no_signal_at_all_stays_unknown() -> None:
    history = [
        {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c a"},
        {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c b"},
    ]
    img = read_archive(docker_archive(APP_LAYERS[:2], history))
    assert find_base(img) == Boundary(None, Signal.NONE)
