"""LS309-LS311: what a second ``pip install`` in a layer of its own costs.

A later ``RUN pip install`` that installs again a package an earlier one
installed (another version, ``--upgrade``) leaves the first version's files
stored in the earlier layer. ``pip install -r requirements-dev.txt`` ships the
test and lint tools with the app, and ``pip install --upgrade pip`` a second
pip beside the base image's.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import shlex
from collections import defaultdict
from collections.abc import Iterator

from layerscope.counts import agree, counted
from layerscope.model import EntryType
from layerscope.rules import rule
from layerscope.rules.cachepaths import hidden_claims
from layerscope.rules.cachepaths import scan as cache_scan
from layerscope.rules.common import describe, is_run, kept_files, memo, severity_for, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.leftover_files import leftover_finding
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import SimpleCommand, has_flag, split_commands, unwrap
from layerscope.union import Hidden

__all__ = ["dev_requirements", "pip_reinstalled", "pip_upgraded", "reinstalled_pairs"]

_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)*)?\Z")
_PIP = re.compile(r"pip(?:\d+(?:\.\d+)*)?\Z")
_PIP_FILES = re.compile(
    r"(?:.*/(?:site|dist)-packages/pip(?:/|-[^/]+\.dist-info/)|(?:usr/(?:local/)?)?bin/pip[0-9.]*\Z)"
)
# requirements-dev.txt, dev-requirements.txt, requirements/test.txt, requirements_lint.in
_DEV_FILE = re.compile(
    r"(?:^|[-_./])(?:dev|devel|develop|development|test|tests|testing|lint|ci)(?:[-_.]|$)"
)
_DEV_EXTRAS = frozenset({"dev", "develop", "test", "tests", "testing", "lint"})
_PIP_INIT_PATH = "-packages/pip/__init__.py"
_PIP_INIT = re.compile(re.escape(_PIP_INIT_PATH) + "(?=\n)")
_TEST_RUNNERS = ("pytest", "tox", "nox", "unittest", "flake8", "ruff", "mypy", "coverage")


def pip_installs(script: str) -> list[SimpleCommand]:
    """The ``pip install`` commands of ``script``, as ``pip install ...`` argv."""
    out = []
    for c in split_commands(script):
        inner = unwrap(c)
        argv = inner.argv
        if _PYTHON.match(posixpath.basename(argv[0])) and argv[1:3] == ("-m", "pip"):
            argv = argv[2:]
        elif not _PIP.match(posixpath.basename(argv[0])):
            continue
        if len(argv) > 1 and argv[1] == "install":
            out.append(SimpleCommand(tuple(argv), inner.env))
    return out


def _pip_layers(ctx: RuleContext) -> list[int]:
    """The RUN layers that pip install (computed once per analysis)."""
    return memo(ctx, "pip-install-layers", _find_pip_layers)


def _find_pip_layers(ctx: RuleContext) -> list[int]:
    return [
        i for i in range(len(ctx.image.layers)) if is_run(ctx, i) and pip_installs(ctx.command(i))
    ]


def reinstalled_pairs(ctx: RuleContext) -> dict[tuple[int, int], list[Hidden]]:
    """Files a RUN of ``pip install`` stored and a later one hid (installing the
    package again), by (layer, hidden_by); the cache rules' files left out."""
    return memo(ctx, "pip-reinstalled", _reinstalled)


def _reinstalled(ctx: RuleContext) -> dict[tuple[int, int], list[Hidden]]:
    layers = set(_pip_layers(ctx))
    if len(layers) < 2:
        return {}
    claimed = hidden_claims(ctx)  # the hidden files alone: LS101/LS102 ask this too
    out: dict[tuple[int, int], list[Hidden]] = defaultdict(list)
    for h in ctx.union.hidden:
        if (
            h.layer in layers
            and h.hidden_by in layers
            and h.size > 0
            and not (claimed and (h.layer, h.path) in claimed)
        ):
            out[(h.layer, h.hidden_by)].append(h)
    return dict(out)


def _dist_info(path: str) -> tuple[str, str] | None:
    """(package, version) of a path inside ``*-packages/NAME-VERSION.dist-info/``."""
    parts = path.split("/")
    for parent, part in itertools.pairwise(parts):
        if parent.endswith("-packages") and part.endswith(".dist-info"):
            name, dash, version = part[: -len(".dist-info")].rpartition("-")
            if dash and name:
                return name.lower().replace("_", "-"), version
    return None


def _versions(ctx: RuleContext, layer: int, paths: list[str]) -> dict[str, str]:
    """Package -> version of the dist-info directories among ``paths`` (or, with no
    paths, of those ``layer`` stores)."""
    source = paths or [e.path for e in ctx.image.layers[layer].entries]
    out: dict[str, str] = {}
    for p in source:
        found = _dist_info(p)
        if found:
            out[found[0]] = found[1]
    return out


@rule(
    "LS309",
    kind=Kind.OVERWRITTEN_LATER,
    severity=Severity.MEDIUM,
    title="Packages installed again by a later pip install",
)
def pip_reinstalled(ctx: RuleContext) -> Iterator[Finding]:
    """A ``RUN pip install`` that installs again packages an earlier ``RUN pip
    install`` installed (another version, ``--upgrade``, a pin that differs).

    pip removes the first version and installs the second, but the first
    version's files stay stored in the earlier layer. Install every package
    once: one requirements file with the versions the image needs, or the two
    commands in one ``RUN`` (then the first version never reaches a layer).

    Bad::

        RUN pip install --no-cache-dir -r requirements.txt
        RUN pip install --no-cache-dir gunicorn werkzeug==3.1.3

    Good::

        RUN pip install --no-cache-dir -r requirements.txt \\
            && pip install --no-cache-dir gunicorn werkzeug==3.1.3
    """
    for (layer, by), items in sorted(reinstalled_pairs(ctx).items()):
        size = sum(h.size for h in items)
        old = _versions(ctx, layer, [h.path for h in items])
        new = _versions(ctx, by, [])
        changed = [f"{n} {v} -> {new[n]}" for n, v in sorted(old.items()) if n in new]
        which = ", ".join(changed[:5]) if changed else counted(len(items), "file")
        first, second = ctx.command(layer), ctx.command(by)
        message = (
            f"{describe(ctx, by)} installed again what {describe(ctx, layer)} had installed "
            f"({which}): the first version's {counted(len(items), 'file')} "
            f"{agree(len(items), 'stays', 'stay')} stored in layer {layer}"
        )
        fix = _reinstall_fix(ctx, layer, by, first, second)
        yield Finding(
            rule="LS309",
            kind=Kind.OVERWRITTEN_LATER,
            severity=severity_for(size),
            bytes=size,
            layer=layer,
            paths=top_paths((h.path, h.size) for h in items),
            message=message,
            fix=fix,
            hidden_by=by,
            path_count=len(items),
            extra=(("cause", "reinstalled-by-pip"),),
        )


def _adjacent(ctx: RuleContext, layer: int, by: int) -> bool:
    """True when no instruction of the history lies between the two layers' steps."""
    a = ctx.image.layers[layer].history_index
    b = ctx.image.layers[by].history_index
    return a is not None and b is not None and b == a + 1


def _reinstall_fix(ctx: RuleContext, layer: int, by: int, first: str, second: str) -> str:
    one_file = (
        "Install each package once, at the version the image needs: put the versions of the "
        f"later install into the requirements the first one reads (layer {layer}), or "
    )
    if _adjacent(ctx, layer, by):
        return (
            one_file + "run both installs in one RUN (the same commands in the same order, so the "
            "first version never reaches a layer):\n"
            f"-RUN {first}\n-RUN {second}\n+RUN {first} && {second}"
        )
    return (
        one_file
        + f"move the install of layer {by} into the RUN of layer {layer}. No automatic fix is "
        "proposed: other steps lie between the two RUNs, and the later install may need them."
    )


# -- LS310: development requirements -----------------------------------------------------


def _dev_sources(c: SimpleCommand) -> list[str]:
    """The requirement files and extras of ``c`` that name development tools."""
    argv = c.argv
    out: list[str] = []
    for i, arg in enumerate(argv):
        value = None
        if arg in ("-r", "--requirement") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--requirement="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-r") and len(arg) > 2:
            value = arg[2:]
        if value is not None and _DEV_FILE.search(posixpath.basename(value).lower()):
            out.append(value)
        elif value is None and not arg.startswith("-") and _dev_extra(arg):
            out.append(arg)
    return out


def _dev_extra(arg: str) -> bool:
    """``.[dev]``, ``app[test,lint]==1.0``: extras that name development tools."""
    start, end = arg.find("["), arg.find("]")
    if start < 0 or end < start:
        return False
    return any(e.strip().lower() in _DEV_EXTRAS for e in arg[start + 1 : end].split(","))


def _runs_tests(ctx: RuleContext) -> bool:
    cfg = ctx.image.config
    words = " ".join((*(cfg.entrypoint or ()), *(cfg.cmd or ())))
    return any(t in words for t in _TEST_RUNNERS)


@rule(
    "LS310",
    kind=Kind.LEFTOVER,
    severity=Severity.MEDIUM,
    title="Development requirements installed in the image",
)
def dev_requirements(ctx: RuleContext) -> Iterator[Finding]:
    """``pip install -r requirements-dev.txt`` (or ``test``/``lint``
    requirements, ``.[dev]`` extras) in an image whose command runs no tests.

    Test runners, linters and their dependencies ship with the app. Install
    them in a stage of their own (``FROM base AS dev``) that the image you
    ship does not build (``docker build --target final``). The bytes are what
    the install's layer still adds; no automatic fix is proposed, since only
    you know whether the shipped image runs its tests.

    Bad::

        RUN pip install --no-cache-dir -r requirements.txt
        RUN pip install --no-cache-dir -r requirements-dev.txt

    Good::

        FROM python:3.12-slim AS base
        RUN pip install --no-cache-dir -r requirements.txt

        FROM base AS dev
        RUN pip install --no-cache-dir -r requirements-dev.txt

        FROM base AS final
    """
    if _runs_tests(ctx):
        return
    claimed = cache_scan(ctx).visible
    for layer in _pip_layers(ctx):
        dev = [s for c in pip_installs(ctx.command(layer)) for s in _dev_sources(c)]
        if not dev:
            continue
        files = [
            (e.path, e.size) for e in kept_files(ctx, layer) if e.size > 0 and e.path not in claimed
        ]
        if not files:
            continue
        names = ", ".join(dev)
        message = (
            f"{describe(ctx, layer)} installs development requirements ({names}): "
            f"{counted(len(files), 'file')} of test and lint tools "
            f"{agree(len(files), 'ships', 'ship')} with the app"
        )
        fix = (
            f"No automatic fix is proposed: only you know whether the image you ship runs "
            f"its tests. If it does not, install {names} in a stage of its own that the "
            f"shipped image does not build:\n"
            f"+FROM <the stage that installs the app's requirements> AS dev\n"
            f"+RUN {ctx.command(layer)}\n"
            f" and drop that RUN (layer {layer}) from the stage you ship (docker build --target)."
        )
        yield leftover_finding("LS310", layer, files, message, fix, "dev-requirements")


# -- LS311: a second pip -----------------------------------------------------------------


def _upgrades_pip(c: SimpleCommand) -> bool:
    ops = [a for a in c.argv[2:] if not a.startswith("-")]
    names = {re.split(r"[<>=!~\[ ]", o, maxsplit=1)[0].lower() for o in ops}
    return "pip" in names and (has_flag(c, "-U", "--upgrade") or any(o != "pip" for o in ops))


@rule(
    "LS311",
    kind=Kind.LEFTOVER,
    severity=Severity.LOW,
    title="A second pip installed by pip install --upgrade pip",
    min_bytes=64 << 10,
)
def pip_upgraded(ctx: RuleContext) -> Iterator[Finding]:
    """``pip install --upgrade pip`` in the image: a second pip, beside (or over)
    the one the base image carries.

    The new pip's files are stored in their own layer; the base's pip stays
    in its layer (visible elsewhere, or hidden under the new one). The app
    rarely needs a newer pip at run time. No automatic fix is proposed: only a
    build tells whether the requirements install with the base image's pip.
    If they do, drop the upgrade; if not, upgrade pip in a builder stage that
    builds wheels, and install the wheels with the base's pip.

    Bad::

        RUN pip install --upgrade pip
        RUN pip install --no-cache-dir -r requirements.txt

    Good::

        RUN pip install --no-cache-dir -r requirements.txt
    """
    for layer in _pip_layers(ctx):
        cmd = ctx.command(layer)
        if not any(_upgrades_pip(c) for c in pip_installs(cmd)):
            continue
        files = [
            (e.path, e.size)
            for e in kept_files(ctx, layer)
            if e.size > 0
            and ("-packages/pip" in e.path or "bin/pip" in e.path)
            and _PIP_FILES.match(e.path)
        ]
        if not files:
            continue
        other = _other_pip(ctx, layer)
        if other is None:
            continue
        message = (
            f"{describe(ctx, layer)} installed a second pip ({counted(len(files), 'file')}); "
            f"{other}"
        )
        upgrades = [c for c in pip_installs(cmd) if _upgrades_pip(c)]
        alone = len(split_commands(cmd)) == len(upgrades)
        drop = (
            f"-RUN {cmd}"
            if alone
            else f"drop `{shlex.join(upgrades[0].argv)}` from the RUN of layer {layer}"
        )
        fix = (
            "No automatic fix is proposed: only a build tells whether the requirements "
            "install with the base image's pip. If they do, drop the upgrade (one pip stays):\n"
            + drop
            + "\nIf a requirement needs the newer pip, upgrade it in a builder stage that "
            "builds wheels (pip wheel -r requirements.txt) and install those with the base's pip."
        )
        yield leftover_finding("LS311", layer, files, message, fix, "second-pip")


def _other_pip(ctx: RuleContext, layer: int) -> str | None:
    """Where the image's other pip is: visible in another layer, or hidden by ``layer``."""
    paths = ctx.paths
    for i in paths.text.candidates(_PIP_INIT):
        where, entry = paths.nodes[i]
        path = paths.paths[i]
        if where != layer and entry.type is EntryType.FILE and path.endswith(_PIP_INIT_PATH):
            return f"the base image's pip stays in /{posixpath.dirname(path)} (layer {where})"
    hidden = sum(
        h.size
        for h in ctx.union.hidden
        if h.hidden_by == layer and h.layer < layer and "-packages/pip/" in h.path
    )
    if hidden:
        return f"the pip it replaced still takes {hidden} bytes in the layers below"
    return None
