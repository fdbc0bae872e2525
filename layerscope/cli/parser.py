"""The argument parser every command uses: a usage error is one line and exit 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

from layerscope.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")
