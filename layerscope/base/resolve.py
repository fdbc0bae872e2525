"""Finding an image's base: ``--base``, the Dockerfile's FROM, the engine's images.

``find_base`` tries, in order, and stops at the first that answers:

1. ``--base IMAGE`` (an engine reference, or an archive or layout path): its
   layers' diff_ids must be the first layers of the image, else an error.
2. The FROM of the final stage of ``--dockerfile`` (through the stages it
   builds on), looked up in the engine; ``scratch`` means no base layers.
3. The tagged engine image whose layer chain is the longest prefix of the
   image's (images of the image's own repository are skipped).
4. The history alone (:func:`layerscope.base.boundary.from_history`).

Only ``--base`` is strict: the others fall through when the engine is not
there or the image is not found, leaving a warning when a FROM image no
longer matches.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from layerscope.base.boundary import NO_BOUNDARY, Boundary, Signal, from_history, layer_digests
from layerscope.base.boundary import prefix_length as _prefix
from layerscope.errors import SourceError, UsageError
from layerscope.model import Image
from layerscope.sources.engine_query import connect as _connect
from layerscope.sources.engine_query import engine_layers
from layerscope.sources.interface import ENGINE_TIMEOUT, SourceOptions

DEFAULT_TIMEOUT = ENGINE_TIMEOUT

if TYPE_CHECKING:
    import docker

__all__ = ["LocalImages", "find_base", "from_dockerfile", "local_match"]

SCRATCH = "scratch"


def _engine_of(image: Image) -> str:
    return "podman" if image.source == "podman" else "docker"


def _not_a_prefix(name: str, ours: Sequence[str], theirs: Sequence[str]) -> str:
    shared = _prefix(ours, theirs)
    if len(theirs) > len(ours) and shared == len(ours):
        return f"{name} has {len(theirs)} layers, more than this image's {len(ours)}"
    return (
        f"{name} is not this image's base: its layer {shared} ({theirs[shared][:19]}) "
        f"is not this image's layer {shared}"
        + (f" ({ours[shared][:19]})" if shared < len(ours) else "")
    )


def _base_flag(image: Image, base: str, options: SourceOptions) -> Boundary:
    if base == SCRATCH:
        return Boundary(0, Signal.FLAG, SCRATCH)
    from layerscope.sources import open_image, split_archive_ref

    path, _ = split_archive_ref(base)
    if os.path.exists(path):
        base_image = open_image(base, source="auto", options=options)
        theirs = layer_digests(base_image)
        name = base
    elif image.source == "registry":
        from layerscope.sources.registry import registry_diff_ids

        theirs, name = registry_diff_ids(base, options=options), base
    else:
        engine = _engine_of(image)
        client = _connect(engine)
        try:
            found = engine_layers(client, base)
        finally:
            client.close()
        if found is None:
            raise SourceError(
                f"--base {base!r}: no such image in the {engine} engine "
                "(give a reference the engine has, or the path of an archive)"
            )
        theirs, name = found, base
    ours = layer_digests(image)
    if _prefix(ours, theirs) != len(theirs):
        raise UsageError(f"--base {_not_a_prefix(base, ours, theirs)}")
    return Boundary(len(theirs), Signal.FLAG, name)


def from_dockerfile(path: str, target: str | None = None) -> tuple[str, tuple[str, int]]:
    """The image the target stage (default: the last) finally builds FROM,
    through the stages it builds on, and that FROM line (path, line)."""
    from layerscope.dockerfile import parser as dockerfile

    df = dockerfile.load(path)
    stage = df.target(target)
    seen = {stage.index}
    while stage.parent is not None and stage.parent not in seen:
        stage = df.stages[stage.parent]
        seen.add(stage.index)
    return stage.base, (df.path, stage.line)


def _dockerfile_boundary(
    image: Image, ref: str, where: tuple[str, int]
) -> tuple[Boundary | None, list[str]]:
    if ref == SCRATCH:
        return Boundary(0, Signal.DOCKERFILE, SCRATCH, where), []
    if "$" in ref:
        return None, [f"FROM {ref} ({where[0]}:{where[1]}) names a build arg; base not resolved"]
    try:
        client = _connect(_engine_of(image))
    except SourceError:
        return None, []
    try:
        theirs = engine_layers(client, ref)
    finally:
        client.close()
    if theirs is None:
        return None, []
    ours = layer_digests(image)
    if _prefix(ours, theirs) != len(theirs):
        note = _not_a_prefix(f"FROM {ref} as the engine has it now", ours, theirs)
        return None, [f"{note} (pulled or rebuilt since this image was built?)"]
    return Boundary(len(theirs), Signal.DOCKERFILE, ref, where), []


def _repository(reference: str) -> str:
    ref = reference.partition("@")[0]
    colon = ref.rfind(":")
    return ref[:colon] if colon > ref.rfind("/") else ref


def _history_prefix(client: docker.DockerClient, image_id: str, image: Image) -> int | None:
    """Length of the engine image's history when it is a prefix of ``image``'s, else None."""
    from docker.errors import DockerException

    try:
        entries = client.api.history(image_id)  # type: ignore[no-untyped-call]
    except DockerException:  # an image removed meanwhile, an engine error: no match
        return None
    theirs = [str(e.get("CreatedBy") or "") for e in reversed(entries)]
    ours = [h.created_by for h in image.history]
    if len(theirs) <= len(ours) and ours[: len(theirs)] == theirs:
        return len(theirs)
    return None


LocalImage = tuple[str, list[str], list[str]]  # id, tags, layer diff_ids


def _tagged_images(client: docker.DockerClient) -> list[LocalImage]:
    rows = []
    for summary in client.api.images():
        image_id = str(summary.get("Id") or "")
        tags = [t for t in summary.get("RepoTags") or [] if t and t != "<none>:<none>"]
        if not tags:
            continue
        layers = engine_layers(client, image_id)
        if layers:
            rows.append((image_id, tags, layers))
    return rows


class LocalImages:
    """The engine's tagged images and their layers, listed on a background
    thread as soon as it is made.

    Made before an engine image is exported, the listing runs while Docker
    prepares the export (it sends nothing for most of that time), so the
    local base match costs nothing once the layers are read. Any failure
    leaves no listing: the match then asks the engine itself.
    """

    def __init__(self, engine: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        import threading

        self._engine = engine
        self._timeout = timeout
        self._rows: list[LocalImage] | None = None
        self._thread = threading.Thread(
            target=self._run, name="layerscope-local-images", daemon=True
        )
        self._thread.start()

    @property
    def engine(self) -> str:
        """The engine whose images are listed."""
        return self._engine

    def _run(self) -> None:
        if self._engine == "docker":  # from the store, when readable: no docker SDK
            self._rows = _stored_images(None, self._timeout)
            if self._rows is not None:
                return
        try:
            client = _connect(self._engine, self._timeout)
        except Exception:  # the export needs the engine too, and reports it
            return
        try:
            self._rows = _stored_images(client) if self._engine == "docker" else None
            if self._rows is None:
                self._rows = _tagged_images(client)
        except Exception:  # the match asks the engine again, and reports properly
            self._rows = None
        finally:
            client.close()

    def settle(self, timeout: float = 2.0) -> None:
        """Give the listing up to ``timeout`` seconds to end before the process does:
        a daemon thread still inside the engine client at interpreter shutdown can
        crash the exit (seen about once in twenty quick error exits)."""
        self._thread.join(timeout)

    def rows(self, timeout: float | None = None) -> list[LocalImage] | None:
        """The listing, once the thread has made it; None if it failed."""
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self._rows


def _stored_images(
    client: docker.DockerClient | None, timeout: float = DEFAULT_TIMEOUT
) -> list[LocalImage] | None:
    """The listing from the engine's storage (sources/storage_probe.py), one
    file per image instead of one API call; None when it cannot be read.
    Without a ``client`` the engine's root is asked over its socket."""
    from layerscope.sources.storage import StorageUnavailable
    from layerscope.sources.storage_probe import docker_root, docker_tagged_images

    try:
        return docker_tagged_images(docker_root(client, timeout))
    except StorageUnavailable:
        return None


def local_match(
    client: Callable[[], docker.DockerClient],
    image: Image,
    listing: list[LocalImage] | None = None,
) -> Boundary | None:
    """The tagged engine image whose layers are the longest prefix of
    ``image``'s. Images of the same repository are skipped (``app:1`` is not
    the base of ``app:2``). When several share the longest prefix, or one
    has every layer of the image (a child that only set metadata, or the
    image's own base), the history decides: the candidate's history must be
    a prefix of the image's (strictly shorter for a full match)."""
    ours = layer_digests(image)
    if not ours:
        return None
    own_repo = _repository(image.reference) if image.reference else ""
    by_length: dict[int, list[tuple[str, str]]] = {}
    for image_id, tags, theirs in _tagged_images(client()) if listing is None else listing:
        if image_id == image.id:
            continue
        if own_repo and any(_repository(t) == own_repo for t in tags):
            continue
        if _prefix(ours, theirs) != len(theirs):
            continue
        by_length.setdefault(len(theirs), []).append((sorted(tags)[0], image_id))
    for length in sorted(by_length, reverse=True):
        group = sorted(by_length[length])
        if length < len(ours) and len(group) == 1:
            return Boundary(length, Signal.LOCAL_IMAGE, group[0][0])
        verified = []
        for tag, image_id in group:
            n = _history_prefix(client(), image_id, image)
            if n is not None and (length < len(ours) or n < len(image.history)):
                verified.append((-n, tag))
        if verified:
            return Boundary(length, Signal.LOCAL_IMAGE, min(verified)[1])
    return None


def _local_boundary(image: Image, listing: LocalImages | None) -> Boundary | None:
    # The client is made only when the listing leaves a question (the docker
    # SDK takes a third of a second to import).
    made: list[docker.DockerClient] = []

    def client() -> docker.DockerClient:
        if not made:
            made.append(_connect(_engine_of(image)))
        return made[0]

    try:
        return local_match(client, image, listing.rows() if listing is not None else None)
    except SourceError:
        return None
    except Exception as e:
        errors = sys.modules.get("docker.errors")
        if errors is not None and isinstance(e, errors.DockerException):
            return None
        raise
    finally:
        for c in made:
            c.close()


def find_base(
    image: Image,
    *,
    base: str | None = None,
    dockerfile: str | None = None,
    target: str | None = None,
    options: SourceOptions | None = None,
    local: bool = True,
    listing: LocalImages | None = None,
) -> Boundary:
    """Where ``image``'s base ends, by the first signal that answers (see the
    module docstring). ``local=False`` skips the scan of the engine's images;
    ``listing`` is that scan made ahead of time (:class:`LocalImages`)."""
    if base:
        return _base_flag(image, base, options or SourceOptions())
    warnings: list[str] = []
    where: tuple[str, int] | None = None
    from_ref = ""
    if dockerfile:
        from_ref, where = from_dockerfile(dockerfile, target)
        found, notes = _dockerfile_boundary(image, from_ref, where)
        warnings.extend(notes)
        if found is not None:
            return found
    boundary = _local_boundary(image, listing) if local else None
    if boundary is None:
        boundary = from_history(image)
    if boundary is NO_BOUNDARY and not warnings and where is None:
        return boundary
    return replace(
        boundary,
        reference=boundary.reference or from_ref,
        from_location=where,
        warnings=tuple(warnings),
    )
