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
* ``java-maven``: dockersamples/spring-petclinic-docker ``Dockerfile.multi``
  (the Maven wrapper copied with ``pom.xml``; text only: no Maven Central here).
* ``apt-heavy``: a build-essential image in the style of the official
  buildpack-deps images.
* ``compose-flask``: docker/awesome-compose ``flask/app`` (pip under a
  BuildKit cache mount, ``--target builder``; a heredoc ``dev-envs`` stage).
* ``compose-react-frontend``: awesome-compose ``react-express-mysql/frontend``
  (``npm ci``, a builder stage runs ``npm run build``, the final stage copies
  ``/code/build`` into an nginx image).
* ``compose-express-backend``: awesome-compose ``react-express-mysql/backend``
  (``ARG``/``ENV NODE_ENV``, ``EXPOSE $PORT 9229 9230``, ``HEALTHCHECK``,
  ``--target development``).
* ``compose-nginx-golang``: awesome-compose ``nginx-golang/backend`` (Go with
  cache mounts, the binary copied into ``scratch``; no module dependencies,
  since no Go proxy is reachable here).
* ``compose-wsgi-flask``: awesome-compose ``nginx-wsgi-flask/flask`` (a venv
  made after ``COPY . .``; Alpine's apk: text only).
* ``voting-seed-data``: dockersamples/example-voting-app ``seed-data`` (apt,
  ``COPY . .``, then a script that is no install).
* ``compose-spring-postgres``: awesome-compose ``spring-postgres/backend``
  (Maven: ``pom.xml`` and ``dependency:go-offline`` first, a jar unpacked in
  a third stage; text only).
* ``docker-init-node`` / ``docker-init-python``: ``docker init``'s templates
  as the Docker docs' Node.js and Python guides give them (manifests bind-
  mounted into the install, caches in cache mounts, ``USER`` before
  ``COPY . .``, the guides' ``.dockerignore``).
* ``vite-serve``: a Vite app (``npm create vite`` vanilla template) as the Vite
  deployment tutorials containerise it: manifests first, ``npm install``,
  ``COPY . .``, ``npm run build``, a global ``serve``, ``CMD serve -s dist``.
* ``flask-gunicorn``: a Flask service as the Flask/gunicorn tutorials write
  it, with the app requirements, a pinned fix (gunicorn and a newer werkzeug)
  and the dev requirements each installed in a RUN of its own.

Where a Dockerfile starts with ``# syntax=``, the provenance comment is its
second line; the directive becomes a bare ``#`` at build time (no frontend
image can be pulled here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Debian bookworm has no "netcat" package (it is virtual there): the only
# change besides FROM lines, for the Django images built on bookworm bases.
_BOOKWORM = ((re.compile(r"\bnetcat\b(?!-)"), "netcat-openbsd"),)
_SYNTAX = re.compile(r"\A#\s*syntax\s*=.*\n", re.IGNORECASE)


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
        # No frontend image can be pulled here: BuildKit's built-in parser reads
        # it. A bare comment keeps the line numbers.
        text = _SYNTAX.sub("#\n", text, count=1)
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
