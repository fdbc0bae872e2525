"""Image layers <-> Dockerfile instructions, from history lines of both builders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from layerscope.dockerfile.layer_map import locate, map_image
from layerscope.dockerfile.parser import parse
from layerscope.model import Image
from layerscope.rules.types import Finding, Kind, Severity
from tests.builders import docker_archive, file, layer_tar, read_archive

DOCKERFILE = """\
ARG BASE=busybox
FROM ${BASE} AS build
RUN echo build > /b

FROM busybox
ARG VERSION=1.2
ARG BUILD_DATE
ENV APP_HOME=/app \\
    OTHER=x
LABEL version=$VERSION
WORKDIR $APP_HOME
COPY requirements.txt ./
COPY --chown=1000:1000 . .
COPY --from=build /b /b
RUN echo $VERSION > v \\
    # a comment
    && echo done
RUN ["/bin/sh", "-c", "echo exec > /e"]
USER app
CMD ["sh"]
"""

# History as the classic builder (docker 20.10) writes it for DOCKERFILE, after
# a two-layer base image, with --build-arg BUILD_DATE=2024-01-01.
CLASSIC = [
    ("/bin/sh -c #(nop) ADD file:abc in / ", False),
    ('/bin/sh -c #(nop)  CMD ["sh"]', True),
    ("/bin/sh -c echo base layer", False),
    ("/bin/sh -c #(nop)  ARG VERSION=1.2", True),
    ("/bin/sh -c #(nop)  ARG BUILD_DATE", True),
    ("/bin/sh -c #(nop)  ENV APP_HOME=/app OTHER=x", True),
    ("/bin/sh -c #(nop)  LABEL version=1.2", True),
    ("/bin/sh -c #(nop) WORKDIR /app", False),
    ("/bin/sh -c #(nop) COPY file:5b14081d4866d5e61da3196b46d94256f696bfb5bee6 in ./ ", False),
    ("/bin/sh -c #(nop) COPY --chown=1000:1000dir:a3a4f418fb7e51f031a24ae0e3f22c3 in . ", False),
    ("/bin/sh -c #(nop) COPY file:f5793fcf1879379ec12adff9230d9289ff6d5fddc859a6c1 in /b ", False),
    ("|2 BUILD_DATE=2024-01-01 VERSION=1.2 /bin/sh -c echo $VERSION > v     && echo done", False),
    ("|2 BUILD_DATE=2024-01-01 VERSION=1.2 /bin/sh -c echo exec > /e", False),
    ("/bin/sh -c #(nop)  USER app", True),
    ('/bin/sh -c #(nop)  CMD ["sh"]', True),
]
# The same build with BuildKit (docker 20.10's builder: --chown is not recorded).
BUILDKIT = [
    ("/bin/sh -c #(nop) ADD file:abc in / ", False),
    ('/bin/sh -c #(nop)  CMD ["sh"]', True),
    ("/bin/sh -c echo base layer", False),
    ("ARG VERSION=1.2", True),
    ("ARG BUILD_DATE", True),
    ("ENV APP_HOME=/app OTHER=x", True),
    ("LABEL version=1.2", True),
    ("WORKDIR /app", False),
    ("COPY requirements.txt ./ # buildkit", False),
    ("COPY . . # buildkit", False),
    ("COPY /b /b # buildkit", False),
    ("RUN |2 VERSION=1.2 BUILD_DATE=2024-01-01 /bin/sh -c echo $VERSION > v     && echo done"
     " # buildkit", False),
    ("RUN |2 VERSION=1.2 BUILD_DATE=2024-01-01 /bin/sh -c echo exec > /e # buildkit", False),
    ("USER app", True),
    ('CMD ["sh"]', True),
]  # fmt: skip
LINES = [6, 7, 8, 10, 11, 12, 13, 14, 15, 18, 19, 20]


def _image(history: list[tuple[str, bool]], comment: str | None = None) -> Image:
    entries = []
    layers = []
    for n, (created_by, empty) in enumerate(history):
        entry: dict[str, object] = {"created_by": created_by}
        if empty:
            entry["empty_layer"] = True
        elif comment is not None and n >= 3:
            entry["comment"] = comment
        if empty and comment is not None and n >= 3:
            entry["comment"] = comment
        entries.append(entry)
        if not empty:
            layers.append(layer_tar([file(f"f{n}", n)]))
    return read_archive(docker_archive(layers, entries))


def _lines(history: list[tuple[str, bool]], comment: str | None = None) -> list[int | None]:
    image = _image(history, comment)
    mapping = map_image(image, parse(DOCKERFILE))
    assert mapping.unmatched == ()
    return [None if i not in mapping.by_history else mapping.by_history[i].line for i in range(15)]


def test_classic_history_maps_to_the_final_stage_lines() -> None:
    assert _lines(CLASSIC) == [None, None, None, *LINES]


def test_buildkit_history_maps_to_the_final_stage_lines() -> None:
    assert _lines(BUILDKIT, "buildkit.dockerfile.v0") == [None, None, None, *LINES]


def test_text_matches_are_exact_where_the_builder_records_text() -> None:
    image = _image(BUILDKIT, "buildkit.dockerfile.v0")
    mapping = map_image(image, parse(DOCKERFILE))
    assert mapping.inexact == ()
    # The Dockerfile says something else at line 15: still paired by kind, flagged.
    changed = DOCKERFILE.replace("echo $VERSION > v", "echo other > v")
    mapping = map_image(image, parse(changed))
    assert [s.line for s in mapping.inexact] == [15]
    assert mapping.by_history[11].line == 15


def test_layers_map_through_history_and_back() -> None:
    image = _image(CLASSIC)
    mapping = map_image(image, parse(DOCKERFILE))
    # layers: base 0, base 1, WORKDIR 2, COPY 3, COPY 4, COPY 5, RUN 6, RUN 7
    assert [
        None if (s := mapping.step_for_layer(image, i)) is None else s.line for i in range(8)
    ] == [None, None, 11, 12, 13, 14, 15, 18]
    step = mapping.step_for_layer(image, 6)
    assert step is not None and mapping.layer_for_step(image, step) == 6
    assert mapping.step_for_layer(image, None) is None
    assert mapping.step_for_layer(image, 99) is None


def test_build_args_from_history_expand_copy_destinations() -> None:
    dockerfile = "FROM busybox\nARG DEST\nCOPY app/ $DEST/\nCOPY other/ /elsewhere/\n"
    history = [
        ("/bin/sh -c #(nop) ADD file:abc in / ", False),
        ("/bin/sh -c #(nop)  ARG DEST", True),
        ("/bin/sh -c #(nop) COPY dir:0123456789abcdef0123456789abcdef in /srv/ ", False),
        ("/bin/sh -c #(nop) COPY dir:1123456789abcdef0123456789abcdef in /elsewhere/ ", False),
    ]
    image = _image(history)
    mapping = map_image(image, parse(dockerfile))
    # DEST is unknown (no RUN recorded its value): the destination still matches.
    assert {i: s.line for i, s in mapping.by_history.items()} == {1: 2, 2: 3, 3: 4}
    assert mapping.inexact == ()


def test_target_stage_inherits_history_of_the_stage_it_builds_on() -> None:
    dockerfile = "FROM busybox AS base\nRUN echo one\nFROM base AS app\nRUN echo two\n"
    history = [
        ("/bin/sh -c #(nop) ADD file:abc in / ", False),
        ("/bin/sh -c echo one", False),
        ("/bin/sh -c echo two", False),
    ]
    mapping = map_image(_image(history), parse(dockerfile))
    assert {i: s.line for i, s in mapping.by_history.items()} == {1: 2, 2: 4}


def test_locate_sets_the_line_of_each_finding() -> None:
    image = _image(CLASSIC)
    mapping = map_image(image, parse(DOCKERFILE, "deploy/Dockerfile"))
    base = Finding("LS101", Kind.REMOVED_LATER, Severity.LOW, 10, 6, (), "m", "f")
    kept = replace(base, layer=7, location=("other", 3))
    none = replace(base, layer=None)
    got = locate([base, kept, none, replace(base, layer=0)], image, mapping)
    assert [f.location for f in got] == [("deploy/Dockerfile", 15), ("other", 3), None, None]


def test_history_index_locates_findings_on_empty_layers() -> None:
    image = _image(CLASSIC)
    mapping = map_image(image, parse(DOCKERFILE))
    arg = Finding(
        "LS503", Kind.CACHE_BUST, Severity.LOW, 1, None, (), "m", "f",
        extra=(("history_index", "4"),),
    )  # fmt: skip
    assert locate([arg], image, mapping)[0].location == ("Dockerfile", 7)


def test_heredoc_runs_match_buildkit_history() -> None:
    dockerfile = (
        "FROM busybox\n"
        "RUN <<EOF\nset -eux\napk add curl\nEOF\n"
        "RUN python3 <<PY > /out\nprint(1)\nPY\n"
        "RUN <<EOF\n#!/usr/bin/env python3\nprint(2)\nEOF\n"
    )
    history = [
        ("/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ", False),
        ("RUN /bin/sh -c set -eux\napk add curl\n # buildkit", False),
        ("RUN /bin/sh -c python3 <<PY > /out\nprint(1)\nPY # buildkit", False),
        ("RUN /dev/pipes/EOF # buildkit", False),
    ]
    mapping = map_image(_image(history, "buildkit.dockerfile.v0"), parse(dockerfile))
    assert {i: s.line for i, s in mapping.by_history.items()} == {1: 2, 2: 6, 3: 9}
    assert mapping.inexact == ()


@pytest.mark.parametrize(
    ("dockerfile_expose", "recorded", "exact"),
    [
        ("EXPOSE 80", "EXPOSE map[80/tcp:{}]", True),  # BuildKit
        ("EXPOSE 80", "/bin/sh -c #(nop)  EXPOSE 80", True),  # classic
        ("EXPOSE 443/udp 80", "EXPOSE map[443/udp:{} 80/tcp:{}]", True),
        ("EXPOSE $PORT", "EXPOSE map[80/tcp:{}]", True),  # ENV PORT 80 before it
        ("EXPOSE 8080", "EXPOSE map[80/tcp:{}]", False),
    ],
)
def test_expose_pairs_with_buildkit_port_maps(
    dockerfile_expose: str, recorded: str, exact: bool
) -> None:
    dockerfile = f"FROM busybox\nENV PORT 80\n{dockerfile_expose}\nRUN echo hi > /hi\n"
    history = [
        ("/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ", False),
        ("ENV PORT=80", True),
        (recorded, True),
        ("RUN /bin/sh -c echo hi > /hi # buildkit", False),
    ]
    mapping = map_image(_image(history, "buildkit.dockerfile.v0"), parse(dockerfile))
    assert mapping.by_history[2].line == 3
    assert (mapping.inexact == ()) is exact


_HC = 'HEALTHCHECK &{[%s] "30s" "0s" "0s" \'\\x00\'}'


@pytest.mark.parametrize(
    ("dockerfile_healthcheck", "recorded", "exact"),
    [
        # awesome-compose react-express-mysql/backend, shell form over two lines
        ("HEALTHCHECK --interval=30s \\\n  CMD node healthcheck.js",
         _HC % '"CMD-SHELL" "node healthcheck.js"', True),
        ("HEALTHCHECK --interval=30s CMD node healthcheck.js",
         "/bin/sh -c #(nop)  " + _HC % '"CMD-SHELL" "node healthcheck.js"', True),
        ('HEALTHCHECK --interval=30s CMD ["curl", "-f", "http://localhost/"]',
         _HC % '"CMD" "curl" "-f" "http://localhost/"', True),
        ("HEALTHCHECK NONE", "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}", True),
        ("HEALTHCHECK --interval=30s CMD node other.js",
         _HC % '"CMD-SHELL" "node healthcheck.js"', False),
    ],
)  # fmt: skip
def test_healthcheck_pairs_with_the_recorded_test(
    dockerfile_healthcheck: str, recorded: str, exact: bool
) -> None:
    dockerfile = f"FROM busybox\n{dockerfile_healthcheck}\nRUN echo hi > /hi\n"
    history = [
        ("/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ", False),
        (recorded, True),
        ("RUN /bin/sh -c echo hi > /hi # buildkit", False),
    ]
    mapping = map_image(_image(history, "buildkit.dockerfile.v0"), parse(dockerfile))
    assert mapping.by_history[1].line == 2
    assert (mapping.inexact == ()) is exact


@pytest.mark.parametrize(
    ("line", "recorded", "exact"),
    [
        # docker init's templates end in a shell-form CMD
        ("CMD node src/index.js", 'CMD ["/bin/sh" "-c" "node src/index.js"]', True),
        ("CMD python3 -m uvicorn app:app --host=0.0.0.0 --port=8000",
         '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "python3 -m uvicorn app:app '
         '--host=0.0.0.0 --port=8000"]', True),
        ("ENTRYPOINT exec java -jar /app.jar",
         'ENTRYPOINT ["/bin/sh" "-c" "exec java -jar /app.jar"]', True),
        ("CMD node other.js", 'CMD ["/bin/sh" "-c" "node src/index.js"]', False),
    ],
)  # fmt: skip
def test_shell_form_cmd_pairs_with_the_recorded_argv(line: str, recorded: str, exact: bool) -> None:
    dockerfile = f"FROM busybox\nRUN echo hi > /hi\n{line}\n"
    history = [
        ("/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ", False),
        ("RUN /bin/sh -c echo hi > /hi # buildkit", False),
        (recorded, True),
    ]
    mapping = map_image(_image(history, "buildkit.dockerfile.v0"), parse(dockerfile))
    assert mapping.by_history[2].line == 3
    assert (mapping.inexact == ()) is exact
