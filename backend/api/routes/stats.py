"""Statistics of the batch app's rollups: per UTC-aligned window (and account, user or drop reason), and one
summary over a range. Role read: every reader sees the whole service (backend/batch/stats.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from backend.api import params
from backend.api.deps import ReadAccount, StatsDep
from backend.api.errors import documented
from backend.api.params import DATE_TIME
from backend.api.schemas import StatsOut, StatsSummaryOut

router = APIRouter(tags=["stats"])

Since = Annotated[
    str | None,
    Query(
        description="from this time (RFC 3339), down to its window's start; default until − 24 h",
        json_schema_extra=DATE_TIME,
    ),
]
Until = Annotated[
    str | None,
    Query(
        description="before this time (RFC 3339, exclusive), up to a window's end; default now",
        json_schema_extra=DATE_TIME,
    ),
]


@router.get(
    "/stats",
    response_model=StatsOut,
    summary="Rolled-up statistics per window",
    responses=documented((400, "since is not before until, or the range holds more than 10,000 windows")),
)
async def get_stats(
    stats: StatsDep,
    _: ReadAccount,
    window: Annotated[Literal["15m", "30m", "1h", "3h", "6h", "12h"], Query(description="UTC-aligned window")],
    since: Since = None,
    until: Until = None,
    by: Annotated[
        Literal["account", "user", "reason"] | None, Query(description="one bucket per key of this (none: the service)")
    ] = None,
) -> StatsOut:
    start, end = params.time_filter(since, "since"), params.time_filter(until, "until")
    return StatsOut.model_validate(await run_in_threadpool(stats.windows, window, start, end, by))


@router.get(
    "/stats/summary",
    response_model=StatsSummaryOut,
    summary="The same measures over a whole range",
    responses=documented((400, "since is not before until")),
)
async def get_stats_summary(
    stats: StatsDep, _: ReadAccount, since: Since = None, until: Until = None
) -> StatsSummaryOut:
    start, end = params.time_filter(since, "since"), params.time_filter(until, "until")
    return StatsSummaryOut.model_validate(await run_in_threadpool(stats.summary, start, end))
