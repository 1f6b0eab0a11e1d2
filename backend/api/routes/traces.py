"""Traces: list with filters and cursor, detail with summary, and the trace's graph."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.api import params
from backend.api.deps import ExportsDep, QueriesDep, ReadAccount
from backend.api.errors import BAD_KEY, documented
from backend.api.params import DATE_TIME, KeyPath, suffix_is_literal
from backend.api.schemas import TraceFeeds, TraceGraph, TraceOut, TracePage
from backend.domain.events import format_time
from backend.domain.ids import parse_key
from backend.domain.queries import Queries
from graph.base import TraceFilter

router = APIRouter(tags=["traces"])


@router.get(
    "/traces",
    response_model=TracePage,
    summary="List traces, newest first",
    responses=documented((400, "the cursor is not one this API gave")),
)
async def list_traces(
    queries: QueriesDep,
    _: ReadAccount,
    user: Annotated[str | None, Query(max_length=512)] = None,
    status: Annotated[
        Literal["open", "ended", "idle-ended"] | None,
        Query(description="idle-ended: no trace.ended, and no event for FT_TRACE_IDLE_MINUTES (by event time)"),
    ] = None,
    since: Annotated[
        str | None, Query(description="traces active at or after this time (RFC 3339)", json_schema_extra=DATE_TIME)
    ] = None,
    until: Annotated[
        str | None, Query(description="traces started before this time (RFC 3339)", json_schema_extra=DATE_TIME)
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="substring of key, name or user")] = None,
    has_drops: Annotated[
        bool | None, Query(description="true: traces whose own events dropped something; false: none")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TracePage:
    filt = TraceFilter(
        user=user,
        status=status,
        since=_text(params.time_filter(since, "since")),
        until=_text(params.time_filter(until, "until")),
        q=q,
        has_drops=has_drops,
    )
    return TracePage.model_validate(await run_in_threadpool(queries.list_traces, filt, limit, cursor))


@router.get(
    "/traces/{key:path}/graph",
    response_model=TraceGraph,
    summary="Nodes and flow edges of a trace",
    responses=documented(BAD_KEY, (404, "no trace with this key")),
)
async def get_trace_graph(key: KeyPath, request: Request, queries: QueriesDep, _: ReadAccount) -> Response:
    """Serialised as it comes from the use case (exactly TraceGraph's fields): validating 10,000 nodes into
    models and back cost ~100 ms of the answer's ~400 (bench/lineage.py)."""
    if not suffix_is_literal(request, "/graph"):  # GET /traces/a%2Fgraph: the trace `a/graph` itself
        return Response(orjson.dumps(await _detail(queries, f"{key}/graph")), media_type="application/json")
    graph = await run_in_threadpool(queries.with_projection, parse_key(key), queries.trace_graph)
    return Response(orjson.dumps(graph), media_type="application/json")


@router.get(
    "/traces/{key:path}/feeds",
    response_model=TraceFeeds,
    summary="Traces that feed this one (upstream) or that it feeds (downstream)",
    description="A trace feeds another when the other reads a node it wrote (a flow of the first trace's writes it, "
    "a flow of the other's reads it). Derived by the batch app's relations job: flows merged since its last run "
    "appear after its next one.",
    responses=documented(BAD_KEY, (404, "no trace with this key")),
)
async def get_trace_feeds(
    key: KeyPath,
    request: Request,
    queries: QueriesDep,
    _: ReadAccount,
    direction: Literal["upstream", "downstream"] = "upstream",
) -> Response:
    if not suffix_is_literal(request, "/feeds"):  # GET /traces/a%2Ffeeds: the trace `a/feeds` itself
        return Response(orjson.dumps(await _detail(queries, f"{key}/feeds")), media_type="application/json")
    feeds = await run_in_threadpool(queries.trace_feeds, parse_key(key), direction)
    return Response(TraceFeeds.model_validate(feeds).model_dump_json(), media_type="application/json")


@router.get(
    "/traces/{key:path}/openlineage",
    summary="The trace's lineage as OpenLineage RunEvents (NDJSON)",
    description="One RunEvent per line: the trace as a root run (START, COMPLETE), each flow as a child run that "
    "COMPLETEs with its inputs and outputs, each drop as a child run that FAILs with the reason; the facet "
    "`fileTelemetry_node` carries each dataset's key, kind, status, drop reason and log counts (docs/openlineage.md).",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}, **documented(BAD_KEY, (404, "no trace with this key"))},
)
async def get_trace_openlineage(
    key: KeyPath, request: Request, queries: QueriesDep, exports: ExportsDep, _: ReadAccount
) -> Response:
    if not suffix_is_literal(request, "/openlineage"):  # GET /traces/a%2Fopenlineage: the trace itself
        return Response(orjson.dumps(await _detail(queries, f"{key}/openlineage")), media_type="application/json")
    lines = await run_in_threadpool(exports.trace_run_events, parse_key(key))
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get(
    "/traces/{key:path}",
    response_model=TraceOut,
    summary="A trace with its summary and its own log messages",
    responses=documented(BAD_KEY, (404, "no trace with this key")),
)
async def get_trace(key: KeyPath, queries: QueriesDep, _: ReadAccount) -> TraceOut:
    return TraceOut.model_validate(await _detail(queries, key))


async def _detail(queries: Queries, key: str) -> dict[str, Any]:
    detail = await run_in_threadpool(queries.with_projection, parse_key(key), queries.trace_detail)
    return TraceOut.model_validate(detail).model_dump(mode="json")


def _text(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
