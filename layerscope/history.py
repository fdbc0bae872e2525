"""Image history: ``created_by`` lines parsed, history entries paired with layers.

Formats recognised (checked against moby's and BuildKit's source):

* classic builder (and buildah, which imitates it): a RUN is the shell and
  the command joined by spaces, ``/bin/sh -c apt-get update``; with build
  args it starts ``|N K=V ...`` (the pairs are sorted and joined raw, so a
  value may contain spaces); an exec-form RUN has no shell. Other
  instructions are ``<shell> #(nop) `` plus the instruction: one space
  follows ``#(nop)`` for COPY/ADD/WORKDIR, two for the rest. COPY/ADD read
  ``COPY [--chown=U:G ]<hash> in <dest> `` where ``<hash>`` is ``dir:``,
  ``file:`` or ``multi:`` plus hex (bare hex for an ADD from a URL), with a
  trailing space. Before moby 28 no space separated ``--chown=U:G`` from
  the hash (``--chown=1000:1000dir:...``); both forms are read.
* BuildKit's Dockerfile frontend: the Dockerfile instruction, with
  `` # buildkit`` appended to RUN, COPY and ADD only (very old BuildKit wrote
  `` # buildkit:<digest>``). A RUN is ``RUN [|N K=V ...] <shell> <command>``,
  or ``RUN <argv joined by spaces>`` for the exec form. COPY/ADD record
  ``--parents``, ``--chown`` and ``--chmod`` but not ``--from``, ``--link``,
  ``--exclude``, ``--checksum`` or ``--keep-git-dir``. A heredoc RUN whose
  body starts with a shebang shows as ``/dev/pipes/<NAME>`` and its body is
  lost; other heredoc bodies appear inline. Every entry carries the comment
  ``buildkit.dockerfile.v0``; entries the exporter invents to make up for
  missing history carry ``buildkit.exporter.image.v0``.
* other builders (kaniko writes the Dockerfile line as written): a leading
  upper-case instruction keyword is recognised, with builder UNKNOWN.
* anything else (``# debian.sh ...``, an empty ``created_by`` of an
  imported base) is Instruction.UNKNOWN with the text as ``args``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from layerscope import model
from layerscope.counts import counted
from layerscope.model import Builder, Instruction, ParsedCommand

__all__ = [
    "BUILDKIT_COMMENT",
    "BUILDKIT_FILLER_COMMENT",
    "exec_form_args",
    "hides_heredoc",
    "match_layers",
    "parse_created_by",
]

BUILDKIT_COMMENT = "buildkit.dockerfile.v0"
BUILDKIT_FILLER_COMMENT = "buildkit.exporter.image.v0"

_KEYWORDS = {i.value: i for i in Instruction if i is not Instruction.UNKNOWN}
_KEYWORD = re.compile(r"(?P<kw>[A-Z]+)(?:\s+(?P<rest>.*))?\Z", re.DOTALL)
_BUILD_ARGS = re.compile(r"\|(?P<count>\d+)(?:\s+|\Z)")
# The look-behind starts a match only at the first space of a run: without it each
# space of a long run would start a scan of the rest of the run (quadratic).
_PAIR_START = re.compile(r"(?<!\s)\s+(?=[A-Za-z_][A-Za-z0-9_]*=)")
_CLASSIC_HASH = re.compile(r"(?:dir|file|multi):[0-9a-fA-F]+\Z")
# A word followed by " in ": starts only where a word starts, so each word is
# scanned once (the classic COPY/ADD ``<hash> in <dest>`` form).
_WORD_BEFORE_IN = re.compile(r"(?<!\S)(\S*) in ")
_HASH_PREFIXES = ("dir:", "file:", "multi:")
_HEX = "0123456789abcdefABCDEF"
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_RUN_FLAG = re.compile(r"--[a-z][\w-]*(?:=\S*)?(?:\s+|\Z)")
# A shell prefix: POSIX shells with options ending in a ``-c`` flag (``/bin/sh
# -c``, ``/bin/bash -o pipefail -c``, ``bash -lc``), cmd and PowerShell. Options
# are whole words, an ``-o`` option's argument never starts with ``-`` and a
# short option ends in any letter but ``c``: the option forms and the final
# ``-c`` word are then disjoint, so the options are taken possessively (``*+``),
# in one pass, instead of being re-split in exponentially many ways when the
# match fails.
# The leading look-ahead names every possible first character: ``search`` then
# skips runs of other characters at C speed instead of trying each position.
_SHELL = re.compile(
    r"""(?=[/a-zA-Z])(?<!\S)(?P<shell>
        (?:/usr/bin/env\s+)?(?:(?:/[\w.+-]+)*/)?(?:ba|da|a|z|k|mk)?sh
        (?:\s+(?:[-+][A-Za-z]*o\s+\w[\w-]*|--[\w-]+|\+[A-Za-z]+|-[A-Za-z]*[A-Zabd-z])
           (?=\s|\Z))*+
        \s+-[A-Za-z]*c
      | (?i:cmd(?:\.exe)?\s+/s\s+/c)
      | (?i:(?:powershell|pwsh)(?:\.exe)?(?:\s+-\w+)*?\s+-c(?:ommand)?)
    )(?=\s|\Z)""",
    re.VERBOSE,
)


def parse_created_by(created_by: str, comment: str | None = None) -> ParsedCommand:
    """Parse a history ``created_by`` line into instruction and arguments.

    ``comment`` is the history entry's comment, when known: BuildKit writes
    ENV, WORKDIR, CMD ... without its `` # buildkit`` marker, so a bare
    ``WORKDIR /app`` is attributed to BuildKit only when the comment says so
    (``buildkit.dockerfile.v0``); otherwise its builder is UNKNOWN. Never
    raises.
    """
    text = created_by.strip()
    fallback = _builder_from_comment(comment)
    if not text:
        return ParsedCommand(Instruction.UNKNOWN, "", fallback)
    body_end = _buildkit_suffix(created_by)
    if body_end is not None:
        body = created_by[:body_end].strip()
        parsed = _parse_instruction(body, Builder.BUILDKIT)
        return parsed or ParsedCommand(Instruction.UNKNOWN, body, Builder.BUILDKIT)
    nop = _split_nop(created_by)
    if nop is not None:
        prefix, nop_rest = nop
        lead = _SHELL.match(prefix)
        exact = not prefix or (lead is not None and lead.end() == len(prefix))
        # PowerShell SHELLs usually carry a script ("-Command $ErrorAction...;"),
        # so for them a prefix that merely starts with the shell will do. For
        # POSIX shells it must be exact, or a RUN that echoes "#(nop)" misreads.
        windows = lead is not None and lead["shell"].lower().startswith(("powershell", "pwsh"))
        if exact or windows:
            parsed = _parse_nop(nop_rest)
            if parsed is not None:
                return parsed
            if exact:
                return ParsedCommand(Instruction.UNKNOWN, nop_rest.strip(), Builder.CLASSIC)
    if _BUILD_ARGS.match(text) or _SHELL.match(text):
        build_args, shell, command = _split_run(text)
        return ParsedCommand(Instruction.RUN, command, Builder.CLASSIC, build_args, shell)
    parsed = _parse_instruction(text, fallback)
    return parsed or ParsedCommand(Instruction.UNKNOWN, text, fallback)


def _buildkit_suffix(text: str) -> int | None:
    """Where a trailing `` # buildkit`` (or ``# buildkit:<digest>``) marker
    starts, else None. The marker is in the last word, so only the last
    ``# buildkit`` can be it: string scans, linear on any input."""
    stripped = text.rstrip()
    at = stripped.rfind("# buildkit")
    if at < 1 or not stripped[at - 1].isspace():
        return None
    tail = stripped[at + len("# buildkit") :]
    if tail and (tail[0] != ":" or len(tail.split(None, 1)) > 1):
        return None
    return at - 1


def _split_nop(text: str) -> tuple[str, str] | None:
    """``(shell, rest)`` around a classic ``#(nop)`` marker, when the first ``#``
    of ``text`` starts one; else None."""
    hash_at = text.find("#")
    if hash_at < 0 or not text.startswith("#(nop)", hash_at):
        return None
    return text[:hash_at].strip(), text[hash_at + 6 :].lstrip()


def hides_heredoc(parsed: ParsedCommand) -> bool:
    """True for a BuildKit heredoc RUN whose script body history does not show.

    BuildKit runs a heredoc that starts with a shebang as a file mounted at
    ``/dev/pipes/<NAME>``; only that path is recorded.
    """
    return parsed.instruction is Instruction.RUN and parsed.args.startswith("/dev/pipes/")


def match_layers(
    history_entries: Sequence[Mapping[str, Any]], layer_count: int
) -> tuple[list[model.History], list[int | None], list[str]]:
    """Build History objects and find which entry made each layer.

    ``history_entries`` is the image config's raw ``history`` list (dicts with
    ``created_by``, ``created``, ``comment``, ``empty_layer``). Every entry
    becomes a :class:`model.History`, empty-layer ones included. The second
    result has one item per layer: the index into the history list of the
    entry that made it, or None.

    Entries that are not ``empty_layer`` are paired with the layers in order.
    When the counts differ the pairing is aligned at the top: the last
    entries go with the last layers, which are the image's own build steps,
    the ones rules talk about; history is usually lost below them (an
    imported or squashed base, a tool that writes none). BuildKit's filler
    entries (comment ``buildkit.exporter.image.v0``) are appended at the end
    whatever layers lacked history, so they are not paired, unless the image
    has no other history (then they describe its layers in order). Each
    mismatch yields a warning string.
    """
    histories = [_history(entry) for entry in history_entries]
    makers = [i for i, h in enumerate(histories) if not h.empty_layer]
    fillers = [i for i in makers if histories[i].comment == BUILDKIT_FILLER_COMMENT]
    real = [i for i in makers if histories[i].comment != BUILDKIT_FILLER_COMMENT]
    layer_count = max(layer_count, 0)
    warnings: list[str] = []
    if fillers and not real and len(fillers) == layer_count:
        warnings.append(
            f"the image has no build history: its {layer_count} history entries were "
            "made up by the BuildKit exporter, so the commands behind the layers are unknown"
        )
        return histories, list[int | None](fillers), warnings
    if fillers:
        warnings.append(
            f"ignored {len(fillers)} filler history entries the BuildKit exporter added "
            "for layers without history"
        )
    if len(real) == layer_count:
        return histories, list[int | None](real), warnings
    if len(real) < layer_count:
        missing = layer_count - len(real)
        pairs: list[int | None] = [None] * missing
        pairs.extend(real)
        warnings.append(
            f"{layer_count} layers but only {len(real)} history entries that made a layer: "
            "paired from the top layer down; "
            + (
                "the lowest layer has no history"
                if missing == 1
                else f"the lowest {missing} layers have no history"
            )
        )
    else:
        extra = len(real) - layer_count
        pairs = list[int | None](real[extra:])
        warnings.append(
            f"{len(real)} history entries claim a layer but the image has "
            f"{counted(layer_count, 'layer')}: paired from the top layer down; the first "
            f"{extra} such entries match no layer"
        )
    return histories, pairs, warnings


# -- helpers ----------------------------------------------------------------


def _builder_from_comment(comment: str | None) -> Builder:
    if comment in (BUILDKIT_COMMENT, BUILDKIT_FILLER_COMMENT):
        return Builder.BUILDKIT
    return Builder.UNKNOWN


def _history(entry: Mapping[str, Any]) -> model.History:
    created_by = _text(entry.get("created_by")) or ""
    comment = _text(entry.get("comment"))
    return model.History(
        created_by=created_by,
        parsed=parse_created_by(created_by, comment),
        empty_layer=entry.get("empty_layer") is True,
        created=_text(entry.get("created")),
        comment=comment,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _parse_nop(rest: str) -> ParsedCommand | None:
    """A classic ``#(nop)`` line's instruction, or None if it names none."""
    match = _KEYWORD.match(rest.strip())
    if match is None or match["kw"] not in _KEYWORDS:
        return None
    instruction = _KEYWORDS[match["kw"]]
    args = match["rest"] or ""
    if instruction in (Instruction.COPY, Instruction.ADD):
        return _parse_copy(instruction, args, Builder.CLASSIC)
    return ParsedCommand(instruction, args.strip(), Builder.CLASSIC)


def _parse_instruction(body: str, builder: Builder) -> ParsedCommand | None:
    """A ``KEYWORD args`` line (BuildKit, kaniko ...), or None without keyword."""
    match = _KEYWORD.match(body)
    if match is None or match["kw"] not in _KEYWORDS:
        return None
    instruction = _KEYWORDS[match["kw"]]
    rest = (match["rest"] or "").strip()
    if instruction in (Instruction.COPY, Instruction.ADD):
        return _parse_copy(instruction, rest, builder)
    if instruction is not Instruction.RUN:
        return ParsedCommand(instruction, rest, builder)
    flags: list[str] = []
    pos = 0
    while (flag := _RUN_FLAG.match(rest, pos)) is not None:
        flags.append(flag.group().strip())
        pos = flag.end()
    rest = rest[pos:]
    build_args, shell, command = _split_run(rest)
    return ParsedCommand(Instruction.RUN, command, builder, build_args, shell, tuple(flags))


def _split_run(text: str) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """Split RUN text into (build args, shell prefix, command)."""
    head = _BUILD_ARGS.match(text)
    if head is None:
        shell = _SHELL.match(text)
        if shell is None:
            return (), "", text.strip()
        return (), shell["shell"], text[shell.end() :].strip()
    count = int(head["count"])
    shell = _SHELL.search(text, head.end())
    if shell is not None:
        pairs = _split_pairs(text[head.end() : shell.start()].strip(), count)
        return pairs, shell["shell"], text[shell.end() :].strip()
    # Exec form: no shell to anchor on. Pairs start at ``NAME=``; the last
    # pair's value is taken to be one word and the command follows it.
    rest = text[head.end() :]
    if count == 0:
        return (), "", rest.strip()
    starts = list(_PAIR_START.finditer(rest))[: count - 1]
    last = starts[-1].end() if starts else 0
    end = re.search(r"\s|\Z", rest[last:])
    cut = last + (end.start() if end else len(rest) - last)
    return _split_pairs(rest[:cut], count), "", rest[cut:].strip()


def _split_pairs(text: str, count: int) -> tuple[tuple[str, str], ...]:
    """Split ``K=V K2=V2`` into ``count`` pairs; values may contain spaces.

    A pair starts where a space is followed by ``NAME=``. When that finds
    more starts than ``count`` (a value containing `` X=``), the surplus is
    folded into the last value: best effort, as the text is ambiguous.
    """
    if not text:
        return ()
    cuts = list(_PAIR_START.finditer(text))
    if count > 0:
        cuts = cuts[: count - 1]
    pieces: list[str] = []
    start = 0
    for cut in cuts:
        pieces.append(text[start : cut.start()])
        start = cut.end()
    pieces.append(text[start:])
    return tuple(_pair(piece) for piece in pieces)


def _pair(word: str) -> tuple[str, str]:
    key, _, value = word.partition("=")
    return key, value


def _parse_copy(instruction: Instruction, rest: str, builder: Builder) -> ParsedCommand:
    """COPY/ADD arguments: classic ``<hash> in <dest>`` or Dockerfile form."""
    if _has_classic_hash(rest):
        body, _, dest = rest.partition(" in ")
        dest = dest.removesuffix(" ")
        flags: list[str] = []
        sources: list[str] = []
        for token in body.split():
            glued = _CLASSIC_HASH.search(token) if token.startswith("--") else None
            if glued is not None and glued.start() > 0:
                flags.append(token[: glued.start()])
                sources.append(token[glued.start() :])
            elif token.startswith("--"):
                flags.append(token)
            else:
                sources.append(token)
        source = " ".join(sources)
        args = " ".join([*flags, source, dest])
        return ParsedCommand(
            instruction, args, builder, flags=tuple(flags), source=source, dest=dest
        )
    rest = rest.strip()
    words = rest.split()
    flags = []
    while words and words[0].startswith("--"):
        flags.append(words.pop(0))
    # An empty array has no operands: the words stand, as for any other text.
    operands = exec_form_args(" ".join(words)) or words
    source = " ".join(operands[:-1]) if len(operands) > 1 else " ".join(operands)
    dest = operands[-1] if len(operands) > 1 else ""
    return ParsedCommand(instruction, rest, builder, flags=tuple(flags), source=source, dest=dest)


def _has_classic_hash(rest: str) -> bool:
    """True when a classic ``<hash> in `` appears: a word ending in
    ``dir:``/``file:``/``multi:`` plus letters and digits, or in 32+ hex digits,
    followed by `` in ``. The hash is the whole word, or follows an ``=``
    in it (``--chown=1000:1000dir:...``, before moby 28)."""
    for match in _WORD_BEFORE_IN.finditer(rest):
        word = match[1]
        tail = len(word) - len(word.rstrip(_ALNUM))
        head = word[: len(word) - tail]
        if tail and head.endswith(_HASH_PREFIXES):
            start = len(head) - len(next(p for p in _HASH_PREFIXES if head.endswith(p)))
            if start == 0 or "=" in word[:start]:
                return True
        hex_tail = len(word) - len(word.rstrip(_HEX))
        if hex_tail >= 32 and (hex_tail == len(word) or "=" in word):
            return True
    return False


def exec_form_args(text: str) -> list[str] | None:
    """The strings of an exec-form (JSON array) argument text, ``["a", "/b"]``,
    else None. An empty array counts: ``CMD []`` is exec form."""
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # "[[[[..." nests past the parser's stack
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None
