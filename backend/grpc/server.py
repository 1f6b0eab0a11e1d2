"""The gRPC upload service (proto/files.proto): a client-streaming Upload with the semantics of
POST /api/v1/files. Started by API processes when FT_GRPC_PORT > 0 (backend/bootstrap)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from backend.domain.auth import Auth, Principal
from backend.domain.files import Files
from backend.errors import (
    Conflict,
    Forbidden,
    FtelError,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from backend.grpc import files_pb2, files_pb2_grpc

log = logging.getLogger("ftel.grpc")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024

_STATUS: dict[type[FtelError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    Unprocessable: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Gone: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    PayloadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_of(exc: FtelError) -> grpc.StatusCode:
    """The status of the nearest mapped ancestor: a new subclass answers like its base, never INTERNAL."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return grpc.StatusCode.INTERNAL


class GrpcUploadSource:
    """An UploadSource over the request stream: the header first, then chunks."""

    def __init__(self, header: files_pb2.UploadHeader, requests: Iterator[files_pb2.UploadRequest]) -> None:
        self._fields = {k: v for k, v in (("trace", header.trace), ("key", header.key), ("group", header.group)) if v}
        self.filename = header.filename or None
        self.content_type = header.content_type or None
        self._requests = requests

    def fields_before_file(self) -> dict[str, str]:
        return dict(self._fields)

    def file_chunks(self) -> Iterator[bytes]:
        for request in self._requests:
            if request.WhichOneof("part") != "chunk":
                raise InvalidInput("only the first message may carry the header")
            yield request.chunk

    def all_fields(self) -> dict[str, str]:
        return dict(self._fields)


class FileStorageService(files_pb2_grpc.FileStorageServicer):
    def __init__(self, files: Files, auth: Auth) -> None:
        self._files = files
        self._auth = auth

    def Upload(
        self, request_iterator: Iterator[files_pb2.UploadRequest], context: grpc.ServicerContext
    ) -> files_pb2.StoredFile:
        try:
            principal = self._principal(context)
            if not principal.has("ingest"):
                raise Forbidden("role 'ingest' required")
            first = next(request_iterator, None)
            if first is None or first.WhichOneof("part") != "header":
                raise InvalidInput("the first message must carry the header (trace, key, group)")
            stored = self._files.upload(GrpcUploadSource(first.header, request_iterator), principal.account_id)
        except FtelError as exc:
            context.abort(status_of(exc), exc.message)
        except Exception:
            if context.is_active():
                log.exception("gRPC upload failed")
                context.abort(grpc.StatusCode.INTERNAL, "internal server error")
            context.abort(grpc.StatusCode.CANCELLED, "client went away")
        return files_pb2.StoredFile(
            key=stored["key"],
            group=stored["group"],
            size=stored["size"],
            stored_size=stored["stored_size"],
            codec=stored["codec"],
            sha256=stored["sha256"],
            trace=stored["trace"],
            stored_at=stored["stored_at"],
        )

    def _principal(self, context: grpc.ServicerContext) -> Principal:
        metadata = dict(context.invocation_metadata())
        value = str(metadata.get("authorization", ""))
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("missing bearer token: send metadata `authorization: Bearer <token>`")
        return self._auth.authenticate(token.strip())


def start_grpc_server(files: Files, auth: Auth, host: str, port: int, workers: int = 8) -> grpc.Server:
    """Serve FileStorage on host:port (insecure: put TLS in front, as for the REST API)."""
    options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ftel-grpc"), options=options
    )
    files_pb2_grpc.add_FileStorageServicer_to_server(FileStorageService(files, auth), server)  # type: ignore[no-untyped-call]
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    server.start()
    log.info("gRPC file upload on %s:%s", host, port)
    return server
