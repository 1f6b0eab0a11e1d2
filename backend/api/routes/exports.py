"""Exports: telemetry by period, trace or key, statistics or summaries, in chunks with a manifest.
Asked for here, run in the background (backend/exports), downloaded a chunk at a time. Role export (plus
read for stats and summaries, or to export events others sent): see backend/exports/service.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.api import params
from backend.api.deps import ExportAccount, ExportsDep
from backend.api.errors import documented
from backend.api.schemas import ExportIn, ExportList, ExportManifest, ExportOut
from backend.db.base import ExportRow
from backend.domain.events import format_time
from backend.domain.ids import check_key
from backend.errors import InvalidInput
from backend.exports.service import ExportRequest

router = APIRouter(tags=["exports"])

ExportId = Annotated[str, Path(description="the export's id (from POST /exports)", max_length=64)]
GONE = (410, "the export expired (FT_EXPORT_TTL_HOURS) and its chunks were deleted")
NOT_YOURS = (404, "no export with this id that this account may see")


def export_out(row: ExportRow) -> ExportOut:
    def t(value: Any) -> str | None:
        return format_time(value) if value is not None else None

    return ExportOut(
        id=row.uuid,
        content=row.content,
        format=row.format,
        compression=row.compression,
        query=row.query,
        status=row.status,  # type: ignore[arg-type]
        events=row.events,
        estimate=row.estimate,
        chunks=row.chunks,
        bytes=row.bytes,
        error=row.error,
        created_at=format_time(row.created_at),
        started_at=t(row.started_at),
        finished_at=t(row.finished_at),
        expires_at=format_time(row.expires_at),
    )


def _request(body: ExportIn) -> ExportRequest:
    for name in ("trace", "key"):
        value = getattr(body, name)
        if value is not None:
            try:
                check_key(value)
            except ValueError as exc:
                raise InvalidInput(f"{name}: {exc}", {name: value[:80]}) from None
    return ExportRequest(
        content=body.content,
        format=body.format,
        compression=body.compression,
        since=params.time_filter(body.since, "since"),
        until=params.time_filter(body.until, "until"),
        time=body.time,
        trace=body.trace,
        key=body.key,
        direction=body.direction,
        depth=body.depth,
        window=body.window,
        by=tuple(body.by),
    )


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportOut,
    summary="Ask for an export (it runs in the background)",
    responses=documented(
        (400, "no scope, two scopes, or a scope the content does not take"),
        (403, "role export needed (and read, for stats, summaries or events others sent)"),
        (404, "no events name the key"),
        (429, "this account has FT_EXPORT_MAX_ACTIVE exports queued or running"),
    ),
)
async def create_export(body: ExportIn, exports: ExportsDep, account: ExportAccount) -> ExportOut:
    """One scope (since/until, trace or key) and a content; it is queued and run in the background by a
    serving, worker or batch process. Follow it with GET /exports/{id}; once `done`, its manifest lists the
    chunks. Exports are deleted after FT_EXPORT_TTL_HOURS. Who may export what: docs/exports.md."""
    return export_out(await run_in_threadpool(exports.create, account, _request(body)))


@router.get("/exports", response_model=ExportList, summary="This account's exports (admins: every export)")
async def list_exports(exports: ExportsDep, account: ExportAccount) -> ExportList:
    return ExportList(exports=[export_out(r) for r in await run_in_threadpool(exports.listed, account)])


@router.get(
    "/exports/{export_id}",
    response_model=ExportOut,
    summary="An export's status and progress",
    responses=documented(NOT_YOURS),
)
async def get_export(export_id: ExportId, exports: ExportsDep, account: ExportAccount) -> ExportOut:
    return export_out(await run_in_threadpool(exports.get, account, export_id))


@router.get(
    "/exports/{export_id}/manifest",
    response_model=ExportManifest,
    summary="The chunks written so far (sequence, records, bytes, sha256, first and last record) and the query",
    responses=documented(NOT_YOURS, GONE),
)
async def get_manifest(export_id: ExportId, exports: ExportsDep, account: ExportAccount) -> ExportManifest:
    return ExportManifest.model_validate(await run_in_threadpool(exports.manifest, account, export_id))


@router.get(
    "/exports/{export_id}/chunks/{seq}",
    summary="One chunk, streamed (gzip'd NDJSON or CSV, as the export was asked)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/gzip": {}, "application/x-ndjson": {}, "text/csv": {}},
            "headers": {
                "X-Content-SHA256": {"description": "sha256 of the chunk's bytes", "schema": {"type": "string"}},
                "X-Records": {"description": "records in the chunk", "schema": {"type": "integer"}},
            },
        },
        **documented((404, "no export with this id that this account may see, or no chunk n (yet)"), GONE),
    },
)
async def get_chunk(
    export_id: ExportId,
    exports: ExportsDep,
    account: ExportAccount,
    seq: Annotated[int, Path(ge=1, le=10_000_000, description="the chunk's sequence number, from 1")],
) -> StreamingResponse:
    chunk, body = await run_in_threadpool(exports.chunk, account, export_id, seq)
    if chunk.name.endswith(".gz"):
        media = "application/gzip"
    else:
        media = "text/csv" if chunk.name.endswith(".csv") else "application/x-ndjson"
    headers = {
        "Content-Disposition": f'attachment; filename="{chunk.name}"',
        "Content-Length": str(chunk.bytes),
        "X-Content-SHA256": chunk.sha256,
        "X-Records": str(chunk.events),
    }
    return StreamingResponse(body, media_type=media, headers=headers)
