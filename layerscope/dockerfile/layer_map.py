"""Dockerfile <-> image: which instruction made each history entry, and so each layer.

:func:`map_image` pairs every history entry of an image with the
instruction that made it (final stage, through any stages it builds on), by
instruction kind and text, tolerating build-arg expansion and the classic
builder's ``COPY dir:<hash> in /dst`` form.

:func:`locate` then gives each finding the Dockerfile line of its layer's step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from layerscope.counts import agree
from layerscope.dockerfile.parser import Dockerfile, Step
from layerscope.dockerfile.words import env_pairs, expand, split_words
from layerscope.history import hides_heredoc
from layerscope.model import History, Image, Instruction
from layerscope.rules.types import Finding

__all__ = ["LayerMap", "locate", "map_image"]

# COPY/ADD flags neither builder records in history.
_UNRECORDED_FLAGS = ("--from", "--link", "--exclude", "--checksum", "--keep-git-dir", "--parents")
_UNKNOWN = "\x00"
_URL_HASH = re.compile(r"[0-9a-f]{32,}")  # the classic builder's ADD <url> source


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
            word = agree(len(self.unmatched), "line", "lines")
            out.append(f"{path}: no layer or history entry matches {word} {lines}")
        if self.inexact:
            lines = ", ".join(str(s.line) for s in self.inexact)
            n = len(self.inexact)
            out.append(
                f"{path}: {agree(n, 'line', 'lines')} {lines} {agree(n, 'differs', 'differ')} "
                "from the image history (paired by instruction only): was the image built "
                "from this Dockerfile?"
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
    # A glob with ``*`` only: the first part is a prefix, the last a suffix, and
    # each part between is taken at its leftmost place. Linear in ``text``,
    # where a regex of lazy ``.*?`` would backtrack polynomially on image text.
    first, *middle, last = pattern.split(_UNKNOWN)
    if len(first) + len(last) > len(text) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    pos, end = len(first), len(text) - len(last)
    for part in middle:
        at = text.find(part, pos, end)
        if at < 0:
            return False
        pos = at + len(part)
    return True


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
        ours_env = " ".join(f"{k}={v}" for k, v in env_pairs(expand(step.args, env, _UNKNOWN)))
        return 0 if _matches(_norm(ours_env), _norm(p.args)) else _KIND_ONLY
    if step.kind is Instruction.ARG:
        return 0 if _norm(p.args).split("=")[0] == _norm(step.args).split("=")[0] else _KIND_ONLY
    if step.kind is Instruction.EXPOSE:
        # BuildKit records the port set as Go prints it: EXPOSE map[80/tcp:{}]
        ours_ports = expand(step.args, env, _UNKNOWN)
        if _UNKNOWN not in ours_ports and _ports(ours_ports) == _ports(p.args):
            return 0
    if step.kind is Instruction.HEALTHCHECK:
        ours_test = _healthcheck_test(expand(step.args, env, _UNKNOWN))
        return 0 if ours_test is not None and ours_test == _recorded_test(p.args) else _KIND_ONLY
    if step.kind in (Instruction.CMD, Instruction.ENTRYPOINT) and step.json is None:
        # The shell form is recorded as the shell's argv: CMD ["/bin/sh" "-c" "node x.js"]
        recorded_argv = _go_strings(p.args)
        if len(recorded_argv) >= 2 and recorded_argv[-1] == " ".join(step.args.split()):
            return 0
    if step.json is not None:
        # the classic builder writes JSON forms Go-quoted: CMD ["ls" "/srv"]
        recorded = _norm(re.sub(r"[\[\],]", " ", p.args))
        return 0 if _norm(" ".join(step.json)) == recorded else _KIND_ONLY
    pattern = _norm(expand(step.args, env, _UNKNOWN))
    return 0 if _matches(pattern, _norm(p.args)) else _KIND_ONLY


_GO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _recorded_test(args: str) -> list[str] | None:
    """The test of a recorded ``HEALTHCHECK &{["CMD-SHELL" "node x.js"] "30s" ...}``
    (both builders print the Go struct), its strings unquoted."""
    m = re.search(r"&\{\[(.*?)\]", args, re.DOTALL)
    return None if m is None else _go_strings(m.group(1)) or None


def _go_strings(text: str) -> list[str]:
    """The double-quoted strings of ``text`` unquoted, blanks collapsed ([] when
    one does not read as a JSON string)."""
    try:
        return [" ".join(json.loads(f'"{s}"').split()) for s in _GO_STRING.findall(text)]
    except ValueError:
        return []


def _healthcheck_test(args: str) -> list[str] | None:
    """The test a Dockerfile's ``HEALTHCHECK`` arguments (after its flags) set:
    ``["NONE"]``, ``["CMD", ...]`` for the exec form, ``["CMD-SHELL", text]``."""
    words = args.split(None, 1)
    if not words:
        return None
    if words[0].upper() == "NONE":
        return ["NONE"]
    if words[0].upper() != "CMD" or len(words) < 2:
        return None
    rest = words[1].strip()
    if rest.startswith("["):
        try:
            form = json.loads(rest)
        except ValueError:
            form = None
        if isinstance(form, list) and all(isinstance(w, str) for w in form):
            return ["CMD", *(" ".join(w.split()) for w in form)]
    return ["CMD-SHELL", " ".join(rest.split())]


_PORT = re.compile(r"(\d+(?:-\d+)?)(?:/([A-Za-z]+))?")


def _ports(text: str) -> list[str]:
    """``80 443/udp`` or ``map[443/udp:{} 80/tcp:{}]`` as sorted ``port/proto``."""
    return sorted({f"{n}/{(proto or 'tcp').lower()}" for n, proto in _PORT.findall(text)})


def _strip_flags(args: str) -> str:
    words = split_words(args)
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)
