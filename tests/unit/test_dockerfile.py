"""The Dockerfile parser: BuildKit's line rules, heredocs, flags, stages, ARG expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscope.dockerfile.parser import DockerfileError, load, parse
from layerscope.dockerfile.words import expand
from layerscope.errors import LayerscopeError
from layerscope.model import Instruction


def test_continuations_comments_and_line_numbers() -> None:
    df = parse(
        "FROM busybox\n"
        "RUN apt-get update \\\n"
        "    # a comment inside the continuation\n"
        "    && apt-get install -y curl \\\n"
        "\n"
        "    && true\n"
        'CMD ["sh"]\n'
    )
    run, cmd = df.stages[0].steps
    assert (run.line, run.end_line) == (2, 6)
    # BuildKit keeps the continuation lines' leading whitespace and drops the comment
    assert run.args == "apt-get update     && apt-get install -y curl     && true"
    assert (cmd.line, cmd.json) == (7, ("sh",))
    assert df.warnings == ("line 2: empty continuation line",)


def test_escape_directive_backtick_and_bom() -> None:
    df = parse("\ufeff# escape=`\nFROM windows\nRUN dir `\n  c:\\\\\n")
    run = df.stages[0].steps[0]
    assert df.escape == "`"
    assert run.args == "dir   c:\\\\"
    assert (run.line, run.end_line) == (3, 4)


def test_directive_after_a_comment_is_only_a_comment() -> None:
    df = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n  b\n")
    assert df.escape == "\\"
    assert df.stages[0].steps[0].args == "a   b"


def test_heredoc_run_body_lines_and_script() -> None:
    df = parse(
        "FROM debian\n"
        "RUN <<EOF\n"
        "apt-get update\n"
        "apt-get install -y curl\n"
        "EOF\n"
        "RUN python3 <<'PY' > /out\n"
        "print('$HOME')\n"
        "PY\n"
        "COPY <<-A <<B /etc/\n"
        "\t\tone\n"
        "\tA\n"
        "two\n"
        "B\n"
        "WORKDIR /app\n"
    )
    first, second, copy, workdir = df.stages[0].steps
    assert (first.line, first.end_line) == (2, 5)
    assert first.heredocs[0].content == "apt-get update\napt-get install -y curl\n"
    assert (first.heredocs[0].line, first.heredocs[0].end_line) == (3, 5)
    assert first.script == "apt-get update\napt-get install -y curl\n"
    assert second.heredocs[0].expand is False
    assert second.script == "python3 <<'PY' > /out\nprint('$HOME')\nPY"
    assert [(d.name, d.content, d.chomp) for d in copy.heredocs] == [
        ("A", "one\n", True),
        ("B", "two\n", False),
    ]
    assert (copy.line, copy.end_line) == (9, 13)
    assert workdir.line == 14


def test_unterminated_heredoc_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="unterminated heredoc"):
        parse("FROM x\nRUN <<EOF\necho hi\n")


def test_heredoc_marker_in_json_form_is_not_a_heredoc() -> None:
    df = parse('FROM x\nRUN ["sh", "-c", "cat <<EOF"]\nCMD x\n')
    run, cmd = df.stages[0].steps
    assert run.heredocs == () and run.json == ("sh", "-c", "cat <<EOF")
    assert cmd.line == 3


def test_flags_are_split_from_arguments() -> None:
    df = parse(
        "FROM x AS build\n"
        "RUN --mount=type=cache,target=/root/.cache/pip --network=host pip install -r r.txt\n"
        'COPY --chown=app:app --link --from=build ["/a b", "/dst/"]\n'
    )
    run, copy = df.stages[0].steps
    assert run.flags == ("--mount=type=cache,target=/root/.cache/pip", "--network=host")
    assert run.args == "pip install -r r.txt"
    assert copy.flag("chown") == "app:app" and copy.flag("link") == "" and copy.flag("x") is None
    assert copy.flag("from") == "build"
    assert copy.operands() == ["/a b", "/dst/"]


def test_stages_names_parents_and_chain() -> None:
    df = parse(
        "ARG BASE=debian:bookworm\n"
        "FROM ${BASE} AS base\n"
        "RUN echo base\n"
        "FROM base AS build\n"
        "RUN echo build\n"
        "FROM --platform=linux/amd64 busybox AS Final\n"
        "COPY --from=build /x /x\n"
    )
    base, build, final = df.stages
    assert (base.base, base.name, base.parent) == ("debian:bookworm", "base", None)
    assert (build.base, build.parent) == ("base", 0)
    assert (final.name, final.platform, final.parent) == ("final", "linux/amd64", None)
    assert [s.line for s in df.chain()] == [7]
    assert [s.line for s in df.chain("build")] == [3, 5]
    assert df.target("1") is build
    with pytest.raises(DockerfileError, match="no build stage named 'nope'"):
        df.target("nope")
    assert [s.line for s in df.global_args] == [1]


def test_arg_and_env_expansion_where_the_builder_expands() -> None:
    df = parse(
        "ARG VERSION=1.0\n"
        "ARG UNUSED=x\n"
        "FROM busybox\n"
        "ARG VERSION\n"
        "ARG HOME_DIR=/srv\n"
        "ENV APP=${HOME_DIR}/app OTHER=$UNUSED\n"
        "WORKDIR $APP\n"
        "COPY . ${APP}/v$VERSION/\n"
        "LABEL quoted='$APP' escaped=\\$APP default=${NOPE:-dflt} alt=${APP:+set}\n"
        "RUN echo $APP\n"
    )
    steps = df.stages[0].steps
    env = steps[2]
    assert env.expanded == "APP=/srv/app OTHER=$UNUSED"  # a global ARG must be redeclared
    assert steps[3].expanded == "/srv/app"
    assert steps[4].operands() == [".", "/srv/app/v1.0/"]
    assert steps[5].expanded == "quoted='$APP' escaped=\\$APP default=dflt alt=set"
    assert steps[6].expanded == "echo $APP"  # RUN is the shell's business
    assert dict(steps[6].env)["VERSION"] == "1.0"


def test_expand_operators_and_unknown_marker() -> None:
    env = {"A": "a", "E": ""}
    assert expand("$A ${A} ${E:-x} ${E-x} ${B:-y} ${E:+z} ${A+w}", env) == "a a x  y  w"
    assert expand("$B and ${B}", env) == "$B and ${B}"
    assert expand("$B/${A}", env, unknown="?") == "?/a"


def test_stage_inherits_env_from_its_parent_stage() -> None:
    df = parse("FROM x AS one\nENV P=/opt\nFROM one\nWORKDIR $P/app\n")
    assert df.stages[1].steps[0].expanded == "/opt/app"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file with no instructions"),
        ("# only a comment\n", "file with no instructions"),
        ("ARG A=1\n", "no FROM instruction"),
        ("RUN echo\nFROM x\n", "RUN before the first FROM"),
        ("# escape=x\nFROM x\n", "invalid escape token"),
        ("# escape=`\n# escape=\\\nFROM x\n", "only one escape parser directive"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as info:
        parse(text)
    assert isinstance(info.value, LayerscopeError) and info.value.exit_code == 2


def test_load_reports_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(DockerfileError, match="cannot read Dockerfile"):
        load(str(tmp_path / "nope"))
    bad = tmp_path / "Dockerfile"
    bad.write_bytes(b"FROM x\nRUN \xff\n")
    with pytest.raises(DockerfileError, match="not a UTF-8"):
        load(str(bad))
    bad.write_text("FROM x\r\nRUN a \\\r\n  b\r\n")
    df = load(str(bad))
    assert df.path == str(bad)
    assert df.stages[0].steps[0].args == "a   b"


def test_unknown_instruction_is_kept_as_unknown() -> None:
    df = parse("FROM x\nFOO bar\nrun lower case\n")
    foo, run = df.stages[0].steps
    assert foo.kind is Instruction.UNKNOWN and foo.keyword == "FOO"
    assert run.kind is Instruction.RUN and run.args == "lower case"
