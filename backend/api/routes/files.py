"""Files: streamed upload (multipart), metadata, content, group and daily tar.gz archives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from datetime import date as Date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from backend.api.deps import FilesDep, IngestAccount, ReadAccount
from backend.api.errors import documented
from backend.api.multipart import MultipartUpload, boundary_of
from backend.api.params import (
    FILE_KEY_SCHEMA,
    FILE_NAME_SCHEMA,
    KEY_SCHEMA,
    FileKeyPath,
    FileNamePath,
    suffix_is_literal,
)
from backend.api.schemas import FileOut
from backend.domain.files import Files
from backend.errors import FtelError, InvalidInput, PayloadTooLarge

router = APIRouter(tags=["files"])

NAME = (400, "the key or group is empty, too long, or holds '\\', a '.' or '..' segment or control characters")

BODY_PIECE = 1024 * 1024  # request body handed to the upload thread in pieces of about this size
MULTIPART_ALLOWANCE = 1024 * 1024  # headers and text fields around the file part
DRAIN_LIMIT = 16 * 1024 * 1024  # after refusing an upload, read this much more so the client sees the answer


async def _pieces(request: Request) -> AsyncGenerator[bytes, None]:
    """The request body in pieces of about BODY_PIECE bytes (fewer hand-overs between threads)."""
    pending: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        pending.append(chunk)
        size += len(chunk)
        if size >= BODY_PIECE:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _blocking(body: AsyncGenerator[bytes, None], loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """The async body as a blocking iterator for the upload thread: each step runs on the event loop,
    so the socket is read only as fast as storage takes the bytes (memory stays flat)."""

    async def step() -> bytes:
        return await anext(body)

    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(step(), loop).result()
        except StopAsyncIteration:
            return


async def _drain(body: AsyncGenerator[bytes, None], limit: int) -> None:
    read = 0
    try:
        async for chunk in body:
            read += len(chunk)
            if read > limit:
                return
    except (ClientDisconnect, RuntimeError):
        return


_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "trace"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the file; streamed to storage"},
                        "trace": {
                            "type": "string",
                            "description": "key of the trace the file belongs to",
                            **KEY_SCHEMA,
                        },
                        "key": {
                            "type": "string",
                            **FILE_KEY_SCHEMA,
                            "description": "file key (node key in the lineage); generated when omitted. "
                            "Paths such as `landing/partner-a/orders.csv` are keys; no '\\\\', leading '/', "
                            "'.' or '..' segment, control characters, `archive` or `groups/...`",
                        },
                        "group": {
                            "type": "string",
                            "description": "storage group; generated when omitted",
                            **FILE_NAME_SCHEMA,
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/files",
    status_code=201,
    summary="Upload a file (streamed, compressed)",
    openapi_extra=_UPLOAD_SCHEMA,
    response_model=FileOut,
    responses={
        201: {"model": FileOut},
        **documented(
            (400, "a malformed multipart body, or a key, group or trace that is not allowed"),
            (409, "a file with this key is stored already"),
            (413, "the file is larger than FT_MAX_UPLOAD_BYTES"),
            (422, "no `file` part, or no `trace` field"),
        ),
    },
)
async def upload_file(request: Request, files: FilesDep, principal: IngestAccount) -> JSONResponse:
    """Multipart form: `file`, `trace`, optional `key` and `group`. Answers
    `201 {key, group, size, stored_size, codec, sha256, ...}`; the file appears in its trace with
    status `stored`. 413 over FT_MAX_UPLOAD_BYTES, 409 when the key is taken."""
    boundary = boundary_of(request.headers.get("content-type", ""))
    limit = files.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_ALLOWANCE:
        raise PayloadTooLarge(f"file larger than {limit} bytes", {"limit": limit})
    body = _pieces(request)
    source = MultipartUpload(_blocking(body, asyncio.get_running_loop()), boundary)
    try:
        stored = await run_in_threadpool(files.upload, source, principal.account_id)
    except ClientDisconnect:
        raise InvalidInput("the client closed the connection before the upload ended") from None
    except FtelError:
        await _drain(body, DRAIN_LIMIT)
        raise
    finally:
        await body.aclose()
    return JSONResponse(stored, status_code=201, headers={"Location": f"/api/v1/files/{quote(stored['key'], safe='')}"})


def _attachment(filename: str) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/files/archive",
    summary="tar.gz of the files stored on one day (UTC)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/gzip": {}}},
        **documented((400, "the date is not YYYY-MM-DD")),
    },
)
async def daily_archive(
    files: FilesDep,
    _: ReadAccount,
    date: Annotated[str, Query(description="YYYY-MM-DD (UTC)", json_schema_extra={"format": "date"})],
) -> StreamingResponse:
    try:
        day = Date.fromisoformat(date) if len(date) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput("date must be YYYY-MM-DD", {"date": date[:40]})
    stream = await run_in_threadpool(files.daily_archive, day)
    return StreamingResponse(
        stream,
        media_type="application/gzip",
        headers={"Content-Disposition": _attachment(f"files-{day.isoformat()}.tar.gz")},
    )


@router.get(
    "/files/groups/{group}/archive",
    summary="tar.gz of a storage group",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}}, **documented(NAME, (404, "no storage group of this name"))},
)
async def group_archive(group: FileNamePath, files: FilesDep, _: ReadAccount) -> StreamingResponse:
    stream = await run_in_threadpool(files.group_archive, group)
    return StreamingResponse(
        stream, media_type="application/gzip", headers={"Content-Disposition": _attachment(f"group-{group}.tar.gz")}
    )


@router.get(
    "/files/{key:path}/content",
    summary="The original bytes of a stored file (streamed)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **documented(
            NAME,
            (404, "no stored file with this key, or its bytes are gone (retention)"),
            (500, "the stored bytes are damaged (checksum mismatch)"),
        ),
    },
)
async def file_content(key: FileKeyPath, request: Request, files: FilesDep, _: ReadAccount) -> Response:
    if not suffix_is_literal(request, "/content"):  # GET /files/a%2Fcontent: the metadata of the file `a/content`
        return JSONResponse(await _metadata(files, f"{key}/content"))
    opened = await run_in_threadpool(files.content, key)
    f = opened.file
    # Always served as an octet-stream attachment: a client-declared type (text/html...) is kept in
    # the metadata but never trusted in a response from this origin.
    headers = {
        "Content-Length": str(f.size),
        "Content-Disposition": _attachment(f.filename or f.key.rsplit("/", 1)[-1]),
        "ETag": f'"{f.sha256}"',
        "X-Content-SHA256": f.sha256,
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(opened.chunks, media_type="application/octet-stream", headers=headers)


@router.get(
    "/files/{key:path}",
    response_model=FileOut,
    summary="Metadata of a stored file",
    responses=documented(NAME, (404, "no stored file with this key")),
)
async def file_metadata(key: FileKeyPath, files: FilesDep, _: ReadAccount) -> FileOut:
    return FileOut.model_validate(await _metadata(files, key))


async def _metadata(files: Files, key: str) -> dict[str, Any]:
    return FileOut.model_validate(await run_in_threadpool(files.metadata, key)).model_dump(mode="json")
