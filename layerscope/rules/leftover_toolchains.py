"""Compiler toolchains in the final image (for LS305): which paths are a
toolchain, whether the image's command is a build tool, and the fix (a build
stage, or purging the build packages in the RUN that installed them)."""

from __future__ import annotations

import posixpath
import re

from layerscope.rules.common import is_run
from layerscope.rules.context import RuleContext
from layerscope.rules.fixes import append_command, rewrite
from layerscope.rules.paths import line_pattern
from layerscope.shell.commands import commands_named

TOOLCHAIN = re.compile(
    r"(?P<gcc>usr/lib/gcc/|usr/libexec/gcc/|usr/lib/gcc-cross/"
    r"|usr/bin/(?:[\w.]+-)?(?:gcc|g\+\+|c\+\+|cpp|gfortran|lto-dump)(?:-\d+)?\Z)"
    r"|(?P<llvm>usr/lib/llvm-\d+/)"
    r"|(?P<headers>usr/include/|usr/local/include/)"
    r"|(?P<static>usr/(?:local/)?lib/(?:[^/]+/)*lib[^/]+\.a\Z)"
    r"|(?P<go>usr/local/go/(?:pkg/tool|src|pkg/linux)/)"
    r"|(?P<rust>usr/local/rustup/toolchains/)"
)
# What PathText looks for to find TOOLCHAIN's paths: all of them and more
# (all of /usr/bin, any .a). Each regex has a literal prefix, so each scans
# fast; TOOLCHAIN itself as a line pattern tries every alternative on every
# line. Keep the two in step.
TOOLCHAIN_HINTS = (
    line_pattern(
        r"usr/(?:lib/gcc/|libexec/gcc/|lib/gcc-cross/|bin/|lib/llvm-|include/|local/include/"
        r"|local/go/|local/rustup/toolchains/)"
    ),
    re.compile(r"\.a(?=\n)"),
)
_COMPILERS = frozenset(
    {"gcc", "g++", "cc", "c++", "clang", "clang++", "make", "cmake", "ninja", "go", "cargo",
     "rustc", "javac", "mvn", "gradle", "bazel", "meson", "tcc", "gfortran"}
)  # fmt: skip
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
_BUILD_PACKAGE = re.compile(
    r"\A(?:build-essential|build-base|gcc(?:-\d+)?|g\+\+(?:-\d+)?|clang(?:-\d+)?|make|cmake"
    r"|musl-dev|libc6?-dev|linux-headers|[\w.+-]+-(?:dev|devel))\Z"
)


def runs_compiler(ctx: RuleContext) -> bool | None:
    """True when the image's command is a build tool; None when it is only a
    shell (an interactive or builder image: no verdict)."""
    cfg = ctx.image.config
    argv = [*(cfg.entrypoint or ()), *(cfg.cmd or ())]
    if not argv:
        return None
    names = {posixpath.basename(w) for w in argv}
    if names & _COMPILERS:
        return True
    if len(argv) == 1 and names <= _SHELLS:
        return None
    return False


def _build_packages(cmd: str) -> list[str]:
    found: list[str] = []
    for c in commands_named(cmd, "apt-get", "apt", "apk", "dnf", "yum", "microdnf"):
        for word in c.argv[2:]:
            if _BUILD_PACKAGE.match(word) and word not in found:
                found.append(word)
    return found


def toolchain_fix(ctx: RuleContext, layer: int) -> str:
    """A build stage; or purge the build packages layer ``layer``'s RUN installed."""
    lines = [
        "Build in a separate stage that has the compilers, and COPY --from=<build stage> "
        "only the results into a final stage without them."
    ]
    if is_run(ctx, layer):
        cmd = ctx.command(layer)
        pkgs = _build_packages(cmd)
        if pkgs and commands_named(cmd, "apk"):
            lines.append(
                "Or, in the same RUN: apk add --no-cache --virtual .build-deps "
                f"{' '.join(pkgs)} && ... && apk del .build-deps"
            )
        elif pkgs:
            purge = f"apt-get purge -y --auto-remove {' '.join(pkgs)}"
            lines.append(
                "Or remove them in the same RUN once the build is done:\n"
                + rewrite(cmd, append_command(cmd, purge))
            )
    return "\n".join(lines)
