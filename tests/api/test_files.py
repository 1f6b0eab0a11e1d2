"""Files over real HTTP and gRPC: upload, metadata, content, archives, roles, bad input.

Two servers: the all-in-one defaults (SQLite, embedded graph, local store, zstd), and PostgreSQL +
S3 (moto's S3 server on 127.0.0.1) with gzip — so both backends and both codecs go through HTTP.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
import zstandard

from backend.grpc.client import upload as grpc_upload
from backend.storage.base import ObjectStore
from backend.storage.local import LocalObjectStore
from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, free_port, service_env, wait_for
from tests.storage_fixtures import MultipartBody, new_bucket, pseudo_random_chunks


@dataclass
class FileServer:
    server: Server
    grpc_target: str
    open_store: Callable[[], ObjectStore]  # the server's own object store, for tampering tests
    codec: str
    uploaded: dict[str, str]  # key -> stored_at, of every successful upload (for the daily archive)

    @property
    def base(self) -> str:
        return self.server.base


@pytest.fixture(scope="module", params=["sqlite+local+zstd", "postgres+s3+gzip"])
def files_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    data_dir = tmp_path_factory.mktemp("files-server")
    grpc_port = free_port()
    env = {**ADMIN, "FT_GRPC_PORT": str(grpc_port), "FT_RETENTION_INTERVAL_SECONDS": "0"}
    cleanup: list[Callable[[], None]] = []
    if request.param == "sqlite+local+zstd":
        codec = "zstd"

        def open_store() -> ObjectStore:
            return LocalObjectStore(data_dir / "files")
    else:
        codec = "gzip"
        admin_url = service_env("FT_TEST_POSTGRES_URL")
        url = create_pg_database(admin_url)
        cleanup.append(lambda: drop_pg_database(admin_url, url))
        s3 = request.getfixturevalue("s3_server")
        bucket = new_bucket()
        env.update(FT_DATABASE_URL=url, FT_COMPRESSION="gzip", **s3.env(bucket))

        def open_store() -> ObjectStore:
            return s3.store(bucket)

    srv = Server(env, "serve", data_dir)
    yield FileServer(srv, f"127.0.0.1:{grpc_port}", open_store, codec, {})
    srv.stop()
    for fn in cleanup:
        fn()


@pytest.fixture(scope="module")
def admin(files_server: FileServer) -> Api:
    return Api(files_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upload(fs: FileServer, api: Api, content: bytes, **fields: str) -> httpx.Response:
    """POST /files; remembers what was stored, for the daily archive test."""
    fields.setdefault("trace", "files-trace")
    r = api.post("/files", files={"file": (fields.pop("filename", "upload.bin"), content)}, data=fields)
    if r.status_code == 201:
        fs.uploaded[r.json()["key"]] = r.json()["stored_at"]
    return r


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in response.text


def read_tar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        for m in members:  # safe names: plain relative names, regular files
            assert (
                m.isreg()
                and "/" not in m.name
                and "\\" not in m.name
                and ".." not in m.name
                and not m.name.startswith(".")
            )
            assert all(ord(ch) >= 32 for ch in m.name)
        return {m.name: tar.extractfile(m).read() for m in members}  # type: ignore[union-attr]


CONTENTS = {"empty": b"", "text": "line one\nzwei — 二\n".encode() * 100, "binary": os.urandom(3 * 1024 * 1024 + 11)}


# -- upload and download -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CONTENTS))
def test_round_trip_is_byte_exact(files_server: FileServer, admin: Api, kind: str) -> None:
    content = CONTENTS[kind]
    key = unique(kind)
    r = upload(files_server, admin, content, key=key, group=unique("g"), filename=f"{kind}.dat")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"] == key and body["size"] == len(content) and body["codec"] == files_server.codec
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["stored_size"] > 0 and body["group"] and body["state"] == "stored"
    assert r.headers["location"] == f"/api/v1/files/{key}"
    meta = admin.get(f"/files/{key}").json()
    assert {k: meta[k] for k in ("key", "size", "stored_size", "sha256", "codec", "filename")} == {
        k: body[k] for k in ("key", "size", "stored_size", "sha256", "codec", "filename")
    }
    got = admin.get(f"/files/{key}/content")
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-sha256"] == body["sha256"]
    assert got.headers["content-disposition"].startswith(f'attachment; filename="{kind}.dat"')  # the uploaded name


def test_upload_puts_the_file_in_its_trace_with_status_stored(files_server: FileServer, admin: Api) -> None:
    trace, key = unique("trace"), unique("File")
    assert upload(files_server, admin, b"a,b\n1,2\n", trace=trace, key=key).status_code == 201

    def node() -> dict[str, Any] | None:
        r = admin.get(f"/traces/{trace}/graph")
        return next((n for n in r.json()["nodes"] if n["key"] == key), None) if r.status_code == 200 else None

    found = wait_for(node)
    assert found is not None and found["kind"] == "file" and found["status"] == "stored"
    assert admin.get(f"/traces/{trace}").json()["summary"]["files"] == 1


def test_key_and_group_are_generated_when_missing(files_server: FileServer, admin: Api) -> None:
    r = upload(files_server, admin, b"no key")
    assert r.status_code == 201, r.text
    key, group = r.json()["key"], r.json()["group"]
    assert uuid.UUID(key).version == 7 and uuid.UUID(group).version == 7 and key != group
    assert admin.get(f"/files/{key}/content").content == b"no key"


def test_fields_sent_after_the_file_are_honoured(files_server: FileServer, admin: Api) -> None:
    key, group = unique("late"), unique("late-group")
    body = MultipartBody(
        {"trace": "late-trace", "key": key, "group": group},
        "late.bin",
        2 * 1024 * 1024 + 3,
        pseudo_random_chunks(2 * 1024 * 1024 + 3),
        file_first=True,
    )
    r = admin.http.post("/api/v1/files", content=iter(body), headers=body.headers)
    assert r.status_code == 201, r.text
    files_server.uploaded[key] = r.json()["stored_at"]
    assert (r.json()["key"], r.json()["group"], r.json()["trace"]) == (key, group, "late-trace")
    assert hashlib.sha256(admin.get(f"/files/{key}/content").content).hexdigest() == r.json()["sha256"]


# -- roles ---------------------------------------------------------------------------------------


def test_ingest_accounts_upload_but_cannot_download_and_readers_download(files_server: FileServer, admin: Api) -> None:
    ingest = admin.account("ingest", name="uploader")
    reader = admin.account("read", name="downloader")
    key, group = unique("roles"), unique("roles-group")
    r = upload(files_server, ingest, b"secret payload", key=key, group=group)
    assert r.status_code == 201, r.text
    today = r.json()["stored_at"][:10]
    for path in (
        f"/files/{key}",
        f"/files/{key}/content",
        f"/files/groups/{group}/archive",
        f"/files/archive?date={today}",
        "/retention/records",
    ):
        assert_error(ingest.get(path), 403, "forbidden")
    assert_error(reader.post("/files", files={"file": ("x", b"x")}, data={"trace": "t"}), 403, "forbidden")
    assert reader.get(f"/files/{key}/content").content == b"secret payload"
    assert reader.get(f"/files/{key}").status_code == 200
    assert set(read_tar(reader.get(f"/files/groups/{group}/archive").content)) == {key}
    assert_error(httpx.get(f"{files_server.base}/api/v1/files/{key}/content"), 401, "unauthenticated")


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "/abs/b",
        "../etc/passwd",
        "a/../b",
        "a/./b",
        "..",
        "a\\b",
        "tab\there",
        "nul\x00",
        "archive",
        "groups/g/archive",
        "k" * 513,
    ],
)
def test_unsafe_keys_are_400_and_store_nothing(files_server: FileServer, admin: Api, bad: str) -> None:
    before = sorted(i.name for i in files_server.open_store().list())
    assert_error(
        admin.post("/files", files={"file": ("f", b"data")}, data={"trace": "t", "key": bad}), 400, "invalid_input"
    )
    assert_error(
        admin.post(
            "/files", files={"file": ("f", b"data")}, data={"trace": "t", "group": bad if bad != "archive" else "a/b"}
        ),
        400,
        "invalid_input",
    )
    assert sorted(i.name for i in files_server.open_store().list()) == before


def test_bad_requests_get_clear_errors(files_server: FileServer, admin: Api) -> None:
    assert_error(admin.post("/files", files={"file": ("f", b"x")}, data={}), 422, "unprocessable")  # no trace
    assert_error(
        admin.post("/files", data={"trace": "t"}, files={"other": ("f", b"x")}), 422, "unprocessable"
    )  # no file part
    assert_error(admin.post("/files", json={"trace": "t"}), 400, "invalid_input")  # not multipart
    two = admin.post("/files", files=[("file", ("a", b"1")), ("file", ("b", b"2"))], data={"trace": "t"})
    assert_error(two, 400, "invalid_input")
    truncated = (
        b'--XX\r\nContent-Disposition: form-data; name="trace"\r\n\r\nt\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc'
    )
    r = admin.http.post(
        "/api/v1/files", content=truncated, headers={"Content-Type": "multipart/form-data; boundary=XX"}
    )
    assert_error(r, 400, "invalid_input")
    assert_error(admin.get("/files/%2E%2E"), 400, "invalid_input")
    assert_error(admin.get("/files/no-such-file"), 404, "not_found")
    assert_error(admin.get("/files/no-such-file/content"), 404, "not_found")
    assert_error(admin.get("/files/groups/no-such-group/archive"), 404, "not_found")
    for date in ("2026-13-01", "yesterday", "2026-1-1", ""):
        assert_error(admin.get(f"/files/archive?date={date}"), 400, "invalid_input")
    assert_error(admin.get("/files/archive"), 422, "unprocessable")


def test_a_taken_key_is_409_and_keeps_the_first_file(files_server: FileServer, admin: Api) -> None:
    key = unique("taken")
    assert upload(files_server, admin, b"first", key=key).status_code == 201
    assert_error(upload(files_server, admin, b"second", key=key), 409, "conflict")
    late = MultipartBody({"trace": "t", "key": key}, "f", 5, iter([b"third"]), file_first=True)
    assert_error(admin.http.post("/api/v1/files", content=iter(late), headers=late.headers), 409, "conflict")
    assert admin.get(f"/files/{key}/content").content == b"first"


def test_external_clients_cannot_send_file_expired(files_server: FileServer, admin: Api) -> None:
    r = admin.post("/events", json=[{"type": "file.expired", "trace": "t", "node": {"kind": "file", "key": "X"}}])
    assert r.status_code == 202
    assert r.json()["accepted"] == 0 and "service only" in r.json()["rejected"][0]["error"]


# -- archives ------------------------------------------------------------------------------------


def test_group_archive_holds_exactly_the_group_files(files_server: FileServer, admin: Api) -> None:
    group, other = unique("group"), unique("other")
    expected = {}
    for name, content in CONTENTS.items():
        key = unique(f"member-{name}") + ".dat"
        assert upload(files_server, admin, content, key=key, group=group).status_code == 201
        expected[key] = content
    assert upload(files_server, admin, b"not in the group", key=unique("outsider"), group=other).status_code == 201
    r = admin.get(f"/files/groups/{group}/archive")
    assert r.status_code == 200 and r.headers["content-type"] == "application/gzip"
    assert f"group-{group}.tar.gz" in r.headers["content-disposition"]
    assert read_tar(r.content) == expected


def test_daily_archive_holds_exactly_the_files_stored_that_day(files_server: FileServer, admin: Api) -> None:
    assert upload(files_server, admin, b"today", key=unique("daily")).status_code == 201
    by_day: dict[str, set[str]] = defaultdict(set)
    for key, stored_at in files_server.uploaded.items():
        by_day[stored_at[:10]].add(key)
    for day, keys in by_day.items():
        with admin.http.stream("GET", f"/api/v1/files/archive?date={day}") as r:  # streamed, not buffered by the server
            assert r.status_code == 200
            data = r.read()
        members = read_tar(data)
        assert set(members) == keys
    empty = admin.get("/files/archive?date=2001-01-01")
    assert empty.status_code == 200 and read_tar(empty.content) == {}


# -- gRPC ----------------------------------------------------------------------------------------


def token_of(api: Api) -> str:
    return str(api.http.headers["Authorization"]).split()[1]


def test_grpc_upload_has_the_rest_semantics(files_server: FileServer, admin: Api) -> None:
    key, group = unique("grpc"), unique("grpc-group")
    content = b"".join(pseudo_random_chunks(5 * 1024 * 1024 + 7, chunk=700_000))
    stored = grpc_upload(
        files_server.grpc_target,
        token_of(admin),
        pseudo_random_chunks(5 * 1024 * 1024 + 7, chunk=700_000),
        trace="grpc-trace",
        key=key,
        group=group,
        filename="via-grpc.bin",
    )
    files_server.uploaded[key] = stored.stored_at
    assert (stored.key, stored.group, stored.size, stored.codec) == (key, group, len(content), files_server.codec)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert admin.get(f"/files/{key}/content").content == content
    assert admin.get(f"/files/{key}").json()["filename"] == "via-grpc.bin"
    generated = grpc_upload(files_server.grpc_target, token_of(admin), [b""], trace="grpc-trace")
    files_server.uploaded[generated.key] = generated.stored_at
    assert generated.size == 0 and uuid.UUID(generated.key).version == 7
    graph = wait_for(
        lambda: {n["key"]: n["status"] for n in admin.get("/traces/grpc-trace/graph").json()["nodes"]}.get(key)
    )
    assert graph == "stored"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no token", grpc.StatusCode.UNAUTHENTICATED),
        ("bad token", grpc.StatusCode.UNAUTHENTICATED),
        ("reader", grpc.StatusCode.PERMISSION_DENIED),
        ("bad key", grpc.StatusCode.INVALID_ARGUMENT),
        ("no trace", grpc.StatusCode.INVALID_ARGUMENT),
        ("taken key", grpc.StatusCode.ALREADY_EXISTS),
    ],
)
def test_grpc_errors_are_status_codes(files_server: FileServer, admin: Api, case: str, status: grpc.StatusCode) -> None:
    token, fields = token_of(admin), {"trace": "grpc-trace", "key": unique("grpc-err")}
    if case == "no token":
        token = ""
    elif case == "bad token":
        token = "not.a.token"
    elif case == "reader":
        token = token_of(admin.account("read", name="grpc-reader"))
    elif case == "bad key":
        fields["key"] = "../x"
    elif case == "no trace":
        fields["trace"] = ""
    elif case == "taken key":
        assert upload(files_server, admin, b"x", key=fields["key"]).status_code == 201
    with pytest.raises(grpc.RpcError) as err:
        grpc_upload(files_server.grpc_target, token, [b"payload"], **fields)
    assert err.value.code() == status, err.value.details()


# -- damaged storage -----------------------------------------------------------------------------


def _object_of(fs: FileServer, upload_call: Callable[[], httpx.Response]) -> tuple[dict[str, Any], str]:
    store = fs.open_store()
    before = {i.name for i in store.list()}
    r = upload_call()
    assert r.status_code == 201, r.text
    (name,) = {i.name for i in store.list()} - before
    return r.json(), name


@contextmanager
def _damaged(fs: FileServer, name: str, damage: bytes) -> Iterator[None]:
    """The object replaced by `damage` for the block, then put back: the module's server stays sound for the
    tests after it (the daily archive reads every file of the day)."""
    store = fs.open_store()
    original = b"".join(store.read(name))
    store.put(name, [damage])
    try:
        yield
    finally:
        store.put(name, [original])


def _compressed(data: bytes, codec: str) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    import gzip

    return gzip.compress(data)


def test_a_decompression_bomb_is_not_served(files_server: FileServer, admin: Api) -> None:
    key = unique("bomb")
    _, name = _object_of(files_server, lambda: upload(files_server, admin, b"ten bytes!", key=key))
    bomb = _compressed(bytes(256 * 1024 * 1024), files_server.codec)  # 256 MiB of zeros in a few KiB
    assert len(bomb) < 300 * 1024
    with _damaged(files_server, name, bomb):
        r = admin.get(f"/files/{key}/content")
        assert_error(r, 500, "corrupt_file")
        assert "recorded size" in r.json()["error"]["message"]
    assert httpx.get(f"{files_server.base}/healthz").status_code == 200


def test_a_truncated_object_breaks_the_download_instead_of_serving_short_content(
    files_server: FileServer, admin: Api
) -> None:
    key = unique("truncated")
    content = b"".join(pseudo_random_chunks(3 * 1024 * 1024))
    _, name = _object_of(files_server, lambda: upload(files_server, admin, content, key=key))
    truncated = _compressed(content[: 1024 * 1024 + 5], files_server.codec)
    with _damaged(files_server, name, truncated), pytest.raises(httpx.RemoteProtocolError):
        admin.get(f"/files/{key}/content")
