"""OpenLineage in: POST /openlineage (and POST /lineage, the transports' default path) takes the RunEvents
that OpenLineage integrations (Airflow, Spark, dbt,
Flink, the openlineage-python and openlineage-java clients) send, one per request as their HTTP transport does,
or a batch. They go through the one ingest pipeline as the envelopes they stand for (docs/openlineage.md)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from backend.api.deps import IngestAccount, IngestDep, SettingsDep
from backend.api.errors import documented
from backend.api.routes.events import IngestOut, parse_events
from backend.errors import InvalidInput, PayloadTooLarge

router = APIRouter(tags=["openlineage"])

_ANSWERS = documented(
    (400, "one RunEvent sent alone that is not valid (the error says why), or a body that is not JSON"),
    (413, "a body over FT_MAX_REQUEST_BYTES, or more RunEvents than FT_MAX_EVENTS_PER_REQUEST"),
)
_RUN_EVENT = {
    "type": "object",
    "description": "an OpenLineage RunEvent (https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent)",
    "required": ["eventTime", "run", "job", "producer", "schemaURL"],
    "additionalProperties": True,
}


_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"oneOf": [_RUN_EVENT, {"type": "array", "items": _RUN_EVENT}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        }
    }
}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "stored (or parked): counts of the envelopes the RunEvents became, refusals by index"}
}


@router.post(
    "/lineage",
    status_code=202,
    response_model=IngestOut,
    summary="Send OpenLineage RunEvents at the OpenLineage HTTP transport's default path (as POST /openlineage; "
    "GET /lineage/{key} reads lineage)",
    responses={**_ACCEPTED, **_ANSWERS},
    openapi_extra=_BODY,
)
@router.post(
    "/openlineage",
    status_code=202,
    response_model=IngestOut,
    summary="Send OpenLineage RunEvents",
    responses={**_ACCEPTED, **_ANSWERS},
    openapi_extra=_BODY,
)
async def post_openlineage(
    request: Request,
    ingest: IngestDep,
    settings: SettingsDep,
    principal: IngestAccount,
    wait_for_graph: Annotated[
        bool, Query(description="answer once the events are merged into the lineage graph (see POST /events)")
    ] = False,
) -> JSONResponse:
    """One RunEvent (the OpenLineage HTTP transport's request), a JSON array of them, or NDJSON. Each is
    checked against the OpenLineage spec and becomes a few envelopes (a flow from its inputs to its outputs,
    the trace's start and end, log lines, drops on FAIL): `accepted` and `duplicates` count those. A RunEvent
    sent again stores nothing new. In a batch, bad RunEvents come back in `rejected` with their index; one
    sent alone and refused is a 400."""
    body = await request.body()
    raw = parse_events(
        body,
        request.headers.get("content-type", ""),
        single=lambda doc: True,
        expected="an OpenLineage RunEvent, a JSON array of RunEvents, or NDJSON",
    )
    if len(raw) > settings.max_events_per_request:
        raise PayloadTooLarge(f"more than {settings.max_events_per_request} events in one request")
    admit = partial(ingest.admit, wait_for_graph=wait_for_graph, only_openlineage=True)
    result = await run_in_threadpool(admit, raw, f"openlineage:{principal.uuid}", principal.account_id)
    alone = body.lstrip()[:1] == b"{" and len(raw) == 1
    if alone and result.rejected:
        raise InvalidInput(result.rejected[0].error, {"rejected": [{"index": 0, "error": result.rejected[0].error}]})
    return JSONResponse(result.as_json(), status_code=202)
