"""LS5xx: instruction order that makes every build rebuild more than it must.

The builder reuses a step's cached layer only while every step before it is
unchanged (for COPY/ADD: the copied files' content; for RUN: its text and
the build args and ENV in scope). These rules read the order of steps, from
the image history or from a Dockerfile (:func:`check_dockerfile`), and
count the cost from the layers: the bytes and layers rebuilt on every change
of whatever busts the cache.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from layerscope.analysis import RuleContext
from layerscope.dockerfile import Dockerfile, Step
from layerscope.model import Builder, EntryType, Instruction
from layerscope.rules import rule
from layerscope.rules.base import Finding, Kind, Severity
from layerscope.rules.common import severity_for, short
from layerscope.rules.ecosystems import (
    DEPENDENCY_STEP,
    MANIFESTS,
    Install,
    any_manifest,
    concern,
    install_of,
    installs,
    is_manifest,
)
from layerscope.shell import has_flag, split_commands, unwrap

# The ecosystem names stay importable from here (rules/ecosystems.py owns them).
__all__ = [
    "DEPENDENCY_STEP",
    "MANIFESTS",
    "Install",
    "Unit",
    "busting_copy",
    "check_dockerfile",
    "concern",
    "install_of",
    "installs",
    "is_manifest",
    "is_source_copy",
]

_VOLATILE_NAME = re.compile(
    r"(?:\A|_)(?:BUILD_?(?:DATE|TIME|TIMESTAMP|NUMBER|ID)|GIT_?(?:SHA|COMMIT|HASH|REF|REVISION)"
    r"|VCS_REF|COMMIT(?:_SHA|_HASH)?|REVISION|SOURCE_COMMIT|GITHUB_SHA|CI_COMMIT_SHA"
    r"|CACHE_?BUST|TIMESTAMP|BUILD_?DATE)\Z",
    re.IGNORECASE,
)
_VOLATILE_VALUE = re.compile(r"[0-9a-f]{40}|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}.*)?|\d{10}")
_LAYER_KINDS = (Instruction.RUN, Instruction.COPY, Instruction.ADD)
_URL = re.compile(r"(?i)\A(?:https?|ftp)://")


# -- the sequence the rules read ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One build step as the rules see it, from history or from a Dockerfile.

    ``sources`` are COPY/ADD source operands (``dir:``/``file:``/``multi:``
    for the classic builder); ``files`` the regular files the step's layer
    holds (image only); ``bytes`` its content bytes; ``from_stage`` true for
    ``COPY --from`` (None when history cannot tell).
    """

    kind: Instruction
    text: str
    layer: int | None = None
    history: int | None = None
    step: Step | None = None
    sources: tuple[str, ...] = ()
    dest: str = ""
    files: tuple[str, ...] | None = None
    bytes: int = 0
    from_stage: bool | None = False
    builder: Builder = Builder.UNKNOWN

    def where(self) -> str:
        if self.step is not None:
            return f"line {self.step.line} ({self.kind.value} {short(self.text, 60)})"
        if self.layer is not None:
            return f"layer {self.layer} ({self.kind.value} {short(self.text, 60)})"
        return f"{self.kind.value} {short(self.text, 60)}"


def is_source_copy(u: Unit) -> bool:
    """A COPY/ADD of the build context or a source tree (not just manifests)."""
    if u.kind not in (Instruction.COPY, Instruction.ADD) or not u.sources:
        return False
    if any(_URL.match(s) for s in u.sources) or u.from_stage:
        return False
    if u.files is not None:
        if not u.files or all(is_manifest(f) for f in u.files):
            return False
    elif all(is_manifest(s) for s in u.sources):
        return False
    for s in u.sources:
        if s.startswith(("dir:", "multi:")):
            return True
        if s.startswith("file:"):
            continue  # the classic builder's single file
        base = posixpath.basename(s.rstrip("/"))
        if s.endswith("/") or s in (".", "./") or "*" in s or "." not in base:
            return True
    return False


def _makes_layer(u: Unit) -> bool:
    return u.layer is not None or (u.step is not None and u.kind in _LAYER_KINDS)


def busting_copy(units: Sequence[Unit]) -> int | None:
    """Index of the source COPY that busts the cache most often: the first copy of
    the whole context (``COPY . .``); in a classic builder's history, which hides
    the sources, the first copy whose layer holds a manifest file (the project's
    root); else the first copy of a source tree."""
    candidates = [i for i, u in enumerate(units) if is_source_copy(u)]
    whole = [i for i in candidates if any(s in (".", "./") for s in units[i].sources)]
    rooted = [i for i in candidates if any_manifest(units[i].files or ())]
    picks = whole or rooted or candidates
    return picks[0] if picks else None


def _cost(units: Sequence[Unit], after: int) -> tuple[int, int]:
    """Bytes and count of the layers made from ``units[after]`` on."""
    rebuilt = [u for u in units[after:] if _makes_layer(u)]
    return sum(u.bytes for u in rebuilt), len(rebuilt)


def _rebuilt(units: Sequence[Unit], size: int, count: int) -> str:
    """``3 layer(s) (12345 bytes)``, or ``3 step(s)`` when nothing was measured."""
    if any(u.layer is not None for u in units):
        return f"{count} layer(s) ({size} bytes)"
    return f"{count} step(s)"


def _finding(
    rule_id: str, unit: Unit, size: int, message: str, fix: str, severity: Severity, **extra: str
) -> Finding:
    location = None
    if unit.step is not None and extra.get("dockerfile"):
        location = (extra.pop("dockerfile"), unit.step.line)
    extra.pop("dockerfile", None)
    if unit.history is not None:
        extra["history_index"] = str(unit.history)
    return Finding(
        rule=rule_id,
        kind=Kind.CACHE_BUST,
        severity=severity,
        bytes=size,
        layer=unit.layer,
        paths=(),
        message=message,
        fix=fix,
        ecosystem=extra.pop("ecosystem", None),
        location=location,
        extra=tuple(sorted((k, v) for k, v in extra.items() if v)),
    )


def _manifest_files(copy: Unit, wanted: Sequence[Install]) -> list[str]:
    """The manifest files to copy first: those the copy holds, else the usual names."""
    names: list[str] = []
    for inst in wanted:
        for m in inst.manifests or MANIFESTS.get(inst.ecosystem, ()):
            if m not in names:
                names.append(m)
    if copy.files is not None and names:
        # fnmatchcase against each name, as one regex; the top directory is
        # looked for once, and only when some file has one of the names.
        wanted_name = re.compile("|".join(fnmatch.translate(n) for n in names)).match
        found = [f for f in copy.files if wanted_name(posixpath.basename(f))]
        if found:
            top = min((posixpath.dirname(g) for g in copy.files), key=len)
            present = [posixpath.basename(f) for f in found if posixpath.dirname(f) == top]
            if present:
                return sorted(set(present))
    return names


def bust_context(units: Sequence[Unit], path: str = "") -> Iterator[Finding]:
    """LS501 over one stage's units."""
    src = busting_copy(units)
    if src is None:
        return
    installed: set[str] = set()
    busts: list[tuple[int, Install]] = []
    for i, u in enumerate(units):
        if u.kind is not Instruction.RUN:
            continue
        for inst in installs(u.text):
            if i < src:
                installed.add(inst.ecosystem)
            elif inst.system or inst.ecosystem not in installed:
                busts.append((i, inst))
    if not busts:
        return
    copy = units[src]
    size, count = _cost(units, src + 1)
    first = units[busts[0][0]]
    install_bytes = sum(units[i].bytes for i in sorted({i for i, _ in busts}))
    ecos = sorted({inst.ecosystem for _, inst in busts})
    deps = [inst for _, inst in busts if not inst.system]
    system = [inst for _, inst in busts if inst.system]
    files = _manifest_files(copy, deps)
    dest = copy.dest or "./"
    dest = dest if dest.endswith("/") else dest + "/"
    steps = [f"COPY {' '.join(files)} {dest}"] if deps else []
    for inst in deps:
        if inst.needs_source and inst.ecosystem in DEPENDENCY_STEP:
            steps.append(f"RUN {DEPENDENCY_STEP[inst.ecosystem]}")
        elif not inst.needs_source:
            steps.append(f"RUN {short(inst.command, 100)}")
    steps.extend(f"RUN {short(inst.command, 100)}" for inst in system)
    fix = (
        "Install dependencies before copying the source: "
        + "; ".join([*dict.fromkeys(steps), f"then {copy.kind.value} {short(copy.text, 60)}"])
        + (" and the build steps that need it" if any(i.needs_source for i in deps) else "")
    )
    message = (
        f"{copy.where()} copies the source before the dependency install {first.where()}: "
        f"every source change rebuilds {_rebuilt(units, size, count)}, the install included"
    )
    if (
        copy.from_stage is None
        and copy.builder is Builder.BUILDKIT
        and any(s.startswith("/") for s in copy.sources)
    ):
        message += (
            ". The source path is absolute, so this is probably a COPY --from another "
            "stage; the history holds only the final stage, so look at that stage's order"
        )
    yield _finding(
        "LS501",
        copy,
        size,
        message,
        fix,
        severity_for(install_bytes) if copy.layer is not None else Severity.MEDIUM,
        ecosystem=",".join(ecos),
        install_layers=",".join(
            str(units[i].layer) for i, _ in busts if units[i].layer is not None
        ),
        install_bytes=str(install_bytes),
        rebuilt_layers=str(count),
        manifests=" ".join(files),
        dockerfile=path,
    )


def _manager_runs(script: str) -> tuple[set[str], set[str]]:
    """Package managers whose index this script updates, and those it installs with."""
    updates: set[str] = set()
    uses: set[str] = set()
    for c in split_commands(script):
        inner = unwrap(c)
        sub = inner.argv[1] if len(inner.argv) > 1 else ""
        mgr = {"apt-get": "apt", "apt": "apt", "apk": "apk"}.get(inner.name)
        if mgr is None:
            continue
        if sub == "update" or (mgr == "apk" and has_flag(inner, "-U", "--update-cache")):
            updates.add(mgr)
        if sub in ("install", "upgrade", "dist-upgrade", "add", "full-upgrade"):
            uses.add(mgr)
    return updates, uses


def update_alone(units: Sequence[Unit], path: str = "") -> Iterator[Finding]:
    """LS502 over one stage's units."""
    for i, u in enumerate(units):
        if u.kind is not Instruction.RUN:
            continue
        updates, uses = _manager_runs(u.text)
        for mgr in sorted(updates - uses):
            later = next(
                (
                    v
                    for v in units[i + 1 :]
                    if v.kind is Instruction.RUN
                    and mgr in _manager_runs(v.text)[1]
                    and mgr not in _manager_runs(v.text)[0]
                ),
                None,
            )
            if later is None:
                continue
            tool = "apt-get" if mgr == "apt" else "apk"
            clean = "rm -rf /var/lib/apt/lists/*" if mgr == "apt" else "rm -rf /var/cache/apk/*"
            message = (
                f"{u.where()} updates the {tool} package index in a RUN of its own; the builder "
                f"reuses that layer for ever, so {later.where()} can install from stale lists "
                "(or fail when the mirror drops the old versions)"
            )
            fix = (
                f"Update and install in one RUN: RUN {tool} update && "
                f"{short(_install_text(later.text, mgr), 80)} && {clean}"
            )
            yield _finding(
                "LS502",
                u,
                u.bytes,
                message,
                fix,
                Severity.MEDIUM,
                ecosystem=mgr,
                install_layer="" if later.layer is None else str(later.layer),
                dockerfile=path,
            )


def _install_text(script: str, mgr: str) -> str:
    for c in split_commands(script):
        inner = unwrap(c)
        if {"apt-get": "apt", "apt": "apt", "apk": "apk"}.get(inner.name) == mgr:
            return " ".join(inner.argv)
    return script


def _uses_variable(name: str, unit: Unit) -> bool:
    """True when ``unit`` (not a LABEL) refers to ``$name`` or ``${name}``."""
    if unit.kind is Instruction.LABEL:
        return False
    return re.search(r"\$\{?" + re.escape(name) + r"(?![A-Za-z0-9_])", unit.text) is not None


def _uses_path(dest: str, unit: Unit) -> bool:
    """True when RUN ``unit`` mentions ``dest`` (the target of a download)."""
    return unit.kind is Instruction.RUN and dest != "/" and dest in unit.text


def _needless(
    units: Sequence[Unit], start: int, used: Callable[[Unit], bool]
) -> tuple[int, int, int | None]:
    """Bytes and layers of RUN-made layers rebuilt before the first step using a value.

    Scans from ``start``; ``used(unit)`` says whether a step needs the value.
    Returns (bytes, layers, index of the first use or None).
    """
    size = count = 0
    first_run = None
    for j in range(start, len(units)):
        v = units[j]
        if used(v):
            return size, count, j
        if v.kind is Instruction.RUN:
            first_run = j if first_run is None else first_run
        if first_run is not None and _makes_layer(v):
            size += v.bytes
            count += 1
    return size, count, None


def volatile_early(units: Sequence[Unit], path: str = "") -> Iterator[Finding]:
    """LS503 over one stage's units."""
    for i, u in enumerate(units):
        if u.kind not in (Instruction.ARG, Instruction.ENV, Instruction.LABEL):
            continue
        if u.kind is Instruction.LABEL and u.builder is not Builder.CLASSIC:
            continue  # only the classic builder keys later steps on labels
        for name, value in _pairs(u.text):
            if not (_VOLATILE_NAME.search(name) or _VOLATILE_VALUE.fullmatch(value)):
                continue
            size, count, use = _needless(
                units,
                i + 1,
                functools.partial(_uses_variable, name),
            )
            if count == 0:
                continue
            where = "the step that uses it" if use is not None else "the end of the stage"
            message = (
                f"{u.where()} sets {name}, a value that changes from build to build, before "
                f"steps that do not use it: each new value rebuilds {_rebuilt(units, size, count)}"
            )
            fix = (
                f"Move {u.kind.value} {name} down to just before {where}"
                + (f" ({units[use].where()})" if use is not None else "")
                + "; a LABEL with the value belongs at the end"
            )
            yield _finding(
                "LS503",
                u,
                size,
                message,
                fix,
                Severity.LOW if size < 5 << 20 else Severity.MEDIUM,
                variable=name,
                rebuilt_layers=str(count),
                dockerfile=path,
            )


def _pairs(text: str) -> list[tuple[str, str]]:
    words = text.split()
    if len(words) == 2 and "=" not in words[0]:
        return [(words[0], words[1])]
    return [(w.partition("=")[0], w.partition("=")[2].strip("\"'")) for w in words]


def remote_add_early(units: Sequence[Unit], path: str = "") -> Iterator[Finding]:
    """LS504 over one stage's units."""
    for i, u in enumerate(units):
        if u.kind is not Instruction.ADD:
            continue
        remote = [s for s in u.sources if _URL.match(s) or re.fullmatch(r"[0-9a-f]{32,}", s)]
        if not remote or (u.step is not None and u.step.flag("checksum") is not None):
            continue
        dest = u.dest.rstrip("/") or "/"
        size, count, use = _needless(units, i + 1, functools.partial(_uses_path, dest))
        if count == 0:
            continue
        url = remote[0] if _URL.match(remote[0]) else "a remote URL"
        message = (
            f"{u.where()} downloads {url} before steps that do not use it: the builder "
            "fetches the URL on every build, and when its content changes it rebuilds "
            f"{_rebuilt(units, size, count)}"
        )
        fix = (
            "Pin the download (a versioned URL, ADD --checksum=sha256:... with BuildKit) and "
            "move it down to just before the step that uses it"
            + (f" ({units[use].where()})" if use is not None else "")
            + ", or fetch it inside that RUN"
        )
        yield _finding(
            "LS504",
            u,
            size,
            message,
            fix,
            Severity.LOW,
            rebuilt_layers=str(count),
            dockerfile=path,
        )


_BETWEEN_RUNS = (Instruction.ENV, Instruction.ARG, Instruction.LABEL)


def run_chains(units: Sequence[Unit], path: str = "", minimum: int = 3) -> Iterator[Finding]:
    """LS505 over one stage's units."""
    group: list[Unit] = []
    topic = ""

    def flush() -> Iterator[Finding]:
        runs = [g for g in group if g.kind is Instruction.RUN]
        own = [g for g in runs if concern(g.text) == topic]
        if len(runs) >= minimum and len(own) >= 2:
            size = sum(g.bytes for g in runs)
            merged = " && ".join(short(g.text, 40) for g in runs)
            message = (
                f"{len(runs)} consecutive RUNs from {runs[0].where()} do one job ({topic}): "
                f"{len(runs)} layers where one would do, and a cleanup in a later RUN "
                "cannot shrink the earlier layers"
            )
            fix = f"Merge them into one RUN: RUN {merged}"
            layers = ",".join(str(g.layer) for g in runs if g.layer is not None)
            yield _finding(
                "LS505",
                runs[0],
                size,
                message,
                fix,
                Severity.INFO,
                ecosystem=topic,
                layers=layers,
                runs=str(len(runs)),
                dockerfile=path,
            )

    for u in units:
        if u.kind in _BETWEEN_RUNS and group:
            group.append(u)
            continue
        this = concern(u.text) if u.kind is Instruction.RUN and u.text else ""
        if this and this not in ("mixed", "other") and (this in ("neutral", topic) or not topic):
            if this != "neutral" and not topic:
                topic = this
            group.append(u)
            continue
        yield from flush()
        group, topic = [], ""
        if this and this not in ("mixed", "other"):
            group, topic = [u], "" if this == "neutral" else this
    yield from flush()


_DETECTORS = (bust_context, update_alone, volatile_early, remote_add_early, run_chains)


# -- units from an image or a Dockerfile ---------------------------------------------


def image_units(ctx: RuleContext) -> list[Unit]:
    """Every history entry of the image as a Unit, oldest first."""
    from layerscope.history import hides_heredoc

    image = ctx.image
    layer_of = {layer.history_index: layer.index for layer in image.layers}
    units: list[Unit] = []
    for i, h in enumerate(image.history):
        p = h.parsed
        layer = layer_of.get(i)
        files: tuple[str, ...] | None = None
        sources: tuple[str, ...] = ()
        from_stage: bool | None = False
        if p.instruction in (Instruction.COPY, Instruction.ADD):
            sources = tuple(p.source.split())
            if layer is not None:
                files = tuple(
                    [e.path for e in image.layers[layer].entries if e.type is EntryType.FILE]
                )
            from_stage = (
                None
                if p.builder is Builder.CLASSIC or any(s.startswith("/") for s in sources)
                else False
            )
        text = "" if hides_heredoc(p) else p.args
        units.append(
            Unit(
                kind=p.instruction,
                text=text,
                layer=layer,
                history=i,
                sources=sources,
                dest=p.dest,
                files=files,
                bytes=0 if layer is None else ctx.layers[layer].content_bytes,
                from_stage=from_stage,
                builder=p.builder,
            )
        )
    return units


def stage_units(steps: Sequence[Step]) -> list[Unit]:
    """A Dockerfile stage's steps as Units (no layers, no bytes)."""
    units: list[Unit] = []
    for s in steps:
        ops = s.operands() if s.kind in (Instruction.COPY, Instruction.ADD) else []
        units.append(
            Unit(
                kind=s.kind,
                text=s.script if s.kind is Instruction.RUN else s.expanded,
                step=s,
                sources=tuple(ops[:-1]),
                dest=ops[-1] if ops else "",
                from_stage=s.flag("from") is not None,
            )
        )
    return units


def check_dockerfile(df: Dockerfile) -> list[Finding]:
    """The LS5xx patterns found in the Dockerfile text alone, every stage.

    Bytes are 0: without an image nothing is measured. Each finding carries
    its ``location`` (path, line).
    """
    found: list[Finding] = []
    for stage in df.stages:
        units = stage_units(stage.steps)
        for detect in _DETECTORS:
            found.extend(detect(units, df.path))
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
