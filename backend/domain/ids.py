"""Validated identifiers: a Key is checked once, at the edge, and trusted afterwards."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from uuid_utils import uuid7

__all__ = ["KEY_PATTERN", "MAX_KEY_LENGTH", "Key", "check_key", "new_key", "parse_key", "uuid7"]

from backend.errors import InvalidInput

MAX_KEY_LENGTH = 512
# C0 and C1 controls (U+0085 too), bidi marks, embeddings, overrides and isolates (U+202E shows text
# reversed), line/paragraph separators, and lone surrogates (not storable as UTF-8).
_VISIBLE_REFUSED = "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_CONTROL = re.compile(f"[{_VISIBLE_REFUSED}\\ud800-\\udfff]")
# The same rule for the OpenAPI schema (with 1..MAX_KEY_LENGTH characters); without the surrogates, which
# no UTF-8 text can carry and a schema's ECMA regex cannot name.
KEY_PATTERN = f"^[^{_VISIBLE_REFUSED}]+$"


def check_key(value: str) -> str:
    """Reject empty, over-long or control-character keys; return the key unchanged otherwise."""
    if not isinstance(value, str) or value == "":
        raise ValueError("key must be a non-empty string")
    if len(value) > MAX_KEY_LENGTH:
        raise ValueError(f"key longer than {MAX_KEY_LENGTH} characters")
    if _CONTROL.search(value):
        raise ValueError("key contains control characters (C0, C1, bidi controls, line separators or lone surrogates)")
    return value


Key = Annotated[str, AfterValidator(check_key)]


def parse_key(value: str) -> str:
    """check_key for path/query parameters: raises InvalidInput (400) instead of ValueError."""
    try:
        return check_key(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), {"key": value[:80]}) from None


def new_key() -> str:
    """A key for a caller that has none: UUIDv7 text."""
    return str(uuid7())
