"""Plot benchmarks/results/scaling.json into docs/perf-scaling.png.
matplotlib is a dev tool here (pip install matplotlib), not a dependency.

    python benchmarks/plot.py [results.json] [out.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/scaling.json")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/perf-scaling.png")
    rows = json.loads(src.read_text())["rows"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for col, kind, xlabel in ((0, "files", "files in the image"), (1, "bytes", "GiB of content")):
        sel = [r for r in rows if r["kind"] == kind]
        xs = [r["x"] for r in sel]
        for tool, style in (("layerscope", "o-"), ("dive", "s--")):
            axes[0][col].plot(xs, [r[f"{tool}_wall"] for r in sel], style, label=tool)
            axes[1][col].plot(xs, [r[f"{tool}_rss_mb"] for r in sel], style, label=tool)
        axes[0][col].set_title(f"median wall time vs {xlabel}")
        axes[1][col].set_title(f"peak RSS vs {xlabel}")
        axes[0][col].set_ylabel("seconds")
        axes[1][col].set_ylabel("MB")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xlabel(xlabel)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend()
    fig.suptitle("layerscope vs dive 0.13.1 on generated docker-save archives")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
