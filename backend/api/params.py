"""Path and query parameters whose rules the OpenAPI schema states as the domain checks them: a client (or
a schema fuzzer) reading `/openapi.json` knows which keys, names and times the service takes. The
checks themselves stay in the domain (backend/domain/ids.py, files.py, events.py) and answer 400."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import TypeAdapter, ValidationError

from backend.domain.events import EARLIEST, LATEST
from backend.domain.files import FILE_KEY_PATTERN, FILE_NAME_PATTERN
from backend.domain.ids import KEY_PATTERN, MAX_KEY_LENGTH
from backend.errors import Unprocessable

KEY_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}
FILE_NAME_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": FILE_NAME_PATTERN}
FILE_KEY_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": FILE_KEY_PATTERN}

KeyPath = Annotated[
    str, Path(description="a lineage key; '/' may be sent as is or as %2F", json_schema_extra=KEY_SCHEMA)
]
FileKeyPath = Annotated[
    str, Path(description="a stored file's key; '/' may be sent as is or as %2F", json_schema_extra=FILE_KEY_SCHEMA)
]
FileNamePath = Annotated[str, Path(description="a storage group", json_schema_extra=FILE_NAME_SCHEMA)]
DATE_TIME: dict[str, Any] = {"format": "date-time"}

_DATE_TIME = TypeAdapter(datetime)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")


def suffix_is_literal(request: Request, suffix: str) -> bool:
    """Whether a route's fixed ending (`/graph`, `/content`) was sent as such, not as the end of a key with
    its '/' encoded (`/traces/a%2Fgraph` is the trace `a/graph`): the router matches the decoded path, the
    raw path still tells them apart. Servers that give no raw path: the route's reading."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return True
    return raw.split(b"?", 1)[0].endswith(suffix.encode())


def time_filter(value: str | None, what: str) -> datetime | None:
    """An RFC 3339 date-time from a query string (no bare numbers, no dates without a time), in UTC. As a
    filter, a time before or after the ones the service keeps means the same as the first or last of them;
    Unprocessable (422, like any value the schema refuses) for anything else."""
    if value is None:
        return None
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError("not RFC 3339")
        parsed = _DATE_TIME.validate_python(value)
    except (ValidationError, ValueError):
        raise Unprocessable(f"{what} must be an RFC 3339 date-time", {what: value[:40]}) from None
    try:
        utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)  # no zone: UTC
        return min(max(utc, EARLIEST), LATEST)
    except OverflowError:  # within a day of the calendar's ends: beyond the ones kept
        return EARLIEST if parsed.year == 1 else LATEST
