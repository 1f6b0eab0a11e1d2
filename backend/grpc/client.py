"""A small client for the gRPC upload service (used by tests and bench/upload.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import grpc

from backend.grpc import files_pb2, files_pb2_grpc

CHUNK = 1024 * 1024


def _requests(header: files_pb2.UploadHeader, chunks: Iterable[bytes]) -> Iterator[files_pb2.UploadRequest]:
    yield files_pb2.UploadRequest(header=header)
    for chunk in chunks:
        for start in range(0, len(chunk), CHUNK):
            yield files_pb2.UploadRequest(chunk=chunk[start : start + CHUNK])


def upload(
    target: str,
    token: str,
    chunks: Iterable[bytes],
    *,
    trace: str,
    key: str = "",
    group: str = "",
    filename: str = "",
    content_type: str = "",
    timeout: float = 600,
) -> files_pb2.StoredFile:
    """Upload a file over gRPC to `target` (host:port); raises grpc.RpcError with the server's status."""
    header = files_pb2.UploadHeader(trace=trace, key=key, group=group, filename=filename, content_type=content_type)
    with grpc.insecure_channel(target) as channel:
        stub = files_pb2_grpc.FileStorageStub(channel)  # type: ignore[no-untyped-call]
        result: files_pb2.StoredFile = stub.Upload(
            _requests(header, chunks), timeout=timeout, metadata=(("authorization", f"Bearer {token}"),)
        )
        return result
