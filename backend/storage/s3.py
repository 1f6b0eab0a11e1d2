"""Objects in an S3-compatible bucket (MinIO, AWS S3, moto...) through the `minio` client."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from minio import Minio
from minio.error import MinioException, S3Error

from backend.storage.base import READ_CHUNK, ChunkReader, ObjectInfo, ObjectNotFound, StorageError, check_object_name

_MISSING = {"NoSuchKey", "NoSuchBucket", "NoSuchObject"}


class S3ObjectStore:
    """ObjectStore on one bucket. The bucket is created on first write when it does not exist.

    Uploads of unknown length go as multipart uploads of `part_size` parts, at most `parallel` in
    flight, so memory stays near (parallel + 1) x part_size whatever the object size; a failed
    upload is aborted by the client, so no part stays behind."""

    backend = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        *,
        region: str | None = None,
        part_size: int = 8 * 1024 * 1024,
        parallel: int = 2,
    ) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if not parts.netloc or parts.scheme not in ("http", "https"):
            raise StorageError(f"FT_S3_ENDPOINT must look like http://host:port, got {endpoint!r}")
        self.bucket = bucket
        self.part_size = part_size
        self.parallel = parallel
        self._client = Minio(
            parts.netloc, access_key=access_key, secret_key=secret_key, secure=parts.scheme == "https", region=region
        )
        self._bucket_ready = False
        self._lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                if not self._client.bucket_exists(self.bucket):
                    self._client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise _storage_error(exc, f"bucket {self.bucket}") from exc
            except Exception as exc:
                raise _storage_error(exc, f"bucket {self.bucket}") from exc
            self._bucket_ready = True

    def put(self, name: str, chunks: Iterable[bytes]) -> int:
        check_object_name(name)
        self._ensure_bucket()
        reader = _CountingReader(chunks)
        try:
            self._client.put_object(
                self.bucket,
                name,
                cast(BinaryIO, reader),
                length=-1,
                part_size=self.part_size,
                num_parallel_uploads=self.parallel,
            )
        except (MinioException, OSError, ValueError) as exc:
            if reader.error is not None:  # the source failed: re-raise its own exception
                raise reader.error from None
            raise _storage_error(exc, name) from exc
        except BaseException:
            if reader.error is not None:
                raise reader.error from None
            raise
        return reader.count

    def read(self, name: str) -> Iterator[bytes]:
        check_object_name(name)
        try:
            response = self._client.get_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(name) from None
            raise _storage_error(exc, name) from exc
        except Exception as exc:
            raise _storage_error(exc, name) from exc
        return _stream(response)

    def stat(self, name: str) -> ObjectInfo | None:
        check_object_name(name)
        try:
            found = self._client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise _storage_error(exc, name) from exc
        except Exception as exc:
            raise _storage_error(exc, name) from exc
        return ObjectInfo(name, int(found.size or 0))

    def delete(self, name: str) -> None:
        check_object_name(name)
        try:
            self._client.remove_object(self.bucket, name)
        except S3Error as exc:
            if exc.code not in _MISSING:
                raise _storage_error(exc, name) from exc
        except Exception as exc:
            raise _storage_error(exc, name) from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for obj in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
                if not obj.is_dir and obj.object_name:
                    yield ObjectInfo(obj.object_name, int(obj.size or 0))
        except S3Error as exc:
            if exc.code != "NoSuchBucket":
                raise _storage_error(exc, prefix) from exc

    def ping(self) -> None:
        self._ensure_bucket()

    def close(self) -> None:
        self._client._http.clear()  # drop pooled connections


class _CountingReader(ChunkReader):
    """Remembers how many bytes went out and the source's own exception (minio wraps or swallows it)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__(chunks)
        self.count = 0
        self.error: BaseException | None = None

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = super().read(size)
        except BaseException as exc:
            self.error = exc
            raise
        self.count += len(data)
        return data


def _stream(response: Any) -> Iterator[bytes]:
    try:
        yield from response.stream(READ_CHUNK)
    finally:
        response.close()
        response.release_conn()


def _storage_error(exc: Exception, what: str) -> StorageError:
    detail = f"{exc.code}: {exc.message}" if isinstance(exc, S3Error) else f"{type(exc).__name__}: {exc}"
    return StorageError(f"S3 storage failed on {what}: {detail}"[:500])
