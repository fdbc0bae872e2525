"""Tests for layerscope.history: created_by parsing and history/layer pairing.

Strings marked "engine" were read from images built by docker 20.10 (classic
builder and its BuildKit); the others follow moby's and BuildKit's source.
"""

from __future__ import annotations

from typing import Any

import pytest

from layerscope.history import (
    BUILDKIT_COMMENT,
    BUILDKIT_FILLER_COMMENT,
    hides_heredoc,
    match_layers,
    parse_created_by,
)
from layerscope.model import Builder, Instruction, ParsedCommand

DIR_HASH = "dir:06c72acfa5d45184e8c6880c896e58e62beaeaddf4673b75298df4bdbb3b0000"
FILE_HASH = "file:eeea7145288fc3813b436bdddccc2933ceffcbd137c896d41c9bfa022521b9fd"
MULTI_HASH = "multi:50fcbcce63d31d8c285d81af3ed9951e2980ae8fe333a0c107ce772ddac1f652"
BASE_HASH = "file:5d0bdb8a8c5ba4a2ab4d9e0d5bb9ee6ba8ba8b5f0c6d8e8c1e8e3f3f6a1b2c3d"

C, B, U = Builder.CLASSIC, Builder.BUILDKIT, Builder.UNKNOWN
In = Instruction


# -- classic builder --------------------------------------------------------

CLASSIC_CASES: list[tuple[str, ParsedCommand]] = [
    # engine: COPY of a directory, trailing space
    (
        f"/bin/sh -c #(nop) COPY {FILE_HASH} in /app/ ",
        ParsedCommand(In.COPY, f"{FILE_HASH} /app/", C, source=FILE_HASH, dest="/app/"),
    ),
    (
        f"/bin/sh -c #(nop) COPY {DIR_HASH} in /app ",
        ParsedCommand(In.COPY, f"{DIR_HASH} /app", C, source=DIR_HASH, dest="/app"),
    ),
    # engine: several sources hash to multi:
    (
        f"/bin/sh -c #(nop) COPY {MULTI_HASH} in /app/multi/ ",
        ParsedCommand(
            In.COPY, f"{MULTI_HASH} /app/multi/", C, source=MULTI_HASH, dest="/app/multi/"
        ),
    ),
    # engine (moby < 28): no space between --chown=... and the hash
    (
        f"/bin/sh -c #(nop) COPY --chown=1000:1000{DIR_HASH} in /app/src ",
        ParsedCommand(
            In.COPY,
            f"--chown=1000:1000 {DIR_HASH} /app/src",
            C,
            flags=("--chown=1000:1000",),
            source=DIR_HASH,
            dest="/app/src",
        ),
    ),
    # moby >= 28 puts a space there
    (
        f"/bin/sh -c #(nop) COPY --chown=app:app {FILE_HASH} in /app/requirements.txt ",
        ParsedCommand(
            In.COPY,
            f"--chown=app:app {FILE_HASH} /app/requirements.txt",
            C,
            flags=("--chown=app:app",),
            source=FILE_HASH,
            dest="/app/requirements.txt",
        ),
    ),
    # the base image's rootfs
    (
        f"/bin/sh -c #(nop) ADD {BASE_HASH} in / ",
        ParsedCommand(In.ADD, f"{BASE_HASH} /", C, source=BASE_HASH, dest="/"),
    ),
    # old docker: no trailing space
    (
        f"/bin/sh -c #(nop) ADD {BASE_HASH} in /",
        ParsedCommand(In.ADD, f"{BASE_HASH} /", C, source=BASE_HASH, dest="/"),
    ),
    # engine: two spaces after #(nop) for the metadata instructions
    ("/bin/sh -c #(nop)  ARG B=two words", ParsedCommand(In.ARG, "B=two words", C)),
    ("/bin/sh -c #(nop)  ENV K=V X=y z", ParsedCommand(In.ENV, "K=V X=y z", C)),
    ("/bin/sh -c #(nop)  LABEL a=b", ParsedCommand(In.LABEL, "a=b", C)),
    ("/bin/sh -c #(nop) WORKDIR /app", ParsedCommand(In.WORKDIR, "/app", C)),
    ('/bin/sh -c #(nop)  CMD ["sh"]', ParsedCommand(In.CMD, '["sh"]', C)),
    ("/bin/sh -c #(nop)  EXPOSE 8080", ParsedCommand(In.EXPOSE, "8080", C)),
    ("/bin/sh -c #(nop)  USER 1000", ParsedCommand(In.USER, "1000", C)),
    ("/bin/sh -c #(nop)  VOLUME [/data]", ParsedCommand(In.VOLUME, "[/data]", C)),
    (
        "/bin/sh -c #(nop)  MAINTAINER Jane <j@x.org>",
        ParsedCommand(In.MAINTAINER, "Jane <j@x.org>", C),
    ),
    ("/bin/sh -c #(nop)  ONBUILD RUN make", ParsedCommand(In.ONBUILD, "RUN make", C)),
    (
        '/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]',
        ParsedCommand(In.ENTRYPOINT, '["/docker-entrypoint.sh"]', C),
    ),
    ("/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT", ParsedCommand(In.STOPSIGNAL, "SIGQUIT", C)),
    # engine: after SHELL, nop lines carry the new shell
    (
        "/bin/sh -e -o pipefail -c #(nop)  SHELL [/bin/sh -e -o pipefail -c]",
        ParsedCommand(In.SHELL, "[/bin/sh -e -o pipefail -c]", C),
    ),
    ("/bin/sh -c #(nop)  ARG RELEASE", ParsedCommand(In.ARG, "RELEASE", C)),
    # Windows images
    ("cmd /S /C #(nop) WORKDIR C:\\app", ParsedCommand(In.WORKDIR, "C:\\app", C)),
    # RUN: shell and command
    (
        "/bin/sh -c apt-get update && apt-get install -y curl",
        ParsedCommand(In.RUN, "apt-get update && apt-get install -y curl", C, shell="/bin/sh -c"),
    ),
    # engine: build args (sorted, a value with a space) before the shell
    (
        '|2 A=1 B=two words /bin/sh -c echo $A "$B" > /tmp/x',
        ParsedCommand(
            In.RUN,
            'echo $A "$B" > /tmp/x',
            C,
            build_args=(("A", "1"), ("B", "two words")),
            shell="/bin/sh -c",
        ),
    ),
    # engine: build args and a SHELL override
    (
        "|2 A=1 B=two words /bin/sh -e -o pipefail -c echo hi | cat",
        ParsedCommand(
            In.RUN,
            "echo hi | cat",
            C,
            build_args=(("A", "1"), ("B", "two words")),
            shell="/bin/sh -e -o pipefail -c",
        ),
    ),
    (
        "/bin/bash -o pipefail -c curl -fsSL https://x/install.sh | bash",
        ParsedCommand(
            In.RUN,
            "curl -fsSL https://x/install.sh | bash",
            C,
            shell="/bin/bash -o pipefail -c",
        ),
    ),
    # exec-form RUN with build args: no shell
    (
        "|1 PIP_INDEX=https://pypi.org/simple pip install x",
        ParsedCommand(
            In.RUN,
            "pip install x",
            C,
            build_args=(("PIP_INDEX", "https://pypi.org/simple"),),
        ),
    ),
    # an empty build-arg value and a "|0" header
    (
        "|1 HTTP_PROXY= /bin/sh -c apk add --no-cache git",
        ParsedCommand(
            In.RUN,
            "apk add --no-cache git",
            C,
            build_args=(("HTTP_PROXY", ""),),
            shell="/bin/sh -c",
        ),
    ),
    ("|0 /bin/sh -c make", ParsedCommand(In.RUN, "make", C, shell="/bin/sh -c")),
    # a RUN that prints "#(nop)" stays a RUN
    (
        "/bin/sh -c echo '#(nop) COPY x'",
        ParsedCommand(In.RUN, "echo '#(nop) COPY x'", C, shell="/bin/sh -c"),
    ),
]


@pytest.mark.parametrize(("created_by", "expected"), CLASSIC_CASES)
def test_classic_builder_lines(created_by: str, expected: ParsedCommand) -> None:
    assert parse_created_by(created_by) == expected


# -- BuildKit ---------------------------------------------------------------

BUILDKIT_CASES: list[tuple[str, ParsedCommand]] = [
    (
        "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
        ParsedCommand(In.RUN, "pip install -r requirements.txt", B, shell="/bin/sh -c"),
    ),
    # engine: build args in declaration order (not sorted), values with spaces
    (
        'RUN |2 B=two words A=1 /bin/sh -c echo $A "$B" > /tmp/x # buildkit',
        ParsedCommand(
            In.RUN,
            'echo $A "$B" > /tmp/x',
            B,
            build_args=(("B", "two words"), ("A", "1")),
            shell="/bin/sh -c",
        ),
    ),
    # engine: exec-form RUN has no shell
    (
        "RUN |2 B=two words A=1 echo exec form # buildkit",
        ParsedCommand(In.RUN, "echo exec form", B, build_args=(("B", "two words"), ("A", "1"))),
    ),
    ('RUN pip install "x<2" # buildkit', ParsedCommand(In.RUN, 'pip install "x<2"', B)),
    (
        "RUN |2 B=two words A=1 /bin/sh -e -o pipefail -c echo hi | cat # buildkit",
        ParsedCommand(
            In.RUN,
            "echo hi | cat",
            B,
            build_args=(("B", "two words"), ("A", "1")),
            shell="/bin/sh -e -o pipefail -c",
        ),
    ),
    # heredoc without shebang: the body inline, newline before the marker
    (
        "RUN /bin/sh -c set -e\napt-get update\napt-get install -y curl\n # buildkit",
        ParsedCommand(
            In.RUN, "set -e\napt-get update\napt-get install -y curl", B, shell="/bin/sh -c"
        ),
    ),
    # heredoc with a shebang: the body is hidden
    (
        "RUN /bin/sh -c /dev/pipes/EOF # buildkit",
        ParsedCommand(In.RUN, "/dev/pipes/EOF", B, shell="/bin/sh -c"),
    ),
    # engine
    (
        "COPY src /app/src # buildkit",
        ParsedCommand(In.COPY, "src /app/src", B, source="src", dest="/app/src"),
    ),
    (
        "COPY src/a.txt req.txt /app/multi/ # buildkit",
        ParsedCommand(
            In.COPY,
            "src/a.txt req.txt /app/multi/",
            B,
            source="src/a.txt req.txt",
            dest="/app/multi/",
        ),
    ),
    ("COPY . . # buildkit", ParsedCommand(In.COPY, ". .", B, source=".", dest=".")),
    (
        "COPY --chown=1000:1000 --chmod=755 src /app # buildkit",
        ParsedCommand(
            In.COPY,
            "--chown=1000:1000 --chmod=755 src /app",
            B,
            flags=("--chown=1000:1000", "--chmod=755"),
            source="src",
            dest="/app",
        ),
    ),
    (
        "ADD https://example.org/x/y.tar.gz /tmp/ # buildkit",
        ParsedCommand(
            In.ADD,
            "https://example.org/x/y.tar.gz /tmp/",
            B,
            source="https://example.org/x/y.tar.gz",
            dest="/tmp/",
        ),
    ),
    # a --from copy: not recorded, the absolute source is the hint
    (
        "COPY /go/bin/app /usr/local/bin/app # buildkit",
        ParsedCommand(
            In.COPY,
            "/go/bin/app /usr/local/bin/app",
            B,
            source="/go/bin/app",
            dest="/usr/local/bin/app",
        ),
    ),
    # official alpine/ubuntu bases built with BuildKit
    (
        "ADD alpine-minirootfs-3.20.0-x86_64.tar.gz / # buildkit",
        ParsedCommand(
            In.ADD,
            "alpine-minirootfs-3.20.0-x86_64.tar.gz /",
            B,
            source="alpine-minirootfs-3.20.0-x86_64.tar.gz",
            dest="/",
        ),
    ),
    # very old BuildKit appended a digest
    (
        "RUN /bin/sh -c apk add curl # buildkit:sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5",
        ParsedCommand(In.RUN, "apk add curl", B, shell="/bin/sh -c"),
    ),
]


@pytest.mark.parametrize(("created_by", "expected"), BUILDKIT_CASES)
def test_buildkit_lines(created_by: str, expected: ParsedCommand) -> None:
    assert parse_created_by(created_by, BUILDKIT_COMMENT) == expected
    # The " # buildkit" marker alone is enough to know the builder.
    assert parse_created_by(created_by) == expected


# engine: BuildKit writes these bare; only the comment names the builder.
BARE_CASES: list[tuple[str, Instruction, str]] = [
    ("WORKDIR /app", In.WORKDIR, "/app"),
    ("ENV K=V X=y z", In.ENV, "K=V X=y z"),
    ("ARG B=two words", In.ARG, "B=two words"),
    ('CMD ["sh"]', In.CMD, '["sh"]'),
    ("EXPOSE map[8080/tcp:{}]", In.EXPOSE, "map[8080/tcp:{}]"),
    ("LABEL a=b", In.LABEL, "a=b"),
    ("USER 1000", In.USER, "1000"),
    ("VOLUME [/data]", In.VOLUME, "[/data]"),
    ("SHELL [/bin/sh -e -o pipefail -c]", In.SHELL, "[/bin/sh -e -o pipefail -c]"),
    ('ENTRYPOINT ["/bin/sh" "-c" "exec app"]', In.ENTRYPOINT, '["/bin/sh" "-c" "exec app"]'),
    (
        'HEALTHCHECK &{["CMD-SHELL" "curl -f localhost"] "30s" "3s" "0s" \'\\x03\'}',
        In.HEALTHCHECK,
        '&{["CMD-SHELL" "curl -f localhost"] "30s" "3s" "0s" \'\\x03\'}',
    ),
]


@pytest.mark.parametrize(("created_by", "instruction", "args"), BARE_CASES)
def test_bare_instructions_take_builder_from_comment(
    created_by: str, instruction: Instruction, args: str
) -> None:
    assert parse_created_by(created_by, BUILDKIT_COMMENT) == ParsedCommand(instruction, args, B)
    assert parse_created_by(created_by) == ParsedCommand(instruction, args, U)


# -- other builders and unknown text ----------------------------------------

OTHER_CASES: list[tuple[str, ParsedCommand]] = [
    # kaniko records the Dockerfile line as written
    (
        "RUN addgroup -S app && adduser -S app -G app",
        ParsedCommand(In.RUN, "addgroup -S app && adduser -S app -G app", U),
    ),
    ("COPY . .", ParsedCommand(In.COPY, ". .", U, source=".", dest=".")),
    (
        "COPY --from=builder /src/app /app",
        ParsedCommand(
            In.COPY,
            "--from=builder /src/app /app",
            U,
            flags=("--from=builder",),
            source="/src/app",
            dest="/app",
        ),
    ),
    (
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r req.txt",
        ParsedCommand(
            In.RUN,
            "pip install -r req.txt",
            U,
            flags=("--mount=type=cache,target=/root/.cache/pip",),
        ),
    ),
    (
        'COPY ["my dir", "/app/"]',
        ParsedCommand(In.COPY, '["my dir", "/app/"]', U, source="my dir", dest="/app/"),
    ),
    # Debian's official rootfs line, an imported base, other prose
    (
        "# debian.sh --arch 'amd64' out/ 'bookworm' '@1717977600'",
        ParsedCommand(In.UNKNOWN, "# debian.sh --arch 'amd64' out/ 'bookworm' '@1717977600'", U),
    ),
    ("", ParsedCommand(In.UNKNOWN, "", U)),
    ("   ", ParsedCommand(In.UNKNOWN, "", U)),
    ("created by buildkit", ParsedCommand(In.UNKNOWN, "created by buildkit", U)),
    # lower-case keywords are not trusted (an exec-form RUN may start "env ...")
    ("env FOO=1 make", ParsedCommand(In.UNKNOWN, "env FOO=1 make", U)),
    ("RUNNER go", ParsedCommand(In.UNKNOWN, "RUNNER go", U)),
    # an unknown instruction after #(nop) is still the classic builder's
    ("/bin/sh -c #(nop)  FROBNICATE x", ParsedCommand(In.UNKNOWN, "FROBNICATE x", C)),
]


@pytest.mark.parametrize(("created_by", "expected"), OTHER_CASES)
def test_other_builders_and_unknown_text(created_by: str, expected: ParsedCommand) -> None:
    assert parse_created_by(created_by) == expected


def test_powershell_shell_prefix_with_script_still_reads_nop() -> None:
    line = "powershell -Command $ErrorActionPreference = 'Stop'; #(nop)  ENV GOPATH=C:\\go"
    assert parse_created_by(line) == ParsedCommand(In.ENV, "GOPATH=C:\\go", C)


def test_filler_comment_marks_unknown_text_as_buildkit() -> None:
    parsed = parse_created_by("created by buildkit", BUILDKIT_FILLER_COMMENT)
    assert parsed == ParsedCommand(In.UNKNOWN, "created by buildkit", B)


def test_build_arg_value_looking_like_a_pair_is_folded_into_the_last_value() -> None:
    # "|2" says two pairs; "C=3" inside B's value cannot start a third.
    parsed = parse_created_by("|2 A=1 B=x C=3 /bin/sh -c env")
    assert parsed.build_args == (("A", "1"), ("B", "x C=3"))
    assert parsed.args == "env"


def test_hides_heredoc() -> None:
    assert hides_heredoc(parse_created_by("RUN /bin/sh -c /dev/pipes/EOF # buildkit"))
    assert not hides_heredoc(parse_created_by("RUN /bin/sh -c ls /dev/pipes/ # buildkit"))
    assert not hides_heredoc(parse_created_by("COPY /dev/pipes/x /x # buildkit"))


@pytest.mark.parametrize(
    "text",
    [
        "|",
        "|x",
        "|3",
        "#(nop)",
        "/bin/sh -c",
        "COPY",
        "ADD  in ",
        "RUN |2",
        "\x00\n\t",
        "# buildkit",
    ],
)
def test_malformed_lines_never_raise(text: str) -> None:
    parsed = parse_created_by(text)
    assert isinstance(parsed, ParsedCommand)


# -- match_layers -------------------------------------------------------------


def _entry(
    created_by: str = "", *, empty: bool = False, comment: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": "2024-05-01T10:00:00Z", "created_by": created_by}
    if empty:
        entry["empty_layer"] = True
    if comment is not None:
        entry["comment"] = comment
    return entry


def test_match_classic_engine_history() -> None:
    # engine: classic build on an imported base; 6 layers
    history = [
        {"created": "2026-11-24T07:55:57Z", "comment": "layerscope test base: busybox-static"},
        _entry("/bin/sh -c #(nop)  ARG A=1", empty=True),
        _entry("/bin/sh -c #(nop) WORKDIR /app"),
        _entry(f"/bin/sh -c #(nop) COPY --chown=1000:1000{DIR_HASH} in /app/src "),
        _entry(f"/bin/sh -c #(nop) COPY {FILE_HASH} in /app/ "),
        _entry(f"/bin/sh -c #(nop) COPY {MULTI_HASH} in /app/multi/ "),
        _entry("|1 A=1 /bin/sh -c echo $A > /tmp/x"),
        _entry("|1 A=1 echo exec form", empty=True),
        _entry('/bin/sh -c #(nop)  CMD ["sh"]', empty=True),
    ]
    histories, pairs, warnings = match_layers(history, 6)
    assert pairs == [0, 2, 3, 4, 5, 6]
    assert warnings == []
    assert len(histories) == 9
    assert histories[0].created_by == ""
    assert histories[0].comment == "layerscope test base: busybox-static"
    assert histories[0].parsed.instruction is In.UNKNOWN
    assert histories[1].empty_layer and not histories[2].empty_layer
    assert histories[3].parsed.flags == ("--chown=1000:1000",)
    assert histories[6].parsed.build_args == (("A", "1"),)
    assert histories[8].created == "2024-05-01T10:00:00Z"


def test_match_buildkit_history_uses_comment_for_builder() -> None:
    history = [
        _entry("", comment="Imported from -"),
        _entry("WORKDIR /app", comment=BUILDKIT_COMMENT),
        _entry("ENV A=1", empty=True, comment=BUILDKIT_COMMENT),
        _entry("COPY . . # buildkit", comment=BUILDKIT_COMMENT),
    ]
    histories, pairs, warnings = match_layers(history, 3)
    assert pairs == [0, 1, 3]
    assert warnings == []
    assert histories[1].parsed == ParsedCommand(In.WORKDIR, "/app", B)
    assert histories[0].comment == "Imported from -"


def test_fillers_are_not_paired_and_history_aligns_from_the_top() -> None:
    # A base with 2 layers and no history, then 2 BuildKit steps: the
    # exporter appends 2 fillers at the end, which describe other layers.
    history = [
        _entry("RUN /bin/sh -c apk add curl # buildkit", comment=BUILDKIT_COMMENT),
        _entry("COPY app /app # buildkit", comment=BUILDKIT_COMMENT),
        _entry("created by buildkit", comment=BUILDKIT_FILLER_COMMENT),
        _entry("created by buildkit", comment=BUILDKIT_FILLER_COMMENT),
    ]
    histories, pairs, warnings = match_layers(history, 4)
    assert pairs == [None, None, 0, 1]
    assert len(histories) == 4
    assert len(warnings) == 2
    assert "2 filler" in warnings[0]
    assert "lowest 2 layers have no history" in warnings[1]


def test_only_fillers_pair_in_order() -> None:
    history = [
        _entry("created by buildkit", comment=BUILDKIT_FILLER_COMMENT),
        _entry("created by buildkit", comment=BUILDKIT_FILLER_COMMENT),
    ]
    _, pairs, warnings = match_layers(history, 2)
    assert pairs == [0, 1]
    assert len(warnings) == 1
    assert "no build history" in warnings[0]


def test_missing_history() -> None:
    histories, pairs, warnings = match_layers([], 3)
    assert histories == []
    assert pairs == [None, None, None]
    assert len(warnings) == 1
    assert "lowest 3 layers have no history" in warnings[0]


def test_more_history_than_layers_pairs_the_top() -> None:
    history = [
        _entry("/bin/sh -c #(nop) ADD file:aa in / "),
        _entry("/bin/sh -c a"),
        _entry("/bin/sh -c b"),
    ]
    _, pairs, warnings = match_layers(history, 2)
    assert pairs == [1, 2]
    assert len(warnings) == 1
    assert "first 1 such entries match no layer" in warnings[0]


def test_no_layers() -> None:
    _, pairs, warnings = match_layers([_entry("/bin/sh -c a")], 0)
    assert pairs == []
    assert len(warnings) == 1


def test_empty_layer_must_be_true_and_odd_values_are_tolerated() -> None:
    history: list[dict[str, Any]] = [
        {"created_by": None, "empty_layer": "yes", "comment": 3, "created": 17},
        {"empty_layer": False},
        {},
    ]
    histories, pairs, warnings = match_layers(history, 3)
    assert pairs == [0, 1, 2]
    assert warnings == []
    assert histories[0].created_by == ""
    assert histories[0].comment is None
    assert histories[0].created is None
    assert not histories[0].empty_layer


def test_classic_copy_with_a_short_hash_still_splits_source_and_dest() -> None:
    # Hand-made and some older histories use short ids; the form is the same.
    p = parse_created_by("/bin/sh -c #(nop) ADD file:abc123 in / ")
    assert (p.instruction, p.source, p.dest) == (Instruction.ADD, "file:abc123", "/")
