"""Dockerfile fixes: what each does, and when it refuses (the build's meaning would change)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.dockerfile.layer_map import map_image
from layerscope.dockerfile.parser import parse
from layerscope.fix.diff import unified_diff
from layerscope.fix.model import Evidence, Fix
from layerscope.fix.planner import apply, plan
from tests.builders import docker_archive, file, layer_tar, read_archive, wh


def fixed(text: str, kinds: Sequence[str] | None = None, **kw: object) -> tuple[str, list[Fix]]:
    df = parse(text)
    fixes = plan(df, kinds=kinds, **kw) if kinds else plan(df, **kw)  # type: ignore[arg-type]
    return apply(text, fixes), fixes


# -- merge-cleanup --------------------------------------------------------------------------


def test_merge_cleanup_moves_the_command_and_keeps_its_continuations() -> None:
    new, fixes = fixed(
        "FROM x\n"
        "RUN curl -o /tmp/a.tgz https://e/a.tgz && tar -xzf /tmp/a.tgz -C /opt\n"
        "ENV A=1\n"
        "RUN rm -rf /tmp/a.tgz \\\n"
        "      /var/tmp/*\n"
        "CMD x\n",
        ["merge-cleanup"],
    )
    assert new == (
        "FROM x\n"
        "RUN curl -o /tmp/a.tgz https://e/a.tgz && tar -xzf /tmp/a.tgz -C /opt \\\n"
        "    && rm -rf /tmp/a.tgz \\\n"
        "      /var/tmp/*\n"
        "ENV A=1\n"
        "CMD x\n"
    )
    assert [(f.kind, f.line) for f in fixes] == [("merge-cleanup", 2)]


@pytest.mark.parametrize(
    "text",
    [
        "FROM x\nRUN make # build it\nRUN rm -rf /tmp/*\n",  # a comment would swallow the &&
        "FROM x\nRUN make\nRUN rm -rf /tmp/a; apt-get clean\n",  # ; changes the exit status
        "FROM x\nRUN cd /src && make\nRUN rm -rf build\n",  # relative path after a cd
        'FROM x\nRUN ["make"]\nRUN rm -rf /tmp/*\n',  # exec form
        "FROM x\nRUN make\nUSER app\nRUN rm -rf /tmp/*\n",  # another user
        "FROM x\nRUN make\nRUN --mount=type=tmpfs,target=/t rm -rf /tmp/*\n",
        "FROM x\nRUN --mount=type=cache,target=/var/lib/apt apt-get update\n"
        "RUN rm -rf /var/lib/apt/lists/*\n",  # never empty a cache mount
        "FROM x\nRUN make\nRUN rm -rf /tmp/* && make install\n",  # not only a cleanup
    ],
)
def test_merge_cleanup_refuses(text: str) -> None:
    assert fixed(text, ["merge-cleanup"])[1] == []


def test_merge_cleanup_into_a_set_e_heredoc_adds_a_last_line() -> None:
    new, _ = fixed(
        "FROM x\nRUN <<EOF\nset -eu\nmake\nEOF\nRUN rm -rf /tmp/build\n", ["merge-cleanup"]
    )
    assert new == "FROM x\nRUN <<EOF\nset -eu\nmake\nrm -rf /tmp/build\nEOF\n"
    # without set -e the exit status would change: no fix
    assert fixed("FROM x\nRUN <<EOF\nmake\nEOF\nRUN rm -rf /tmp/b\n", ["merge-cleanup"])[1] == []


# -- merge-update ---------------------------------------------------------------------------


def test_merge_update_goes_into_the_first_install() -> None:
    new, fixes = fixed(
        "FROM d\nRUN apt-get update\nRUN echo hi\nRUN apt-get install -y curl\n", ["merge-update"]
    )
    assert new == "FROM d\nRUN echo hi\nRUN apt-get update && apt-get install -y curl\n"
    assert fixes[0].line == 4


@pytest.mark.parametrize(
    "text",
    [
        "FROM d\nRUN apt-get update\nRUN set -e; apt-get install -y curl\n",
        "FROM d\nRUN apt-get update && echo ok > /x\nRUN apt-get install -y curl\n",
        "FROM d\nRUN apt-get update\nRUN apt-get update && apt-get install -y curl\n",
    ],
)
def test_merge_update_refuses(text: str) -> None:
    assert fixed(text, ["merge-update"])[1] == []


# -- no-cache -------------------------------------------------------------------------------


def test_no_cache_flags_and_cleanups() -> None:
    new, _ = fixed(
        "FROM x\n"
        "RUN python3 -m pip install flask && pip3 install -r r.txt\n"
        "RUN apk add curl\n"
        "RUN apt-get update && apt-get install -y git\n"
        "RUN npm ci\n"
        "RUN dnf install -y make\n",
        ["no-cache"],
    )
    assert new == (
        "FROM x\n"
        "RUN python3 -m pip install --no-cache-dir flask && pip3 install --no-cache-dir -r r.txt\n"
        "RUN apk add --no-cache curl\n"
        "RUN apt-get update && apt-get install -y git \\\n"
        "    && apt-get clean && rm -rf /var/lib/apt/lists/*\n"
        "RUN npm ci \\\n"
        "    && npm cache clean --force && rm -rf $HOME/.npm/_logs\n"
        "RUN dnf install -y make \\\n"
        "    && dnf clean all\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "FROM x\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n",
        "FROM x\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\n",
        "FROM x\nRUN pip install --no-cache-dir a && pip install b\n",
        "FROM x\nRUN apk add --no-cache curl\n",
        "FROM x\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n",
        "FROM x\nRUN --mount=type=cache,target=/var/cache/apt apt-get install -y git\n",
        "FROM x\nRUN apt-get install -y git # comment\n",
        "FROM x\nRUN echo 'pip install x'\n",
    ],
)
def test_no_cache_refuses(text: str) -> None:
    assert fixed(text, ["no-cache"])[1] == []


# -- reorder --------------------------------------------------------------------------------


def test_reorder_moves_the_source_copy_after_the_installs() -> None:
    new, fixes = fixed(
        "FROM d\n"
        "WORKDIR /app\n"
        "COPY --chown=app:app . .\n"
        "RUN apt-get update && apt-get install -y libpq5\n"
        "USER app\n"
        "RUN pip install --user -r requirements/base.txt\n"
        "RUN python manage.py collectstatic\n",
        ["reorder"],
    )
    # requirements/base.txt lies in a subdirectory: one COPY per directory would be needed
    assert fixes == []
    new, fixes = fixed(
        "FROM d\n"
        "WORKDIR /app\n"
        "COPY --chown=app:app . .\n"
        "RUN apt-get update && apt-get install -y libpq5\n"
        "USER app\n"
        "RUN pip install --user -r requirements.txt -c constraints.txt\n"
        "RUN python manage.py collectstatic\n",
        ["reorder"],
    )
    assert new == (
        "FROM d\n"
        "WORKDIR /app\n"
        "COPY --chown=app:app requirements.txt constraints.txt ./\n"
        "RUN apt-get update && apt-get install -y libpq5\n"
        "USER app\n"
        "RUN pip install --user -r requirements.txt -c constraints.txt\n"
        "COPY --chown=app:app . .\n"
        "RUN python manage.py collectstatic\n"
    )
    assert fixes[0].line == 3 and "apt, pip" in fixes[0].title


def test_reorder_names_the_files_the_context_has(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    (tmp_path / "web" / "yarn.lock").write_text("")
    text = "FROM n\nWORKDIR /w\nCOPY web/ .\nRUN yarn install --frozen-lockfile\nRUN yarn build\n"
    new, _ = fixed(text, ["reorder"], context=str(tmp_path))
    assert "COPY web/package.json web/yarn.lock ./\nRUN yarn install" in new
    new, _ = fixed(text, ["reorder"])
    assert "COPY web/package.json web/yarn.lock* ./\n" in new  # unknown: the lock is optional


@pytest.mark.parametrize(
    "text",
    [
        "FROM d\nCOPY . .\nRUN make deps\nRUN pip install -r requirements.txt\n",
        "FROM d\nCOPY . .\nWORKDIR /app\nRUN pip install -r requirements.txt\n",
        "FROM d\nCOPY . $APP/\nENV APP=/srv\nRUN pip install -r requirements.txt\n",
        "FROM d\nCOPY . .\nCOPY conf.py settings.py\nRUN pip install -r requirements.txt\n",
        "FROM d\nCOPY . .\nRUN pip install .\n",
        "FROM d\nCOPY --from=build /src .\nRUN npm ci\n",
        "FROM d\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n",
        "FROM d\nCOPY . .\nRUN cargo build --release\n",
    ],
)
def test_reorder_refuses(text: str) -> None:
    assert fixed(text, ["reorder"])[1] == []


# -- copy-chown -----------------------------------------------------------------------------


def test_copy_chown_sets_owners_on_every_copy_into_the_tree() -> None:
    new, _ = fixed(
        "FROM b\nWORKDIR /srv\nCOPY a/ ./a/\nCOPY b /srv/b\nCOPY c /etc/c\n"
        "RUN chown -hR app:app /srv && echo ok\n",
        ["copy-chown"],
    )
    assert new == (
        "FROM b\nWORKDIR /srv\nCOPY --chown=app:app a/ ./a/\nCOPY --chown=app:app b /srv/b\n"
        "COPY c /etc/c\nRUN chown -h app:app /srv && echo ok\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "FROM b\nCOPY a /srv/a\nRUN chown -R app /srv\n",  # no group: --chown would differ
        "FROM b\nCOPY a /srv/a\nRUN mkdir /srv/x\nRUN chown -R app:app /srv\n",
        "FROM b\nCOPY . /\nRUN chown -R app:app /srv\n",
        "FROM b\nCOPY --chown=1:1 a /srv/a\nRUN chown -R app:app /srv\n",
        "FROM b\nCOPY a /srv/a\nRUN chown -R $U:$U /srv\n",
        "FROM b\nRUN chown -R app:app /srv\n",
    ],
)
def test_copy_chown_refuses(text: str) -> None:
    assert fixed(text, ["copy-chown"])[1] == []


# -- evidence from the image ----------------------------------------------------------------


def test_evidence_gives_bytes_and_drops_fixes_the_image_does_not_need() -> None:
    text = (
        "FROM base\n"
        "RUN apt-get update && apt-get install -y git\n"
        "RUN pip install flask\n"
        "COPY app /srv/app\n"
        "RUN chown -R app:app /srv/app\n"
    )
    layers = [
        [file("bin/sh", 10)],
        [file("var/lib/apt/lists/x_Packages", 5000), file("var/cache/apt/pkgcache.bin", 700),
         file("usr/bin/git", 90)],
        [file("usr/lib/python3/flask.py", 40)],  # no pip cache: a cache mount or PIP_ env
        [file("srv/app/main.py", 300)],
        [file("srv/app/main.py", 300)],
    ]  # fmt: skip
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
        {"created_by": "/bin/sh -c apt-get update && apt-get install -y git"},
        {"created_by": "/bin/sh -c pip install flask"},
        {"created_by": "/bin/sh -c #(nop) COPY dir:" + "b" * 64 + " in /srv/app "},
        {"created_by": "/bin/sh -c chown -R app:app /srv/app"},
    ]
    result = analyze(read_archive(docker_archive([layer_tar(m) for m in layers], history)))
    df = parse(text)
    ev = Evidence(result, map_image(result.image, df))
    fixes = {f.kind: f for f in plan(df, ev)}
    assert sorted(fixes) == ["copy-chown", "no-cache"]
    assert fixes["no-cache"].line == 2 and fixes["no-cache"].bytes == 5700
    assert "apt-get clean && rm -rf" in apply(text, [fixes["no-cache"]])
    assert fixes["copy-chown"].bytes == 300
    # without the image the pip fix is offered on the text alone
    assert "pip install --no-cache-dir flask" in apply(text, plan(df))


def test_evidence_refuses_a_chown_that_covers_files_not_copied() -> None:
    text = "FROM base\nCOPY app /srv/app\nRUN chown -R app:app /srv/app\n"
    layers = [
        [file("srv/app/old.txt", 5)],  # the base image had files there
        [file("srv/app/main.py", 300)],
        [file("srv/app/main.py", 300), file("srv/app/old.txt", 5)],
    ]
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
        {"created_by": "/bin/sh -c #(nop) COPY dir:" + "b" * 64 + " in /srv/app "},
        {"created_by": "/bin/sh -c chown -R app:app /srv/app"},
    ]
    result = analyze(read_archive(docker_archive([layer_tar(m) for m in layers], history)))
    df = parse(text)
    assert plan(df, Evidence(result, map_image(result.image, df))) == []
    assert [f.kind for f in plan(df)] == ["copy-chown"]


def test_evidence_merge_cleanup_counts_hidden_bytes() -> None:
    text = "FROM base\nRUN make\nRUN rm -rf /tmp/build\n"
    layers = [[file("bin/sh", 1)], [file("tmp/build/o.o", 4096)], [wh("tmp/build")]]
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "},
        {"created_by": "/bin/sh -c make"},
        {"created_by": "/bin/sh -c rm -rf /tmp/build"},
    ]
    result = analyze(read_archive(docker_archive([layer_tar(m) for m in layers], history)))
    df = parse(text)
    (fix,) = plan(df, Evidence(result, map_image(result.image, df)))
    assert (fix.kind, fix.bytes) == ("merge-cleanup", 4096)


# -- diff and text --------------------------------------------------------------------------


def test_conflicting_fixes_keep_the_first() -> None:
    text = "FROM x\nCOPY a /srv/a\nRUN apt-get install -y a\nRUN chown -R u:g /srv\n"
    fixes = plan(parse(text))
    kinds = [f.kind for f in fixes]
    # reorder moves the COPY that copy-chown would edit: only one of them is applied
    assert kinds.count("reorder") + kinds.count("copy-chown") == 1


def test_unified_diff_without_final_newline_and_crlf(tmp_path: Path) -> None:
    text = "FROM x\r\nRUN npm ci\r\nCMD x"
    new, _ = fixed(text, ["no-cache"])
    clean = "npm cache clean --force && rm -rf $HOME/.npm/_logs"
    assert new == f"FROM x\r\nRUN npm ci \\\r\n    && {clean}\r\nCMD x"
    diff = unified_diff("a\nb", "a\nc", "f")
    assert diff == (
        "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n"
    )
    assert unified_diff("same\n", "same\n", "f") == ""
    if shutil.which("patch"):
        (tmp_path / "f").write_text("a\nb")
        subprocess.run(
            ["patch", "-p0", "--batch"], cwd=tmp_path, input=diff, text=True, check=True,
            capture_output=True, timeout=60,
        )  # fmt: skip
        assert (tmp_path / "f").read_text() == "a\nc"


def test_reorder_at_the_end_of_a_file_without_a_final_newline() -> None:
    new, _ = fixed("FROM n\nCOPY . .\nRUN npm ci", ["reorder"])
    assert new == "FROM n\nCOPY package.json package-lock.json* ./\nRUN npm ci\nCOPY . ."
