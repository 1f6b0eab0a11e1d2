"""Traces: list with filters and cursor, detail with summary, and the trace's graph."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import QueriesDep, ReadAccount
from backend.api.schemas import TraceGraph, TraceOut, TracePage
from backend.domain.events import Time, format_time
from backend.domain.ids import parse_key
from graph.base import TraceFilter

router = APIRouter(tags=["traces"])


@router.get("/traces", response_model=TracePage, summary="List traces, newest first")
async def list_traces(
    queries: QueriesDep,
    _: ReadAccount,
    user: Annotated[str | None, Query(max_length=512)] = None,
    status: Literal["open", "ended"] | None = None,
    since: Annotated[Time | None, Query(description="traces active at or after this time (RFC 3339)")] = None,
    until: Annotated[Time | None, Query(description="traces started before this time (RFC 3339)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of key, name or user")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TracePage:
    filt = TraceFilter(
        user=user,
        status=status,
        since=format_time(since) if since else None,
        until=format_time(until) if until else None,
        q=q,
    )
    return TracePage.model_validate(await run_in_threadpool(queries.list_traces, filt, limit, cursor))


@router.get("/traces/{key}", response_model=TraceOut, summary="A trace with its summary")
async def get_trace(key: str, queries: QueriesDep, _: ReadAccount) -> TraceOut:
    return TraceOut.model_validate(await run_in_threadpool(queries.trace_detail, parse_key(key)))


@router.get("/traces/{key}/graph", response_model=TraceGraph, summary="Nodes and flow edges of a trace")
async def get_trace_graph(key: str, queries: QueriesDep, _: ReadAccount) -> TraceGraph:
    return TraceGraph.model_validate(await run_in_threadpool(queries.trace_graph, parse_key(key)))
