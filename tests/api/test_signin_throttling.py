"""Sign-in throttling against a real all-in-one (`ftel serve`, its embedded Redis holding the windows): wrong
secrets are refused with 429 and Retry-After past the per-client-id and per-address limits, the secret is never
logged, and 40 concurrent sign-ins leave the server's memory flat and authenticated reads fast."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from limits.storage import MemoryStorage

from backend.bootstrap import Role, build, signin_windows
from backend.domain.signin import SignIn
from backend.errors import TooManyRequests, Unauthenticated
from backend.settings import Settings
from bench.signin import storm
from tests.conftest import ADMIN, Api, Server

TOKEN = "/api/v1/auth/token"
CLIENT_FAILURES = 10  # the defaults
ADDRESS_FAILURES = 30


def sign_in(base: str, client_id: str, secret: str, address: str = "127.0.0.1") -> httpx.Response:
    """From `address`: any 127.0.0.0/8 source reaches a server listening on 127.0.0.1."""
    with httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=60) as http:
        return http.post(TOKEN, json={"client_id": client_id, "client_secret": secret})


def assert_throttled(response: httpx.Response, limit: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "too_many_requests"
    assert response.json()["error"]["details"] == {"limit": limit}
    assert 0 < int(response.headers["Retry-After"]) <= 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(dict(ADMIN), "serve", tmp_path_factory.mktemp("signin"))
    yield srv
    srv.stop()


def test_hundred_wrong_secrets_are_throttled_per_client_id_and_never_logged(server: Server) -> None:
    admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    victim = admin.post("/accounts", json={"name": "victim", "roles": ["read"]}).json()
    wrong = f"wrong-{uuid.uuid4().hex}"
    answers = [sign_in(server.base, victim["client_id"], wrong) for _ in range(100)]
    assert [r.status_code for r in answers[:CLIENT_FAILURES]] == [401] * CLIENT_FAILURES
    for r in answers[CLIENT_FAILURES:]:
        assert_throttled(r, "client")

    # the client id is locked whoever asks, its right secret too: a guess spread over many addresses stops as well
    assert_throttled(sign_in(server.base, victim["client_id"], victim["client_secret"], "127.0.0.2"), "client")
    # another client id from the same address is not held up: 10 failures are under the address limit
    assert sign_in(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"]).status_code == 200
    # tokens already issued keep working, and an admin can rotate the locked account's secret
    assert admin.post(f"/accounts/{victim['id']}/secret").status_code == 200

    log = (server.data_dir / "server.log").read_text(errors="replace")
    assert f"sign-in failed: client id '{victim['client_id']}' from 127.0.0.1" in log
    assert "refused for up to 300 s after 10 failed sign-ins" in log
    assert wrong not in log and victim["client_secret"] not in log
    assert "Redis unreachable" not in log  # the windows were kept in the embedded Redis, not in the process


def test_one_address_guessing_many_client_ids_is_throttled_and_nobody_else(server: Server) -> None:
    guesser = "127.0.0.3"
    for n in range(ADDRESS_FAILURES):
        assert sign_in(server.base, f"guess-{n}-{uuid.uuid4().hex[:6]}", "nope", guesser).status_code == 401
    assert_throttled(sign_in(server.base, "guess-again", "nope", guesser), "address")
    # the address is locked for every client id, the right secret too...
    assert_throttled(
        sign_in(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"], guesser), "address"
    )
    # ...and only that address: the same client id signs in from elsewhere
    ok = sign_in(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"], "127.0.0.4")
    assert ok.status_code == 200, ok.text


def test_a_success_clears_its_client_ids_failures(server: Server) -> None:
    admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    typo = admin.post("/accounts", json={"name": "typo", "roles": ["read"]}).json()
    for _ in range(2):  # 2 × (CLIENT_FAILURES - 1) typos in a row would lock it without the success between
        for _ in range(CLIENT_FAILURES - 1):
            assert sign_in(server.base, typo["client_id"], "typo", "127.0.0.5").status_code == 401
        assert sign_in(server.base, typo["client_id"], typo["client_secret"], "127.0.0.6").status_code == 200


@pytest.mark.redis
def test_api_processes_share_their_windows_through_redis(tmp_path: Path, stream_redis_url: str) -> None:
    """Services mode: failures counted by one API process refuse the next attempt on another (two SignIn on two
    clients of the real test Redis, as two `ftel api` processes have)."""
    settings = Settings(data_dir=tmp_path, redis_url=stream_redis_url, signin_client_failures=3)
    process = build(settings, Role.admin)
    clients = [redis.Redis.from_url(stream_redis_url) for _ in range(2)]
    try:
        one, two = (SignIn(process.auth, settings, signin_windows(c), MemoryStorage()) for c in clients)
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                asyncio.run(one.token("shared", "wrong", "10.1.1.1"))
        with pytest.raises(TooManyRequests):
            asyncio.run(two.token("shared", "wrong", "10.1.1.2"))
        assert clients[0].keys("ft:signin:*")  # under the prefix named in backend/streams/keys.py
    finally:
        for c in clients:
            c.close()
        process.close()


def test_memory_stays_flat_under_40_concurrent_sign_ins(tmp_path: Path) -> None:
    """40 concurrent sign-ins (each an Argon2 verification of 64 MiB) take an unthrottled server past a GB and slow
    an authenticated read to seconds (bench/signin.py prints both, bounded and unbounded). Here the address limit
    is raised and the queue made long enough that every attempt is really verified, FT_SIGNIN_CONCURRENCY (2) at
    a time."""
    env = {**ADMIN, "FT_SIGNIN_ADDRESS_FAILURES": "10000", "FT_SIGNIN_QUEUE_SECONDS": "60"}
    srv = Server(env, "serve", tmp_path)
    try:
        got = storm(srv, 40)
        print(
            f"\n40 concurrent sign-ins in {got.took:.1f} s: server RSS peak growth {got.growth / 2**20:.1f} MiB "
            f"(from {got.start / 2**20:.0f} MiB); {len(got.reads)} authenticated reads meanwhile, "
            f"slowest {max(got.reads) * 1000:.0f} ms"
        )
        assert got.codes == [200] * 10 + [401] * 30
        assert got.growth < 400 * 2**20
        assert max(got.reads) < 5.0
    finally:
        srv.stop()
