"""Parameters of user queries: JSON scalars, and lists and maps of them whose non-null elements share one type,
within bounded size and depth; what every engine takes (a mixed list was a ValueError, a 500, in LadybugDB)."""

from __future__ import annotations

import math
import re
from typing import Any

from graph.base import QueryRejected

MAX_PARAM_ITEMS = 10_000
MAX_PARAM_CHARS = 1_000_000
MAX_PARAM_DEPTH = 8
INT64 = (-(2**63), 2**63 - 1)


def check_params(params: dict[str, Any]) -> None:
    """Raise QueryRejected unless every parameter is plain (see the module's docstring)."""
    budget = [MAX_PARAM_ITEMS, MAX_PARAM_CHARS]
    for name, value in params.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w{0,99}|\d{1,3}", name):
            raise QueryRejected(f"parameter name {name!r} is not a plain name")
        _check_value(f"${name}", value, 0, budget)


def _kind(value: Any, depth: int = 0) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        if depth > MAX_PARAM_DEPTH:
            return "list"
        inner = {_kind(v, depth + 1) for v in value[:MAX_PARAM_ITEMS] if v is not None}
        return "list of " + " and ".join(sorted(inner) or ["nothing"])
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _check_value(where: str, value: Any, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise QueryRejected(f"parameters hold more than {MAX_PARAM_ITEMS} values")
    if depth > MAX_PARAM_DEPTH:
        raise QueryRejected(f"{where}: nested more than {MAX_PARAM_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise QueryRejected(f"{where}: integer out of the 64-bit range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryRejected(f"{where}: not a finite number")
        return
    if isinstance(value, str):
        budget[1] -= len(value)
        if budget[1] < 0:
            raise QueryRejected(f"parameters hold more than {MAX_PARAM_CHARS} characters")
        return
    if isinstance(value, list):
        kinds = {_kind(v) for v in value if v is not None}
        if len(kinds) > 1:
            raise QueryRejected(f"{where}: list mixes {' and '.join(sorted(kinds))}; a list holds one type")
        for i, v in enumerate(value):
            _check_value(f"{where}[{i}]", v, depth + 1, budget)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise QueryRejected(f"{where}: map keys are strings")
            budget[1] -= len(k)
            _check_value(f"{where}.{k}", v, depth + 1, budget)
        return
    raise QueryRejected(f"{where}: unsupported parameter type {type(value).__name__}")
