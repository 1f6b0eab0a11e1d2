"""Sign-in throttling in one process: the windows, the fallback to this process's own count when Redis cannot be
reached, how addresses are counted, and token lifetimes capped at FT_TOKEN_TTL_SECONDS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import redis
from limits.storage import MemoryStorage

from backend.bootstrap import open_engine, signin_windows
from backend.db.accounts import SqlAccounts
from backend.db.engine import upgrade
from backend.domain.auth import ISSUER, Auth
from backend.domain.signin import SignIn, address_key
from backend.errors import Conflict, TooManyRequests, Unauthenticated
from backend.settings import Settings


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Auth]:
    settings = Settings(data_dir=tmp_path, jwt_secret="k" * 40, signin_client_failures=3, signin_address_failures=5)
    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    yield Auth(SqlAccounts(engine), settings)
    engine.dispose()


def attempt(signin: SignIn, client_id: str, secret: str, address: str) -> str:
    try:
        asyncio.run(signin.token(client_id, secret, address))
    except TooManyRequests as exc:
        return f"429:{exc.details['limit']}"
    except Unauthenticated:
        return "401"
    return "200"


def test_limits_per_client_id_and_per_address(auth: Auth) -> None:
    signin = SignIn(auth, auth.settings, None, MemoryStorage())
    assert [attempt(signin, "a", "x", "10.0.0.1") for _ in range(4)] == ["401"] * 3 + ["429:client"]
    assert attempt(signin, "a", "x", "10.0.0.2") == "429:client"  # the client id, from anywhere
    assert [attempt(signin, f"b{n}", "x", "10.0.0.3") for n in range(6)] == ["401"] * 5 + ["429:address"]
    assert attempt(signin, "c", "x", "10.0.0.4") == "401"  # other addresses are not held up


def test_without_redis_the_windows_are_counted_in_this_process(auth: Auth, caplog: pytest.LogCaptureFixture) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5)
    signin = SignIn(auth, auth.settings, signin_windows(dead), MemoryStorage())
    with caplog.at_level(logging.WARNING, "ftel.auth"):
        assert [attempt(signin, "a", "x", "10.0.0.1") for _ in range(4)] == ["401"] * 3 + ["429:client"]
    assert "sign-in throttling: Redis unreachable" in caplog.text
    assert caplog.text.count("Redis unreachable") == 1  # then counted here for a while, without asking Redis again


def test_ipv6_callers_are_counted_by_their_64_bit_prefix() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert address_key("10.1.2.3") == "10.1.2.3"
    assert address_key(None) == "unknown"


def forged(auth: Auth, issued: datetime, lifetime: timedelta) -> str:
    account = auth.accounts.listed()[0]
    claims = {
        "iss": ISSUER,
        "sub": account.uuid,
        "roles": sorted(account.roles),
        "ver": account.secret_version,
        "iat": issued,
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, auth.signing_key, algorithm="HS256")


def test_token_lifetime_is_capped_at_the_ttl_whatever_the_token_says(auth: Auth) -> None:
    auth.create_account("app", "system", ["read"])
    now = datetime.now(UTC)
    ttl = timedelta(seconds=auth.settings.token_ttl_seconds)
    assert auth.authenticate(forged(auth, now, ttl)).name == "app"
    for token, why in (
        (forged(auth, now, timedelta(days=3650)), "token lifetime over FT_TOKEN_TTL_SECONDS"),
        (forged(auth, now, ttl + timedelta(seconds=1)), "token lifetime over FT_TOKEN_TTL_SECONDS"),
        (forged(auth, now + timedelta(hours=1), ttl), "token issued in the future"),
    ):
        with pytest.raises(Unauthenticated, match=why):
            auth.authenticate(token)
    no_iat = jwt.encode(
        {"iss": ISSUER, "sub": "x", "exp": now + timedelta(seconds=60)}, auth.signing_key, algorithm="HS256"
    )
    with pytest.raises(Unauthenticated, match="invalid token"):
        auth.authenticate(no_iat)


def test_an_admin_cannot_disable_itself(auth: Auth) -> None:
    first = auth.create_account("one", "system", ["admin"]).account
    second = auth.create_account("two", "system", ["admin"]).account
    me = auth.authenticate(forged_for(auth, first.uuid))
    with pytest.raises(Conflict, match="cannot disable itself"):
        auth.disable_account(first.uuid, by=me)
    assert auth.disable_account(second.uuid, by=me).disabled_at is not None


def forged_for(auth: Auth, account_uuid: str) -> str:
    account = auth.accounts.by_uuid(account_uuid)
    assert account is not None
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "sub": account.uuid, "ver": account.secret_version, "iat": now}
    return jwt.encode({**claims, "exp": now + timedelta(seconds=60)}, auth.signing_key, algorithm="HS256")
