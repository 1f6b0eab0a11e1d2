"""Nodes, lineage walks and read-only Cypher."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import QueriesDep, ReadAccount, SettingsDep
from backend.api.errors import BAD_KEY, documented
from backend.api.params import KEY_SCHEMA, KeyPath
from backend.api.schemas import Lineage, NodeDetail, QueryOut, SearchOut
from backend.domain.ids import parse_key

router = APIRouter(tags=["lineage"])


@router.get(
    "/nodes/{key:path}",
    response_model=NodeDetail,
    summary="A node with its events and logs in time order",
    responses=documented(BAD_KEY, (404, "no node with this key")),
)
async def get_node(
    key: KeyPath, queries: QueriesDep, _: ReadAccount, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> NodeDetail:
    return NodeDetail.model_validate(await run_in_threadpool(queries.node_detail, parse_key(key), limit))


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Find traces, files, data and sinks by the start of their key",
    responses=documented(BAD_KEY),
)
async def search(
    queries: QueriesDep,
    _: ReadAccount,
    q: Annotated[str, Query(description="the start of a key (case-sensitive)", json_schema_extra=KEY_SCHEMA)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchOut:
    return SearchOut.model_validate(await run_in_threadpool(queries.search, parse_key(q), limit))


@router.get(
    "/lineage/{key:path}",
    response_model=Lineage,
    summary="Upstream and/or downstream of a node: every flow, or (level=file) files and sinks only",
    description="`level=file` walks the file-level edges the batch app's relations job derives (a file or sink to "
    "each file or sink that flows through data nodes lead to, op 'via data'): which input files made this output, "
    "in one hop. Flows merged since the job's last run appear after its next one.",
    responses=documented(
        BAD_KEY, (404, "no node with this key"), (422, "level=file from a data node (it starts at a file or sink)")
    ),
)
async def get_lineage(
    key: KeyPath,
    queries: QueriesDep,
    _: ReadAccount,
    direction: Literal["upstream", "downstream", "both"] = "both",
    depth: Annotated[int, Query(ge=1, le=50)] = 5,
    level: Literal["node", "file"] = "node",
) -> Lineage:
    walk = await run_in_threadpool(queries.lineage, parse_key(key), direction, depth, level=level)
    return Lineage.model_validate(walk)


class CypherIn(BaseModel):
    query: str = Field(max_length=20_000)
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("/graph/query", response_model=QueryOut, summary="Read-only Cypher with row and time limits")
async def graph_query(body: CypherIn, queries: QueriesDep, settings: SettingsDep, _: ReadAccount) -> QueryOut:
    return QueryOut.model_validate(
        await run_in_threadpool(
            queries.graph_query, body.query, body.params, settings.query_row_limit, settings.query_timeout_seconds
        )
    )
