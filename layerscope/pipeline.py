"""The one place that runs source -> analysis -> Dockerfile mapping -> base split -> budgets.

``layerscope IMAGE``, ``diff``, ``fix`` and the interactive view all describe
what they want as a :class:`Request` and get an :class:`~layerscope.analysis.Analysis`
back. Doubts found on the way (a Dockerfile that differs from the history)
come back as data, in ``Analysis.warnings``: the caller decides where they go.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from layerscope.analysis import Analysis, analyze
from layerscope.model import Image
from layerscope.policy.values import Limit, Policy
from layerscope.sources import engine_of
from layerscope.sources.interface import SourceOptions

if TYPE_CHECKING:
    from layerscope.base.resolve import LocalImages

__all__ = ["Request", "finish", "overlapping", "read", "run", "with_dockerfile"]


@dataclass(frozen=True, slots=True)
class Request:
    """What to read and which stages to run after the analysis.

    ``stage`` is the Dockerfile's ``--target``. ``attribute_base`` splits the
    layers into base and own (asking the engine for a matching local image
    only for an engine image); ``judge`` applies the policy's and the flags'
    budgets (``limits``), matched against ``references``.
    """

    target: str
    options: SourceOptions = field(default_factory=SourceOptions)
    source: str = "auto"
    policy: Policy = field(default_factory=Policy)
    limits: Mapping[str, Limit] = field(default_factory=dict)
    base: str | None = None
    dockerfile: str | None = None
    stage: str | None = None
    attribute_base: bool = True
    judge: bool = True
    # Told when each phase after the read ends: replay, rules, finish (--verbose).
    on_phase: Callable[[str], None] | None = field(default=None, compare=False)

    @property
    def engine(self) -> str | None:
        """Where the image streams from (``docker``, ``podman``, ``registry``), None for a
        path. ``auto`` may ask the engine whether it has a registry-like reference:
        compute it once."""
        return engine_of(self.target, self.source)


@contextlib.contextmanager
def overlapping(request: Request, engine: str | None = None) -> Iterator[LocalImages | None]:
    """Work that overlaps the read: the engine's images for the base match, listed
    while the engine prepares its export (None when not needed). ``engine`` is
    ``request.engine`` when the caller has it already.

    On the way out the listing gets a moment to end (a daemon thread still inside
    the engine client at interpreter shutdown can crash the exit), except on Ctrl+C.
    """
    engine = engine or request.engine
    listing = None
    if engine in ("docker", "podman") and not request.base and request.attribute_base:
        from layerscope.base.resolve import LocalImages

        listing = LocalImages(engine, request.options.engine_timeout)
    interrupted = False
    try:
        yield listing
    except KeyboardInterrupt:
        interrupted = True  # out within a second: no wait for the listing
        raise
    finally:
        if listing is not None and not interrupted:
            listing.settle()


def read(request: Request, options: SourceOptions | None = None) -> Image:
    """The image, with content digests for duplicate candidates (a second read only
    when sizes collide). ``options`` replaces the request's (progress added)."""
    from layerscope.sources.rehash import open_image_with_digests

    return open_image_with_digests(
        request.target, source=request.source, options=options or request.options
    )


def finish(image: Image, request: Request, listing: LocalImages | None = None) -> Analysis:
    """Everything after reading the image: analysis, Dockerfile mapping, base split, budgets."""
    from layerscope.policy import budgets

    result = analyze(image, budgets.analysis_options(request.policy), request.on_phase)
    if request.dockerfile:
        result = with_dockerfile(result, request.dockerfile, request.stage)
    if request.attribute_base:
        from layerscope.base.attribution import attribute
        from layerscope.base.resolve import find_base

        boundary = find_base(
            image,
            base=request.base,
            dockerfile=request.dockerfile,
            target=request.stage,
            options=request.options,
            # Ask the engine for a matching local base only for an engine image:
            # an archive is analyzed without touching (or importing) the engine.
            local=image.source in ("docker", "podman"),
            # Made for the engine asked first: not Podman's when auto fell back to it.
            listing=listing if listing is not None and listing.engine == image.source else None,
        )
        rows = listing.rows() if listing is not None else None
        local = [tag for _, tags, _ in rows or () for tag in tags]
        result = attribute(result, boundary, local)
    if request.judge:
        verdicts = budgets.judge(
            result, request.policy, request.limits, references=(request.target,)
        )
        result = dataclasses.replace(result, budgets=verdicts)
    if request.on_phase is not None:
        request.on_phase("finish")
    return result


def run(request: Request) -> Analysis:
    """Read and finish: the whole pipeline."""
    with overlapping(request) as listing:
        return finish(read(request), request, listing)


def with_dockerfile(result: Analysis, path: str, stage: str | None = None) -> Analysis:
    """``result`` with every finding located in the Dockerfile (file, line), plus
    the order problems the Dockerfile shows that the image history cannot
    (other stages, flags history does not record). Mapping doubts go to
    ``warnings``."""
    from layerscope.cite import cite_dockerfile
    from layerscope.dockerfile.layer_map import locate, map_image
    from layerscope.dockerfile.parser import load
    from layerscope.rules.order import check_dockerfile

    df = load(path)
    mapping = map_image(result.image, df, stage)
    from_text = check_dockerfile(df, stage)
    findings = locate(result.findings, result.image, mapping)
    findings = cite_dockerfile(findings, result.image, mapping, from_text)
    seen = {(f.rule, f.location) for f in findings}
    findings.extend(f for f in from_text if (f.rule, f.location) not in seen)
    return dataclasses.replace(
        result,
        findings=tuple(findings),
        dockerfile=df.path,
        warnings=(*result.warnings, *mapping.warnings()),
    )
