"""The parts that let services mode ride out store outages, on real Redis and SQL: token checks from a
cache while SQL is down, revocation announced to every process, merges that take turns across processes,
stable consumer names, and pruning the consumers of dead processes."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from backend.bootstrap import sync_redis
from backend.db.accounts import SqlAccounts
from backend.db.base import AccountRow
from backend.domain.auth import Auth
from backend.errors import GraphError, SqlUnavailable, Unauthenticated
from backend.settings import Settings
from backend.streams import keys
from backend.streams.admin import SharedLock, StreamAdmin
from backend.streams.notices import AccountNotices
from backend.worker.runtime import consumer_name
from graph.base import GraphBatch
from graph.serialized import SerializedWrites


class Switchable(SqlAccounts):
    """The real SQL account store, with a switch that makes it unreachable (as a stopped PostgreSQL)."""

    down = False

    def by_uuid(self, uuid: str) -> AccountRow | None:
        if self.down:
            raise SqlUnavailable("SQL database unavailable: connection refused")
        return super().by_uuid(uuid)


def test_tokens_verify_from_the_cache_while_sql_is_down_until_it_expires(sql_engine: Engine) -> None:
    accounts = Switchable(sql_engine)
    auth = Auth(accounts, Settings(auth_cache_seconds=0.5))
    issued = auth.create_account("app", "system", ["ingest"])
    token = auth.issue_token(issued.account.client_id, issued.client_secret).access_token
    assert auth.authenticate(token).uuid == issued.account.uuid  # cached now
    accounts.down = True
    assert auth.authenticate(token).uuid == issued.account.uuid  # no SQL needed
    time.sleep(0.6)
    with pytest.raises(SqlUnavailable):  # a 503, never a 500; bounded by FT_AUTH_CACHE_SECONDS
        auth.authenticate(token)
    accounts.down = False
    assert auth.authenticate(token).uuid == issued.account.uuid


def test_disabling_an_account_revokes_its_tokens_in_every_process_at_once(
    sql_engine: Engine, stream_redis_url: str
) -> None:
    settings = Settings(auth_cache_seconds=3600)
    here_client, there_client = sync_redis(stream_redis_url), sync_redis(stream_redis_url)  # two processes
    here_notices, there_notices = AccountNotices(here_client), AccountNotices(there_client)
    here = Auth(SqlAccounts(sql_engine), settings, notify=here_notices.publish)
    there = Auth(SqlAccounts(sql_engine), settings, notify=there_notices.publish)
    try:
        there_notices.receive(there.forget, there.forget_all)  # subscribed
        here.create_account("admin", "system", ["admin"])
        issued = here.create_account("app", "system", ["ingest"])
        token = here.issue_token(issued.account.client_id, issued.client_secret).access_token
        assert there.authenticate(token).uuid == issued.account.uuid  # cached there for an hour
        here.disable_account(issued.account.uuid)
        with pytest.raises(Unauthenticated):
            here.authenticate(token)
        deadline = time.monotonic() + 5
        while there_notices.receive(there.forget, there.forget_all) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(Unauthenticated, match="revoked"):
            there.authenticate(token)
    finally:
        here_notices.close()
        there_notices.close()
        here_client.close()
        there_client.close()


class Recording:
    """A graph store that records when each write starts and ends (the stand-in for Neo4j's merge)."""

    capabilities: Any = None

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def apply(self, batch: GraphBatch) -> None:
        start = time.monotonic()
        time.sleep(0.05)
        self.spans.append((start, time.monotonic()))


def serialized(url: str, wait: float) -> tuple[SerializedWrites, redis.Redis]:
    client = sync_redis(url)
    lock = SharedLock(client, keys.GRAPH_WRITE_LOCK, ttl_seconds=10, wait_seconds=wait, busy=lambda: GraphError("busy"))
    return SerializedWrites(Recording(), lock.hold), client  # type: ignore[arg-type]


def test_merges_from_several_processes_take_turns(stream_redis_url: str) -> None:
    stores = [serialized(stream_redis_url, wait=10) for _ in range(3)]  # three processes' clients
    threads = [threading.Thread(target=lambda s=s: [s.apply(GraphBatch()) for _ in range(4)]) for s, _ in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = sorted(span for store, _ in stores for span in store.inner.spans)  # type: ignore[attr-defined]
    assert len(spans) == 12
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    for _, client in stores:
        client.close()


def test_a_merge_waits_a_bounded_time_and_goes_on_without_the_lock_when_redis_is_gone(stream_redis_url: str) -> None:
    holder = redis.Redis.from_url(stream_redis_url).lock(keys.GRAPH_WRITE_LOCK, timeout=30)
    assert holder.acquire()
    store, client = serialized(stream_redis_url, wait=0.3)
    started = time.monotonic()
    with pytest.raises(GraphError, match="busy"):
        store.apply(GraphBatch())
    assert time.monotonic() - started < 2
    holder.release()
    client.close()
    gone = SerializedWrites(
        Recording(),
        SharedLock(
            sync_redis("redis://127.0.0.1:1/0", timeout=0.3),  # type: ignore[arg-type]
            keys.GRAPH_WRITE_LOCK,
            10,
            1,
            lambda: GraphError("busy"),
        ).hold,
    )
    gone.apply(GraphBatch())
    assert len(gone.inner.spans) == 1  # type: ignore[attr-defined]


def test_a_worker_keeps_its_consumer_name_across_restarts_and_two_workers_never_share_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, second = consumer_name(settings, "worker"), consumer_name(settings, "worker")
    assert first.name != second.name and first.name.endswith("-0") and second.name.endswith("-1")
    name = first.name
    first.close()  # the process ended (a SIGKILL releases the lock the same way)
    again = consumer_name(settings, "worker")
    assert again.name == name
    assert (
        consumer_name(Settings(data_dir=tmp_path), "serve").name
        == consumer_name(Settings(data_dir=tmp_path), "serve").name
    )
    again.close()
    second.close()


def test_consumers_of_dead_processes_are_pruned_once_nothing_is_pending(stream_redis_url: str) -> None:
    import json

    client = redis.Redis.from_url(stream_redis_url, decode_responses=True)
    stream = "ft:s:prune"
    client.hset(keys.REGISTRY, stream, "{}")
    client.xgroup_create(stream, "ftel", id="0", mkstream=True)
    client.xadd(stream, {"event": "{}"})
    client.xgroup_createconsumer(stream, "ftel", "dead-idle")
    client.xreadgroup("ftel", "dead-pending", {stream: ">"}, count=1)  # holds an unacknowledged entry
    client.xgroup_createconsumer(stream, "ftel", "alive")
    client.hset(keys.CONSUMERS, "dead-idle", json.dumps({"at": time.time() - 3600}))
    admin = StreamAdmin(sync_redis(stream_redis_url), "ftel")
    time.sleep(1.2)  # every consumer is now idle in the group for longer than the grace period
    client.hset(keys.CONSUMERS, "alive", json.dumps({"at": time.time()}))  # its process still reports in
    removed = admin.prune_consumers(grace_seconds=1)
    assert removed == [f"{stream} dead-idle"]
    names = {c["name"] for c in client.xinfo_consumers(stream, "ftel")}
    assert names == {"alive", "dead-pending"}  # never one holding entries: they would be lost
    assert set(client.hkeys(keys.CONSUMERS)) == {"alive"}
    admin.close()
    client.close()
