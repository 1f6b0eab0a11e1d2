"""Fixtures for file storage tests: two S3-protocol servers on loopback, object stores for each backend,
and a streaming multipart body builder for upload tests.

- `s3_server`, moto's S3 emulator: if `FT_TEST_S3_ENDPOINT` is set (scripts/services.sh start s3 writes it
  to .services/env), that server is used; otherwise a session fixture starts `python -m moto.server` on a
  free 127.0.0.1 port and stops it by pid at the end. The API and retention tests use this one.
- `s3proxy_server`, S3Proxy (an independent implementation of the protocol, over a directory), started by
  `scripts/services.sh start s3proxy` (make test does): `FT_TEST_S3PROXY_ENDPOINT` missing fails the test.

The object-store contract suite runs on the local directory and on the S3 adapter against both servers.
Both are reached over real HTTP with requests signed by the minio client (S3Proxy checks the signatures,
moto does not).
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.storage.base import ObjectStore
from backend.storage.local import LocalObjectStore
from backend.storage.s3 import S3ObjectStore
from tests.conftest import free_port, service_env


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self, bucket: str) -> dict[str, str]:
        """FT_ settings for a server process that stores files in `bucket` on this S3 server."""
        return {
            "FT_STORAGE": "s3",
            "FT_S3_ENDPOINT": self.endpoint,
            "FT_S3_BUCKET": bucket,
            "FT_S3_ACCESS_KEY": self.access_key,
            "FT_S3_SECRET_KEY": self.secret_key,
            "FT_S3_REGION": self.region,
        }

    def store(self, bucket: str, part_size: int = 5 * 1024 * 1024) -> S3ObjectStore:
        return S3ObjectStore(
            self.endpoint, bucket, self.access_key, self.secret_key, region=self.region, part_size=part_size
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    endpoint = os.environ.get("FT_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Server(
            endpoint,
            os.environ.get("FT_TEST_S3_ACCESS_KEY", "testing"),
            os.environ.get("FT_TEST_S3_SECRET_KEY", "testing"),
            os.environ.get("FT_TEST_S3_REGION", "us-east-1"),
        )
        return
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited: {log_path.read_text()[-2000:]}")
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not answer in 30 s") from None
                time.sleep(0.1)
        yield S3Server(endpoint, "testing", "testing")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def s3proxy_server() -> S3Server:
    return S3Server(
        service_env("FT_TEST_S3PROXY_ENDPOINT"),
        service_env("FT_TEST_S3PROXY_ACCESS_KEY"),
        service_env("FT_TEST_S3PROXY_SECRET_KEY"),
        os.environ.get("FT_TEST_S3PROXY_REGION", "us-east-1"),
    )


S3_SERVERS = {"s3-moto": "s3_server", "s3-s3proxy": "s3proxy_server"}  # object-store parameter -> fixture


def new_bucket() -> str:
    return f"ftel-t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", *S3_SERVERS])
def open_object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], ObjectStore]]:
    """For each backend, a factory of stores on one empty location (a temp directory, a fresh bucket on
    each S3 server): every call opens another client on the same objects."""
    opened: list[ObjectStore] = []
    if request.param == "local":

        def factory() -> ObjectStore:
            opened.append(LocalObjectStore(tmp_path / "objects"))
            return opened[-1]
    else:
        server: S3Server = request.getfixturevalue(S3_SERVERS[request.param])
        bucket = new_bucket()

        def factory() -> ObjectStore:
            opened.append(server.store(bucket))
            return opened[-1]

    yield factory
    if opened:
        for info in list(opened[0].list()):
            opened[0].delete(info.name)
    for store in opened:
        store.close()


@pytest.fixture
def object_store(open_object_store: Callable[[], ObjectStore]) -> ObjectStore:
    return open_object_store()


# -- content for uploads -----------------------------------------------------------------------


def pseudo_random_chunks(total: int, chunk: int = 1024 * 1024, seed: int = 7) -> Iterator[bytes]:
    """`total` bytes of incompressible binary content, cheap to make: slices of an 8 MiB random block
    (longer than zstd's match window at the default level), each stamped with its index."""
    period = 8 * 1024 * 1024
    block = random.Random(seed).randbytes(period)
    ring = block + block[:chunk]
    sent = index = 0
    while sent < total:
        offset = (index * chunk) % period
        piece = index.to_bytes(8, "little") + ring[offset + 8 : offset + chunk]
        piece = piece[: total - sent]
        sent += len(piece)
        index += 1
        yield piece


def sha256_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class MultipartBody:
    """A multipart/form-data body produced chunk by chunk, with its exact length known up front."""

    fields: dict[str, str]
    filename: str
    size: int
    chunks: Iterator[bytes]
    file_first: bool = False

    def __post_init__(self) -> None:
        self.boundary = f"ftel-{uuid.uuid4().hex}"
        fields = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in self.fields.items()
        ).encode()
        head = (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{self.filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        end = f"--{self.boundary}--\r\n".encode()
        if self.file_first:
            self._before, self._after = head, b"\r\n" + fields + end
        else:
            self._before, self._after = fields + head, b"\r\n" + end
        self.length = len(self._before) + self.size + len(self._after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": f"multipart/form-data; boundary={self.boundary}", "Content-Length": str(self.length)}

    def __iter__(self) -> Iterator[bytes]:
        yield self._before
        yield from self.chunks
        yield self._after
