"""Package ecosystems: manifest files, dependency-install commands, clean subcommands,
what a RUN is about.

Pure data and small lookups over shell commands, shared by the LS5xx order
rules (rules/order.py), the fix texts (rules/fixes.py), the Dockerfile patcher
(patch.py) and --verify.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from layerscope.shell.commands import SimpleCommand, has_flag, split_commands, unwrap

__all__ = [
    "DEPENDENCY_STEP",
    "MANIFESTS",
    "Install",
    "any_manifest",
    "concern",
    "install_of",
    "installs",
    "is_clean_subcommand",
    "is_manifest",
    "is_manifest_file",
    "is_manifest_source",
    "pip_without_cache",
]

# Manifest and lock files per ecosystem: what to copy before the install.
MANIFESTS: dict[str, tuple[str, ...]] = {
    "pip": ("requirements*.txt", "constraints*.txt"),
    "uv": ("pyproject.toml", "uv.lock"),
    "poetry": ("pyproject.toml", "poetry.lock"),
    "pipenv": ("Pipfile", "Pipfile.lock"),
    "npm": ("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"),
    "yarn": ("package.json", "yarn.lock", ".yarnrc", ".yarnrc.yml"),
    "pnpm": ("package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"),
    "go": ("go.mod", "go.sum"),
    "cargo": ("Cargo.toml", "Cargo.lock"),
    "maven": ("pom.xml",),
    "gradle": ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
    "bundler": ("Gemfile", "Gemfile.lock"),
    "composer": ("composer.json", "composer.lock"),
    "dotnet": ("*.csproj", "*.fsproj", "*.sln", "packages.lock.json", "nuget.config"),
}
# The dependency-only step to add when the install in the Dockerfile needs the source.
# Not cargo: ``cargo fetch`` fails on a Cargo.toml whose src/ is not copied yet.
DEPENDENCY_STEP = {
    "go": "go mod download",
    "maven": "mvn dependency:go-offline",
    "poetry": "poetry install --no-root",
    "uv": "uv sync --no-install-project",
    "composer": "composer install --no-scripts --no-autoloader",
    "dotnet": "dotnet restore",
    "pip": "pip install -r requirements.txt",
}
_ALL_MANIFESTS = tuple(sorted({p for ps in MANIFESTS.values() for p in ps}))
_PIP = re.compile(r"pip(?:\d+(?:\.\d+)*)?\Z")
_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)*)?\Z")
# Commands that belong to no concern of their own: they join their neighbours.
_NEUTRAL = frozenset(
    {"set", "true", ":", "rm", "echo", "mkdir", "cd", "export", "ln", "printf", "test", "["}
)
_CONCERN = {
    "apt-get": "apt", "apt": "apt", "dpkg": "apt", "apt-mark": "apt", "apk": "apk",
    "dnf": "dnf", "yum": "dnf", "microdnf": "dnf", "rpm": "dnf", "zypper": "zypper",
    "npm": "node", "yarn": "node", "pnpm": "node", "uv": "python", "poetry": "python",
    "pipenv": "python", "go": "go", "cargo": "cargo", "mvn": "maven", "gradle": "gradle",
    "bundle": "ruby", "gem": "ruby", "composer": "php", "useradd": "users",
    "adduser": "users", "groupadd": "users", "addgroup": "users", "usermod": "users",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Install:
    """A dependency install found in a RUN script.

    ``manifests`` are the files it reads (``-r`` files, else the
    ecosystem's usual ones); ``needs_source`` is true when it builds or
    installs the project itself (``pip install .``, ``go build``), so it
    cannot move before the source is copied; ``system`` for OS packages.
    ``named`` when it installs packages named on its command line only
    (``pip install flake8``, ``npm install -g serve``), reading no manifest
    of the project.
    """

    ecosystem: str
    command: str
    manifests: tuple[str, ...] = ()
    needs_source: bool = False
    system: bool = False
    named: bool = False


# All manifest patterns as one compiled regex: LS501 asks about every path of
# every copied layer, and fnmatch per pattern per path was 2 s of a 4.4 s run.
_MANIFEST_NAME = re.compile("|".join(fnmatch.translate(p) for p in _ALL_MANIFESTS))


def is_manifest(path: str) -> bool:
    """True when ``path``'s file name is a manifest or lock file of some ecosystem."""
    name = posixpath.basename(path.rstrip("/"))
    return _MANIFEST_NAME.match(name) is not None


# Build tool wrappers and their settings, copied with the manifests so the
# dependency download can run (``COPY .mvn/ .mvn`` + ``COPY mvnw pom.xml ./``).
_BUILD_TOOL_FILES = frozenset(
    {".mvn", "mvnw", "mvnw.cmd", "gradlew", "gradlew.bat", "gradle", ".yarn", ".yarnrc.yml"}
)
# Directories that hold manifests only: cookiecutter-django's COPY ./requirements .
# brings base.txt, local.txt, production.txt (production.txt says -r base.txt).
_MANIFEST_DIRS = frozenset({"requirements"})
_CONCRETE_MANIFESTS = tuple(p for p in _ALL_MANIFESTS if "*" not in p)
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_manifest_file(path: str) -> bool:
    """A file a dependency download needs: a manifest or lock file, a file of a
    build tool's wrapper (``.mvn/wrapper/maven-wrapper.properties``, ``mvnw``), or
    a requirements file in a ``requirements/`` directory."""
    parts = path.split("/")
    if any(part in _MANIFEST_DIRS for part in parts[:-1]) and parts[-1].endswith((".txt", ".in")):
        return True
    return is_manifest(path) or any(part in _BUILD_TOOL_FILES for part in parts)


def is_manifest_source(source: str) -> bool:
    """True when a COPY source names manifest files only: a manifest name, or a
    glob such as ``package*.json``, ``requirements*.txt``, ``Gemfile*`` or
    ``go.*`` whose literal start (3 characters or more) belongs to a manifest
    name and that matches some manifest name, a build tool's wrapper
    (``mvnw``, ``.mvn/``, ``gradlew``), or a ``requirements/`` directory.
    ``*.json`` or ``src*`` do not."""
    name = posixpath.basename(source.rstrip("/"))
    if is_manifest(name) or name in _ALL_MANIFESTS:  # ``*.csproj`` as written
        return True
    if name in _BUILD_TOOL_FILES or name in _MANIFEST_DIRS:
        return True
    if _GLOB_CHARS.search(name) is None:
        return False
    parts = _GLOB_CHARS.split(name)
    prefix, suffix = parts[0], parts[-1]
    if len(prefix) < 3:
        return False
    # The literal start must be a whole stem (``Gemfile*``, ``go.*``) or the
    # glob end in an extension (``package*.json``): ``pack*`` is anything.
    stem = prefix.endswith(".") or any(
        m == prefix or m.startswith(prefix + ".") for m in _CONCRETE_MANIFESTS
    )
    if not (stem or "." in suffix):
        return False
    return any(m.startswith(prefix) and fnmatch.fnmatchcase(m, name) for m in _CONCRETE_MANIFESTS)


def _reversed_glob(pattern: str) -> str:
    """A file-name glob whose only wildcard is ``*``, spelt backwards, as a regex."""
    return "[^/\n]*".join(re.escape(part) for part in pattern[::-1].split("*"))


# The manifest names spelt backwards, after a newline and any slashes: in the
# reversed text of newline-joined paths every file name starts a line.
_REVERSED_MANIFEST = re.compile(
    "\n/*(?:" + "|".join(_reversed_glob(p) for p in _ALL_MANIFESTS) + ")(?=/|\n)"
)


def any_manifest(paths: Sequence[str]) -> bool:
    """True when :func:`is_manifest` holds for some path of ``paths``.

    One regex pass in C over the paths joined and reversed, instead of a
    Python call per path: LS501 asks this of every file a COPY stored.
    """
    text = "\n" + "\n".join(paths) + "\n"
    if text.count("\n") != len(paths) + 1:  # a path holds a newline
        return any(map(is_manifest, paths))
    return _REVERSED_MANIFEST.search(text[::-1]) is not None


def _operands(argv: Sequence[str], start: int) -> list[str]:
    return [a for a in argv[start:] if not a.startswith("-")]


def _option_values(argv: Sequence[str], *names: str) -> list[str]:
    """Values of ``-r FILE``, ``-rFILE``, ``--requirement=FILE`` style options."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                out.append(argv[i + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                out.append(arg[len(name) + 1 :])
            elif len(name) == 2 and arg.startswith(name) and len(arg) > 2 and arg[2] != "-":
                out.append(arg[2:])
    return out


def _is_path(word: str) -> bool:
    return (
        word in (".", "..")
        or word.startswith(("./", "../", "/"))
        or ("/" in word and "://" not in word and not word.startswith("git+"))
    )


def install_of(c: SimpleCommand) -> Install | None:
    """The dependency install command ``c`` runs, or None."""
    c = unwrap(c)
    argv, name = c.argv, c.name
    text = " ".join(argv)
    sub = argv[1] if len(argv) > 1 else ""
    if _PYTHON.match(name) and argv[1:3] == ("-m", "pip"):
        argv, name, sub = argv[2:], "pip", argv[3] if len(argv) > 3 else ""
    if name == "uv" and sub == "pip":
        argv, name, sub = argv[1:], "pip", argv[2] if len(argv) > 2 else ""
    if _PIP.match(name) and sub in ("install", "sync", "wheel", "download"):
        files = tuple(_option_values(argv, "-r", "--requirement", "-c", "--constraint"))
        values = set(files) | set(
            _option_values(
                argv, "-i", "--index-url", "-t", "--target", "-w", "--wheel-dir", "-d", "--dest"
            )
        )
        ops = [o for o in _operands(argv, 2) if o not in values]
        if sub == "sync":
            files, ops = files + tuple(ops), []
        editable = _option_values(argv, "-e", "--editable")
        source = any(_is_path(o) for o in ops) or any(_is_path(v) for v in editable)
        named = not files and not source and not editable
        return Install("pip", text, files, source, named=named)
    if name == "uv" and sub == "sync":
        return Install("uv", text, MANIFESTS["uv"], not has_flag(c, "--no-install-project"))
    if name == "poetry" and sub == "install":
        return Install("poetry", text, MANIFESTS["poetry"], not has_flag(c, "--no-root"))
    if name == "pipenv" and sub in ("install", "sync"):
        return Install("pipenv", text, MANIFESTS["pipenv"])
    if name in ("npm", "pnpm") and sub in ("ci", "install", "i", "add"):
        ops = _operands(argv, 2)
        source = any(_is_path(o) for o in ops)
        named = (bool(ops) and not source) or has_flag(c, "-g", "--global")
        return Install(name, text, MANIFESTS[name][:2], source, named=named)
    if name == "yarn":
        # `yarn`, `yarn --frozen-lockfile`, `yarn install`, `yarn add x`, `yarn global add x`
        words = [a for a in argv[1:] if not a.startswith("-")]
        verb = words[0] if words else ""
        if verb == "global" and words[1:2] == ["add"]:
            return Install("yarn", text, MANIFESTS["yarn"][:2], named=True)
        if verb in ("", "install", "add"):
            return Install("yarn", text, MANIFESTS["yarn"][:2], named=verb == "add")
    if name == "go" and sub == "mod" and argv[2:3] == ("download",):
        return Install("go", text, MANIFESTS["go"])
    if name == "go" and sub in ("build", "install", "test", "vet", "generate"):
        return Install("go", text, MANIFESTS["go"], True)
    if name == "cargo" and sub in ("fetch", "build", "install", "test"):
        return Install("cargo", text, MANIFESTS["cargo"], sub != "fetch")
    if name in ("mvn", "mvnw", "gradle", "gradlew"):
        eco = "maven" if name.startswith("mvn") else "gradle"
        offline = any(a.startswith(("dependency:", "dependencies")) for a in argv[1:])
        return Install(eco, text, MANIFESTS[eco], not offline)
    if name == "bundle" and sub == "install":
        return Install("bundler", text, MANIFESTS["bundler"])
    if name == "composer" and sub in ("install", "update"):
        safe = has_flag(c, "--no-scripts") and has_flag(c, "--no-autoloader")
        return Install("composer", text, MANIFESTS["composer"], not safe)
    if name == "dotnet" and sub in ("restore", "build", "publish"):
        return Install("dotnet", text, MANIFESTS["dotnet"], sub != "restore")
    if name in ("apt-get", "apt") and sub in ("install", "upgrade", "dist-upgrade"):
        return Install("apt", text, system=True)
    if name == "apk" and sub == "add":
        return Install("apk", text, system=True)
    if name in ("dnf", "yum", "microdnf") and sub in ("install", "upgrade", "update"):
        return Install("dnf", text, system=True)
    if name == "zypper" and sub in ("install", "in"):
        return Install("zypper", text, system=True)
    return None


def pip_without_cache(c: SimpleCommand) -> bool:
    """True when pip command ``c`` is told to keep no cache: ``--no-cache-dir`` or
    an unambiguous abbreviation pip's option parser expands to it (``--no-cache``,
    ``--no-cac``), or ``PIP_NO_CACHE_DIR`` set before it."""
    if any(k == "PIP_NO_CACHE_DIR" for k, _ in c.env):
        return True
    for arg in c.argv[1:]:
        if arg == "--":
            break
        flag = arg.partition("=")[0]
        if len(flag) >= len("--no-cac") and "--no-cache-dir".startswith(flag):
            return True
    return False


def installs(script: str) -> list[Install]:
    """The dependency installs a RUN script runs, in order."""
    return [i for c in split_commands(script) if (i := install_of(c)) is not None]


def concern(script: str) -> str:
    """What one RUN is about: ``apt``, ``python``, ``node``... ; ``neutral`` for
    cleanups and the like, ``other`` for programs of no known concern, ``mixed``
    for two concerns."""
    kinds: set[str] = set()
    unknown = False
    for c in split_commands(script):
        inner = unwrap(c)
        name = inner.name
        if _PIP.match(name) or (_PYTHON.match(name) and inner.argv[1:3] == ("-m", "pip")):
            kinds.add("python")
        elif name in _CONCERN:
            kinds.add(_CONCERN[name])
        elif name not in _NEUTRAL:
            unknown = True
    if len(kinds) > 1:
        return "mixed"
    if kinds:
        return kinds.pop()
    return "other" if unknown else "neutral"


# Clean subcommands the Dockerfile patcher (layerscope/fix/planner.py) takes for a
# pure cleanup, one it may move into another RUN on its own.
_MOVABLE: dict[str, tuple[str, ...]] = {
    "apt-get": ("clean", "autoclean"),
    "apt": ("clean", "autoclean"),
    "apk": ("cache",),
    "dnf": ("clean",),
    "yum": ("clean",),
    "microdnf": ("clean",),
    "npm": ("cache",),
    "yarn": ("cache",),
    "pnpm": ("store",),
    "pip": ("cache",),
    "pip3": ("cache",),
    "uv": ("cache",),
    "conda": ("clean",),
    "composer": ("clear-cache", "clearcache"),
    "gem": ("cleanup",),
}
# Further clean subcommands the fix texts (rules/fixes.py) recognise, where
# they are only looked for when the cache's own tool runs them. The patcher
# does not move these: some also do other work (``dotnet nuget push``).
_MORE: dict[str, tuple[str, ...]] = {
    "apt-get": ("distclean", "dist-clean"),
    "dnf5": ("clean",),
    "zypper": ("clean", "cc"),
    "poetry": ("cache",),
    "mamba": ("clean",),
    "micromamba": ("clean",),
    "composer": ("cc",),
    "go": ("clean",),
    "bundle": ("clean",),
    "dotnet": ("nuget",),
}


def is_clean_subcommand(tool: str, sub: str, *, movable_only: bool = False) -> bool:
    """True when ``tool sub`` cleans the tool's cache (``apt-get clean``).

    ``movable_only`` keeps to the subcommands the Dockerfile patcher may move
    into another RUN (the narrower set, see ``_MOVABLE``).
    """
    if sub in _MOVABLE.get(tool, ()):
        return True
    return not movable_only and sub in _MORE.get(tool, ())
