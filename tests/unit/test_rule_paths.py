"""Bulk path search (layerscope/rules/paths.py): candidates must include every
path the per-path condition accepts, in order, whatever the paths hold."""

from __future__ import annotations

import re

from layerscope.model import Entry, EntryType
from layerscope.rules.cachepaths import Matcher
from layerscope.rules.paths import FinalPaths, PathText, line_pattern

PATHS = [
    "tmp/a",
    "var/tmp/b.log",
    "usr/lib/x.log",
    "app/.git/HEAD",
    "app/.git/objects/.git/x",
    "tmpfile",
    "",
    "home/u",
    "var/log/apt/term.log",
]


def _hits(paths: list[str], *patterns: str) -> list[str]:
    text = PathText(paths)
    return [paths[i] for i in text.candidates(*(re.compile(p) for p in patterns))]


def test_anchors_at_the_start_and_end_of_each_path() -> None:
    assert _hits(PATHS, r"\ntmp/") == ["tmp/a"]
    assert _hits(PATHS, r"\.log(?=\n)") == [
        "var/tmp/b.log",
        "usr/lib/x.log",
        "var/log/apt/term.log",
    ]
    assert _hits(PATHS, r"\nhome/[^/\n]*(?=\n)") == ["home/u"]
    assert _hits(PATHS, r"\n\n") == [""]  # an empty path: only its newline


def test_a_path_with_several_matches_comes_once() -> None:
    assert _hits(PATHS, r"\.git/") == ["app/.git/HEAD", "app/.git/objects/.git/x"]


def test_several_regexes_give_one_ascending_list() -> None:
    assert _hits(PATHS, r"\.log(?=\n)", r"\ntmp/", r"\nvar/") == [
        "tmp/a",
        "var/tmp/b.log",
        "usr/lib/x.log",
        "var/log/apt/term.log",
    ]


def test_adjacent_paths_anchored_on_the_shared_newline() -> None:
    # The newline between two paths ends the first and starts the second.
    assert _hits(["a.log", "a.log", "b"], r"\.log(?=\n)", r"\na") == ["a.log", "a.log"]
    assert _hits(["x.log", "tmp/y"], r"\.log\n", r"\ntmp/") == ["x.log", "tmp/y"]


def test_first_and_last_path() -> None:
    assert _hits(["tmp/x", "b", "c.log"], r"\ntmp/", r"\.log(?=\n)") == ["tmp/x", "c.log"]


def test_a_newline_inside_a_path_makes_every_path_a_candidate() -> None:
    paths = ["a", "b\ntmp/c", "d"]
    assert _hits(paths, r"\ntmp/") == paths
    assert PathText([]).candidates(re.compile("x")) == []


def test_line_pattern_matches_a_line_as_the_pattern_matches_a_path() -> None:
    pattern = r"usr/(?:local/)?lib/(?:[^/]+/)*lib[^/]+\.a\Z|var/cache/apt"
    paths = [
        "usr/lib/libc.a",
        "usr/lib/x/y/libz.a",
        "usr/lib/libc.a.old",
        "usr/lib/lib.a",
        "var/cache/apt/x",
        "var/cache/aptitude",
        "x/usr/lib/libc.a",
    ]
    whole = re.compile(pattern)
    expected = [p for p in paths if whole.match(p)]
    assert _hits(paths, line_pattern(pattern).pattern) == expected
    assert expected == [
        "usr/lib/libc.a",
        "usr/lib/x/y/libz.a",
        "var/cache/apt/x",
        "var/cache/aptitude",
    ]


def test_line_pattern_does_not_cross_into_the_next_path() -> None:
    # [^/]* must stop at the newline: "var/log/dnf" must not reach ".log".
    regex = line_pattern(r"var/log/dnf[^/]*\.log\Z")
    assert _hits(["var/log/dnf", "x.log", "var/log/dnf.log"], regex.pattern) == ["var/log/dnf.log"]


def test_final_paths_lists_and_types() -> None:
    final = {
        "a": (0, Entry("a", EntryType.FILE, 3)),
        "d": (0, Entry("d", EntryType.DIR)),
        "h": (1, Entry("h", EntryType.HARDLINK, linkname="a")),
        "h2": (1, Entry("h2", EntryType.HARDLINK, linkname="a")),
    }
    fp = FinalPaths(final)
    assert fp.paths == ["a", "d", "h", "h2"]
    assert fp.nodes[2] == final["h"]
    assert fp.of_type(EntryType.HARDLINK) == [2, 3]
    assert fp.of_type(EntryType.FILE) == [0]
    assert fp.of_type(EntryType.FIFO) == []
    assert fp.text.candidates(re.compile(r"\nh")) == [2, 3]


def test_cache_candidates_include_every_cache_path() -> None:
    homes = ["root", "home/app", "srv/data"]
    env = {"PIP_CACHE_DIR": "/opt/pip\\Zx", "GOMODCACHE": "/mods", "XDG_CACHE_HOME": "/x\ny"}
    matcher = Matcher(homes, env)
    paths = [
        "var/lib/apt/lists/x",
        "var/lib/apt/listsx",
        "root/.cache/pip/http/a",
        "home/app/.npm/_cacache/x",
        "home/other/.cache/yarn/v6/x",
        "srv/data/.m2/repository/a.jar",
        "opt/pip\\Zx/wheels/a",
        "mods/cache/x",
        "var/log/dnf.librepo.log",
        "var/log/dnf/x.log",
        "usr/local/bundle/ruby/3.1.0/cache/a.gem",
        "src/proj/target/release/deps/a.rlib",
        "proj/.yarn/cache/a.zip",
        "x/.pnpm-store/v3/a",
        "opt/conda/pkgs/numpy/x",
        "usr/lib/python3/x.py",
        "root/.cache/pipx/x",
    ]
    found = set(matcher.candidates(PathText(paths)))
    matched = {i for i, p in enumerate(paths) if matcher.match(p) is not None}
    assert matched <= found
    assert len(matched) == 13  # the last two and the look-alikes are not caches


_PARTS = [
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/apk",
    "var/log/(?:dnf|hawkey|yum)[^/]*\\.log",
    "opt/(?:conda|miniconda3?)/pkgs",
    "opt/conda",
    "usr/local/cargo/(?:registry|git)",
    "usr/lib/ruby/gems/[^/]+/cache",
    "a|b",
    "ab+c",
    "a\\.b",
    "a\\-b",
    "a\\d",
    "x{2}y",
    "x",
    "",
    "\\.tar",
    "\\.tgz",
    "\\.t[a-z]z",
]


def test_alternation_matches_the_same_strings() -> None:
    """The factored alternation (issue 15) accepts exactly what the plain one does."""
    import random

    from layerscope.rules.paths import alternation

    factored = re.compile(alternation(_PARTS))
    plain = re.compile("(?:" + "|".join(_PARTS) + ")")
    assert len(factored.pattern) < len(plain.pattern)
    rng = random.Random(15)
    alphabet = [
        "var/",
        "lib/",
        "cache/",
        "apt",
        "apk",
        "log/",
        "dnf",
        "yum",
        ".log",
        "opt/",
        "conda",
        "miniconda",
        "3",
        "pkgs",
        "usr/",
        "local/",
        "cargo/",
        "git",
        "ruby/",
        "gems/",
        "a",
        "b",
        "c",
        "x",
        "y",
        ".",
        "-",
        "1",
        "/",
        ".tar",
        ".tgz",
        "t",
        "z",
    ]
    samples = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(20000)
    ]
    samples += [
        "var/lib/apt/lists",
        "opt/miniconda3/pkgs",
        "opt/miniconda/pkgs",
        "xxy",
        "abbc",
        "a|b",
        "a",
        "b",
        "a.b",
        "a-b",
        "a1",
        "usr/lib/ruby/gems/3.1/cache",
        ".txz",
    ]
    hits = 0
    for s in samples:
        expected = plain.fullmatch(s) is not None
        assert (factored.fullmatch(s) is not None) is expected, s
        hits += expected
    assert hits > 20


def test_cache_and_archive_searches_find_the_same_paths() -> None:
    """The factored searches of the cache rules and LS3xx archives find the
    very paths the plain alternations found."""
    from layerscope.rules import cachepaths, leftover_archives
    from layerscope.rules.cachepaths import PATTERNS

    roots = [
        p.replace("{H}", "home/app").replace("[^/]+", "x").replace("[^/]*", "")
        for ps in PATTERNS.values()
        for p in ps
    ]
    paths = []
    for root in roots:
        plain_root = re.sub(r"\(\?:([^|)]*)[^)]*\)", r"\1", root).replace("\\", "").replace("?", "")
        paths += [
            plain_root,
            plain_root + "/f",
            plain_root + "x/f",
            "a/" + plain_root,
            plain_root[:-1],
        ]
    paths += [
        "root/.cache/pip/x",
        "home/u/.npm/_cacache/a",
        "var/cache/aptx",
        "usr/local/x",
        "a.tar",
        "a.tgz",
        "a.tar.gz",
        "b.tbz2",
        "c.zip",
        "c.zipx",
        "d.7z",
        "e.tar/x",
    ]
    text = PathText(paths)
    new = cachepaths._line_regexes(["opt/env-root"], ["root", "srv/app"])
    # The plain alternation the rules searched with before.
    fixed = ["opt/env\\-root"]
    tails = []
    for patterns in PATTERNS.values():
        for pattern in patterns:
            line = pattern.replace("[^/]", "[^/\\n]")
            if line.startswith("{H}/"):
                tails.append(line.removeprefix("{H}/"))
            else:
                fixed.append(line)
    fixed.append(f"(?:root|srv/app|home/[^/\\n]+)/(?:{'|'.join(tails)})")
    old = re.compile("\\n(?:" + "|".join(fixed) + ")(?=/|\\n)")
    found = text.candidates(new[0])
    assert found == text.candidates(old)
    assert len(found) > len(roots)
    ends = leftover_archives._ARCHIVE_ENDINGS
    old_hint = re.compile("(?:" + "|".join(map(re.escape, ends)) + ")(?=\n)")
    assert text.candidates(leftover_archives._ARCHIVE_HINT) == text.candidates(old_hint)
    assert len(text.candidates(old_hint)) >= 6
