"""``layerscope fix --verify``: build the original and the patched Dockerfile and measure.

Three questions, answered with the real engine (the ``docker`` client, with
``DOCKER_BUILDKIT`` set for the chosen builder):

1. How many image bytes does each fix save? The original is built, then the
   Dockerfile with each fix alone, then with all of them; each image is read
   and analyzed like any other, and the totals compared.
2. Does a source-only change still rebuild the dependency install? A source
   file (never a manifest) is touched in a copy of the build context, both
   Dockerfiles are built again, and the steps the builder took from its cache
   are counted from its output (classic: ``---> Using cache``; BuildKit with
   ``--progress=plain``: ``#N CACHED``).
3. Does the patched Dockerfile still build? A failing build is reported with
   the end of its log.

The context is copied to a temporary directory first: the user's files are
never touched. Images are tagged ``layerscope-verify/<name>:<n>`` and the tags
are removed at the end unless ``keep`` is set.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from layerscope.analysis import Analysis, analyze
from layerscope.dockerfile.layer_map import map_image
from layerscope.dockerfile.parser import Dockerfile, parse
from layerscope.errors import LayerscopeError, UsageError
from layerscope.fix.model import Evidence, Fix
from layerscope.fix.planner import KINDS, apply, plan
from layerscope.rules.common import short
from layerscope.rules.order_units import busting_copy, stage_units
from layerscope.shell.ecosystems import installs, is_manifest

__all__ = ["BuildError", "Rebuild", "Verification", "build", "verify"]

BUILD_TIMEOUT = 1800
# Source files a comment can be appended to without changing what they do.
_COMMENTS = {
    **dict.fromkeys((".py", ".sh", ".rb", ".yaml", ".yml", ".toml", ".cfg", ".ini"), "# {}"),
    **dict.fromkeys((".js", ".mjs", ".ts", ".go", ".java", ".rs", ".c", ".h", ".php"), "// {}"),
    **dict.fromkeys((".css",), "/* {} */"),
    **dict.fromkeys((".html", ".md"), "<!-- {} -->"),
}
_TOUCH_NAME = "layerscope-touch-{}.txt"


class BuildError(LayerscopeError):
    """A build failed; the message ends with the last lines of its log."""

    exit_code = 1
    multiline = True


@dataclass(frozen=True, slots=True)
class Built:
    """One build: the image tag, the steps it ran and those it took from cache."""

    tag: str
    steps: tuple[str, ...]
    cached: tuple[str, ...]
    log: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class Rebuild:
    """A build after a source-only change: steps, cached steps, dependency reuse."""

    steps: int
    cached: int
    dependency_steps: int
    dependency_cached: bool


@dataclass(frozen=True, slots=True)
class FixSaving:
    """The image bytes one fix saves on its own (original total - total with it).

    ``steps`` explain a measured saving that differs from the prediction: the
    steps the fix left alone whose layers hold other bytes when rebuilt, as
    (step, original bytes - rebuilt bytes), biggest first, then ``("", n)``:
    the bytes the steps the fix changed saved; empty when the saving is as
    predicted.
    """

    fix: Fix
    total_bytes: int
    saved_bytes: int
    steps: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Verification:
    """What the engine said about a patch."""

    builder: str
    original_bytes: int
    patched_bytes: int
    fixes: tuple[FixSaving, ...]
    touched: str
    original_rebuild: Rebuild
    patched_rebuild: Rebuild

    @property
    def saved_bytes(self) -> int:
        return self.original_bytes - self.patched_bytes


def _env(builder: str) -> dict[str, str]:
    if builder not in ("classic", "buildkit"):
        raise UsageError(f"unknown builder {builder!r} (choose classic or buildkit)")
    return {**os.environ, "DOCKER_BUILDKIT": "1" if builder == "buildkit" else "0"}


_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : (.*)$")
_BUILDKIT_STEP = re.compile(r"^#(\d+) \[(?:[^\]]*?\s)?\d+/\d+\] (.*)$")
_BUILDKIT_CACHED = re.compile(r"^#(\d+) CACHED$")


def _step_of(line: str, builder: str) -> str | None:
    """The Dockerfile step a build log line starts, or None."""
    if builder == "buildkit":
        m = _BUILDKIT_STEP.match(line)
        return m.group(2) if m else None
    m = _CLASSIC_STEP.match(line)
    return m.group(1) if m else None


def parse_build_log(log: str, builder: str) -> tuple[list[str], list[str]]:
    """The steps a build ran and the steps it took from cache, from its output."""
    steps: list[str] = []
    cached: list[str] = []
    if builder == "classic":
        current = None
        for line in log.splitlines():
            m = _CLASSIC_STEP.match(line)
            if m:
                current = m.group(1).strip()
                if not current.upper().startswith("FROM "):
                    steps.append(current)
                else:
                    current = None
            elif current is not None and line.strip() == "---> Using cache":
                cached.append(current)
        return steps, cached
    names: dict[str, str] = {}
    for line in log.splitlines():
        m = _BUILDKIT_STEP.match(line)
        if m and not m.group(2).upper().startswith("FROM "):
            if m.group(1) not in names:
                names[m.group(1)] = m.group(2).strip()
                steps.append(m.group(2).strip())
            continue
        c = _BUILDKIT_CACHED.match(line)
        if c and c.group(1) in names:
            cached.append(names[c.group(1)])
    return steps, cached


def build(
    text: str,
    context: str,
    tag: str,
    *,
    builder: str,
    docker: str = "docker",
    network: str | None = None,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Built:
    """Build Dockerfile ``text`` in ``context`` as ``tag``; raise BuildError on failure.

    ``on_step`` hears each Dockerfile step as the build starts it (for progress)."""
    with tempfile.TemporaryDirectory(prefix="layerscope-df-") as tmp:
        path = os.path.join(tmp, "Dockerfile")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        argv = [docker, "build", "-f", path, "-t", tag]
        if builder == "buildkit":
            argv.append("--progress=plain")
        if network:
            argv.extend(["--network", network])
        if target:
            argv.extend(["--target", target])
        for key, value in (build_args or {}).items():
            argv.extend(["--build-arg", f"{key}={value}"])
        argv.append(context)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_env(builder),
            )
        except FileNotFoundError:
            raise UsageError(f"--verify needs a Docker client: {docker!r} not found") from None
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(BUILD_TIMEOUT, stop)
        timer.start()
        lines: list[str] = []
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:  # the log as it comes, so progress can name the step
                line = raw.decode(errors="replace")
                lines.append(line)
                step = _step_of(line.rstrip("\n"), builder)
                if step is not None and on_step is not None:
                    on_step(step)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if timed_out.is_set():
            raise BuildError(f"docker build of {tag} timed out after {BUILD_TIMEOUT}s")
    log = "".join(lines)
    if proc.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise BuildError(f"docker build of {tag} failed (exit {proc.returncode}):\n{tail}")
    steps, cached = parse_build_log(log, builder)
    return Built(tag, tuple(steps), tuple(cached), log)


def _remove(tags: Sequence[str], docker: str) -> None:
    if tags:
        subprocess.run(
            [docker, "rmi", *tags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )


def _ignored(context: str) -> list[tuple[bool, re.Pattern[str]]]:
    """The context's .dockerignore patterns, as Docker matches them: ``*`` and ``?``
    within one path part, ``**`` across parts, a leading ``/`` ignored, and a
    ``!`` line taking back what earlier lines left out (True: an exception)."""
    try:
        with open(os.path.join(context, ".dockerignore"), encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except OSError:
        return []
    out = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip().strip("/"))
        if pattern in (".", ""):
            continue
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        out.append((negated, re.compile(regex + r"\Z")))
    return out


def _is_ignored(rel: str, ignored: Sequence[tuple[bool, re.Pattern[str]]]) -> bool:
    """True when the last pattern that matches ``rel`` or a directory above it
    leaves it out (Docker leaves a whole ignored directory out)."""
    parts = rel.replace(os.sep, "/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    out = False
    for negated, p in ignored:
        if any(p.match(prefix) for prefix in prefixes):
            out = not negated
    return out


def pick_source_file(context: str, under: str = "") -> str:
    """A source file (not a manifest, not ignored) to change; '' when there is none."""
    ignored = _ignored(context)
    exceptions = any(negated for negated, _ in ignored)
    root = os.path.join(context, under)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and (
                exceptions  # a ! line may take back a file inside an ignored directory
                or not _is_ignored(os.path.relpath(os.path.join(dirpath, d), context), ignored)
            )
        )
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), context)
            if _is_ignored(rel, ignored):
                continue
            if name.startswith(("Dockerfile", ".")) or is_manifest(name):
                continue
            if os.path.islink(os.path.join(dirpath, name)):
                continue  # appending would write wherever the link points
            if os.path.splitext(name)[1] in _COMMENTS:
                return rel
    return ""


def _copy_special(src: str, dst: str) -> None:
    """Copy one context entry: a regular file with its metadata, a named pipe as a
    new pipe (reading one would wait for a writer for ever); sockets and devices
    are left out."""
    mode = os.lstat(src).st_mode
    if stat.S_ISREG(mode):
        shutil.copy2(src, dst)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(dst, stat.S_IMODE(mode))


def _copy_context(context: str, dst: str) -> None:
    """The build context copied for the builds (symlinks as symlinks); a file that
    cannot be read is a usage error, not a traceback."""
    try:
        shutil.copytree(context, dst, symlinks=True, copy_function=_copy_special)
    except shutil.Error as e:
        first = e.args[0][0] if e.args and e.args[0] else ("", "", str(e))
        raise UsageError(f"--context {context}: cannot copy {first[0]}: {first[2]}") from None
    except OSError as e:
        raise UsageError(f"--context {context}: cannot copy it: {e}") from None


def _touch(context: str, under: str) -> str:
    """Change one source file in the context copy (a comment with a fresh nonce, so
    no earlier build's cache can match), or add a new file when none fits."""
    nonce = f"layerscope verify {uuid.uuid4().hex}"
    under = _context_dir(context, under)  # a COPY source may be a file or a glob
    rel = pick_source_file(context, under)
    if not rel:
        name = _TOUCH_NAME.format(uuid.uuid4().hex[:12])
        rel = os.path.join(under, name) if under else name
        line = nonce
    else:
        line = _COMMENTS[os.path.splitext(rel)[1]].format(nonce)
    with open(os.path.join(context, rel), "a", encoding="utf-8") as f:
        f.write(f"\n{line}\n")
    return rel


def _dependency_steps(df: Dockerfile, built: Built, target: str | None = None) -> list[str]:
    """The build's RUN steps that install dependencies (by their text), in the
    stages the target needs (the classic builder also runs the others)."""
    from layerscope.stages import roles

    needed = roles(df, target).built
    wanted = [
        s
        for stage in df.stages
        if stage.index in needed
        for s in stage.steps
        if s.kind.value == "RUN" and installs(s.script)
    ]
    keys = [" ".join(s.args.split())[:60] for s in wanted]
    return [step for step in built.steps if any(k and k in " ".join(step.split()) for k in keys)]


def _rebuild(df: Dockerfile, built: Built, target: str | None = None) -> Rebuild:
    deps = _dependency_steps(df, built, target)
    return Rebuild(
        steps=len(built.steps),
        cached=len(built.cached),
        dependency_steps=len(deps),
        dependency_cached=bool(deps) and all(d in built.cached for d in deps),
    )


def verify(
    df: Dockerfile,
    context: str,
    *,
    builder: str = "classic",
    docker: str = "docker",
    network: str | None = None,
    target: str | None = None,
    fixes: Sequence[Fix] | None = None,
    kinds: Sequence[str] | None = None,
    read: Callable[[str], Analysis] | None = None,
    keep: bool = False,
    tag_prefix: str = "layerscope-verify/",
    progress: Callable[[str], None] = lambda _msg: None,
) -> tuple[Verification, list[Fix]]:
    """Build, measure and rebuild; returns the verification and the fixes verified.

    ``fixes`` default to those :func:`patch.plan` finds with the original
    build as evidence. ``read(tag)`` returns the analysis of a built image
    (default: read it from the engine and analyze it). Images are tagged
    ``<tag_prefix><hash of the Dockerfile>:<label>``.
    """
    if not os.path.isdir(context):
        raise UsageError(f"--context {context}: not a directory")
    reader = read or _read_engine
    name = hashlib.sha256(df.text.encode()).hexdigest()[:12]
    tags: list[str] = []
    with tempfile.TemporaryDirectory(prefix="layerscope-ctx-") as tmp:
        ctx = os.path.join(tmp, "context")
        _copy_context(context, ctx)

        def run(text: str, label: str) -> tuple[Built, Analysis]:
            tag = f"{tag_prefix}{name}:{label}"
            progress(f"building {label} ({builder})")
            built = build(
                text,
                ctx,
                tag,
                builder=builder,
                docker=docker,
                network=network,
                target=target,
                on_step=lambda step: progress(f"step {step}"),
            )
            tags.append(tag)
            return built, reader(tag)

        try:
            _, original = run(df.text, "original")
            if fixes is None:
                mapping = map_image(original.image, df, target)
                evidence = Evidence(original, mapping)
                fixes = plan(df, evidence, context=ctx, kinds=tuple(kinds or KINDS), target=target)
            patched_text = apply(df.text, fixes)
            patched_df = parse(patched_text, df.path)
            savings = []
            for n, fix in enumerate(fixes, 1):
                if len(fixes) == 1:
                    break
                _, one = run(apply(df.text, [fix]), f"fix{n}")
                savings.append(_fix_saving(fix, original, one))
            _, patched = run(patched_text, "patched")
            if len(fixes) == 1:
                savings = [_fix_saving(fixes[0], original, patched)]
            under = _source_dir(df, target)
            touched = _touch(ctx, under)
            progress(f"changed {touched}; building both again")
            again_original, _ = run(df.text, "original-rebuild")
            # A fresh change for the patched build too: else the stages both
            # files share (a builder stage) come from the rebuild just made.
            _touch(ctx, under)
            again_patched, _ = run(patched_text, "patched-rebuild")
        finally:
            if not keep:
                _remove(tags, docker)
    return (
        Verification(
            builder=builder,
            original_bytes=original.summary.total_bytes,
            patched_bytes=patched.summary.total_bytes,
            fixes=tuple(savings),
            touched=touched,
            original_rebuild=_rebuild(df, again_original, target),
            patched_rebuild=_rebuild(patched_df, again_patched, target),
        ),
        list(fixes),
    )


def _fix_saving(fix: Fix, original: Analysis, rebuilt: Analysis) -> FixSaving:
    saved = original.summary.total_bytes - rebuilt.summary.total_bytes
    steps = _step_changes(original, rebuilt) if fix.bytes and saved != fix.bytes else ()
    return FixSaving(fix, rebuilt.summary.total_bytes, saved, steps)


def _steps(a: Analysis) -> list[tuple[str, str, int]]:
    """(history text, the step as people read it, content bytes) of each layer."""
    out = []
    for n, (layer, stats) in enumerate(zip(a.image.layers, a.layers, strict=True)):
        h = a.image.layer_history(layer)
        if h is None:
            out.append((f"layer {n}", f"layer {n}", stats.content_bytes))
        else:
            label = f"{h.parsed.instruction.value} {short(h.parsed.args, 50)}"
            out.append((h.created_by, label, stats.content_bytes))
    return out


def _step_changes(original: Analysis, rebuilt: Analysis) -> tuple[tuple[str, int], ...]:
    """Where a measured saving differs from the predicted one: each step the fix
    left alone whose layer holds other bytes when rebuilt (a log with other
    timings, a newer package), as (step, original bytes - rebuilt bytes); then
    the steps the fix changed, together, as ``("", bytes)``."""
    a, b = _steps(original), _steps(rebuilt)
    matcher = difflib.SequenceMatcher(None, [t[0] for t in a], [t[0] for t in b], autojunk=False)
    out: list[tuple[str, int]] = []
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            i, j = block.a + k, block.b + k
            matched_a.add(i)
            matched_b.add(j)
            if a[i][2] != b[j][2]:
                out.append((a[i][1], a[i][2] - b[j][2]))
    changed = sum(t[2] for i, t in enumerate(a) if i not in matched_a) - sum(
        t[2] for j, t in enumerate(b) if j not in matched_b
    )
    out.sort(key=lambda item: -abs(item[1]))
    return (*out, ("", changed))


def _source_dir(df: Dockerfile, target: str | None) -> str:
    """The context directory the busting source COPY of the target copies."""
    steps = df.chain(target)
    index = busting_copy(stage_units(steps))
    if index is None:
        return ""
    ops = steps[index].operands()
    source = ops[0] if len(ops) == 2 else "."
    source = posixpath.normpath(source.strip("/"))
    if source == "." or any(c in source for c in "*?[") or source.startswith(".."):
        return ""  # the whole context, a glob (``src*``) or outside it: the root
    return source


def _context_dir(context: str, under: str) -> str:
    """``under`` when it is a directory of the context, else '' (its root)."""
    if not under:
        return ""
    path = os.path.realpath(os.path.join(context, under))
    root = os.path.realpath(context)
    if path != root and path.startswith(root + os.sep) and os.path.isdir(path):
        return under
    return ""


def _read_engine(tag: str) -> Analysis:
    from layerscope.sources import open_image
    from layerscope.sources.interface import SourceOptions

    return analyze(open_image(tag, source="docker", options=SourceOptions()))


def _saving(s: FixSaving) -> str:
    """One fix's measured saving, next to what the first image predicted."""
    line = f"  line {s.fix.line} {s.fix.kind}: saves {s.saved_bytes} bytes"
    if not s.fix.bytes:
        return line
    if s.fix.bytes == s.saved_bytes:
        return line + " (as predicted)"
    gap = s.saved_bytes - s.fix.bytes
    others = [(step, n) for step, n in s.steps if step]
    if others:
        shown = "; ".join(f"{step} {'+' if n > 0 else ''}{n}" for step, n in others[:3])
        changed = sum(n for step, n in s.steps if not step)
        why = (
            f"the patched step(s) saved {changed} bytes; steps the fix did not change "
            f"wrote other bytes when rebuilt (logs with other timings, newer versions): {shown}"
        )
    else:
        why = (
            "the rebuilt steps wrote other bytes than in the first build, such as fresh package "
            "lists, logs or newer package versions"
        )
    return f"{line} (predicted {s.fix.bytes}, {'+' if gap > 0 else ''}{gap}: {why})"


def report(v: Verification) -> str:
    """The verification for people (plain text lines)."""
    lines = [
        f"verify ({v.builder} builder): original {v.original_bytes} bytes, patched "
        f"{v.patched_bytes} bytes, saved {v.saved_bytes} bytes",
    ]
    lines.extend(_saving(s) for s in v.fixes)
    for label, r in (("original", v.original_rebuild), ("patched", v.patched_rebuild)):
        reuse = "dependency install " + ("reused" if r.dependency_cached else "rebuilt")
        if r.dependency_steps == 0:
            reuse = "no dependency install to reuse"
        lines.append(
            f"  after changing {v.touched}: {label} took {r.cached} of {r.steps} steps from "
            f"cache; {reuse}"
        )
    return "\n".join(lines) + "\n"
