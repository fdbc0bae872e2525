"""Start-up: `layerscope --version` next to a bare interpreter start.

python benchmarks/bench_startup.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -m layerscope --version": [sys.executable, "-m", "layerscope", "--version"],
    }
    script = shutil.which("layerscope")
    if script:
        commands["layerscope --version (console script)"] = [script, "--version"]
    print(table(alternate(commands, args.repeat), base="python -c pass"))


if __name__ == "__main__":
    main()
