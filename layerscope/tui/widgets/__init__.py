"""Textual widgets of the interactive view, one a module."""
