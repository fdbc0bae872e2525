"""Package tools' clean subcommands: one table for the rules' fix texts and the Dockerfile patcher.

Pure data and a lookup; nothing here knows about layers or bytes.
"""

from __future__ import annotations

__all__ = ["is_clean_subcommand"]

# Clean subcommands the Dockerfile patcher (layerscope/patch.py) takes for a
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
