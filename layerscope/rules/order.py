"""LS5xx: instruction order that makes every build rebuild more than it must.

The builder reuses a step's cached layer only while every step before it is
unchanged (for COPY/ADD: the copied files' content; for RUN: its text and
the build args and ENV in scope). These rules read the order of steps, from
the image history or from a Dockerfile (:func:`check_dockerfile`), and
count the cost from the layers: the bytes and layers rebuilt on every change
of whatever busts the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from layerscope.dockerfile.parser import Dockerfile
from layerscope.rules import rule
from layerscope.rules.context import RuleContext
from layerscope.rules.order_detectors import (
    DETECTORS,
    bust_context,
    remote_add_early,
    run_chains,
    update_alone,
    volatile_early,
)
from layerscope.rules.order_units import Unit, image_units, stage_units
from layerscope.rules.types import Finding, Kind, Severity

__all__ = ["check_dockerfile"]


def check_dockerfile(df: Dockerfile, target: str | None = None) -> list[Finding]:
    """The LS5xx patterns found in the Dockerfile text alone, in every stage the
    build of ``target`` (default: the last stage) runs.

    Bytes are 0: without an image nothing is measured. Each finding carries
    its ``location`` (path, line). A finding in a builder stage (run, its
    layers not in the image) says so: its fix speeds up builds only.
    """
    from layerscope.stages import BUILDER_NOTE, roles

    stage_roles = roles(df, target)
    found: list[Finding] = []
    for stage in df.stages:
        if stage.index not in stage_roles.built:
            continue
        units = stage_units(stage.steps)
        builder = stage_roles.builder(stage)
        for detect in DETECTORS:
            for f in detect(units, df.path):
                if builder:
                    note = f"line {stage.line} starts {BUILDER_NOTE}"
                    f = dataclasses.replace(f, message=f"{f.message}. {note[0].upper()}{note[1:]}")
                found.append(f)
    found.sort(key=lambda f: (f.location or ("", 0), f.rule))
    return found


def _units(ctx: RuleContext) -> list[Unit]:
    from layerscope.rules.common import memo

    return memo(ctx, "order.units", image_units)


@rule(
    "LS501",
    kind=Kind.CACHE_BUST,
    severity=Severity.MEDIUM,
    title="Source copied before the dependency install",
)
def context_before_install(ctx: RuleContext) -> Iterator[Finding]:
    """The whole build context (or a source tree) is copied before a dependency install.

    A COPY's cache key is the content of what it copies, so with ``COPY . .``
    any edit to any source file invalidates that step and every step after
    it: the dependency install runs again on every build, and its layer is
    pushed and pulled again although the dependencies did not change. Copy
    only the manifest and lock files first (``requirements*.txt``;
    ``pyproject.toml`` + ``poetry.lock``/``uv.lock``; ``package.json`` +
    ``package-lock.json``/``yarn.lock``/``pnpm-lock.yaml``; ``go.mod`` +
    ``go.sum``; ``Cargo.toml`` + ``Cargo.lock``; ``pom.xml``; ``Gemfile`` +
    ``Gemfile.lock``; ``composer.json`` + ``composer.lock``; ``*.csproj``),
    install, then copy the rest. OS packages (apt, apk, dnf) need no project
    file at all: install them before any COPY of the source. The cost is the
    bytes and layers made after the COPY.

    Bad::

        COPY . /app
        RUN pip install -r /app/requirements.txt

    Good::

        COPY requirements.txt /app/
        RUN pip install -r /app/requirements.txt
        COPY . /app
    """
    return bust_context(_units(ctx))


@rule(
    "LS502",
    kind=Kind.CACHE_BUST,
    severity=Severity.MEDIUM,
    title="Package index updated in a RUN of its own",
)
def update_in_own_run(ctx: RuleContext) -> Iterator[Finding]:
    """``apt-get update`` (or ``apk update``) alone in its RUN, with the install later.

    The update step's text never changes, so the builder reuses its cached
    layer for ever; a later ``apt-get install`` then runs against package
    lists that may be months old (and fails once the mirror drops the
    versions they name). The lists are also stored in a layer of their own.
    Update, install and clean up in the same RUN.

    Bad::

        RUN apt-get update
        RUN apt-get install -y curl

    Good::

        RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
    """
    return update_alone(_units(ctx))


@rule(
    "LS503",
    kind=Kind.CACHE_BUST,
    severity=Severity.LOW,
    title="Volatile build argument or variable set early",
)
def volatile_value_early(ctx: RuleContext) -> Iterator[Finding]:
    """A value that changes on every build (build date, git commit) is set early.

    Build args and ENV are part of every later RUN's cache key (the history
    shows them as ``|N NAME=value`` before the command), so a new commit
    SHA or timestamp rebuilds every later step even when none of them uses
    it. With the classic builder a LABEL does the same. Declare the ARG just
    before the step that uses it, and put version labels last.

    Bad::

        ARG GIT_SHA
        RUN apt-get update && apt-get install -y build-essential
        RUN echo $GIT_SHA > /version

    Good::

        RUN apt-get update && apt-get install -y build-essential
        ARG GIT_SHA
        RUN echo $GIT_SHA > /version
    """
    return volatile_early(_units(ctx))


@rule(
    "LS504",
    kind=Kind.CACHE_BUST,
    severity=Severity.LOW,
    title="Remote ADD early in the build",
)
def remote_add(ctx: RuleContext) -> Iterator[Finding]:
    """``ADD https://...`` before steps that do not need the download.

    The builder fetches a remote ADD on every build to see whether it
    changed; when it did (a ``latest`` URL), every step after it is rebuilt.
    Pin the URL to a version (and ``--checksum`` with BuildKit) and move the
    ADD down to the step that uses it, or download inside that RUN.

    Bad::

        ADD https://example.com/tool-latest.tar.gz /opt/
        RUN apt-get update && apt-get install -y python3

    Good::

        RUN apt-get update && apt-get install -y python3
        ADD --checksum=sha256:... https://example.com/tool-1.2.tar.gz /opt/
    """
    return remote_add_early(_units(ctx))


@rule(
    "LS505",
    kind=Kind.CACHE_BUST,
    severity=Severity.INFO,
    title="Many consecutive RUNs of one concern",
)
def many_runs(ctx: RuleContext) -> Iterator[Finding]:
    """Three or more consecutive RUNs doing one job (install, then clean, then configure).

    Each RUN is a layer: a cleanup in a later RUN cannot shrink the layer
    before it, and every layer costs a cache lookup, a tar stream and a
    registry blob. Join the commands of one concern with ``&&`` in one RUN.

    Bad::

        RUN apt-get update
        RUN apt-get install -y curl
        RUN rm -rf /var/lib/apt/lists/*

    Good::

        RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
    """
    return run_chains(_units(ctx))
