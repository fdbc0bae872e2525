"""``layerscope fix [IMAGE] --dockerfile PATH``: a patch to the Dockerfile.

The unified diff goes to stdout (or ``-o FILE``) and applies with ``patch
-p0`` or ``git apply -p0`` from the directory the path is relative to; one
line per fix goes to stderr. With IMAGE (built from that Dockerfile) each
fix is checked against the layers and carries the bytes it saves; without
it the fixes come from the Dockerfile text alone. ``--check`` lists the
order problems of the Dockerfile (LS5xx) and the fixes on offer, and exits 1
when there is any: a check to run before any build. ``--verify --context
DIR`` builds the original and the patched Dockerfile with the engine and
reports what the fixes really save (see :mod:`layerscope.fix.verify`).

Exit status: 0 done (a patch or nothing to fix), 1 ``--check`` found
something or a ``--verify`` build failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from layerscope.errors import UsageError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from layerscope.cli.parser import Parser
    from layerscope.cli.progress import add_verbosity_arguments

    p = Parser(
        prog="layerscope fix",
        description="Print a unified diff that fixes the Dockerfile: cleanups into the RUN "
        "that made the cache, no-cache flags, manifest files copied before the install, "
        "COPY --chown instead of RUN chown -R. Apply it with patch -p0 (docs/fixes.md).",
    )
    p.add_argument("image", nargs="?", help="the image built from the Dockerfile (optional)")
    p.add_argument("--dockerfile", metavar="PATH", required=True, help="the Dockerfile to fix")
    p.add_argument("--target", metavar="STAGE", help="the build's --target stage")
    from layerscope.cli.reading import add_reading_arguments

    add_reading_arguments(p, what="IMAGE")
    add_verbosity_arguments(p)
    p.add_argument(
        "--only",
        metavar="KINDS",
        help="comma-separated fix kinds: merge-cleanup, merge-update, no-cache, no-compile, "
        "reorder, "
        "copy-chown, merge-install (default: all)",
    )
    p.add_argument("--context", metavar="DIR", help="the build context (manifest files, --verify)")
    p.add_argument(
        "--check",
        action="store_true",
        help="list the Dockerfile's order problems and the fixes on offer; exit 1 if any",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="build the original and the patched Dockerfile (needs --context and an engine) "
        "and report the bytes each fix saves and whether a source change reuses the "
        "dependency layer",
    )
    p.add_argument("--builder", choices=("classic", "buildkit"), default="buildkit")
    p.add_argument("--docker", default="docker", help="the docker client for --verify")
    p.add_argument("--network", help="docker build --network for --verify (e.g. host)")
    p.add_argument("--keep-images", action="store_true", help="keep the --verify images")
    p.add_argument("--format", choices=("diff", "json"), default="diff")
    p.add_argument("-o", "--output", metavar="FILE", help="write the diff (or JSON) to FILE")
    return p


def _kinds(only: str | None) -> tuple[str, ...]:
    from layerscope.fix.planner import KINDS

    if only is None:
        return KINDS
    kinds = tuple(k.strip() for k in only.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--only: unknown fix kind {', '.join(unknown) or '(none)'}")
    return kinds


def main(argv: Sequence[str]) -> int:
    from layerscope.cli.progress import Status
    from layerscope.dockerfile.layer_map import map_image
    from layerscope.dockerfile.parser import display_path, load
    from layerscope.fix.diff import unified_diff
    from layerscope.fix.model import Evidence
    from layerscope.fix.planner import apply, check, plan
    from layerscope.rules.order import check_dockerfile

    args = build_parser().parse_args(argv)
    status = Status(args)
    kinds = _kinds(args.only)
    if args.verify and not args.context:
        raise UsageError("--verify needs --context DIR (the build context)")
    df = load(args.dockerfile)
    df.target(args.target)  # a bad --target is a usage error before any work
    evidence = None
    if args.image:
        from layerscope import pipeline
        from layerscope.cli.reading import reading_options

        request = pipeline.Request(
            target=args.image,
            options=reading_options(args),
            source=args.source,
            attribute_base=False,
            judge=False,
            on_phase=status.phase,
        )
        result = status.read_and_finish(request, args.image)
        mapping = map_image(result.image, df, args.target)
        for warning in mapping.warnings():
            status.warn(warning)
        evidence = Evidence(result, mapping)
    fixes = plan(df, evidence, context=args.context, kinds=kinds, target=args.target)
    verification = None
    if args.verify:
        from layerscope.fix.verify import verify

        # original, one build per fix when there are several, patched, and both again
        builds = 4 + len(fixes) if args.image and len(fixes) > 1 else 4 if args.image else None
        started = [0]
        current = [""]

        def building(message: str) -> None:
            if message.startswith("step "):
                # The Dockerfile step the build is on: on the live line only.
                status.say(f"{current[0]} · {message[len('step ') :]}", live_only=True)
                return
            if message.startswith("building "):
                started[0] += 1
                of = f" of {builds}" if builds else ""
                message = current[0] = f"build {started[0]}{of}: {message[len('building ') :]}"
            status.say(message)

        with status.working("verifying the fixes"):
            verification, fixes = verify(
                df,
                args.context,
                builder=args.builder,
                docker=args.docker,
                network=args.network,
                target=args.target,
                fixes=fixes if args.image else None,
                kinds=kinds,
                keep=args.keep_images,
                progress=building,
            )
    new_text = apply(df.text, fixes)
    check(df, new_text)
    path = display_path(df.path)
    diff = unified_diff(df.text, new_text, path)
    findings = check_dockerfile(df, args.target) if args.check or args.format == "json" else []
    for f in findings if args.check else []:
        where = f"{path}:{f.location[1]}" if f.location else path
        print(f"{where}: {f.rule} {f.message}", file=sys.stderr)
    for fix in fixes:
        saves = f" (the image says: {fix.bytes} bytes)" if fix.bytes else ""
        print(f"{path}:{fix.line}: {fix.kind}: {fix.title}{saves}", file=sys.stderr)
    if not fixes:
        print(f"layerscope: {path}: nothing to fix", file=sys.stderr)
    if verification is not None:
        from layerscope.fix.verify import report

        sys.stderr.write(report(verification))
    if args.check:
        return 1 if findings or fixes else 0
    text = diff if args.format == "diff" else _json(path, fixes, findings, diff, verification)
    if args.output:
        from layerscope.cli.output import write_output

        write_output(args.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _json(path: str, fixes: Sequence[Any], findings: Sequence[Any], diff: str, v: Any) -> str:
    from layerscope.report.schema import finding_to_dict

    out: dict[str, Any] = {
        "dockerfile": path,
        "fixes": [
            {
                "kind": f.kind,
                "rule": f.rule,
                "line": f.line,
                "title": f.title,
                "bytes": f.bytes,
                "rebuild_bytes": f.rebuild_bytes,
            }
            for f in fixes
        ],
        "findings": [finding_to_dict(f) for f in findings],
        "diff": diff,
        "verify": None,
    }
    if v is not None:
        out["verify"] = {
            "builder": v.builder,
            "original_bytes": v.original_bytes,
            "patched_bytes": v.patched_bytes,
            "saved_bytes": v.saved_bytes,
            "fixes": [
                {
                    "line": s.fix.line,
                    "kind": s.fix.kind,
                    "saved_bytes": s.saved_bytes,
                    "steps_rebuilt_otherwise": [
                        {"step": step, "saved_bytes": n} for step, n in s.steps if step
                    ],
                }
                for s in v.fixes
            ],
            "touched": v.touched,
            "rebuild": {
                label: dataclasses.asdict(r)
                for label, r in (("original", v.original_rebuild), ("patched", v.patched_rebuild))
            },
        }
    return json.dumps(out, indent=2) + "\n"
