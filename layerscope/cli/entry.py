"""The entry point: the subcommand table, one clear line on stderr for every input error.

Exit statuses are :mod:`layerscope.errors`' (0 pass, 1 budget, 2 usage or
input error, 130/143 interrupted).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from layerscope import __version__
from layerscope.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, LayerscopeError

# ``layerscope NAME ...`` hands the rest of argv to MODULE.main(argv); anything
# else is an image for the main command.
SUBCOMMANDS: dict[str, str] = {
    "diff": "layerscope.cli.commands.diff",
    "fix": "layerscope.cli.commands.fix",
}
IMAGE_COMMAND = "layerscope.cli.commands.image"


def run(argv: Sequence[str]) -> int:
    """Dispatch ``argv`` to its command; returns the exit status."""
    if argv and argv[0] in SUBCOMMANDS:
        name, argv = SUBCOMMANDS[argv[0]], argv[1:]
    else:
        if "--version" in argv:  # before the parser, which imports the budget tables
            sys.stdout.write(f"layerscope {__version__}\n")
            return EXIT_OK
        name = IMAGE_COMMAND
    code: int = importlib.import_module(name).main(list(argv))
    return code


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one clear line on stderr for every input error."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except LayerscopeError as e:
        # Messages quote archive names: escape them (one line, no terminal escapes).
        from layerscope.names import printable

        if e.multiline:
            first, *rest = str(e).split("\n")
            lines = [f"layerscope: error: {printable(first)}"]
            lines.extend(f"  {printable(line)}" for line in rest)
            print("\n".join(lines), file=sys.stderr)
        else:
            print(f"layerscope: error: {printable(str(e))}", file=sys.stderr)
        return e.exit_code
    except (MemoryError, RecursionError) as e:
        print(
            f"layerscope: error: input too large to analyze ({type(e).__name__})", file=sys.stderr
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("layerscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output closed early (e.g. piped to head): not an error of the input.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
