"""The one image model every source produces and every analysis consumes.

Plain, frozen data: ints for bytes, enums for kinds, no formatting. Paths are
normalised archive names: no leading ``/`` or ``./``, no trailing ``/``, the
root directory is ``""``. Names that are not valid UTF-8 are decoded with
``surrogateescape`` so they round-trip exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class EntryType(enum.Enum):
    """What one tar member of a layer is, after whiteouts are recognised."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    WHITEOUT = "whiteout"  # ``.wh.NAME``: ``path`` is the NAME it deletes
    OPAQUE = "opaque"  # ``.wh..wh..opq``: ``path`` is the directory made opaque


class Entry(NamedTuple):
    """One member of a layer tarball.

    A NamedTuple rather than a dataclass: images hold hundreds of thousands
    of entries, and a tuple is both the smallest and the fastest to build.

    ``size`` is the regular-file content length (0 for everything else,
    hardlinks included: a link stores no data). ``linkname`` is the target of
    a symlink or hardlink (a hardlink target is a normalised path).
    ``digest`` is a content hash when one was computed, else ``None``.
    """

    path: str
    type: EntryType
    size: int = 0
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    linkname: str = ""
    digest: str | None = None


class Instruction(enum.Enum):
    """Dockerfile instruction kind recovered from a history line."""

    RUN = "RUN"
    COPY = "COPY"
    ADD = "ADD"
    ENV = "ENV"
    ARG = "ARG"
    LABEL = "LABEL"
    WORKDIR = "WORKDIR"
    USER = "USER"
    EXPOSE = "EXPOSE"
    VOLUME = "VOLUME"
    ENTRYPOINT = "ENTRYPOINT"
    CMD = "CMD"
    SHELL = "SHELL"
    HEALTHCHECK = "HEALTHCHECK"
    STOPSIGNAL = "STOPSIGNAL"
    ONBUILD = "ONBUILD"
    MAINTAINER = "MAINTAINER"
    FROM = "FROM"
    UNKNOWN = "UNKNOWN"


class Builder(enum.Enum):
    """Which builder wrote a history line."""

    CLASSIC = "classic"
    BUILDKIT = "buildkit"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A history ``created_by`` string parsed into instruction and arguments.

    ``args`` is the instruction's argument text as a person would write it
    in a Dockerfile (for RUN: the shell command without the ``/bin/sh -c``
    prefix). ``build_args`` are the ``|N K=V`` pairs of a RUN, ``shell`` the
    shell prefix that ran it, ``flags`` recorded options such as
    ``--chown=1000:1000``. For the classic builder's COPY/ADD, ``source`` is
    the ``dir:<hash>``/``file:<hash>``/``multi:<hash>`` token and ``dest``
    the destination.
    """

    instruction: Instruction
    args: str
    builder: Builder
    build_args: tuple[tuple[str, str], ...] = ()
    shell: str = ""
    flags: tuple[str, ...] = ()
    source: str = ""
    dest: str = ""


@dataclass(frozen=True, slots=True)
class History:
    """One entry of the image config's history, layer-making or not."""

    created_by: str
    parsed: ParsedCommand
    empty_layer: bool = False
    created: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Layer:
    """One filesystem layer, in image order.

    ``digest`` is the uncompressed diff_id; ``blob_digest`` the digest of the
    stored (maybe compressed) blob. ``size_bytes`` is the uncompressed tar
    stream length, ``compressed_bytes`` the stored blob length.
    ``download_bytes`` is what pulling the layer transfers, where the source
    knows it (a manifest descriptor's size, a compressed blob's length); None
    when it does not (an engine's export, an uncompressed ``docker save``
    layer), never an estimate.
    ``history_index`` points into ``Image.history`` (None when unmatched).
    """

    index: int
    digest: str
    entries: tuple[Entry, ...]
    size_bytes: int
    compressed_bytes: int
    blob_digest: str = ""
    media_type: str = ""
    history_index: int | None = None
    download_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The runtime config of the image (the parts analysis cares about)."""

    env: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str = ""
    workdir: str = ""
    volumes: tuple[str, ...] = ()

    def env_value(self, name: str) -> str | None:
        """The value of environment variable ``name``, or None."""
        prefix = name + "="
        for item in self.env:
            if item.startswith(prefix):
                return item[len(prefix) :]
        return None


@dataclass(frozen=True, slots=True)
class Image:
    """A whole image: identity, config, history and layers in order."""

    reference: str
    id: str
    source: str
    os: str
    architecture: str
    layers: tuple[Layer, ...]
    history: tuple[History, ...] = ()
    config: ImageConfig = field(default_factory=ImageConfig)
    variant: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def download_bytes(self) -> int | None:
        """What pulling every layer transfers; None unless every layer's is known."""
        sizes = [layer.download_bytes for layer in self.layers]
        if any(size is None for size in sizes):
            return None
        return sum(size for size in sizes if size is not None)

    def layer_history(self, layer: Layer) -> History | None:
        """The history entry that made ``layer``, if it could be matched."""
        if layer.history_index is None:
            return None
        return self.history[layer.history_index]
