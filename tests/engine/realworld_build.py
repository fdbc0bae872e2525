"""Build the real-world projects of tests/realworld on local Debian bases.

``node`` images become Debian's nodejs + npm, ``python`` images Debian's
python3-pip (with ``PIP_BREAK_SYSTEM_PACKAGES=1``, as the official python
images need no such flag, and adduser, which they carry). Images are tagged
with a hash of the adapted Dockerfile, the context and the builder, and
reused when present. ``LAYERSCOPE_TEST_TAG_PREFIX`` (default
``layerscope-test/``) starts every tag.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from layerscope.dockerfile.parser import parse
from layerscope.fix.model import Fix
from layerscope.fix.verify import Verification, verify
from tests.realworld import Project, load

from .imagebuild import (
    _buildkit_docker,
    _docker,
    build_image,
    ensure_busybox_base,
    ensure_debian_base,
    image_exists,
)

PREFIX = os.environ.get("LAYERSCOPE_TEST_TAG_PREFIX", "layerscope-test/")


def _host_ca() -> bytes:
    path = Path("/etc/ssl/certs/ca-certificates.crt")
    return path.read_bytes() if path.exists() else b""


def cached(name: str, dockerfile: str, files: dict[str, bytes], *, buildkit: bool,
           network: str = "host", target: str | None = None) -> str:  # fmt: skip
    h = hashlib.sha256(f"{buildkit}\n{target}\n{dockerfile}".encode())
    for key, data in sorted(files.items()):
        h.update(key.encode() + b"\0" + data)
    tag = f"{PREFIX}rw-{name}:{h.hexdigest()[:12]}"
    if not image_exists(tag):
        # build_image has no --target: keep the file up to the target stage.
        text = dockerfile if target is None else _up_to(dockerfile, target)
        build_image(tag, text, files, buildkit=buildkit, network=network)
    return tag


def _up_to(dockerfile: str, target: str) -> str:
    """The Dockerfile cut after stage ``target`` (what ``--target`` builds)."""
    lines = dockerfile.splitlines(keepends=True)
    out: list[str] = []
    seen = False
    for line in lines:
        words = line.split()
        if words and words[0].upper() == "FROM":
            if seen:
                break
            seen = len(words) >= 4 and words[-2].upper() == "AS" and words[-1] == target
        out.append(line)
    return "".join(out)


def bases() -> dict[str, str]:
    """Local images for the FROM lines: node and python images of any tag."""
    debian = ensure_debian_base()
    net = cached(
        "net",
        f"FROM {debian}\nCOPY host-ca.crt /etc/ssl/certs/host-ca.crt\n"
        "ENV PIP_CERT=/etc/ssl/certs/host-ca.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.crt\n",
        {"host-ca.crt": _host_ca()},
        buildkit=False,
        network="none",
    )
    node = cached(
        "node",
        f"FROM {net}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " nodejs npm && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
        {},
        buildkit=False,
    )
    python = cached(
        "python",
        f"FROM {net}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " python3-pip adduser && apt-get clean && rm -rf /var/lib/apt/lists/*\n"
        "ENV PIP_BREAK_SYSTEM_PACKAGES=1\n",
        {},
        buildkit=False,
    )
    python_cmd = cached(  # `python` on PATH, as in the official python images
        "python-cmd",
        f"FROM {python}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " python-is-python3 && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
        {},
        buildkit=False,
    )
    golang = cached(
        "golang",
        f"FROM {net}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " golang-go && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
        {},
        buildkit=False,
    )
    node_user = cached(  # the official node images' `node` user (uid 1000)
        "node-user",
        f"FROM {node}\nRUN useradd --uid 1000 --create-home --shell /bin/sh node\n",
        {},
        buildkit=False,
        network="none",
    )
    busybox = ensure_busybox_base()  # the nginx images: only files are copied in
    return {
        "python:3.10-alpine": python,
        "python:3.9-slim": python_cmd,
        "python:${PYTHON_VERSION}-slim": python_cmd,
        "node:${NODE_VERSION}-alpine": node_user,
        "node:lts": node,
        "golang:1.18-alpine": golang,
        "nginx:1.13-alpine": busybox,
        "node:18-alpine": node,
        "node:18-slim": node,
        "node:16": node,
        "python:3.11-slim": python,
        "python:3.11.4-slim-buster": python,
        "debian:bookworm": debian,
    }


def without_heredoc_stages(dockerfile: str) -> str:
    """The Dockerfile without its stages that hold a heredoc (``RUN <<EOF``).

    Docker 20.10's built-in Dockerfile parser reads no heredocs and cannot
    fetch a newer frontend here. awesome-compose keeps them in ``dev-envs``
    stages that its targets never build; layerscope still reads the whole file.
    """
    stages = re.split(r"(?im)^(?=FROM\s)", dockerfile)
    return "".join(s for s in stages if not re.search(r"(?m)^RUN\s+(?:--\S+\s+)*<<", s))


def build(name: str, *, buildkit: bool, target: str | None = None) -> tuple[Project, str, str]:
    """The project, its adapted Dockerfile and the tag of its image."""
    project = load(name)
    text = project.adapted(bases())
    built = without_heredoc_stages(text)
    return project, text, cached(name, built, project.files, buildkit=buildkit, target=target)


def write_context(project: Project, text: str, where: Path) -> Path:
    """A build context in ``where``: the project's files and ``text`` as its Dockerfile."""
    where.mkdir(parents=True, exist_ok=True)
    for rel, data in project.files.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_bytes(data)
    (where / "Dockerfile").write_text(text)
    return where


def verify_project(
    project: Project, text: str, where: Path, builder: str, name: str, *, keep: bool = True
) -> tuple[Verification, list[Fix]]:
    """``fix --verify`` of ``text`` in a context of the project's files, with ``builder``;
    the rebuilt images are tagged ``<PREFIX>verify-<name>-<builder>-...``."""
    ctx = write_context(project, text, where)
    docker = _buildkit_docker() if builder == "buildkit" else _docker()
    return verify(
        parse(text, "Dockerfile"), str(ctx), builder=builder, docker=docker, network="host",
        keep=keep, tag_prefix=f"{PREFIX}verify-{name}-{builder}-",
    )  # fmt: skip
