"""LS3xx build leftovers on crafted layers, false positives included."""

from __future__ import annotations

import pytest

from tests.builders import d, file, wh

from .helpers import cause, of, run

KB = 1024


def test_tmp_files_grouped_per_layer_with_a_same_run_fix() -> None:
    result = run(
        [file("tmp/build/a.o", 20 * KB), file("tmp/build/b.o", 30 * KB), file("var/tmp/x", 9 * KB)],
        [file("tmp/other", 40 * KB)],
        history=["/bin/sh -c make -C /tmp/build", "COPY other /tmp/ # buildkit"],
    )
    found = of(result, "LS301")
    assert [(f.layer, f.bytes, f.path_count) for f in found] == [(0, 59 * KB, 3), (1, 40 * KB, 1)]
    assert all(f.reclaimable and cause(f) == "temporary-files" for f in found)
    assert "+RUN make -C /tmp/build && rm -rf /tmp/build /var/tmp/x" in found[0].fix
    assert ".dockerignore" in found[1].fix
    assert result.summary.reclaimable_bytes == 99 * KB


def test_small_tmp_files_and_deleted_ones_are_not_leftovers() -> None:
    result = run(
        [file("tmp/small", 10 * KB), file("tmp/gone", 80 * KB)],
        [wh("tmp/gone")],
        history=["/bin/sh -c x", "/bin/sh -c rm /tmp/gone"],
    )
    assert of(result, "LS3") == []
    assert [f.rule for f in of(result, "LS1")] == ["LS101"]


def test_archive_extracted_in_the_same_run() -> None:
    result = run(
        [
            file("opt/node.tar.xz", 300 * KB),
            d("usr/local/node"),
            file("usr/local/node/bin", 900 * KB),
        ],
        history=[
            "/bin/sh -c curl -o /opt/node.tar.xz https://x"
            " && tar -C /usr/local -xJf /opt/node.tar.xz"
        ],
    )
    (f,) = of(result, "LS302")
    assert (f.bytes, f.layer, cause(f)) == (300 * KB, 0, "archive-kept")
    assert "the same layer unpacked" in f.message
    assert f.fix.endswith("-xJf /opt/node.tar.xz && rm -rf /opt/node.tar.xz")


def test_archive_copied_then_installed_by_a_later_run() -> None:
    result = run(
        [file("tmp/app-1.0-py3-none-any.whl", 120 * KB)],
        [file("usr/lib/python3/site-packages/app/__init__.py", 200 * KB)],
        history=[
            "COPY app-1.0-py3-none-any.whl /tmp/ # buildkit",
            "RUN /bin/sh -c pip install /tmp/*.whl # buildkit",
        ],
    )
    (f,) = of(result, "LS302")
    assert (f.layer, f.bytes) == (0, 120 * KB)
    assert "layer 1 (RUN pip install /tmp/*.whl) unpacked or installed" in f.message
    assert "--mount=type=bind,source=app-1.0-py3-none-any.whl" in f.fix
    assert of(result, "LS301") == []  # one finding for these bytes, not two


def test_archive_next_to_its_extracted_directory() -> None:
    result = run(
        [file("srv/data-v2.zip", 100 * KB)],
        [d("srv/data-v2"), file("srv/data-v2/a.csv", 100 * KB)],
        history=["/bin/sh -c ./download.sh", "/bin/sh -c ./unpack.sh"],
    )
    (f,) = of(result, "LS302")
    assert "data-v2.zip" in f.paths[0] and "layer 1" in f.message
    assert "+RUN ./download.sh && ./unpack.sh && rm -f /srv/data-v2.zip" in f.fix


def test_archive_never_extracted_is_not_reported() -> None:
    result = run(
        [file("srv/backup.tar.gz", 100 * KB), file("usr/share/java/x.zip", 100 * KB)],
        history=["COPY . / # buildkit"],
    )
    assert of(result, "LS302") == []


def test_logs_of_real_size_and_the_lastlog_trap() -> None:
    result = run(
        [file("var/log/dpkg.log", 300 * KB), file("var/log/apt/term.log", 50 * KB)],
        [file("app/logs/build.log", 100 * KB)],
        [file("var/log/lastlog", 600 * KB), file("var/log/faillog", 200 * KB)],
        history=[
            "/bin/sh -c apt-get install -y x",
            "/bin/sh -c make",
            "/bin/sh -c useradd -u 99999 app",
        ],
    )
    found = sorted(of(result, "LS303"), key=lambda f: f.layer or 0)
    assert [(f.layer, f.bytes) for f in found] == [(1, 100 * KB), (2, 800 * KB)]
    assert "useradd --no-log-init" in found[1].fix
    assert "useradd" not in found[0].fix


def test_git_directory_from_the_context_and_vcs_installs() -> None:
    result = run(
        [file("app/.git/objects/pack/p.pack", 500 * KB), file("app/main.py", 5 * KB)],
        [file("usr/lib/python3/site-packages/pkg/.git/objects/a", 100 * KB)],
        history=["COPY . /app # buildkit", "/bin/sh -c pip install git+https://x/pkg"],
    )
    (f,) = of(result, "LS304")
    assert (f.layer, f.bytes, f.paths) == (0, 500 * KB, ("/app/.git/objects/pack/p.pack",))
    assert "Add .git to .dockerignore" in f.fix


def test_git_clone_in_a_run() -> None:
    result = run(
        [file("src/lib/.git/objects/a", 50 * KB), file("src/lib/x.c", 5 * KB)],
        history=["/bin/sh -c git clone https://x/lib /src/lib"],
    )
    (f,) = of(result, "LS304")
    assert "+RUN git clone https://x/lib /src/lib && rm -rf /src/lib/.git" in f.fix
    assert "--depth 1" in f.fix


TOOLCHAIN = [
    file("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 900 * KB),
    file("usr/include/stdio.h", 100 * KB),
    file("usr/lib/x86_64-linux-gnu/libc.a", 300 * KB),
]


def test_toolchain_in_an_image_that_runs_python() -> None:
    result = run(
        [file("usr/bin/python3", 50 * KB)],
        TOOLCHAIN,
        history=["", "/bin/sh -c apt-get install -y build-essential libpq-dev && pip install x"],
        cmd=["python3", "app.py"],
    )
    (f,) = of(result, "LS305")
    assert (f.layer, f.bytes) == (1, 1300 * KB)
    assert "C headers" in f.message and "gcc" in f.message and "static libraries" in f.message
    assert "apt-get purge -y --auto-remove build-essential libpq-dev" in f.fix


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("usr/bin/gcc-12", "gcc"),
        ("usr/bin/x86_64.gnu-g++", "gcc"),
        ("usr/libexec/gcc/x86_64/12/cc1plus", "gcc"),
        ("usr/lib/gcc-cross/aarch64/12/cc1", "gcc"),
        ("usr/lib/llvm-15/bin/clang", "LLVM"),
        ("usr/local/include/x.h", "C headers"),
        ("usr/local/lib/python3/libfoo.a", "static libraries"),
        ("usr/local/go/pkg/tool/linux_amd64/compile", "the Go toolchain"),
        ("usr/local/rustup/toolchains/stable/bin/rustc", "the Rust toolchain"),
    ],
)
def test_every_kind_of_toolchain_is_found(path: str, kind: str) -> None:
    result = run([file(path, 2 << 20), file("usr/bin/gccx", 2 << 20)], cmd=["python3", "app.py"])
    (f,) = of(result, "LS305")
    assert f.paths == ("/" + path,) and kind in f.message


@pytest.mark.parametrize("cmd", [["bash"], ["make", "test"], None])
def test_toolchain_not_reported_for_builder_or_shell_images(cmd: list[str] | None) -> None:
    result = run(TOOLCHAIN, history=["/bin/sh -c apt-get install -y gcc"], cmd=cmd)
    assert of(result, "LS305") == []


def test_making_an_archive_is_not_extracting_it() -> None:
    made = [file("tmp/tool-1.0.tar.gz", 200 * KB)]
    only_made = run(made, history=["/bin/sh -c tar -czf /tmp/tool-1.0.tar.gz /src"])
    assert of(only_made, "LS302") == []
    result = run(
        made,
        [d("opt/tool"), file("opt/tool/tool.bin", 300 * KB)],
        history=[
            "/bin/sh -c tar -czf /tmp/tool-1.0.tar.gz /src",
            "/bin/sh -c tar -C /opt/tool -xzf /tmp/tool-1.0.tar.gz",
        ],
    )
    (f,) = of(result, "LS302")
    assert (f.layer, f.bytes) == (0, 200 * KB)
    assert "layer 1 (RUN tar -C /opt/tool -xzf /tmp/tool-1.0.tar.gz) unpacked" in f.message


@pytest.mark.parametrize(
    ("command", "extracts"),
    [
        ("tar xzf /a.tgz", True),
        ("tar --extract -f /a.tgz", True),
        ("tar -cf /a.tgz .", False),
        ("gzip -d /a.tar.gz", True),
        ("gzip -9 /a.tar", False),
        ("unzip /a.zip", True),
        ("dpkg -i /a.deb", True),
        ("rpm -Uvh /a.rpm", True),
        ("pip install /a.whl", True),
        ("pip download -d /tmp x", False),
        ("7z x /a.7z", True),
        ("7z a /a.7z .", False),
    ],
)
def test_what_counts_as_extracting(command: str, extracts: bool) -> None:
    from layerscope.rules.leftover_archives import _extracts
    from layerscope.shell.commands import split_commands

    assert _extracts(split_commands(command)[0]) is extracts
