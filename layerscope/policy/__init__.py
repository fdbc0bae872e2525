"""Budgets and the policy file that sets them (.layerscope.toml, pyproject.toml, .dive-ci)."""
