"""A 1 GiB file through the real server: byte-exact round trip (content and group archive), and the
server's memory stays flat.

The server runs alone in its own process (all-in-one defaults, local store), so its resident set
size (psutil, sampled every 20 ms) measures the upload and download paths and nothing else.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.storage.base import ChunkReader
from tests.conftest import ADMIN, Api, PeakRss, Server, wait_for
from tests.storage_fixtures import MultipartBody, pseudo_random_chunks, sha256_of

GIB = 1024**3
RSS_BUDGET = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def lone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("large")
    srv = Server(dict(ADMIN), "serve", data_dir)
    yield srv
    srv.stop()
    shutil.rmtree(data_dir / "files", ignore_errors=True)  # do not leave a GiB behind in the temp dir


def test_one_gib_round_trip_and_archive_are_byte_exact_with_flat_server_memory(lone_server: Server) -> None:
    api = Api(lone_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    # warm the upload and download paths once, so the baseline includes imports and pools
    small = api.post("/files", files={"file": ("warm.bin", b"warm" * 1000)}, data={"trace": "big-trace"})
    assert small.status_code == 201, small.text
    assert api.get(f"/files/{small.json()['key']}/content").status_code == 200
    expected, _ = sha256_of(pseudo_random_chunks(GIB))

    body = MultipartBody({"trace": "big-trace", "key": "one-gib.bin"}, "one-gib.bin", GIB, pseudo_random_chunks(GIB))
    started = time.monotonic()
    with PeakRss(lone_server.proc.pid) as upload_rss:
        r = api.http.post("/api/v1/files", content=iter(body), headers=body.headers, timeout=300)
    upload_s = time.monotonic() - started
    assert r.status_code == 201, r.text
    stored = r.json()
    assert (stored["size"], stored["sha256"], stored["codec"]) == (GIB, expected, "zstd")

    started = time.monotonic()
    digest, size = hashlib.sha256(), 0
    with PeakRss(lone_server.proc.pid) as download_rss:
        with api.http.stream("GET", "/api/v1/files/one-gib.bin/content", timeout=300) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-length"] == str(GIB)
            for chunk in resp.iter_raw(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
    download_s = time.monotonic() - started
    assert (size, digest.hexdigest()) == (GIB, expected)

    # the group archive of the same file streams too (tar.gz, read here as a stream as well)
    started = time.monotonic()
    with PeakRss(lone_server.proc.pid) as archive_rss:
        with api.http.stream("GET", f"/api/v1/files/groups/{stored['group']}/archive", timeout=300) as resp:
            assert resp.status_code == 200
            with tarfile.open(fileobj=ChunkReader(resp.iter_raw(1024 * 1024)), mode="r|gz") as tar:
                names, digest, size = [], hashlib.sha256(), 0
                for member in tar:
                    names.append(member.name)
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    while chunk := extracted.read(1024 * 1024):
                        digest.update(chunk)
                        size += len(chunk)
    archive_s = time.monotonic() - started
    assert names == ["one-gib.bin"] and (size, digest.hexdigest()) == (GIB, expected)

    print(
        f"\n1 GiB upload {upload_s:.1f} s ({GIB / 2**20 / upload_s:.0f} MiB/s), server RSS +{upload_rss.growth / 2**20:.1f} MiB "
        f"(start {upload_rss.start / 2**20:.0f} MiB); download {download_s:.1f} s, RSS +{download_rss.growth / 2**20:.1f} MiB; "
        f"group archive {archive_s:.1f} s, RSS +{archive_rss.growth / 2**20:.1f} MiB; "
        f"stored {stored['stored_size'] / 2**20:.1f} MiB"
    )
    assert upload_rss.growth < RSS_BUDGET, f"server RSS grew by {upload_rss.growth / 2**20:.1f} MiB during the upload"
    assert download_rss.growth < RSS_BUDGET, (
        f"server RSS grew by {download_rss.growth / 2**20:.1f} MiB during the download"
    )
    assert archive_rss.growth < RSS_BUDGET, (
        f"server RSS grew by {archive_rss.growth / 2**20:.1f} MiB during the archive"
    )


def test_upload_over_the_limit_is_413_and_leaves_nothing(tmp_path: Path) -> None:
    srv = Server({**ADMIN, "FT_MAX_UPLOAD_BYTES": str(1024 * 1024)}, "serve", tmp_path)
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        at_limit = api.post("/files", files={"file": ("ok.bin", b"x" * 1024 * 1024)}, data={"trace": "t"})
        assert at_limit.status_code == 201, at_limit.text
        # streamed (chunked, no Content-Length): refused while reading, once past the limit
        body = MultipartBody(
            {"trace": "t", "key": "too-big"}, "too-big", 3 * 1024 * 1024, pseudo_random_chunks(3 * 1024 * 1024)
        )
        headers = {"Content-Type": body.headers["Content-Type"]}
        r = api.http.post("/api/v1/files", content=iter(body), headers=headers)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"
        # declared: refused from the Content-Length alone
        r = api.post(
            "/files", files={"file": ("big.bin", b"y" * 3 * 1024 * 1024)}, data={"trace": "t", "key": "too-big"}
        )
        assert r.status_code == 413, r.text
        assert api.get("/files/too-big").status_code == 404
        objects = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
        assert len(objects) == 1  # only the file at the limit; no partial or temp file left
        assert httpx.get(f"{srv.base}/healthz").status_code == 200
    finally:
        srv.stop()


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(lone_server: Server) -> None:
    api = Api(lone_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    files_dir = lone_server.data_dir / "files"
    before = {p for p in files_dir.rglob("*") if p.is_file()}
    body = MultipartBody(
        {"trace": "gone", "key": "never-finished"},
        "gone.bin",
        100 * 1024 * 1024,
        pseudo_random_chunks(100 * 1024 * 1024),
    )
    head = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {api.http.headers['Authorization']}\r\n"
        f"Content-Type: {body.headers['Content-Type']}\r\nContent-Length: {body.length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", lone_server.port)) as sock:
        sock.sendall(head)
        sent = 0
        for chunk in body:
            sock.sendall(chunk)
            sent += len(chunk)
            if sent > 8 * 1024 * 1024:
                break  # and hang up with most of the file unsent
    assert wait_for(lambda: {p for p in files_dir.rglob("*") if p.is_file()} == before, timeout=10)
    assert api.get("/files/never-finished").status_code == 404
    ok = api.post("/files", files={"file": ("after.bin", b"still fine")}, data={"trace": "gone"})
    assert ok.status_code == 201, ok.text
