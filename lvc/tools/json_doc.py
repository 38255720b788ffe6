"""JSON documents of the reports: strict JSON (no inf or NaN), written the same way by every tool."""

from __future__ import annotations

import json
import math


def json_safe(value: object) -> object:
    """``value`` with every non-finite float (inside dicts and lists too) replaced by None: JSON has no inf
    or NaN, and null is what every reader parses."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def json_text(doc: object) -> str:
    """``doc`` as indented strict JSON, with a final newline."""
    return json.dumps(json_safe(doc), indent=1, allow_nan=False) + "\n"
