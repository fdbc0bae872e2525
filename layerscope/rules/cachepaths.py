"""Where each package manager keeps its cache, and one scan of an image that
sorts every cache file into groups: ecosystem, layer, and what became of it.

The paths come from each tool's documentation and the official images'
environments (``/usr/local/cargo``, ``/usr/local/bundle``, composer's
``COMPOSER_HOME=/tmp``). Home directories are ``/root``, every ``/home/*``
and ``$HOME`` of the image config; environment variables of the config that
move a cache (``PIP_CACHE_DIR``, ``GOMODCACHE``, ``CARGO_HOME`` ...) add their
directory. A file belongs to the first pattern that matches it.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field

from layerscope.model import EntryType
from layerscope.rules.common import memo
from layerscope.rules.context import RuleContext
from layerscope.rules.paths import PathText, alternation
from layerscope.union import Cause, Hidden

# ecosystem -> root patterns; ``{H}`` stands for any home directory. A root is
# a directory (or, for logs, a file) whose whole content is the cache.
PATTERNS: dict[str, tuple[str, ...]] = {
    "apt": (r"var/lib/apt/lists", r"var/cache/apt"),
    "apk": (r"var/cache/apk", r"etc/apk/cache"),
    "dnf": (
        r"var/cache/dnf",
        r"var/cache/yum",
        r"var/cache/libdnf5",
        r"var/log/(?:dnf|hawkey|yum)[^/]*\.log",
    ),
    "zypper": (r"var/cache/zypp",),
    "pip": (r"{H}/\.cache/pip",),
    "uv": (r"{H}/\.cache/uv",),
    "poetry": (r"{H}/\.cache/pypoetry/(?:cache|artifacts)",),
    "pipenv": (r"{H}/\.cache/pipenv",),
    "conda": (
        r"opt/(?:conda|miniconda3?|anaconda3?|miniforge3?|mambaforge|micromamba)/pkgs",
        r"{H}/(?:\.conda|miniconda3?|anaconda3?|miniforge3?|mambaforge|micromamba)/pkgs",
    ),
    "npm": (r"{H}/\.npm/(?:_cacache|_logs)",),
    "yarn": (r"usr/local/share/\.cache/yarn", r"{H}/\.cache/yarn", r"{H}/\.yarn-cache"),
    "yarn-berry": (r"{H}/\.yarn/berry/cache",),
    "pnpm": (r"{H}/\.local/share/pnpm/store", r"{H}/\.pnpm-store", r"{H}/\.cache/pnpm"),
    "go": (r"{H}/\.cache/go-build", r"go/pkg/mod", r"{H}/go/pkg/mod"),
    "cargo": (r"usr/local/cargo/(?:registry|git)", r"{H}/\.cargo/(?:registry|git)"),
    "maven": (r"{H}/\.m2/repository",),
    "gradle": (r"{H}/\.gradle/(?:caches|wrapper/dists|daemon)",),
    "gem": (
        r"usr/local/bundle/cache",
        r"usr/local/bundle/ruby/[^/]+/cache",
        r"{H}/\.bundle/cache",
        r"{H}/\.gem/specs",
        r"{H}/\.gem/ruby/[^/]+/cache",
        r"var/lib/gems/[^/]+/cache",
        r"usr/lib/ruby/gems/[^/]+/cache",
        r"usr/local/lib/ruby/gems/[^/]+/cache",
    ),
    "composer": (r"{H}/\.composer/cache", r"{H}/\.cache/composer"),
    "nuget": (r"{H}/\.nuget/packages", r"{H}/\.local/share/NuGet", r"tmp/NuGetScratch"),
}

# Caches that may sit anywhere (inside a project); checked only when the path
# holds the marker substring.
ANYWHERE: tuple[tuple[str, str, str], ...] = (
    ("yarn-berry", ".yarn/cache", r"(?:.*/)?\.yarn/cache"),
    ("pnpm", ".pnpm-store", r"(?:.*/)?\.pnpm-store"),
    (
        "cargo",
        "target/",
        r"(?:.*/)?target/(?:[^/]+/)?(?:debug|release)/(?:deps|build|\.fingerprint|incremental)",
    ),
)

# Environment variables of the image config that move a cache: (variable,
# subdirectory). ``CONDA_PKGS_DIRS`` may list several directories.
ENV_DIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "pip": (("PIP_CACHE_DIR", ""), ("XDG_CACHE_HOME", "pip")),
    "uv": (("UV_CACHE_DIR", ""), ("XDG_CACHE_HOME", "uv")),
    "poetry": (
        ("POETRY_CACHE_DIR", "cache"),
        ("POETRY_CACHE_DIR", "artifacts"),
        ("XDG_CACHE_HOME", "pypoetry/cache"),
        ("XDG_CACHE_HOME", "pypoetry/artifacts"),
    ),
    "pipenv": (("PIPENV_CACHE_DIR", ""), ("XDG_CACHE_HOME", "pipenv")),
    "conda": (("CONDA_PKGS_DIRS", ""), ("CONDA_DIR", "pkgs"), ("MAMBA_ROOT_PREFIX", "pkgs")),
    "npm": (("npm_config_cache", "_cacache"), ("NPM_CONFIG_CACHE", "_cacache")),
    "yarn": (("YARN_CACHE_FOLDER", ""), ("XDG_CACHE_HOME", "yarn")),
    "pnpm": (("PNPM_HOME", "store"), ("npm_config_store_dir", ""), ("XDG_CACHE_HOME", "pnpm")),
    "go": (
        ("GOCACHE", ""),
        ("GOMODCACHE", ""),
        ("GOPATH", "pkg/mod"),
        ("XDG_CACHE_HOME", "go-build"),
    ),
    "cargo": (("CARGO_HOME", "registry"), ("CARGO_HOME", "git")),
    "gradle": (("GRADLE_USER_HOME", "caches"), ("GRADLE_USER_HOME", "wrapper/dists")),
    "gem": (("GEM_HOME", "cache"), ("BUNDLE_PATH", "cache")),
    "composer": (
        ("COMPOSER_CACHE_DIR", ""),
        ("COMPOSER_HOME", "cache"),
        ("XDG_CACHE_HOME", "composer"),
    ),
    "nuget": (("NUGET_PACKAGES", ""),),
}

_TOP_ROOTS = frozenset({"", "usr", "var", "etc", "opt", "tmp", "root", "home", "bin", "lib"})


@dataclass(slots=True)
class CacheGroup:
    """Cache files of one ecosystem stored in one layer that share a fate:
    still visible (``hidden_by`` None) or hidden by layer ``hidden_by``."""

    ecosystem: str
    layer: int
    hidden_by: int | None
    cause: Cause | None
    files: list[tuple[str, int]] = field(default_factory=list)
    roots: set[str] = field(default_factory=set)
    uid: int = 0
    gid: int = 0

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.files)


@dataclass(slots=True)
class CacheScan:
    """Every cache file of the image, grouped; plus what is claimed, so the
    other families leave these bytes to the cache rules."""

    groups: dict[str, list[CacheGroup]]
    visible: set[str]
    hidden: set[tuple[int, str]]
    shared: int = 0  # visible cache bytes also reachable through a hard link outside


class Matcher:
    """Tells which ecosystem's cache, and which cache root, a path is in.

    Patterns are compiled per first path component (``var``, ``root``,
    ``home`` ...), so a path is matched against the few patterns that can
    apply to it. :meth:`candidates` finds the paths worth a :meth:`match`
    among all of an image's at once (see :func:`_line_regexes`).
    """

    def __init__(self, homes: list[str], env: dict[str, str]) -> None:
        home_set = sorted(set(homes) | {"root"})
        home_re = "(?:" + "|".join(re.escape(h) for h in home_set) + "|home/[^/]+)"
        home_firsts = {h.split("/")[0] for h in home_set} | {"home"}
        self._names: dict[str, str] = {}
        by_first: dict[str, list[str]] = defaultdict(list)
        env_roots: list[str] = []
        for eco, pairs in ENV_DIRS.items():
            for var, sub in pairs:
                for value in (env.get(var) or "").split(","):
                    root = posixpath.normpath("/" + value.strip()).strip("/") if value else ""
                    if not root:
                        continue
                    if sub:
                        root = f"{root}/{sub}"
                    if root in _TOP_ROOTS:
                        continue  # never claim a whole top-level directory
                    by_first[root.split("/")[0]].append(self._named(eco, re.escape(root)))
                    env_roots.append(root)
        for eco, patterns in PATTERNS.items():
            for pattern in patterns:
                if pattern.startswith("{H}/"):
                    named = self._named(eco, pattern.replace("{H}", home_re))
                    for first in home_firsts:
                        by_first[first].append(named)
                else:
                    first = pattern.split("/")[0].replace("\\", "")
                    by_first[first].append(self._named(eco, pattern))
        self._fixed = {first: re.compile("|".join(parts)) for first, parts in by_first.items()}
        self._markers = re.compile("|".join(re.escape(marker) for _, marker, _ in ANYWHERE))
        self._anywhere = re.compile("|".join(self._named(e, p) for e, _, p in ANYWHERE))
        self._line_regexes = _line_regexes(env_roots, home_set)

    def _named(self, eco: str, pattern: str) -> str:
        name = f"g{len(self._names)}"
        self._names[name] = eco
        return rf"(?P<{name}>{pattern})(?:/|\Z)"

    def candidates(self, text: PathText) -> list[int]:
        """Indices of the paths of ``text`` that may be in a cache: every path
        :meth:`match` places in one, and a few more."""
        return text.candidates(*self._line_regexes)

    def match(self, path: str) -> tuple[str, str] | None:
        """``(ecosystem, cache root)`` of ``path``, or None."""
        regex = self._fixed.get(path.partition("/")[0])
        m = regex.match(path) if regex is not None else None
        if m is None:
            if self._markers.search(path) is None:
                return None
            m = self._anywhere.match(path)
            if m is None:
                return None
        group = m.lastgroup
        assert group is not None
        return self._names[group], m.group(group)


def _line_regexes(env_roots: list[str], homes: list[str]) -> tuple[re.Pattern[str], ...]:
    """The regexes for Matcher.candidates: between them they find, in a
    PathText, every path Matcher.match places in a cache (and a few more).

    One alternation of every root (the environment's, then PATTERNS) from a
    path's start, with a path component spelt ``[^/\\n]`` so no match runs
    into the next path; the home patterns share one home alternative, so
    every branch starts with a literal and fails fast. Then one search per
    ANYWHERE marker (match() tries those only on paths holding one), each a
    literal that scans fast. A root or home with a newline is left out: only
    a path with a newline could match it, and PathText then returns them all.
    """
    fixed = [re.escape(root) for root in env_roots if "\n" not in root]
    tails = []
    for patterns in PATTERNS.values():
        for pattern in patterns:
            line = pattern.replace("[^/]", "[^/\\n]")
            if line.startswith("{H}/"):
                tails.append(line.removeprefix("{H}/"))
            else:
                fixed.append(line)
    home = "|".join([*(re.escape(h) for h in homes if "\n" not in h), "home/[^/\\n]+"])
    fixed.append(f"(?:{home})/{alternation(tails)}")
    # Common heads factored out (var/..., usr/local/...): the alternation is
    # tried at every path's start.
    return (
        re.compile("\\n" + alternation(fixed) + "(?=/|\\n)"),
        *(re.compile(re.escape(marker)) for _, marker, _ in ANYWHERE),
    )


def _pnp_project(final: dict[str, object], root: str) -> bool:
    """A yarn berry ``.yarn/cache`` that Plug'n'Play loads from: not waste."""
    project = root[: -len(".yarn/cache")].rstrip("/")
    prefix = f"{project}/" if project else ""
    return any(f"{prefix}{name}" in final for name in (".pnp.cjs", ".pnp.js", ".pnp.loader.mjs"))


def scan(ctx: RuleContext) -> CacheScan:
    """The image's cache files, grouped (computed once per analysis)."""
    return memo(ctx, "caches", _scan)


def _homes(ctx: RuleContext) -> list[str]:
    """/root and ``$HOME`` of the image config. Every ``/home/*`` is in the
    patterns already (``home/[^/]+``), so no search of the paths is needed."""
    homes = {"root"}
    home = ctx.image.config.env_value("HOME")
    if home:
        norm = posixpath.normpath("/" + home).strip("/")
        if norm:
            homes.add(norm)
    return sorted(homes)


def _matcher(ctx: RuleContext) -> Matcher:
    return memo(
        ctx,
        "caches.matcher",
        lambda ctx: Matcher(
            _homes(ctx), dict(item.partition("=")[::2] for item in ctx.image.config.env)
        ),
    )


def _pnp_skip(ctx: RuleContext, eco: str, root: str) -> bool:
    """True for a yarn berry cache Plug'n'Play loads from (not waste)."""
    if eco != "yarn-berry" or not root.endswith(".yarn/cache") or "/berry/" in root:
        return False
    pnp: dict[str, bool] = memo(ctx, "caches.pnp", lambda _ctx: {})
    if root not in pnp:
        pnp[root] = _pnp_project(ctx.union.final, root)  # type: ignore[arg-type]
    return pnp[root]


def _hidden_hits(ctx: RuleContext) -> list[tuple[Hidden, str, str]]:
    """``(hidden file, ecosystem, cache root)`` of every hidden file with
    bytes in a cache, in the replay's order: one search of the hidden paths
    (computed once per analysis)."""
    return memo(ctx, "caches.hidden_hits", _find_hidden_hits)


def _find_hidden_hits(ctx: RuleContext) -> list[tuple[Hidden, str, str]]:
    matcher = _matcher(ctx)
    hidden_files = ctx.union.hidden
    out = []
    for i in matcher.candidates(PathText([h.path for h in hidden_files])):
        h = hidden_files[i]
        if h.size <= 0:
            continue
        hit = matcher.match(h.path)
        if hit is not None and not _pnp_skip(ctx, hit[0], hit[1]):
            out.append((h, hit[0], hit[1]))
    return out


def hidden_claims(ctx: RuleContext) -> set[tuple[int, str]]:
    """``(layer, path)`` of the hidden files a cache rule reports: what
    :func:`scan` gives as ``hidden``, found among the hidden files alone
    (no search of the visible paths; computed once per analysis)."""
    return memo(
        ctx, "caches.hidden", lambda ctx: {(h.layer, h.path) for h, _, _ in _hidden_hits(ctx)}
    )


def _scan(ctx: RuleContext) -> CacheScan:
    matcher = _matcher(ctx)
    groups: dict[tuple[str, int, int | None, Cause | None], CacheGroup] = {}
    visible: set[str] = set()

    def group_for(
        eco: str, root: str, layer: int, by: int | None, cause: Cause | None
    ) -> CacheGroup | None:
        if _pnp_skip(ctx, eco, root):
            return None
        key = (eco, layer, by, cause)
        g = groups.get(key)
        if g is None:
            g = groups[key] = CacheGroup(eco, layer, by, cause)
        g.roots.add(root)
        return g

    # Which visible paths are in a cache, in the final filesystem's order.
    paths = ctx.paths
    hits: dict[int, tuple[str, str]] = {}
    for i in matcher.candidates(paths.text):
        hit = matcher.match(paths.paths[i])
        if hit is not None:
            hits[i] = hit
    # Hard links outside a cache that point at a cache file keep its data
    # alive: removing the cache would not free those bytes.
    linked: set[tuple[int, str]] = set()
    for i in paths.of_type(EntryType.HARDLINK):
        if i not in hits:
            layer, entry = paths.nodes[i]
            linked.add((layer, entry.linkname))
    shared = 0
    for i, hit in hits.items():
        layer, entry = paths.nodes[i]
        if entry.type is not EntryType.FILE or entry.size <= 0:
            continue  # lock files and other empty files cost nothing
        path = paths.paths[i]
        if (layer, path) in linked:
            shared += entry.size
            continue
        g = group_for(hit[0], hit[1], layer, None, None)
        if g is None:
            continue
        g.files.append((path, entry.size))
        if entry.uid or entry.gid:
            g.uid, g.gid = entry.uid, entry.gid
        visible.add(path)
    for h, eco, root in _hidden_hits(ctx):
        g = group_for(eco, root, h.layer, h.hidden_by, h.cause)
        assert g is not None  # _hidden_hits leaves out what group_for skips
        g.files.append((h.path, h.size))
    hidden = hidden_claims(ctx)
    by_eco: dict[str, list[CacheGroup]] = defaultdict(list)
    for key in sorted(groups, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2])):
        g = groups[key]
        if g.bytes:
            by_eco[g.ecosystem].append(g)
    return CacheScan(dict(by_eco), visible, hidden, shared)
