"""Dockerfiles: parsed the way BuildKit parses them, into stages and steps.

The parser follows BuildKit's (``frontend/dockerfile/parser``) line rules, so
the line numbers it reports are the ones a build error would name:

* parser directives (``# escape=`` and ``# syntax=``) before anything else;
  the escape character is ``\\`` or a backtick;
* a line ending in the escape character continues on the next line;
  comment lines and empty lines inside a continuation are dropped, and
  continuation lines keep their leading whitespace;
* here-documents (``<<EOF``, ``<<-EOF``, ``<<"EOF"``) on RUN, COPY and ADD;
  their bodies follow the instruction line and end at the terminator;
* leading ``--flag`` words (``--mount``, ``--chown``, ``--link``, ``--from``)
  are split from the arguments; JSON (exec) form is recognised;
* multi-stage ``FROM image AS name``; ``ARG`` before the first ``FROM`` is
  global; ``${VAR}``, ``$VAR``, ``${VAR:-x}`` and ``${VAR:+x}`` are
  substituted where the builder substitutes them (not in RUN).

The line rules are in :mod:`layerscope.dockerfile.lines`, the word rules and
``$VAR`` expansion in :mod:`layerscope.dockerfile.words`, and the pairing of
image layers with instructions in :mod:`layerscope.dockerfile.layer_map`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from layerscope.dockerfile.lines import (
    MAX_DOCKERFILE_BYTES,
    DockerfileError,
    Heredoc,
    LineReader,
    quote,
)
from layerscope.dockerfile.words import (
    HEREDOC,
    env_pairs,
    expand,
    split_flags,
    split_words,
    unquote,
)
from layerscope.history import exec_form_args
from layerscope.model import Instruction

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Stage",
    "Step",
    "load",
    "parse",
]

_KINDS = {i.value: i for i in Instruction if i not in (Instruction.UNKNOWN,)}
# Instructions whose arguments the builder expands ($VAR) before using them.
_EXPANDS = frozenset(
    {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
)
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})


@dataclass(frozen=True, slots=True)
class Step:
    """One Dockerfile instruction.

    ``args`` is the argument text after the flags, continuation lines joined
    as BuildKit joins them; ``expanded`` the same with variables substituted
    where the builder would substitute them (unknown ones left as written).
    ``json`` holds the strings of the JSON (exec) form. ``line`` and
    ``end_line`` are 1-based and cover heredoc bodies. ``stage`` is the index
    of the stage the step belongs to (-1 for a global ARG).
    """

    keyword: str
    kind: Instruction
    args: str
    line: int
    end_line: int
    stage: int
    flags: tuple[str, ...] = ()
    json: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()
    expanded: str = ""
    env: tuple[tuple[str, str], ...] = ()  # variables in scope (ARG and ENV), in order

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (``""`` for a bare ``--name``), or None."""
        for f in self.flags:
            key, sep, value = f.partition("=")
            if key == "--" + name:
                return value if sep else ""
        return None

    @property
    def script(self) -> str:
        """For RUN, the shell script it runs: heredoc bodies included.

        ``RUN <<EOF`` runs the body itself; ``RUN cat <<EOF >f`` runs the line
        with the body as its here-document, so both are given as shell text.
        """
        if self.json is not None:
            return " ".join(self.json)
        if not self.heredocs:
            return self.args
        if HEREDOC.fullmatch(self.args.strip()) and len(self.heredocs) == 1:
            return self.heredocs[0].content
        parts = [self.args]
        for doc in self.heredocs:
            parts.append(doc.content.rstrip("\n"))
            parts.append(doc.name)
        return "\n".join(parts)

    def operands(self) -> list[str]:
        """COPY/ADD sources and destination (last), variables expanded, quotes removed."""
        if self.json is not None:
            return [expand(w, dict(self.env)) for w in self.json]
        return [unquote(w) for w in split_words(self.expanded)]


@dataclass(frozen=True, slots=True)
class Stage:
    """One ``FROM`` and its steps. ``base`` is the expanded image or stage name."""

    index: int
    name: str
    base: str
    line: int
    steps: tuple[Step, ...]
    parent: int | None = None  # the stage this one builds on (FROM <stage>)
    platform: str = ""


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile: stages in order, global ARGs, parse warnings."""

    path: str
    text: str
    stages: tuple[Stage, ...]
    global_args: tuple[Step, ...] = ()
    escape: str = "\\"
    warnings: tuple[str, ...] = ()

    @property
    def lines(self) -> list[str]:
        """The file's lines, newlines kept (line N is ``lines[N - 1]``)."""
        return self.text.splitlines(keepends=True)

    def steps(self) -> Iterator[Step]:
        """Every step of every stage, in file order (global ARGs first)."""
        yield from self.global_args
        for stage in self.stages:
            yield from stage.steps

    def stage_named(self, name: str) -> Stage | None:
        """The stage called ``name`` (or numbered ``name``), if any."""
        key = name.lower()
        for stage in self.stages:
            if stage.name and stage.name == key:
                return stage
        if key.isdigit() and int(key) < len(self.stages):
            return self.stages[int(key)]
        return None

    def target(self, name: str | None = None) -> Stage:
        """The stage a build of ``--target name`` (default: the last) produces."""
        if name is None:
            return self.stages[-1]
        stage = self.stage_named(name)
        if stage is None:
            raise DockerfileError(f"{self.path}: no build stage named {quote(name)!r}")
        return stage

    def chain(self, target: str | None = None) -> list[Step]:
        """The steps whose history the target image carries, oldest first.

        A stage ``FROM`` another stage of this file inherits that stage's
        history, so its steps come first.
        """
        stage: Stage | None = self.target(target)
        stages: list[Stage] = []
        while stage is not None and stage not in stages:
            stages.append(stage)
            stage = None if stages[-1].parent is None else self.stages[stages[-1].parent]
        return [step for s in reversed(stages) for step in s.steps]


# -- parsing ------------------------------------------------------------------


def load(path: str) -> Dockerfile:
    """Read and parse the Dockerfile at ``path``: a regular file of at most
    :data:`MAX_DOCKERFILE_BYTES`, read once (``/dev/zero``, a FIFO or a huge
    file is refused before it is read)."""
    shown = quote(path, 200)
    try:
        # O_NONBLOCK: a FIFO must not block the open; fstat is the check that counts.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise DockerfileError(f"cannot read Dockerfile {shown}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DockerfileError(f"{shown}: the Dockerfile is not a regular file")
        os.set_blocking(fd, True)
        try:
            raw = f.read(MAX_DOCKERFILE_BYTES + 1)  # /proc files claim size 0: read, bounded
        except OSError as e:
            raise DockerfileError(f"cannot read Dockerfile {shown}: {e.strerror}") from None
    if len(raw) > MAX_DOCKERFILE_BYTES:
        raise DockerfileError(
            f"{shown}: Dockerfile larger than {MAX_DOCKERFILE_BYTES >> 20} MiB (not a Dockerfile?)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DockerfileError(f"{shown}: not a UTF-8 text file") from None
    return parse(text, path)


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile ``text``; raises :class:`DockerfileError` where BuildKit would."""
    parser = LineReader(text, path)
    steps = parser.run()
    if not steps:
        raise DockerfileError(f"{path}: file with no instructions")
    return _build(path, text, steps, parser.escape, parser.warnings)


@dataclass(slots=True)
class _Open:
    """The stage being read."""

    index: int
    name: str
    base: str
    line: int
    parent: int | None
    platform: str
    steps: list[Step] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def close(self) -> Stage:
        return Stage(
            self.index,
            self.name,
            self.base,
            self.line,
            tuple(self.steps),
            self.parent,
            self.platform,
        )


def _build(
    path: str,
    text: str,
    raw: list[tuple[str, int, int, list[Heredoc]]],
    escape: str,
    warnings: list[str],
) -> Dockerfile:
    global_args: list[Step] = []
    global_env: dict[str, str] = {}
    stages: list[Stage] = []
    current: _Open | None = None
    for line, start, end, docs in raw:
        keyword, flags, args = split_flags(line)
        kind = _KINDS.get(keyword, Instruction.UNKNOWN)
        if kind is Instruction.FROM:
            if current is not None:
                stages.append(current.close())
            words = split_words(expand(args, global_env))
            base = unquote(words[0]) if words else ""  # a tag keeps its case
            named = len(words) >= 3 and words[1].lower() == "as"
            # Stage names are case-insensitive (stored lower-cased); image names are not.
            parent = next((s.index for s in stages if base.lower() in (s.name, str(s.index))), None)
            platform = next((f.partition("=")[2] for f in flags if f.startswith("--platform")), "")
            current = _Open(
                len(stages),
                unquote(words[2]).lower() if named else "",
                base,
                start,
                parent,
                platform,
                env=dict(_inherited_env(stages, parent)),
            )
            continue
        if current is None and kind is not Instruction.ARG:
            raise DockerfileError(f"{path}:{start}: {quote(keyword)} before the first FROM")
        scope = global_env if current is None else current.env
        jlist = exec_form_args(args) if keyword in _JSON_FORMS else None
        step = Step(
            keyword=keyword,
            kind=kind,
            args=args,
            line=start,
            end_line=end,
            stage=-1 if current is None else current.index,
            flags=tuple(flags),
            json=None if jlist is None else tuple(jlist),
            heredocs=tuple(docs),
            expanded=expand(args, scope) if keyword in _EXPANDS else args,
            env=tuple(scope.items()),
        )
        if kind is Instruction.ARG:
            for word in split_words(args):
                key, sep, value = word.partition("=")
                key = unquote(key)
                if sep:
                    scope[key] = expand(unquote(value), scope)
                elif current is not None and key in global_env:
                    scope[key] = global_env[key]
        elif kind is Instruction.ENV and current is not None:
            scope.update(env_pairs(step.expanded))
        if current is None:
            global_args.append(step)
        else:
            current.steps.append(step)
    if current is None:
        raise DockerfileError(f"{path}: no FROM instruction")
    stages.append(current.close())
    return Dockerfile(path, text, tuple(stages), tuple(global_args), escape, tuple(warnings))


def _inherited_env(stages: list[Stage], parent: int | None) -> list[tuple[str, str]]:
    """ENV of the parent stage (ARGs do not carry over)."""
    if parent is None:
        return []
    env: list[tuple[str, str]] = []
    for step in stages[parent].steps:
        if step.kind is Instruction.ENV:
            env.extend(env_pairs(step.expanded))
    return env


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
