"""Retention records: what retention deleted, under which rule, how many bytes, when."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import ReadAccount, RetentionDep
from backend.api.errors import documented
from backend.api.params import FILE_KEY_SCHEMA
from backend.api.schemas import RetentionPage
from backend.domain.files import check_file_key
from backend.domain.retention import record_json
from backend.errors import InvalidInput

router = APIRouter(tags=["files"])


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        position = int(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode())
    except ValueError:
        position = 0
    if not 0 < position < 2**63:  # a row id: beyond it the stores overflow
        raise InvalidInput("invalid cursor")
    return position


@router.get(
    "/retention/records",
    response_model=RetentionPage,
    summary="Deletions by retention, newest first",
    responses=documented((400, "the cursor is not one this API gave, or the key is not a valid file key")),
)
async def retention_records(
    retention: RetentionDep,
    _: ReadAccount,
    key: Annotated[str | None, Query(description="only this file key", json_schema_extra=FILE_KEY_SCHEMA)] = None,
    rule: Literal["max_age", "max_files", "max_bytes"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> RetentionPage:
    """Each record: `{id, key, group, trace, backend, rule, bytes, size, stored_at, marked_at, deleted_at}`;
    `bytes` are the stored (compressed) bytes freed, `size` the original size."""
    if key is not None:
        check_file_key(key)
    rows = await run_in_threadpool(retention.records, limit + 1, _cursor(cursor), key, rule)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode().rstrip("=") if more and page else None
    return RetentionPage.model_validate({"items": [record_json(r) for r in page], "next_cursor": next_cursor})
