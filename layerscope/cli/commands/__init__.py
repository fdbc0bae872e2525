"""Subcommands (``layerscope diff``) and the CI options shared with the main command."""
