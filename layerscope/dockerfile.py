"""Dockerfiles: parsed the way BuildKit parses them, and mapped onto image layers.

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

:func:`map_image` pairs every history entry of an image with the
instruction that made it (final stage, through any stages it builds on), by
instruction kind and text, tolerating build-arg expansion and the classic
builder's ``COPY dir:<hash> in /dst`` form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from layerscope.errors import ConfigError
from layerscope.history import exec_form_args, hides_heredoc
from layerscope.model import History, Image, Instruction
from layerscope.rules.base import Finding

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "LayerMap",
    "Stage",
    "Step",
    "expand",
    "load",
    "locate",
    "map_image",
    "parse",
]

_KINDS = {i.value: i for i in Instruction if i not in (Instruction.UNKNOWN,)}
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z")
_HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)\Z")
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
# Instructions whose arguments the builder expands ($VAR) before using them.
_EXPANDS = frozenset(
    {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
)
_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
# COPY/ADD flags neither builder records in history.
_UNRECORDED_FLAGS = ("--from", "--link", "--exclude", "--checksum", "--keep-git-dir", "--parents")
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_UNKNOWN = "\x00"
_URL_HASH = re.compile(r"[0-9a-f]{32,}")  # the classic builder's ADD <url> source


class DockerfileError(ConfigError):
    """The Dockerfile is missing, unreadable or does not parse."""


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A here-document attached to an instruction.

    ``content`` is the body with its newlines; ``line`` its first body line
    and ``end_line`` the terminator's line (1-based). ``expand`` is false
    when the delimiter was quoted; ``chomp`` for ``<<-`` (leading tabs go).
    """

    name: str
    content: str
    expand: bool
    chomp: bool
    line: int
    end_line: int


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
        if _HEREDOC.fullmatch(self.args.strip()) and len(self.heredocs) == 1:
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
        return [_unquote(w) for w in _words(self.expanded)]


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
            raise DockerfileError(f"{self.path}: no build stage named {name!r}")
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


# -- expansion ----------------------------------------------------------------


def expand(text: str, env: Mapping[str, str], unknown: str | None = None) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR:+word}`` in ``text``.

    Like BuildKit's word expansion: nothing inside single quotes, and an
    escaped ``\\$`` stays literal. A variable not in ``env`` becomes
    ``unknown`` when given, else stays as written.
    """
    out: list[str] = []
    i = 0
    quote = ""
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and quote != "'":
            out.append(text[i : i + 2])
            i += 2
            continue
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        if c == "$" and quote != "'":
            m = _VAR.match(text, i)
            if m is not None:
                out.append(_substitute(m, env, unknown))
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _substitute(m: re.Match[str], env: Mapping[str, str], unknown: str | None) -> str:
    name = m["braced"] or m["bare"]
    value = env.get(name)
    op = m["op"] or ""
    if op:
        is_set = value is not None and (value != "" or ":" not in op)
        word = expand(m["word"], env, unknown)
        if op.endswith("-"):
            return value if is_set and value is not None else word
        return word if is_set else ""
    if value is not None:
        return value
    return m.group() if unknown is None else unknown


# -- parsing ------------------------------------------------------------------


def load(path: str) -> Dockerfile:
    """Read and parse the Dockerfile at ``path``."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DockerfileError(f"cannot read Dockerfile {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DockerfileError(f"{path}: not a UTF-8 text file") from None
    return parse(text, path)


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile ``text``; raises :class:`DockerfileError` where BuildKit would."""
    parser = _Parser(text, path)
    steps = parser.run()
    if not steps:
        raise DockerfileError(f"{path}: file with no instructions")
    return _build(path, text, steps, parser.escape, parser.warnings)


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.lines = text.removeprefix("\ufeff").splitlines(keepends=True)
        self.path = path
        self.escape = "\\"
        self.warnings: list[str] = []
        self._continuation = self._continuation_re()

    def _continuation_re(self) -> re.Pattern[str]:
        e = re.escape(self.escape)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")

    def _trim(self, line: str) -> tuple[str, bool]:
        m = self._continuation.search(line)
        if m is None:
            return line, True
        return line[: m.start()] + (m.group(1) or ""), False

    def _directive(self, line: str, state: dict[str, bool]) -> None:
        if state["done"]:
            return
        m = _DIRECTIVE.match(line)
        if m is None or m.group(1).lower() not in ("escape", "syntax"):
            state["done"] = True
            return
        key = m.group(1).lower()
        if state.get(key):
            raise DockerfileError(f"{self.path}: only one {key} parser directive can be used")
        state[key] = True
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise DockerfileError(f"{self.path}: invalid escape token {m.group(2)!r}")
            self.escape = m.group(2)
            self._continuation = self._continuation_re()

    def run(self) -> list[tuple[str, int, int, list[Heredoc]]]:
        out: list[tuple[str, int, int, list[Heredoc]]] = []
        lines = self.lines
        state = {"done": False}
        i = 0
        while i < len(lines):
            raw = lines[i].rstrip("\r\n")
            self._directive(raw, state)
            i += 1
            start = i
            text = raw.lstrip()
            if text.startswith("#"):
                text = ""
            line, end = self._trim(text)
            if end and not line:
                continue
            empty_continuation = False
            while not end and i < len(lines):
                nxt = lines[i].rstrip("\r\n")
                i += 1
                if nxt.lstrip().startswith("#"):
                    continue
                if not nxt.strip():
                    empty_continuation = True
                    continue
                part, end = self._trim(nxt)
                line += part
            if empty_continuation:
                self.warnings.append(f"line {start}: empty continuation line")
            docs: list[Heredoc] = []
            keyword = line.split(None, 1)[0].upper()
            if keyword in _HEREDOC_KEYWORDS and not _is_json(_split_flags(line)[2]):
                for name, expand_, chomp in _heredoc_marks(line):
                    body: list[str] = []
                    first = i + 1
                    while True:
                        if i >= len(lines):
                            raise DockerfileError(
                                f"{self.path}:{start}: unterminated heredoc {name!r}"
                            )
                        candidate = lines[i].rstrip("\r\n")
                        i += 1
                        if (candidate.lstrip("\t") if chomp else candidate) == name:
                            break
                        body.append(lines[i - 1])
                    content = "".join(body)
                    if chomp:
                        content = re.sub(r"(?m)^\t+", "", content)
                    docs.append(Heredoc(name, content, expand_, chomp, first, i))
            out.append((line, start, i, docs))
        return out


def _words(text: str) -> list[str]:
    """Whitespace-separated words, quotes kept, quoted spaces not splitting."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and quote != "'":
            buf.append(text[i : i + 2])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            buf.append(c)
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c.isspace():
            if buf:
                words.append("".join(buf))
                buf = []
        else:
            buf.append(c)
        i += 1
    if buf:
        words.append("".join(buf))
    return words


def _unquote(word: str) -> str:
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(word):
        c = word[i]
        if c == "\\" and i + 1 < len(word) and quote != "'":
            out.append(word[i + 1])
            i += 2
            continue
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _heredoc_marks(line: str) -> list[tuple[str, bool, bool]]:
    marks = []
    for word in _words(line):
        m = _HEREDOC.match(word)
        if m is None or not m.group(3):
            continue
        name = _unquote(m.group(3))
        if not name or len(_words(name)) != 1:
            continue
        marks.append((name, name == m.group(3), m.group(2) == "-"))
    return marks


def _split_flags(line: str) -> tuple[str, list[str], str]:
    """``RUN --mount=x cmd`` -> (``RUN``, [``--mount=x``], ``cmd``)."""
    parts = line.strip().split(None, 1)
    keyword = parts[0].upper()
    rest = parts[1] if len(parts) > 1 else ""
    flags: list[str] = []
    while rest.startswith("--"):
        words = _words(rest)
        if not words or words[0] == "--":
            break
        flags.append(_unquote(words[0]))
        m = re.match(r"\s*" + re.escape(words[0]) + r"\s*", rest)
        rest = rest[m.end() :] if m else ""
    return keyword, flags, rest


def _is_json(args: str) -> bool:
    return exec_form_args(args) is not None


def _env_pairs(args: str, legacy_ok: bool = True) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG argument text -> (name, value) pairs, values unquoted."""
    words = _words(args)
    if legacy_ok and words and "=" not in words[0] and len(words) > 1:
        return [(words[0], _unquote(args.strip()[len(words[0]) :].strip()))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        pairs.append((_unquote(key), _unquote(value) if sep else ""))
    return pairs


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
        keyword, flags, args = _split_flags(line)
        kind = _KINDS.get(keyword, Instruction.UNKNOWN)
        if kind is Instruction.FROM:
            if current is not None:
                stages.append(current.close())
            words = _words(expand(args, global_env))
            base = _unquote(words[0]) if words else ""  # a tag keeps its case
            named = len(words) >= 3 and words[1].lower() == "as"
            # Stage names are case-insensitive (stored lower-cased); image names are not.
            parent = next((s.index for s in stages if base.lower() in (s.name, str(s.index))), None)
            platform = next((f.partition("=")[2] for f in flags if f.startswith("--platform")), "")
            current = _Open(
                len(stages),
                _unquote(words[2]).lower() if named else "",
                base,
                start,
                parent,
                platform,
                env=dict(_inherited_env(stages, parent)),
            )
            continue
        if current is None and kind is not Instruction.ARG:
            raise DockerfileError(f"{path}:{start}: {keyword} before the first FROM")
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
            for word in _words(args):
                key, sep, value = word.partition("=")
                key = _unquote(key)
                if sep:
                    scope[key] = expand(_unquote(value), scope)
                elif current is not None and key in global_env:
                    scope[key] = global_env[key]
        elif kind is Instruction.ENV and current is not None:
            scope.update(_env_pairs(step.expanded))
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
            env.extend(_env_pairs(step.expanded))
    return env


# -- layer <-> instruction mapping --------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerMap:
    """Which Dockerfile step made each history entry (and so each layer).

    ``by_history`` maps an index into ``Image.history`` to the step;
    ``unmatched`` lists chain steps no history entry was paired with, and
    ``inexact`` the steps paired by instruction kind only (their text differs
    from the history's: the Dockerfile changed since the image was built).
    """

    dockerfile: Dockerfile
    by_history: Mapping[int, Step] = field(default_factory=dict)
    unmatched: tuple[Step, ...] = ()
    inexact: tuple[Step, ...] = ()

    def warnings(self) -> list[str]:
        """One line per doubt about the mapping, for stderr."""
        out: list[str] = []
        path = self.dockerfile.path
        if self.unmatched:
            lines = ", ".join(str(s.line) for s in self.unmatched)
            out.append(f"{path}: no layer or history entry matches line(s) {lines}")
        if self.inexact:
            lines = ", ".join(str(s.line) for s in self.inexact)
            out.append(
                f"{path}: line(s) {lines} differ from the image history (paired by "
                "instruction only): was the image built from this Dockerfile?"
            )
        return out

    def step_for_layer(self, image: Image, layer: int | None) -> Step | None:
        """The step that made layer ``layer`` of ``image``, if known."""
        if layer is None or not 0 <= layer < len(image.layers):
            return None
        h = image.layers[layer].history_index
        return None if h is None else self.by_history.get(h)

    def layer_for_step(self, image: Image, step: Step) -> int | None:
        """The layer ``step`` made, if it made one."""
        for hist, s in self.by_history.items():
            if s is step:
                for layer in image.layers:
                    if layer.history_index == hist:
                        return layer.index
        return None


_SKIP_STEP = 2
_SKIP_HISTORY = 2
_KIND_ONLY = 1


def map_image(image: Image, dockerfile: Dockerfile, target: str | None = None) -> LayerMap:
    """Pair the image's history entries with the Dockerfile steps that made them.

    The target stage's steps (and those of stages it builds ``FROM``) are the
    last entries of the history; the rest is the base image. Alignment is
    global over the steps and free over a leading run of history, scored by
    kind and text (see the module docstring).
    """
    steps = dockerfile.chain(target)
    history = list(image.history)
    build_args = _history_build_args(history)
    n, m = len(steps), len(history)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    move: list[list[int]] = [[0] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        cost[0][j] = 0.0
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + _SKIP_STEP
        move[i][0] = 1
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = cost[i - 1][j] + _SKIP_STEP
            how = 1
            if cost[i][j - 1] + _SKIP_HISTORY < best:
                best, how = cost[i][j - 1] + _SKIP_HISTORY, 2
            pair = _pair_cost(steps[i - 1], history[j - 1], build_args)
            if cost[i - 1][j - 1] + pair < best:
                best, how = cost[i - 1][j - 1] + pair, 3
            cost[i][j] = best
            move[i][j] = how
    pairs: dict[int, Step] = {}
    inexact: list[Step] = []
    i, j = n, m
    while i > 0:
        how = move[i][j]
        if how == 3:
            pairs[j - 1] = steps[i - 1]
            if _pair_cost(steps[i - 1], history[j - 1], build_args) > 0:
                inexact.append(steps[i - 1])
            i, j = i - 1, j - 1
        elif how == 2:
            j -= 1
        else:
            i -= 1
    matched = {id(s) for s in pairs.values()}
    unmatched = tuple(s for s in steps if id(s) not in matched)
    return LayerMap(dockerfile, dict(sorted(pairs.items())), unmatched, tuple(reversed(inexact)))


def locate(findings: Sequence[Finding], image: Image, mapping: LayerMap) -> list[Finding]:
    """Findings with ``location`` set to (Dockerfile path, line) of their layer's step.

    A finding that already has a location keeps it. A finding about a step
    that made no layer (an ARG) names its history entry in ``extra``
    (``history_index``).
    """
    out: list[Finding] = []
    for f in findings:
        hist = dict(f.extra).get("history_index")
        if hist is not None and hist.isdigit():
            step = mapping.by_history.get(int(hist))
        else:
            step = mapping.step_for_layer(image, f.layer)
        if step is not None and f.location is None:
            f = replace(f, location=(mapping.dockerfile.path, step.line))
        out.append(f)
    return out


def _history_build_args(history: Sequence[History]) -> dict[str, str]:
    args: dict[str, str] = {}
    for h in history:
        args.update(h.parsed.build_args)
    return args


def _norm(text: str) -> str:
    return " ".join(text.replace('"', "").replace("'", "").split())


def _matches(pattern: str, text: str) -> bool:
    """``pattern`` (normalised, ``_UNKNOWN`` marking unknown values) matches ``text``."""
    if _UNKNOWN not in pattern:
        return pattern == text
    regex = ".*?".join(re.escape(part) for part in pattern.split(_UNKNOWN))
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _pair_cost(step: Step, h: History, build_args: Mapping[str, str]) -> float:
    p = h.parsed
    if p.instruction is Instruction.UNKNOWN:
        return _KIND_ONLY + 1
    if p.instruction is not step.kind:
        return float("inf")
    env = {**dict(step.env), **build_args}
    if step.kind is Instruction.RUN:
        if hides_heredoc(p):
            return 0 if any(d.content.startswith("#!") for d in step.heredocs) else _KIND_ONLY
        texts = {_norm(p.args), _norm(f"{p.shell} {p.args}")}
        candidates = {step.script, step.args}
        if step.json is not None:
            candidates.add(" ".join(step.json))
        for c in candidates:
            pattern = _norm(expand(c, env, _UNKNOWN))
            if _norm(c) in texts or any(_matches(pattern, t) for t in texts):
                return 0
        return _KIND_ONLY
    if step.kind in (Instruction.COPY, Instruction.ADD):
        if p.source.startswith(("dir:", "file:", "multi:")) or _URL_HASH.fullmatch(p.source):
            ops = step.operands()
            dest = _norm(expand(ops[-1], env, _UNKNOWN)) if ops else ""
            return 0 if _matches(dest, _norm(p.dest)) else _KIND_ONLY
        ours = [f for f in step.flags if not f.startswith(_UNRECORDED_FLAGS)]
        theirs = [f for f in p.flags if not f.startswith(_UNRECORDED_FLAGS)]
        operands = _norm(expand(_strip_flags(step.args), env, _UNKNOWN))
        recorded = _norm(_strip_flags(p.args))
        if _matches(operands, recorded) and (not theirs or sorted(ours) == sorted(theirs)):
            return 0
        return _KIND_ONLY
    if step.kind is Instruction.ENV:
        ours_env = " ".join(f"{k}={v}" for k, v in _env_pairs(expand(step.args, env, _UNKNOWN)))
        return 0 if _matches(_norm(ours_env), _norm(p.args)) else _KIND_ONLY
    if step.kind is Instruction.ARG:
        return 0 if _norm(p.args).split("=")[0] == _norm(step.args).split("=")[0] else _KIND_ONLY
    if step.json is not None:
        # the classic builder writes JSON forms Go-quoted: CMD ["ls" "/srv"]
        recorded = _norm(re.sub(r"[\[\],]", " ", p.args))
        return 0 if _norm(" ".join(step.json)) == recorded else _KIND_ONLY
    pattern = _norm(expand(step.args, env, _UNKNOWN))
    return 0 if _matches(pattern, _norm(p.args)) else _KIND_ONLY


def _strip_flags(args: str) -> str:
    words = _words(args)
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
