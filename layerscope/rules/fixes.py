"""Fix texts: a RUN line as it is and as it should be, reconstructed from history.

Fixes are plain text a person pastes into a Dockerfile. A rewrite shows the
instruction twice, diff style: ``-RUN <as built>`` then ``+RUN <as it should
be>``. Nothing here knows about bytes or severities.
"""

from __future__ import annotations

import bisect
import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from layerscope.shell.commands import commands_named, split_commands
from layerscope.shell.ecosystems import is_clean_subcommand

__all__ = [
    "CACHE_FIXES",
    "CLEAN_TOOLS",
    "DOCKER_CLEAN_NOTE",
    "CacheFix",
    "append_command",
    "cache_mount_run",
    "cleanup_commands",
    "insert_flag",
    "quote_paths",
    "rewrite",
]

DOCKER_CLEAN_NOTE = (
    "On Debian/Ubuntu base images first delete /etc/apt/apt.conf.d/docker-clean and keep "
    "downloaded packages (RUN rm -f /etc/apt/apt.conf.d/docker-clean && echo "
    "'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache): "
    "the official images delete every .deb through that hook, which empties the cache mount. "
    "Never rm -rf /var/lib/apt/lists/* in a RUN that mounts a cache there."
)

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<delim>[A-Za-z_][\w-]*)\1")
_TRAILING_COMMENT = re.compile(r"\s+#[^'\"\n]*\Z")


def rewrite(before: str, after: str, instruction: str = "RUN") -> str:
    """The instruction as built and as it should be, diff style."""
    return f"-{instruction} {before}\n+{instruction} {after}"


def append_command(cmd: str, addition: str) -> str:
    """``cmd`` with ``addition`` run after it, in the same RUN.

    A heredoc script gets the command as its last line; a trailing ``;``,
    line continuation or shell comment is kept out of the way.
    """
    body = cmd.rstrip()
    heredoc = _HEREDOC.search(body)
    if heredoc is not None:
        lines = body.split("\n")
        if len(lines) > 1 and lines[-1].strip() == heredoc["delim"]:
            return "\n".join([*lines[:-1], addition, lines[-1]])
    comment = _TRAILING_COMMENT.search(body)
    tail = ""
    if comment is not None and "\n" not in body[comment.start() :]:
        body, tail = body[: comment.start()], body[comment.start() :]
    body = body.rstrip().rstrip("\\").rstrip().rstrip(";").rstrip()
    if body.endswith("&&"):
        body = body[:-2].rstrip()
    return f"{body} && {addition}{tail}"


def insert_flag(cmd: str, pattern: str, flag: str) -> str:
    """``cmd`` with ``flag`` inserted after every match of ``pattern``
    (a regex such as ``pip3? install``) that is not followed by it already."""
    regex = re.compile(pattern)
    out: list[str] = []
    pos = 0
    for m in regex.finditer(cmd):
        if cmd[m.end() :].lstrip().startswith(flag):
            continue
        out.append(cmd[pos : m.end()])
        out.append(" " + flag)
        pos = m.end()
    out.append(cmd[pos:])
    return "".join(out)


def quote_paths(paths: Iterable[str]) -> str:
    """Absolute, shell-quoted paths joined by spaces (``"a/b"`` -> ``/a/b``)."""
    return " ".join(shlex.quote("/" + p.strip("/")) for p in paths)


def cache_mount_run(
    cmd: str,
    targets: Sequence[str],
    *,
    locked: bool = False,
    uid: int = 0,
    gid: int = 0,
) -> str:
    """``RUN --mount=type=cache,target=... <cmd>`` for each target directory."""
    opts = ""
    if locked:
        opts += ",sharing=locked"
    if uid or gid:
        opts += f",uid={uid},gid={gid}"
    mounts = " ".join(f"--mount=type=cache,target=/{t.strip('/')}{opts}" for t in targets)
    return f"RUN {mounts} {cmd}"


def _home_pattern(word: str) -> str:
    """A path operand as a glob over normalised paths (``~/.npm`` -> ``*/.npm``)."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if word.startswith(prefix):
            return "*/" + word[len(prefix) :].strip("/")
    return word.strip("/")


_MAGIC = re.compile(r"[*?\[]")


class _Covered:
    """The paths a cleanup is checked against, with every directory above
    them: ``rm PATTERN`` deletes a path when PATTERN names it or a directory
    above it (``fnmatchcase`` of that name, where ``*`` also matches ``/``).

    Each distinct name is tested once, sorted so that a pattern is tried only
    on the names that start with its literal head (the part before its first
    wildcard), with one compiled regex: a RUN that deletes a directory of
    thousands of files costs a few lookups, not a glob match per file and
    directory level.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        names: set[str] = set()
        for path in paths:
            probe = path
            # A name already present came with every directory above it.
            while probe and probe not in names:
                names.add(probe)
                probe = probe.rpartition("/")[0]
        self.names = names
        self._sorted: list[str] | None = None  # made for the first wildcard

    def covers(self, pattern: str) -> bool:
        """True when deleting ``pattern`` deletes any of the paths (or a
        directory above one)."""
        if not pattern:
            return False
        magic = _MAGIC.search(pattern)
        if magic is None:
            # No wildcard: fnmatchcase of a literal is string equality.
            return pattern in self.names
        head = pattern[: magic.start()]
        match = re.compile(fnmatch.translate(pattern)).match
        if self._sorted is None:
            self._sorted = sorted(self.names)
        names = self._sorted
        for i in range(bisect.bisect_left(names, head), len(names)):
            name = names[i]
            if not name.startswith(head):
                break
            if match(name) is not None:
                return True
        return False


def cleanup_commands(cmd: str, paths: Iterable[str], tools: Iterable[str] = ()) -> list[str]:
    """The commands of ``cmd`` that delete any of ``paths`` (normalised paths):
    ``rm`` of the path or a directory above it, ``find ... -delete`` under it,
    and the cache-cleaning subcommands of ``tools`` (``apt-get clean`` for
    ``("apt-get",)``, ``npm cache clean`` for ``("npm",)`` ...)."""
    wanted = _Covered(paths)
    cleaners = set(tools)
    found: list[str] = []
    for c in split_commands(cmd):
        argv = c.argv
        name = c.name
        hit = False
        if name == "rm":
            # Only the operands that delete these paths move; the rest stay where they are.
            matching = [
                a for a in argv[1:] if not a.startswith("-") and wanted.covers(_home_pattern(a))
            ]
            hit = bool(matching)
            argv = (argv[0], *(a for a in argv[1:] if a.startswith("-")), *matching)
        elif name == "find" and ("-delete" in argv or "-exec" in argv):
            roots = [a for a in argv[1:] if not a.startswith("-")][:1]
            hit = any(wanted.covers(_home_pattern(r)) for r in roots)
        elif name in cleaners and len(argv) > 1:
            hit = is_clean_subcommand(name, argv[1])
        if hit:
            text = shell_join(argv)
            if text not in found:
                found.append(text)
    return found


_PLAIN_WORD = re.compile(r"[\w@%+=:,./*?~\[\]{}$-]+")


def shell_join(argv: Sequence[str]) -> str:
    """Words back into a command line; globs and ``$VAR`` stay unquoted, as
    they were written (``rm -rf /var/lib/apt/lists/*``)."""
    return " ".join(w if _PLAIN_WORD.fullmatch(w) else shlex.quote(w) for w in argv)


def uses(cmd: str, *names: str) -> bool:
    """True when ``cmd`` runs any of the programs ``names``."""
    return bool(commands_named(cmd, *names))


# -- package caches ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheFix:
    """How to keep one ecosystem's cache out of a layer.

    ``clean(cmd, roots)`` rewrites the RUN command that filled the cache (roots
    are the cache directories found, normalised); ``mounts(roots)`` gives the
    BuildKit cache-mount targets that would hold it instead.
    """

    label: str
    clean: Callable[[str, Sequence[str]], str]
    mounts: Callable[[Sequence[str]], list[str]]
    locked: bool = False
    env_alternative: str = ""
    mount_note: str = ""
    multistage: bool = False


def _rm(cmd: str, roots: Sequence[str]) -> str:
    return append_command(cmd, f"rm -rf {quote_paths(sorted(roots))}")


def _dirs(roots: Sequence[str]) -> list[str]:
    return sorted({r for r in roots if not r.endswith(".log")})


def _parents(roots: Sequence[str]) -> list[str]:
    return sorted({posixpath.dirname(r) or r for r in roots})


def _apt(cmd: str, roots: Sequence[str]) -> str:
    steps = []
    if any(r.startswith("var/cache/apt") for r in roots):
        steps.append("apt-get clean")
    if any(r.startswith("var/lib/apt/lists") for r in roots):
        steps.append("rm -rf /var/lib/apt/lists/*")
    return append_command(cmd, " && ".join(steps))


def _apk(cmd: str, roots: Sequence[str]) -> str:
    if not uses(cmd, "apk"):
        return append_command(cmd, "rm -rf /var/cache/apk/*")
    new = re.sub(r"\bapk\s+update\s*(?:&&|;)\s*", "", cmd)
    new = insert_flag(new, r"\bapk\s+(?:add|upgrade)\b", "--no-cache")
    return new if new != cmd else append_command(cmd, "rm -rf /var/cache/apk/*")


def _first_tool(cmd: str, names: Sequence[str], default: str) -> str:
    for name in names:
        if uses(cmd, name):
            return name
    return default


def _dnf(cmd: str, roots: Sequence[str]) -> str:
    tool = _first_tool(cmd, ("microdnf", "dnf5", "dnf", "yum"), "dnf")
    return append_command(cmd, f"{tool} clean all && rm -rf {quote_paths(sorted(roots))}")


def _zypper(cmd: str, roots: Sequence[str]) -> str:
    return append_command(cmd, "zypper clean -a")


_PIP_INSTALL = r"(?:\bpip[0-9.]*|-m\s+pip)\s+install\b"


def _pip(cmd: str, roots: Sequence[str]) -> str:
    if re.search(_PIP_INSTALL, cmd):
        new = insert_flag(cmd, _PIP_INSTALL, "--no-cache-dir")
        if new != cmd:
            return new
    return _rm(cmd, roots)


def _uv(cmd: str, roots: Sequence[str]) -> str:
    if uses(cmd, "uv") and "--no-cache" not in cmd:
        return insert_flag(cmd, r"\buv(?=\s)", "--no-cache")
    return _rm(cmd, roots)


def _conda(cmd: str, roots: Sequence[str]) -> str:
    tool = _first_tool(cmd, ("micromamba", "mamba", "conda"), "conda")
    if tool == "micromamba":
        return append_command(cmd, "micromamba clean --all --yes")
    return append_command(cmd, f"{tool} clean -afy")


def _npm(cmd: str, roots: Sequence[str]) -> str:
    steps = []
    if any(r.endswith("_cacache") for r in roots):
        steps.append("npm cache clean --force")
    logs = [r for r in roots if not r.endswith("_cacache")]
    if logs:
        steps.append(f"rm -rf {quote_paths(sorted(logs))}")
    return append_command(cmd, " && ".join(steps))


def _tool_or_rm(tool: str, clean: str) -> Callable[[str, Sequence[str]], str]:
    def fix(cmd: str, roots: Sequence[str]) -> str:
        return append_command(cmd, clean) if uses(cmd, tool) else _rm(cmd, roots)

    return fix


CACHE_FIXES: dict[str, CacheFix] = {
    "apt": CacheFix(
        "apt",
        _apt,
        lambda roots: ["var/cache/apt", "var/lib/apt"],
        locked=True,
        mount_note=DOCKER_CLEAN_NOTE,
    ),
    "apk": CacheFix(
        "apk",
        _apk,
        lambda roots: ["var/cache/apk"],
        locked=True,
        mount_note="Drop --no-cache and link /etc/apk/cache to the mount "
        "(ln -s /var/cache/apk /etc/apk/cache) so apk keeps its packages there.",
    ),
    "dnf": CacheFix(
        "dnf/yum",
        _dnf,
        _dirs,
        locked=True,
        mount_note="Add --setopt=keepcache=True so dnf keeps packages in the mount.",
    ),
    "zypper": CacheFix("zypper", _zypper, _dirs, locked=True),
    "pip": CacheFix(
        "pip",
        _pip,
        _dirs,
        env_alternative="ENV PIP_NO_CACHE_DIR=1",
        mount_note="With the mount, drop --no-cache-dir: the cache lives in the mount.",
    ),
    "uv": CacheFix(
        "uv",
        _uv,
        _dirs,
        env_alternative="ENV UV_NO_CACHE=1",
        mount_note="Set ENV UV_LINK_MODE=copy: uv cannot hard-link from a cache mount.",
    ),
    "poetry": CacheFix(
        "poetry",
        _rm,
        _dirs,
        mount_note="Mount only cache/ and artifacts/: poetry keeps its virtualenvs "
        "in ~/.cache/pypoetry/virtualenvs unless virtualenvs.in-project is set.",
    ),
    "pipenv": CacheFix("pipenv", _rm, _dirs),
    "conda": CacheFix("conda", _conda, _dirs, locked=True),
    "npm": CacheFix("npm", _npm, _parents),
    "yarn": CacheFix("yarn", _tool_or_rm("yarn", "yarn cache clean"), _dirs, locked=True),
    "yarn-berry": CacheFix(
        "yarn berry", _tool_or_rm("yarn", "yarn cache clean --all"), _dirs, locked=True
    ),
    "pnpm": CacheFix(
        "pnpm",
        _rm,
        _dirs,
        mount_note="Set the store there (pnpm config set store-dir ...) and "
        "package-import-method=copy: a cache mount is another filesystem.",
    ),
    "go": CacheFix("Go", _tool_or_rm("go", "go clean -cache -modcache"), _dirs, multistage=True),
    "cargo": CacheFix("Cargo", _rm, _dirs, multistage=True),
    "maven": CacheFix("Maven", _rm, _parents, multistage=True),
    "gradle": CacheFix(
        "Gradle",
        _rm,
        lambda roots: sorted({r.split("/.gradle/")[0] + "/.gradle" for r in roots}),
        multistage=True,
        mount_note="Run gradle with --no-daemon in image builds.",
    ),
    "gem": CacheFix(
        "RubyGems/Bundler",
        _rm,
        _dirs,
        mount_note="gem install --no-document also skips the docs.",
    ),
    "composer": CacheFix("Composer", _tool_or_rm("composer", "composer clear-cache"), _dirs),
    "nuget": CacheFix(
        "NuGet",
        _tool_or_rm("dotnet", "dotnet nuget locals all --clear"),
        _dirs,
        multistage=True,
    ),
}

# Programs whose cache-cleaning subcommands empty each ecosystem's cache.
CLEAN_TOOLS: dict[str, tuple[str, ...]] = {
    "apt": ("apt-get", "apt"),
    "apk": ("apk",),
    "dnf": ("dnf", "dnf5", "yum", "microdnf"),
    "zypper": ("zypper",),
    "pip": ("pip", "pip3"),
    "uv": ("uv",),
    "poetry": ("poetry",),
    "conda": ("conda", "mamba", "micromamba"),
    "npm": ("npm",),
    "yarn": ("yarn",),
    "yarn-berry": ("yarn",),
    "pnpm": ("pnpm",),
    "go": ("go",),
    "gem": ("gem", "bundle"),
    "composer": ("composer",),
    "nuget": ("dotnet",),
}
