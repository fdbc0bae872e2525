"""The JSON report for CI (schema version 1)."""

from __future__ import annotations

import json

from layerscope.analysis import Analysis
from layerscope.names import safe_json
from layerscope.report.schema import to_dict


def render(result: Analysis) -> str:
    """The report as indented JSON text."""
    return safe_json(json.dumps(to_dict(result), indent=2, ensure_ascii=False)) + "\n"
