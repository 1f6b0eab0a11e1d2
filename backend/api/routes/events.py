"""POST /events: a batch of telemetry events as a JSON array, {"events": [...]} or NDJSON."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from backend.api.deps import IngestAccount, IngestDep, SettingsDep
from backend.errors import InvalidInput, PayloadTooLarge

router = APIRouter(tags=["events"])


class Rejection(BaseModel):
    index: int
    error: str


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    buffered: int
    rejected: list[Rejection]


def parse_events(
    body: bytes,
    content_type: str,
    single: Callable[[dict[str, Any]], bool] = lambda doc: "type" in doc,
    expected: str = 'a JSON array of events, {"events": [...]} or NDJSON',
) -> list[Any]:
    """A JSON array, {"events": [...]}, NDJSON, or one event alone (a JSON object `single` recognises)."""
    if not body.strip():
        raise InvalidInput(f"empty body: send {expected}")
    if "ndjson" in content_type or "jsonlines" in content_type:
        return _ndjson(body)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) > 1 and _is_json_object(lines[0]):  # NDJSON sent as application/json
            return _ndjson(body)
        raise InvalidInput(f"body is not valid JSON: {exc}") from None
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return list(doc["events"])
    if isinstance(doc, dict) and single(doc):
        return [doc]
    raise InvalidInput(f"expected {expected}")


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _ndjson(body: bytes) -> list[Any]:
    """One JSON event per line; an error names the line (1-based, counting blank lines)."""
    events = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"invalid NDJSON at line {number}: {exc}", {"line": number}) from None
    return events


@router.post(
    "/events",
    status_code=202,
    response_model=IngestOut,
    summary="Send telemetry events",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "array", "items": {"$ref": "#/components/schemas/Envelope"}},
                            {
                                "type": "object",
                                "required": ["events"],
                                "additionalProperties": False,
                                "properties": {
                                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Envelope"}}
                                },
                            },
                            {"$ref": "#/components/schemas/Envelope"},  # one event alone
                        ]
                    }
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
async def post_events(
    request: Request,
    ingest: IngestDep,
    settings: SettingsDep,
    principal: IngestAccount,
    wait_for_graph: Annotated[
        bool,
        Query(
            description="Answer only once the stored events are merged into the lineage graph (read-your-writes; "
            "slower). By default the answer comes as soon as they are stored, and the graph follows within moments."
        ),
    ] = False,
) -> JSONResponse:
    """Each event is validated on its own: bad ones come back in `rejected` with their index, the
    rest are stored once (re-sending a batch changes nothing) and then merged into the lineage graph, right
    after the answer (see `wait_for_graph`; `GET /readyz` shows how far the graph is behind). Events over the
    user's allowance, or sent while a store is down, are parked and counted in `buffered` (never 429)."""
    raw = parse_events(await request.body(), request.headers.get("content-type", ""))
    if len(raw) > settings.max_events_per_request:
        raise PayloadTooLarge(f"more than {settings.max_events_per_request} events in one request")
    result = await run_in_threadpool(
        partial(ingest.admit, wait_for_graph=wait_for_graph), raw, f"rest:{principal.uuid}", principal.account_id
    )
    return JSONResponse(result.as_json(), status_code=202)
