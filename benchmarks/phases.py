"""Where a run's time goes, phase by phase (CPU seconds), on one archive.

python benchmarks/phases.py ARCHIVE
"""

from __future__ import annotations

import dataclasses
import sys
import time


def main() -> None:
    target = sys.argv[1]
    t0 = time.process_time()
    from layerscope.analysis import layer_stats
    from layerscope.report import render
    from layerscope.rules import all_rules
    from layerscope.rules.context import Options, RuleContext
    from layerscope.sources import open_image
    from layerscope.sources.interface import SourceOptions
    from layerscope.sources.rehash import MIN_FILE_BYTES, candidate_sizes
    from layerscope.union import replay

    marks = [("imports", time.process_time() - t0)]

    def phase(name: str, start: float) -> float:
        now = time.process_time()
        marks.append((name, now - start))
        return now

    t = time.process_time()
    first = SourceOptions(digest_floor=MIN_FILE_BYTES)
    image = open_image(target, options=first)
    t = phase("scan layers, hashing what is read anyway (read 1)", t)
    sizes = candidate_sizes(image)
    t = phase(f"large duplicate candidates left ({len(sizes)} sizes)", t)
    if sizes:
        image = open_image(
            target, options=dataclasses.replace(first, want_digest=sizes.__contains__)
        )
        t = phase("scan layers again, hashing those (read 2)", t)
    union = replay(layer.entries for layer in image.layers)
    t = phase("replay", t)
    stats = layer_stats(image, union)
    t = phase("layer stats", t)
    ctx = RuleContext(image, union, stats, Options())
    per_rule = []
    for r in all_rules():
        s = time.process_time()
        list(r.func(ctx))
        per_rule.append((time.process_time() - s, r.id))
    t = phase("rules", t)
    from layerscope.analysis import analyze

    result = analyze(image)
    t = phase("analyze() again, for the report (replay + rules)", t)
    render("json", result)
    phase("JSON report", t)
    entries = sum(len(layer.entries) for layer in image.layers)
    print(f"{target}: {entries:,} entries in {len(image.layers)} layers\n")
    print("| phase | CPU s |\n|---|---:|")
    for name, dt in marks:
        print(f"| {name} | {dt:.3f} |")
    slowest = sorted(per_rule)[::-1][:4]
    print("\nslowest rules: " + ", ".join(f"{rid} {dt:.3f}" for dt, rid in slowest))


if __name__ == "__main__":
    main()
