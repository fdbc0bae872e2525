"""How to read an image: the flags every command that reads one shares, and
the SourceOptions they make. ``layerscope IMAGE``, ``diff`` and ``fix`` all
take them, so a limit raised for hostile input means the same everywhere."""

from __future__ import annotations

import argparse

from layerscope.errors import UsageError
from layerscope.sources import SOURCES
from layerscope.sources.interface import ENGINE_TIMEOUT, SourceOptions
from layerscope.tar.streams import MAX_EXPANSION


def add_reading_arguments(p: argparse.ArgumentParser, *, what: str = "the image") -> None:
    """--source, --platform and the resource limits for untrusted input."""
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help=f"where {what} comes from (auto: `-` is an archive on stdin, an existing path "
        "an archive or layout, a reference whose first component has a dot or a port, or is "
        "localhost, an image in its registry when no engine has it, anything else an image "
        "in Docker's engine, else Podman's; docs/sources.md)",
    )
    p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform index")
    p.add_argument(
        "--max-expansion",
        type=int,
        default=MAX_EXPANSION,
        metavar="RATIO",
        help="refuse compressed layers that expand more than RATIO times "
        f"(default {MAX_EXPANSION})",
    )
    from layerscope.sources.limits import limit_defaults

    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=N",
        help="raise or lower a resource limit for hostile input: "
        + ", ".join(f"{k} (default {v})" for k, v in limit_defaults().items())
        + "; N may end in K, M, G, T, P (docs/security.md)",
    )
    p.add_argument(
        "--engine-timeout",
        type=float,
        default=ENGINE_TIMEOUT,
        metavar="SECONDS",
        help=f"give up when the engine stays silent this long (default {ENGINE_TIMEOUT:g})",
    )
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain http (or TLS without certificate checks) to this registry "
        "(host or host:port; repeatable; loopback registries need no flag)",
    )
    p.add_argument(
        "--engine-read",
        choices=("auto", "storage", "export"),
        default="auto",
        help="read an engine image from the engine's layer storage (about a second) or its "
        "export (as long as `docker save`); auto: the storage when it is readable here",
    )
    p.add_argument(
        "--verify-digests",
        action="store_true",
        help="hash every layer and check it against the config's diff_ids and the manifest's "
        "blob digests (reads every byte; names the layer that does not match)",
    )


def reading_options(args: argparse.Namespace) -> SourceOptions:
    """The SourceOptions the reading flags ask for; UsageError on bad values."""
    from layerscope.sources.limits import with_limits
    from layerscope.tar.reader import DEFAULT_LIMITS

    if args.max_expansion < 1:
        raise UsageError("--max-expansion must be at least 1")
    if not args.engine_timeout > 0:
        raise UsageError("--engine-timeout must be more than 0 seconds")
    return with_limits(
        SourceOptions(
            platform=args.platform,
            limits=DEFAULT_LIMITS,
            max_expansion=args.max_expansion,
            verify_digests=args.verify_digests,
            engine_timeout=args.engine_timeout,
            insecure_registries=tuple(getattr(args, "insecure_registry", ())),
            engine_read=args.engine_read,
        ),
        args.limit,
    )
