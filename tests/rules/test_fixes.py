"""Fix-text helpers: RUN rewrites stay valid shell and say exactly what changes."""

from __future__ import annotations

import pytest

from layerscope.rules.fixes import (
    append_command,
    cache_mount_run,
    cleanup_commands,
    insert_flag,
    quote_paths,
    rewrite,
    shell_join,
)


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("make", "make && rm -rf /x"),
        ("set -e; make;", "set -e; make && rm -rf /x"),
        ("make &&", "make && rm -rf /x"),
        ("make \\", "make && rm -rf /x"),
        ("make # build it", "make && rm -rf /x # build it"),
        ("<<EOF\nmake\nEOF", "<<EOF\nmake\nrm -rf /x\nEOF"),
    ],
)
def test_append_command(cmd: str, expected: str) -> None:
    assert append_command(cmd, "rm -rf /x") == expected


def test_insert_flag_once_per_command_and_never_twice() -> None:
    pattern = r"\bpip3?\s+install\b"
    cmd = "pip install a && pip3 install b && pip install --no-cache-dir c"
    assert insert_flag(cmd, pattern, "--no-cache-dir") == (
        "pip install --no-cache-dir a && pip3 install --no-cache-dir b"
        " && pip install --no-cache-dir c"
    )


def test_cleanup_commands_match_the_paths_they_delete() -> None:
    later = "apt-get clean && npm cache clean --force && rm -rf /var/lib/apt/lists/* /tmp/x"
    paths = ["var/lib/apt/lists/deb_Packages"]
    assert cleanup_commands(later, paths, ("apt-get",)) == [
        "apt-get clean",
        "rm -rf /var/lib/apt/lists/*",
    ]
    assert cleanup_commands(later, paths) == ["rm -rf /var/lib/apt/lists/*"]
    assert cleanup_commands("rm -rf ~/.npm", ["home/app/.npm/_cacache/a"]) == ["rm -rf ~/.npm"]
    assert cleanup_commands("find /tmp -type f -delete", ["tmp/a/b"]) == [
        "find /tmp -type f -delete"
    ]
    assert cleanup_commands("rm -rf /var/cache", ["var/lib/apt/lists/a"]) == []


def test_quoting_keeps_globs_and_quotes_spaces() -> None:
    assert shell_join(["rm", "-rf", "/var/lib/apt/lists/*", "/a b"]) == (
        "rm -rf /var/lib/apt/lists/* '/a b'"
    )
    assert quote_paths(["tmp/a b", "var/x"]) == "'/tmp/a b' /var/x"


def test_cache_mount_and_rewrite() -> None:
    assert cache_mount_run("npm ci", ["home/node/.npm"], uid=1000, gid=1000) == (
        "RUN --mount=type=cache,target=/home/node/.npm,uid=1000,gid=1000 npm ci"
    )
    assert rewrite("a", "a && b") == "-RUN a\n+RUN a && b"
