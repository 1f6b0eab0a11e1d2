"""Insights of the batch app: stuck files, drop-rate anomalies, top drop reasons, slowest traces and the
retention forecast. Role read: every reader sees the whole service (backend/batch/insights.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import InsightsDep, ReadAccount
from backend.api.schemas import InsightsOut

router = APIRouter(tags=["stats"])


@router.get(
    "/insights",
    response_model=InsightsOut,
    summary="What needs a look: stuck files, drop-rate anomalies, top drop reasons, slowest traces, retention",
    description="Stuck files: received or stored, no event for FT_STUCK_MINUTES, most recently stuck first. "
    "Drop-rate anomalies: per user and per reason, drops per hour in the hour ending with the current 15-minute "
    "window against the mean of the 24 hours before (at least 5 drops and 3× the baseline). Top drop reasons "
    "and slowest traces (first to last event): the last 24 hours. Retention forecast: days until the stored bytes "
    "reach FT_RETENTION_MAX_BYTES at the last 24 hours' upload rate (null without a limit or without uploads). "
    "Drops come from the rollups: as far as the batch app has counted.",
)
async def get_insights(insights: InsightsDep, _: ReadAccount) -> InsightsOut:
    return InsightsOut.model_validate(await run_in_threadpool(insights.report))
