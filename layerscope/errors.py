"""Errors layerscope reports to people (each becomes one line on stderr and exit 2), and
the exit statuses every command shares."""

from __future__ import annotations

EXIT_OK = 0  # the analysis ran and every budget holds
EXIT_BUDGET = 1  # a budget or a failing rule broke
EXIT_ERROR = 2  # a usage error, bad input or an unreachable engine
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT); SIGTERM gives 128 + 15


class LayerscopeError(Exception):
    """Base of every error that is the input's fault, not a bug of ours."""

    exit_code = EXIT_ERROR
    # A message whose later lines are a log to show as lines (a failed build's
    # output): each line is escaped on its own and the newlines kept.
    multiline = False


class UsageError(LayerscopeError):
    """A wrong flag, a bad value, a conflicting combination."""


class SourceError(LayerscopeError):
    """The image could not be read: missing, engine down, unreadable archive."""


class ArchiveError(SourceError):
    """An archive or layer tarball is corrupt, truncated or hostile."""


class LimitExceededError(ArchiveError):
    """The input asks for more than a configured resource limit allows."""


class ConfigError(LayerscopeError):
    """A policy or configuration file is missing or invalid."""
