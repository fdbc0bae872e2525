"""LS308: the sources of a JavaScript build kept next to the output that is served.

A Node image that copies the app (``COPY . .``), runs ``npm run build`` and
then serves the build output with a static file server (``serve -s dist``,
``http-server build``) ships everything the build read: ``src/``, ``public/``,
the manifests and ``node_modules`` with the bundler and its devDependencies.
The server reads only the output directory. Where the image's command is not
such a server (``npm start``, ``node server.js``), the same files may be read
at run time, and the finding says what they are without counting them as
waste.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from layerscope.counts import agree, counted
from layerscope.model import EntryType
from layerscope.rules import rule
from layerscope.rules.common import describe, is_run, short, top_paths
from layerscope.rules.context import RuleContext
from layerscope.rules.leftover_files import leftover_finding, visible_files
from layerscope.rules.types import Finding, Kind, Severity
from layerscope.shell.commands import SimpleCommand, split_commands, unwrap

__all__ = ["served_build_output"]

# Static file servers from npm: they serve the one directory they are given
# and read no other file of the app. Options that take a separate value.
_SERVE_VALUE_OPTS = "-l --listen -p --port -c --config --ssl-cert --ssl-key --ssl-pass"
_HTTP_SERVER_VALUE_OPTS = (
    "-p --port -a -c -e --ext -P --proxy --proxy-options --username --password -C --cert "
    "-K --key -t -d -i -o"
)
_SERVERS = {
    "serve": frozenset(_SERVE_VALUE_OPTS.split()),
    "http-server": frozenset(_HTTP_SERVER_VALUE_OPTS.split()),
}
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
_INITS = frozenset({"tini", "dumb-init", "docker-init"})
_NPX_VALUE_OPTS = frozenset({"-p", "--package", "-c", "--call"})
_PACKAGE_MANAGERS = frozenset({"npm", "pnpm", "yarn"})
_BUILD_TOOLS = frozenset({"vite", "react-scripts", "ng", "next", "nuxt", "vue-cli-service"})
# Output directories of the common JavaScript builds (for the finding that
# cannot prove what the command reads).
_OUTPUT_NAMES = frozenset(
    {"dist", "build", ".next", "out", ".output", ".nuxt", ".svelte-kit", "storybook-static"}
)


@dataclass(frozen=True, slots=True)
class _Server:
    """The static server the image runs: its words and the directory it serves."""

    words: tuple[str, ...]
    name: str
    argv: tuple[str, ...]  # from the server's name on (no npx, no path)
    root: str  # the served directory, normalised, no leading slash
    from_node_modules: bool


def _command_words(ctx: RuleContext) -> tuple[str, ...]:
    cfg = ctx.image.config
    return (*(cfg.entrypoint or ()), *(cfg.cmd or ()))


def _run_commands(words: Sequence[str]) -> list[SimpleCommand]:
    """The simple commands the container runs: an init (``tini --``) left out, a
    ``sh -c`` script split."""
    argv = list(words)
    if argv and posixpath.basename(argv[0]) in _INITS:
        argv = argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]
    if not argv:
        return []
    commands = [unwrap(c) for c in split_commands(shlex.join(argv))]
    # The shell of ``sh -c SCRIPT`` runs the script's commands, listed after it.
    return [
        c for c in commands if not (posixpath.basename(c.argv[0]) in _SHELLS and "-c" in c.argv[1:])
    ]


def _served_dir(argv: Sequence[str], value_opts: frozenset[str]) -> str | None:
    """The one directory operand of a server's ``argv`` (None when there is none,
    or more than one: then what it serves is not clear)."""
    operands: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in value_opts:
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            i += 1
            continue
        if arg not in ("true", "false"):
            operands.append(arg)
        i += 1
    return operands[0] if len(operands) == 1 else None


def _server(ctx: RuleContext) -> _Server | None:
    """The static server the image's command runs, and what it serves."""
    workdir = posixpath.normpath("/" + (ctx.image.config.workdir or "/"))
    path_env = (ctx.image.config.env_value("PATH") or "").split(":")
    commands = _run_commands(_command_words(ctx))
    if len(commands) != 1:
        return None  # the server and other programs (a Node API next to it ...)
    for c in commands:
        argv = list(c.argv)
        via_npx = posixpath.basename(argv[0]) == "npx"
        if via_npx:
            i = 1
            while i < len(argv) and argv[i].startswith("-"):
                i += 2 if argv[i] in _NPX_VALUE_OPTS else 1
            argv = argv[i:]
        if not argv:
            continue
        name = posixpath.basename(argv[0])
        if name not in _SERVERS:
            continue
        operand = _served_dir(argv, _SERVERS[name])
        config = name == "serve" and any(a.startswith(("-c", "--config")) for a in argv[1:])
        if operand is None or "$" in operand or config:
            return None  # serves the work directory, or reads a config file besides
        root = posixpath.normpath(posixpath.join(workdir, operand)).lstrip("/")
        local_bin = posixpath.join(workdir, "node_modules/.bin")
        installed = posixpath.join(workdir, "node_modules", name).lstrip("/")
        local = (
            "node_modules/" in argv[0]
            or (via_npx and installed in ctx.union.final)
            or ("/" not in argv[0] and local_bin in path_env)
        )
        return _Server(tuple(c.argv), name, (name, *argv[1:]), root, bool(local))
    return None


def _is_build(c: SimpleCommand) -> bool:
    """``npm run build``, ``yarn build``, ``pnpm run build:prod``, ``npx vite build`` ..."""
    argv = list(c.argv)
    name = posixpath.basename(argv[0])
    if name == "npx":
        argv = [a for a in argv[1:] if not a.startswith("-")]
        name = posixpath.basename(argv[0]) if argv else ""
    if name in _PACKAGE_MANAGERS:
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words and words[0] in ("run", "run-script"):
            words = words[1:]
        return bool(words) and words[0].startswith("build")
    return name in _BUILD_TOOLS and "build" in argv[1:]


def _build_layers(ctx: RuleContext) -> list[int]:
    return [
        layer
        for layer in range(len(ctx.image.layers))
        if is_run(ctx, layer)
        and any(_is_build(unwrap(c)) for c in split_commands(ctx.command(layer)))
    ]


def _made_by(ctx: RuleContext, layer: int, root: str) -> bool:
    """True when ``layer`` wrote files under ``root`` that are in the final image."""
    final = ctx.union.final
    prefix = root + "/"
    return any(
        e.type is EntryType.FILE
        and e.path.startswith(prefix)
        and final.get(e.path, (None,))[0] == layer
        for e in ctx.image.layers[layer].entries
    )


def _written_dirs(ctx: RuleContext, layer: int, appdir: str) -> set[str]:
    """The directories right under ``appdir`` in which ``layer`` wrote files that
    are in the final image."""
    final = ctx.union.final
    prefix = appdir + "/"
    return {
        e.path[len(prefix) :].split("/", 1)[0]
        for e in ctx.image.layers[layer].entries
        if e.type is EntryType.FILE
        and e.path.startswith(prefix)
        and "/" in e.path[len(prefix) :]
        and final.get(e.path, (None,))[0] == layer
    }


def _app_files(ctx: RuleContext, appdir: str, skip: Sequence[str]) -> list[tuple[str, int]]:
    """Visible files with content under ``appdir`` outside the ``skip`` trees."""
    hint = re.compile("\n" + re.escape(appdir + "/"))
    prefixes = tuple(s + "/" for s in skip)
    return [
        (path, size)
        for path, _, size in visible_files(ctx, hint)
        if path.startswith(appdir + "/") and not path.startswith(prefixes)
    ]


def _server_install(ctx: RuleContext, name: str) -> str:
    """The RUN words that installed the server globally, or a plain global install."""
    for layer in range(len(ctx.image.layers)):
        if not is_run(ctx, layer):
            continue
        for c in split_commands(ctx.command(layer)):
            argv = unwrap(c).argv
            if (
                posixpath.basename(argv[0]) in ("npm", "yarn", "pnpm")
                and name in argv
                and ("-g" in argv or "--global" in argv or "global" in argv)
            ):
                return shlex.join(argv)
    return f"npm install -g {name}"


def _groups(files: list[tuple[str, int]], appdir: str) -> str:
    """``src/, public/, package.json`` : the top-level names under ``appdir``."""
    names = sorted({p[len(appdir) + 1 :].split("/")[0] for p, _ in files})
    shown = [n + "/" if any(p.startswith(f"{appdir}/{n}/") for p, _ in files) else n for n in names]
    more = f" and {len(shown) - 6} more" if len(shown) > 6 else ""
    return ", ".join(shown[:6]) + more


def _multi_stage_fix(ctx: RuleContext, build: int, server: _Server, appdir: str) -> str:
    out = server.root[len(appdir) + 1 :]
    return (
        f"Build in a stage of its own and copy only /{server.root} into the image you ship "
        f"(a new stage layout, so layerscope writes no patch for it):\n"
        f"+FROM <the same base image> AS build\n"
        f" ... every step up to {describe(ctx, build)}, as it is\n"
        f"+FROM <the same base image>\n"
        f"+RUN {_server_install(ctx, server.name)}\n"
        f"+WORKDIR /{appdir}\n"
        f"+COPY --from=build /{server.root} ./{out}\n"
        f" CMD {json.dumps(list(server.argv))}"
    )


@rule(
    "LS308",
    kind=Kind.LEFTOVER,
    severity=Severity.MEDIUM,
    title="Sources and node_modules kept after the build when only its output is served",
)
def served_build_output(ctx: RuleContext) -> Iterator[Finding]:
    """The app's sources, manifests and ``node_modules`` left in an image that
    runs ``npm run build`` and then serves only the build output.

    A static server (``serve -s build``, ``npx serve dist``,
    ``http-server dist``) reads the one directory it is given; everything
    else the build needed (``src/``, ``public/``, ``node_modules`` with the
    bundler and its devDependencies) is shipped for nothing. Build in a stage
    of its own and copy only the output into the image you ship. The bytes
    are counted only when the image's command is such a server of a
    directory the build wrote; with another command (``npm start``,
    ``node server.js``), which may read the sources or ``node_modules`` at run
    time, the finding says what the files are and proposes no fix.

    Bad::

        FROM node:20-alpine
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build && npm install -g serve
        CMD ["serve", "-s", "dist"]

    Good::

        FROM node:20-alpine AS build
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build

        FROM node:20-alpine
        RUN npm install -g serve
        WORKDIR /app
        COPY --from=build /app/dist ./dist
        CMD ["serve", "-s", "dist"]
    """
    builds = _build_layers(ctx)
    if not builds:
        return
    workdir = posixpath.normpath("/" + (ctx.image.config.workdir or "/")).lstrip("/")
    server = _server(ctx)
    if server is not None:
        build = next((b for b in reversed(builds) if _made_by(ctx, b, server.root)), None)
        inside = workdir and server.root.startswith(workdir + "/")
        appdir = workdir if inside else posixpath.dirname(server.root)
        if build is not None and appdir:
            yield from _served(ctx, build, server, appdir)
        return
    if workdir:
        yield from _unproven(ctx, builds, workdir)


def _served(ctx: RuleContext, build: int, server: _Server, appdir: str) -> Iterator[Finding]:
    skip = [server.root]
    if server.from_node_modules:
        skip.append(appdir + "/node_modules")
    files = _app_files(ctx, appdir, skip)
    if not files:
        return
    kept = (
        "; node_modules is kept: the server runs from it (install it alone in the image)"
        if server.from_node_modules
        else ""
    )
    message = (
        f"{counted(len(files), 'file')} in /{appdir} ({_groups(files, appdir)}) "
        f"{agree(len(files), 'stays', 'stay')} in the image after "
        f"{describe(ctx, build)} built /{server.root}, which is all the command "
        f"({short(shlex.join(server.words), 60)}) serves{kept}"
    )
    yield leftover_finding(
        "LS308",
        build,
        files,
        message,
        _multi_stage_fix(ctx, build, server, appdir),
        "build-sources",
        (("output", "/" + server.root),),
    )


def _unproven(ctx: RuleContext, builds: list[int], workdir: str) -> Iterator[Finding]:
    """A build output in the work directory, and a command that is no static server."""
    outputs = [
        (b, f"{workdir}/{name}")
        for b in reversed(builds)
        for name in sorted(_OUTPUT_NAMES & _written_dirs(ctx, b, workdir))
    ]
    if not outputs:
        return
    build, root = outputs[0]
    files = _app_files(ctx, workdir, [root])
    if not files:
        return
    size = sum(s for _, s in files)
    modules = sum(s for p, s in files if p.startswith(workdir + "/node_modules/"))
    words = _command_words(ctx)
    command = short(shlex.join(words), 60) if words else "none"
    message = (
        f"{counted(len(files), 'file')} in /{workdir} ({_groups(files, workdir)}; {modules} "
        f"bytes in node_modules) {agree(len(files), 'stays', 'stay')} next to /{root}, which "
        f"{describe(ctx, build)} built; the command ({command}) is no static server of "
        f"/{root}, so {agree(len(files), 'it is', 'they are')} not counted as waste"
    )
    fix = (
        f"No fix is proposed: the command ({command}) may read these files at run time "
        f"(a server that imports from node_modules, config files next to the output). If it "
        f"needs only /{root} (and the production dependencies), build in a stage of its own "
        f"and copy just that (and `npm ci --omit=dev`) into the image you ship."
    )
    yield Finding(
        rule="LS308",
        kind=Kind.LEFTOVER,
        severity=Severity.INFO,
        bytes=size,
        layer=build,
        paths=top_paths(files),
        message=message,
        fix=fix,
        path_count=len(files),
        reclaimable=False,
        extra=(("cause", "build-sources-unproven"), ("output", "/" + root)),
    )
