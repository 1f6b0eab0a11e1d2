"""The ObjectStore protocol: where the compressed bytes of stored files live.

Two adapters keep the same guarantees (tests/contract/test_object_store.py runs one suite on both):
`local.LocalObjectStore` (a directory) and `s3.S3ObjectStore` (any S3-compatible server, through
the `minio` client). Objects are named by the service, never by callers: names are relative,
'/'-separated paths of safe segments (see `check_object_name`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from backend.errors import InvalidObjectName, ObjectNotFound, StorageError

__all__ = ["InvalidObjectName", "ObjectNotFound", "StorageError"]  # the stores' errors, in the service's one tree

READ_CHUNK = 1024 * 1024  # largest chunk `read` yields

_SEGMENT = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")


def check_object_name(name: str) -> str:
    """Accept `a/b/c.zst`-like names only: no empty, '.'-led or '..' segments, no backslash, no control characters."""
    if not name or len(name) > 1024:
        raise InvalidObjectName(f"object name must be 1..1024 characters, got {len(name)}")
    for segment in name.split("/"):
        if not _SEGMENT.match(segment) or ".." in segment:
            raise InvalidObjectName(f"unsafe object name {name[:80]!r}")
    return name


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


class ObjectStore(Protocol):
    """Storage of opaque byte objects under service-chosen names.

    Guarantees every adapter keeps:
    - ``put`` streams: it pulls ``chunks`` one at a time and holds a bounded amount of them in memory
      (local: one chunk; S3: a few multipart parts), whatever the object size.
    - ``put`` is atomic: readers see no object or the complete one, never a part of it. When
      ``chunks`` raises, ``put`` leaves nothing behind (temp file removed, multipart upload aborted)
      and re-raises the same exception.
    - ``put`` is durable on return (local: file and directory fsync'd; S3: the PUT or
      CompleteMultipartUpload was acknowledged) and returns the number of bytes written.
    - ``put`` on an existing name replaces the object (last writer wins).
    - ``read`` raises ObjectNotFound *before* returning when the object is missing, then yields the
      bytes in chunks of at most READ_CHUNK. The caller owns the iterator and must exhaust or
      ``close()`` it (that releases the file or the HTTP connection).
    - ``delete`` is idempotent: a missing object is not an error.
    - ``list`` yields the objects under a prefix in name order.
    - Every method rejects an unsafe name with InvalidObjectName before touching storage; other
      failures raise StorageError.
    """

    backend: str  # "local" | "s3": recorded with each file, retention works per backend

    def put(self, name: str, chunks: Iterable[bytes]) -> int: ...

    def read(self, name: str) -> Iterator[bytes]: ...

    def stat(self, name: str) -> ObjectInfo | None: ...

    def delete(self, name: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def ping(self) -> None:
        """Raise StorageError if the store cannot be reached."""
        ...

    def close(self) -> None: ...


class ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (for APIs that want `read(n)`).

    ``read(n)`` returns exactly n bytes unless the iterator ends, so callers that concatenate reads
    (minio's part reader) do one copy per part, not one per chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._pending, *self._chunks]
            self._pending, self._done = b"", True
            return b"".join(parts)
        parts, have = [], 0
        if self._pending:
            piece = self._pending[:size]
            self._pending = self._pending[size:]
            parts.append(piece)
            have = len(piece)
        while have < size and not self._done:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._done = True
                break
            need = size - have
            if len(chunk) > need:
                chunk, self._pending = chunk[:need], chunk[need:]
            parts.append(chunk)
            have += len(chunk)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
