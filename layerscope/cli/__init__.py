"""The command line: the entry point and its subcommand table, the shared flags, output
writing, and one module per subcommand under ``commands/``."""

from layerscope.cli.entry import main

__all__ = ["main"]
