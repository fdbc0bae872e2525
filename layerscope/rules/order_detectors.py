"""The LS5xx detectors: each reads one stage's :class:`Unit` sequence.

The image rules in ``rules/order.py`` run them over the image history, and
``check_dockerfile`` there over every stage of a Dockerfile. Each detector
yields :class:`Finding` objects whose cost is counted from the units' layers
(0 bytes when read from a Dockerfile alone).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import posixpath
import re
from collections.abc import Iterator, Sequence

from layerscope.model import Builder, Instruction
from layerscope.rules.common import TOP_PATHS, severity_for, short
from layerscope.rules.order_units import URL, Unit, busting_copy, cost, needless, rebuilt
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import SimpleCommand, has_flag, split_commands, unwrap
from layerscope.shell.ecosystems import (
    DEPENDENCY_STEP,
    MANIFESTS,
    Install,
    any_manifest,
    concern,
    install_of,
    installs,
    is_clean_subcommand,
    is_manifest_file,
    is_manifest_source,
)

_VOLATILE_NAME = re.compile(
    r"(?:\A|_)(?:BUILD_?(?:DATE|TIME|TIMESTAMP|NUMBER|ID)|GIT_?(?:SHA|COMMIT|HASH|REF|REVISION)"
    r"|VCS_REF|COMMIT(?:_SHA|_HASH)?|REVISION|SOURCE_COMMIT|GITHUB_SHA|CI_COMMIT_SHA"
    r"|CACHE_?BUST|TIMESTAMP|BUILD_?DATE)\Z",
    re.IGNORECASE,
)
_VOLATILE_VALUE = re.compile(r"[0-9a-f]{40}|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}.*)?|\d{10}")


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


def _manifest_only(u: Unit) -> bool:
    """A COPY/ADD that brings in manifest files only (``COPY package*.json ./``)."""
    if u.kind not in (Instruction.COPY, Instruction.ADD) or not u.sources or u.from_stage:
        return False
    if u.files is not None:
        return bool(u.files) and all(is_manifest_file(f) for f in u.files)
    return all(is_manifest_source(s) for s in u.sources)


_HASHED = re.compile(r"(?:dir|file|multi):[0-9a-fA-F]{16,}(?: in)?")


def _step_text(u: Unit) -> str:
    """The step as a Dockerfile line, its flags kept (``--chown``, ``--mount``); a
    classic builder's hashed source as ``<src>``."""
    flags = " ".join(u.step.flags) + " " if u.step is not None and u.step.flags else ""
    return f"{u.kind.value} {flags}{short(_HASHED.sub('<src>', u.text), 100)}"


def _copy_flags(u: Unit) -> str:
    """The ownership and mode flags of a COPY, for the manifest COPY that stands in."""
    if u.step is None:
        return ""
    kept = [f for f in u.step.flags if f.startswith(("--chown", "--chmod"))]
    return " ".join(kept) + " " if kept else ""


_VENV = frozenset({"virtualenv", "pyenv"})
_USERS = frozenset({"useradd", "adduser", "groupadd", "addgroup", "usermod"})
_SETUP = frozenset({"set", "true", ":", "export", "echo", "printf"})
_VENV_MODULES = (("-m", "venv"), ("-m", "virtualenv"))


def _sets_up(u: Unit) -> bool:
    """A RUN that reads nothing of the source and may prepare the install: a
    virtual environment (``python -m venv``), users, named or manifest
    installs, index updates, ``mkdir`` of absolute paths. It keeps its place
    before the install (the install may run in the venv it makes)."""
    for c in split_commands(u.text):
        inner = unwrap(c)
        name, argv = inner.name, inner.argv
        inst = install_of(c)
        if inst is not None:
            if inst.needs_source:
                return False
            continue
        if _index_update(inner) or name in _SETUP or name in _USERS or name in _VENV:
            continue
        if re.fullmatch(r"python[\d.]*", name) and argv[1:3] in _VENV_MODULES:
            continue
        if name == "uv" and argv[1:2] == ("venv",):
            continue
        if name == "mkdir" and all(a.startswith(("/", "-", "$")) for a in argv[1:]):
            continue
        if is_clean_subcommand(name, argv[1] if len(argv) > 1 else ""):
            continue
        return False
    return True


def _reordered(
    units: Sequence[Unit], src: int, busts: Sequence[tuple[int, Install]], files: Sequence[str]
) -> tuple[list[str], bool, bool]:
    """The steps from the source COPY to the last install, in the order that keeps
    the install cached: manifests, then the steps that prepare or run the
    installs in their order, the source, then every other step as it was (a
    RUN that also builds is split: its installs go first). True with them when
    a RUN was split, and whether anything moved before the source at all."""
    last = max(i for i, _ in busts)
    bust_cmds = {(i, inst.command) for i, inst in busts}
    copy = units[src]
    before: list[str] = []
    after: list[str] = []
    split = False
    moved_any = False
    if files and not any(_manifest_only(u) for u in units[: last + 1]):
        whole = any(s in (".", "./") for s in copy.sources) or any_manifest(copy.files or ())
        dest = (copy.dest or "./") if whole else "./"
        target = dest if dest.endswith("/") else dest + "/"
        before.append(f"COPY {_copy_flags(copy)}{' '.join(files)} {target}")
    absolute_dest = copy.dest.startswith("/")
    for j in range(src + 1, last + 1):
        u = units[j]
        if _manifest_only(u) or u.kind in (Instruction.ENV, Instruction.ARG):
            before.append(_step_text(u))
            continue
        if u.kind is Instruction.WORKDIR and absolute_dest and not after:
            before.append(_step_text(u))  # the install runs where the files were copied
            continue
        if u.kind in (Instruction.USER, Instruction.SHELL) and not after:
            before.append(_step_text(u))  # the install runs as the user it ran as
            continue
        if u.kind is Instruction.RUN and not any(i == j for i, _ in busts):
            if not after and _sets_up(u):
                before.append(_step_text(u))
            else:
                after.append(_step_text(u))
            continue
        if u.kind is not Instruction.RUN:
            after.append(_step_text(u))
            continue
        moved: list[str] = []
        kept: list[str] = []
        other = False  # a command that is no install, index update or cleanup
        for c in split_commands(u.text):
            inst = install_of(c)
            inner = unwrap(c)
            text = " ".join([*(f"{k}={v}" for k, v in inner.env), *inner.argv])
            install = inst is not None and (j, inst.command) in bust_cmds
            if (install and inst is not None and not inst.needs_source) or _index_update(inner):
                moved.append(text)
            else:
                if inst is not None and inst.needs_source and inst.ecosystem in DEPENDENCY_STEP:
                    before.append(f"RUN {DEPENDENCY_STEP[inst.ecosystem]}")
                    moved_any = True
                other = other or not _housekeeping(inner)
                kept.append(text)
        moved_any = moved_any or bool(moved)
        if moved and not other:
            before.append(_step_text(u))  # installs and cleanups only: the RUN moves
        elif moved:  # installs, then a build: the installs go first, the rest stays
            before.append("RUN " + short(" && ".join(moved), 100))
            after.append("RUN " + short(" && ".join(kept), 100))
            split = True
        else:
            after.append(_step_text(u))
    ordered = [*dict.fromkeys(before), _step_text(copy), *after]
    return ordered, split, moved_any


_INDEX = {"apt-get": "update", "apt": "update", "apk": "update", "dnf": "makecache",
          "yum": "makecache"}  # fmt: skip
_HOUSEKEEPING = frozenset(
    {"set", "true", ":", "rm", "echo", "mkdir", "cd", "export", "ln", "printf", "test", "["}
)


def _index_update(c: SimpleCommand) -> bool:
    return len(c.argv) > 1 and _INDEX.get(c.name) == c.argv[1]


def _housekeeping(c: SimpleCommand) -> bool:
    """A command that moves with the installs it follows: shell plumbing, a cache clean."""
    sub = c.argv[1] if len(c.argv) > 1 else ""
    return c.name in _HOUSEKEEPING or is_clean_subcommand(c.name, sub)


def _copy_paths(copy: Unit) -> tuple[tuple[str, ...], int]:
    """What the early COPY brought in: its directory, then its files (image only)."""
    if not copy.files:
        return (), 0
    files = sorted("/" + f.lstrip("/") for f in copy.files)
    top = posixpath.commonpath([posixpath.dirname(f) for f in files])
    head = [top] if top != "/" else []
    return (*head, *files[: max(0, TOP_PATHS - len(head))]), len(files)


def bust_context(units: Sequence[Unit], path: str = "") -> Iterator[Finding]:
    """LS501 over one stage's units.

    An install before the source COPY that reads the project's manifests
    (``COPY package*.json ./`` then ``RUN npm ci``: the manifest-first
    pattern) makes later installs of its ecosystem fine; one of named
    packages only (``pip install --upgrade pip``) does not.
    """
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
                if not inst.named:
                    installed.add(inst.ecosystem)
            elif inst.system or inst.ecosystem not in installed:
                busts.append((i, inst))
    if not busts:
        return
    copy = units[src]
    size, count = cost(units, src + 1)
    first = units[busts[0][0]]
    install_bytes = sum(units[i].bytes for i in sorted({i for i, _ in busts}))
    ecos = sorted({inst.ecosystem for _, inst in busts})
    deps = [inst for _, inst in busts if not inst.system]
    files = _manifest_files(copy, deps)
    ordered, split, moved_any = _reordered(units, src, busts, files)
    fix = "Install the dependencies before the source is copied, every other step kept: " + (
        "; ".join(ordered)
    )
    if not moved_any:
        fix = (
            f"No automatic reorder is proposed: {', '.join(ecos)} has no step that fetches "
            "or builds the dependencies from the manifests alone. Build them once against "
            "a stub of the source (for cargo: cargo-chef, or an empty src/main.rs built "
            "before the COPY of the source), or keep their downloads in a cache mount"
        )
    if split:
        fix += (
            ". Splitting the RUN puts what the install made in a layer of its own, where a "
            "later rm can no longer free it: to keep it out of the image, build in a "
            "separate stage and copy only the build output into the final one"
        )
    message = (
        f"{copy.where()} copies the source before the dependency install {first.where()}: "
        f"every source change rebuilds {rebuilt(units, size, count)}, the install included"
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
    paths, path_count = _copy_paths(copy)
    finding = _finding(
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
    yield dataclasses.replace(finding, paths=paths, path_count=path_count)


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
            size, count, use = needless(
                units,
                i + 1,
                functools.partial(_uses_variable, name),
            )
            if count == 0:
                continue
            where = "the step that uses it" if use is not None else "the end of the stage"
            message = (
                f"{u.where()} sets {name}, a value that changes from build to build, before "
                f"steps that do not use it: each new value rebuilds {rebuilt(units, size, count)}"
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
        remote = [s for s in u.sources if URL.match(s) or re.fullmatch(r"[0-9a-f]{32,}", s)]
        if not remote or (u.step is not None and u.step.flag("checksum") is not None):
            continue
        dest = u.dest.rstrip("/") or "/"
        size, count, use = needless(units, i + 1, functools.partial(_uses_path, dest))
        if count == 0:
            continue
        url = remote[0] if URL.match(remote[0]) else "a remote URL"
        message = (
            f"{u.where()} downloads {url} before steps that do not use it: the builder "
            "fetches the URL on every build, and when its content changes it rebuilds "
            f"{rebuilt(units, size, count)}"
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


def _merged_runs(group: Sequence[Unit], runs: Sequence[Unit]) -> str:
    """LS505's fix: the RUNs as they are, and the one RUN that replaces them, whole
    (a fix is pasted, so nothing is cut)."""
    scripts = [" ".join(g.text.replace("\\\n", " ").split()) for g in runs]
    steps = [g.step for g in runs if g.step is not None]
    if any(s.json is not None or s.heredocs for s in steps) or any(
        s.startswith("[") for s in scripts
    ):
        return (
            "Merge them into one RUN, joining their commands with && (one of them is in "
            "exec form or has a heredoc, so the joined text is not written out here)"
        )
    flags = list(dict.fromkeys(f for s in steps for f in s.flags))
    names = [f.split("=", 1)[0] for f in flags if not f.startswith("--mount")]
    if len(names) != len(set(names)):
        return (
            "Merge them into one RUN, joining their commands with && (their flags "
            f"differ: {' '.join(flags)}; choose the merged RUN's by hand)"
        )
    lead = "".join(f"{f} " for f in flags)
    scripts_as_written = [
        "".join(f"{f} " for f in g.step.flags) + s if g.step is not None else s
        for g, s in zip(runs, scripts, strict=True)
    ]
    between = [g for g in group if g.kind is not Instruction.RUN]
    where = (
        f" (the {', '.join(sorted({g.kind.value for g in between}))} lines between them "
        "go above it)"
        if between
        else ""
    )
    joined = lead + " && ".join(scripts)
    removed = "\n".join(f"-RUN {s}" for s in scripts_as_written)
    return f"Merge them into one RUN{where}:\n{removed}\n+RUN {joined}"


def run_chains(units: Sequence[Unit], path: str = "", minimum: int = 3) -> Iterator[Finding]:
    """LS505 over one stage's units."""
    group: list[Unit] = []
    topic = ""

    def flush() -> Iterator[Finding]:
        runs = [g for g in group if g.kind is Instruction.RUN]
        own = [g for g in runs if concern(g.text) == topic]
        if len(runs) >= minimum and len(own) >= 2:
            size = sum(g.bytes for g in runs)
            fix = _merged_runs(group, runs)
            message = (
                f"{len(runs)} consecutive RUNs from {runs[0].where()} do one job ({topic}): "
                f"{len(runs)} layers where one would do, and a cleanup in a later RUN "
                "cannot shrink the earlier layers"
            )
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


DETECTORS = (bust_context, update_alone, volatile_early, remote_add_early, run_chains)
