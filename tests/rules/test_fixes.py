"""Fix-text helpers: RUN rewrites stay valid shell and say exactly what changes."""

from __future__ import annotations

import shlex

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


def _covers_by_fnmatch(pattern: str, path: str) -> bool:
    """The old per-path test: fnmatchcase on the path and each directory above it."""
    import fnmatch

    if not pattern:
        return False
    probe = path
    while probe:
        if fnmatch.fnmatchcase(probe, pattern):
            return True
        probe = probe.rpartition("/")[0]
    return False


_TRICKY_PATHS = [
    "",
    "a",
    "a/b",
    "a/b/c.py",
    "ab/c",
    "a.b/c",
    "a//b",
    "/abs/x",
    "a/",
    "tmp/[x]/y",
    "tmp/x*/y",
    "tmp/x?/y",
    "var/lib/apt/lists/deb_Packages",
    "var/lib/apt/lists/partial/.lock",
    "home/app/.npm/_cacache/a",
    "root/.cache/pip/http/a/b",
    "usr/lib/python3/site-packages/pkg1/sub0/mod1.py",
    "usr/lib/python3/site-packages/pkg10/sub0/mod10.py",
    "usr/lib/python3/site-packages/pkg2/sub0/mod2.py",
    "caf\u00e9/\udcff\udcfe",
    "a\nb/c",
    "Z/a",
    "z/a",
]
_TRICKY_PATTERNS = [
    "",
    "a",
    "a/b",
    "a/*",
    "*",
    "*/.npm",
    "*/.cache/pip",
    "a?",
    "a?b",
    "a.b",
    "a/b/c.py",
    "a/b/c.p[yz]",
    "a/b/c.p[!y]",
    "a/[b]",
    "a/[",
    "a/[]",
    "a/[!]/x",
    "tmp/[x]/y",
    "tmp/[[]x]/y",
    "tmp/x[*]",
    "tmp/x[?]/y",
    "tmp/*",
    "var/lib/apt/lists/*",
    "var/lib/apt/lists",
    "var/lib/apt/list",
    "usr/lib/python3/site-packages/pkg1*",
    "usr/lib/python3/site-packages/pkg1",
    "usr/lib/python3/site-packages/pkg1?",
    "usr/*/mod2.py",
    "*.py",
    "caf\u00e9/*",
    "a\nb",
    "a*c",
    "[a-z]",
    "[A-Z]/a",
    "/abs",
    "/abs/*",
    "\\*",
    "a/b/",
]


@pytest.mark.parametrize("pattern", _TRICKY_PATTERNS)
def test_cleanup_matching_is_the_old_fnmatch_test(pattern: str) -> None:
    """The compiled matching of cleanup_commands (issue 15) gives the very
    answers the per-path fnmatch loop gave, one path at a time and for all."""
    from layerscope.rules.fixes import _Covered

    for path in _TRICKY_PATHS:
        assert _Covered([path]).covers(pattern) is _covers_by_fnmatch(pattern, path), path
    expected = any(_covers_by_fnmatch(pattern, p) for p in _TRICKY_PATHS)
    assert _Covered(_TRICKY_PATHS).covers(pattern) is expected
    # Through the public helper, as LS101 and the cache rules call it.
    operand = "/" + pattern
    cmd = "rm -rf " + shlex.quote(operand)
    wanted = any(_covers_by_fnmatch(operand.strip("/"), p) for p in _TRICKY_PATHS)
    assert bool(cleanup_commands(cmd, _TRICKY_PATHS)) is wanted


def test_cleanup_matching_agrees_on_random_paths() -> None:
    import random

    from layerscope.rules.fixes import _Covered

    rng = random.Random(15)
    parts = ["a", "b", "ab", "a.b", "x*", "[y]", "", "pkg1", "pkg10", "c.py"]
    paths = ["/".join(rng.choice(parts) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    for pattern in [*_TRICKY_PATTERNS, "*/pkg1*", "a/*/c.py", "?/b", "*b*", "x[*]/*"]:
        for path in paths[:60]:
            assert _Covered([path]).covers(pattern) is _covers_by_fnmatch(pattern, path)
        expected = any(_covers_by_fnmatch(pattern, p) for p in paths)
        assert _Covered(paths).covers(pattern) is expected, pattern
