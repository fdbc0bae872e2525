"""Real Dockerfiles from well-known public projects, with small app sources.

Each directory holds one project's Dockerfile as published (only its FROM
lines are rewritten at test time, to local Debian bases: see ``load``) and a
few source files standing in for the app (same names and roles, a tiny
dependency from PyPI or npm).

* ``welcome-to-docker``: docker/welcome-to-docker (Node: manifests first, the
  source, then install, build and rm in one RUN).
* ``voting-result``: dockersamples/example-voting-app ``result/`` (Node,
  manifest first, three stages).
* ``voting-vote``: dockersamples/example-voting-app ``vote/`` (Python, three
  stages, ``final`` leaves ``dev`` out).
* ``node-web-app``: the Node.js guide "Dockerizing a Node.js web app"
  (``COPY package*.json ./``, ``npm install``, ``COPY . .``).
* ``django-prod`` / ``django-dev``: testdrivenio/django-on-docker
  ``Dockerfile.prod`` (a builder stage making wheels) and ``Dockerfile``.
* ``go-multistage``: the Docker docs' Go guide (``go mod download`` first).
* ``java-maven``: a Spring Boot multi-stage Maven build.
* ``apt-heavy``: a build-essential image in the style of the official
  buildpack-deps images.
* ``vite-serve``: a Vite app (``npm create vite`` vanilla template) as the Vite
  deployment tutorials containerise it: manifests first, ``npm install``,
  ``COPY . .``, ``npm run build``, a global ``serve``, ``CMD serve -s dist``.
* ``flask-gunicorn``: a Flask service as the Flask/gunicorn tutorials write
  it, with the app requirements, a pinned fix (gunicorn and a newer werkzeug)
  and the dev requirements each installed in a RUN of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Debian bookworm has no "netcat" package (it is virtual there): the only
# change besides FROM lines, for the Django images built on bookworm bases.
_BOOKWORM = ((re.compile(r"\bnetcat\b(?!-)"), "netcat-openbsd"),)


@dataclass(frozen=True)
class Project:
    name: str
    dockerfile: str  # as published
    files: dict[str, bytes]

    def adapted(self, bases: dict[str, str]) -> str:
        """The Dockerfile with each external FROM image replaced by ``bases[image]``
        (stage names are kept), built on bookworm."""

        def repl(m: re.Match[str]) -> str:
            image = m.group(2)
            return m.group(1) + bases.get(image, image)

        text = re.sub(r"(?im)^(FROM\s+(?:--\S+\s+)*)(\S+)", repl, self.dockerfile)
        for pattern, new in _BOOKWORM:
            text = pattern.sub(new, text)
        return text


def load(name: str) -> Project:
    """The project in ``tests/realworld/<name>``."""
    root = ROOT / name
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "Dockerfile"
    }
    return Project(name, (root / "Dockerfile").read_text(), files)
