"""Limits of a real all-in-one (`ftel serve`): every request body has a size limit enforced before it is read in
full (uploads keep their own), /metrics has no label a caller chooses (per-user figures are on /flow, admin only)
and may ask for a token, tokens live no longer than FT_TOKEN_TTL_SECONDS whatever they say, and an admin cannot
disable itself."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psutil
import pytest

from backend.domain.auth import ISSUER
from tests.conftest import ADMIN, Api, Server, wait_for

JWT_SECRET = "test-signing-key-" + "x" * 32
METRICS_TOKEN = "scrape-me"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**ADMIN, "FT_JWT_SECRET": JWT_SECRET, "FT_METRICS_TOKEN": METRICS_TOKEN}
    srv = Server(env, "serve", tmp_path_factory.mktemp("limits"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(server: Server) -> Api:
    return Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "payload_too_large"


def chunks(total: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked): only counting it as it arrives can refuse it."""
    sent = 0
    while sent < total:
        yield b" " * piece
        sent += piece


# -- body limits -------------------------------------------------------------------------------------------


def test_oversized_bodies_are_413_before_they_are_read_on_every_route(server: Server, admin: Api) -> None:
    big = b"[" + b" " * (50 * MB) + b"]"  # 50 MB of valid JSON
    json_type = {"Content-Type": "application/json"}
    routes = ("/auth/token", "/graph/query", "/accounts", "/subscriptions", "/events")
    rss = psutil.Process(server.proc.pid)
    before = rss.memory_info().rss
    for route in routes:
        assert_413(admin.post(route, content=big, headers=json_type))  # declared: refused unread
        assert_413(admin.post(route, content=chunks(50 * MB), headers=json_type))  # chunked: refused past the limit
    assert_413(httpx.post(f"{server.base}/api/v1/auth/token", content=big, headers=json_type))  # signed out
    assert_413(admin.http.put("/api/v1/flow/allowances/x", content=chunks(2 * MB), headers=json_type))
    growth = rss.memory_info().rss - before
    print(f"\nserver RSS after 11 bodies of 50 MB: {growth / MB:+.1f} MiB")
    assert growth < 100 * MB

    # under their own limits the same routes work, and /events and uploads keep their larger ones
    assert admin.post("/accounts", json={"name": "small", "roles": ["read"]}).status_code == 201
    assert admin.post("/subscriptions", json={"user_id": "small"}).status_code == 201
    trace = f"big-{uuid.uuid4().hex[:8]}"
    events = [{"type": "log", "trace": trace, "message": "x" * 200, "attrs": {"n": n}} for n in range(8000)]
    r = admin.post("/events", json=events)  # about 2 MB: over FT_MAX_BODY_BYTES, under FT_MAX_REQUEST_BYTES
    assert r.status_code == 202 and r.json()["accepted"] + r.json()["buffered"] == 8000, r.text[:300]
    upload = admin.post("/files", files={"file": ("big.bin", b"z" * 3 * MB)}, data={"trace": trace})
    assert upload.status_code == 201, upload.text
    assert admin.get(f"/files/{upload.json()['key']}/content").content == b"z" * 3 * MB


def test_the_openapi_lists_the_413_and_429_answers(server: Server) -> None:
    paths = httpx.get(f"{server.base}/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v1/auth/token", "post"),
        ("/api/v1/graph/query", "post"),
        ("/api/v1/accounts", "post"),
        ("/api/v1/subscriptions", "post"),
        ("/api/v1/events", "post"),
        ("/api/v1/files", "post"),
    ):
        assert "413" in paths[path][method]["responses"], path
    signin = paths["/api/v1/auth/token"]["post"]["responses"]["429"]
    assert "Retry-After" in signin["headers"]


# -- metrics -----------------------------------------------------------------------------------------------


def metrics(server: Server) -> str:
    r = httpx.get(f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    return r.text


def test_metrics_name_no_user_and_flow_shows_every_user_to_an_admin(server: Server, admin: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    users = [f"user-{tag}-{n}" for n in range(2000)]
    sender = admin.account("ingest", name="many-users")
    batch = [{"type": "trace.started", "trace": f"t-{u}", "user": u} for u in users]
    assert sender.post("/events", json=batch).status_code == 202
    httpx.request("PROPFIND", f"{server.base}/healthz")  # a method outside the usual ones is counted as "other"

    counted = re.compile(r"^ftel_flow_users (\S+)$", re.MULTILINE)
    assert wait_for(lambda: float(counted.findall(metrics(server))[0]) >= len(users), timeout=10)  # the flow check
    text = metrics(server)
    print(f"\n/metrics after events of {len(users)} users: {len(text) / 1024:.0f} KiB")
    assert f"user-{tag}" not in text and 'user="' not in text
    assert 'method="other"' in text and "PROPFIND" not in text
    assert len(text) < 200 * 1024
    assert re.search(r'^ftel_flow_events_total\{account="\d+"\} ', text, re.MULTILINE)

    flow = admin.get("/flow").json()
    per_user = {u["user"]: u["events"] for u in flow["users"]}
    assert all(per_user.get(u) == 1 for u in users)
    assert_status(sender.get("/flow"), 403)  # per-user figures are for admins


def test_metrics_ask_for_their_token_when_one_is_set(server: Server) -> None:
    assert_status(httpx.get(f"{server.base}/metrics"), 401)
    assert_status(httpx.get(f"{server.base}/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    assert "ftel_http_requests_total" in metrics(server)


def assert_status(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.json()["error"]["code"]


# -- tokens and admins -------------------------------------------------------------------------------------


def test_a_token_living_longer_than_the_ttl_is_refused_whatever_it_says(server: Server, admin: Api) -> None:
    issued = admin.http.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(issued, JWT_SECRET, algorithms=["HS256"], issuer=ISSUER)
    assert claims["exp"] - claims["iat"] == 900  # FT_TOKEN_TTL_SECONDS

    def with_claims(**changed: object) -> httpx.Response:
        token = jwt.encode({**claims, **changed}, JWT_SECRET, algorithm="HS256")
        return httpx.get(f"{server.base}/api/v1/traces", headers={"Authorization": f"Bearer {token}"})

    now = datetime.now(UTC)
    assert with_claims(iat=now, exp=now + timedelta(seconds=900)).status_code == 200  # a well-formed one works
    assert_status(with_claims(iat=now, exp=now + timedelta(days=3650)), 401)  # ten years ahead
    assert_status(with_claims(iat=now - timedelta(days=1), exp=now + timedelta(seconds=60)), 401)
    assert_status(with_claims(iat=now + timedelta(days=1), exp=now + timedelta(days=1, seconds=60)), 401)
    no_iat = {k: v for k, v in claims.items() if k != "iat"}
    token = jwt.encode(no_iat, JWT_SECRET, algorithm="HS256")
    assert_status(httpx.get(f"{server.base}/api/v1/traces", headers={"Authorization": f"Bearer {token}"}), 401)


def test_an_admin_cannot_disable_itself(server: Server, admin: Api) -> None:
    me = next(a for a in admin.get("/accounts").json() if a["client_id"] == ADMIN["FT_ADMIN_CLIENT_ID"])
    refused = admin.delete(f"/accounts/{me['id']}")
    assert_status(refused, 409)
    assert "itself" in refused.json()["error"]["message"]
    assert admin.get("/accounts").status_code == 200  # still signed in
    other = admin.post("/accounts", json={"name": "second admin", "roles": ["admin"]}).json()
    second = Api(server.base, other["client_id"], other["client_secret"])
    assert_status(second.delete(f"/accounts/{other['id']}"), 409)
    # another admin can
    assert admin.delete(f"/accounts/{other['id']}").json()["disabled_at"] is not None
