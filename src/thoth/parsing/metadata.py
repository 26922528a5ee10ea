"""Metadata made JSON-serialisable, with a size budget against hostile (alias-bomb) input."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

_MAX_NODES = 10_000


class MetadataTooLarge(ValueError):
    pass


def json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """A copy with dates as ISO strings and unknown types as strings.

    Raises MetadataTooLarge past a node budget: YAML aliases can make a tiny frontmatter
    expand exponentially when copied.
    """
    budget = [_MAX_NODES]
    return {str(key): _convert(item, budget) for key, item in value.items()}


def _convert(value: Any, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise MetadataTooLarge("metadata too large")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _convert(item, budget) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_convert(item, budget) for item in value]
    return str(value)
