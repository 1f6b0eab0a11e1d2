"""SQL and the Redis registry kept in step (`backend.domain.subscriptions.sync`), idle expiry, and
trimming — on SQLite and PostgreSQL, against the real test Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from sqlalchemy import Engine

from backend.db import subscriptions as store
from backend.db.engine import make_engine, upgrade
from backend.domain import auth, subscriptions
from backend.settings import Settings
from backend.streams.redis import RedisStreamSource, trim_acknowledged
from backend.streams.registry import Registry, connect
from backend.worker.consumer import StreamConsumer
from graph.embedded import EmbeddedGraphStore
from tests.stream_fixtures import stream_redis_url  # noqa: F401  (fixture)


@pytest.fixture
def engine(sql_settings: Settings) -> Iterator[Engine]:
    sql_settings.ensure_data_dir()
    engine = make_engine(sql_settings)
    upgrade(engine)
    yield engine
    engine.dispose()


def principal(engine: Engine, name: str = "app") -> auth.Principal:
    account = auth.create_account(engine, name, "system", ["ingest"]).account
    return auth.Principal(account_id=account.id or 0, uuid=account.uuid, name=account.name, roles=frozenset({"ingest"}))


def run(url: str, body: Callable[[Registry], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = connect(url)
        try:
            return await body(Registry(client))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_registry_only_subscriptions_are_restored_into_sql_and_replayed(engine: Engine, sql_settings: Settings,
                                                                          stream_redis_url: str) -> None:  # noqa: F811
    owner = principal(engine)
    sub = run(stream_redis_url, lambda reg: subscriptions.create(engine, reg, sql_settings, owner, "u1", "User One", "redis"))
    gone = run(stream_redis_url, lambda reg: subscriptions.create(engine, reg, sql_settings, owner, "u2", None, "redis"))
    run(stream_redis_url, lambda reg: subscriptions.close(engine, reg, [gone], "unsubscribed"))
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd(sub.stream_key, {"event": "{}"})
    client.xreadgroup("ftel", "c", {sub.stream_key: ">"})
    client.xack(sub.stream_key, "ftel", client.xrange(sub.stream_key)[0][0])
    assert client.xinfo_groups(sub.stream_key)[0]["last-delivered-id"] != "0-0"

    for row in (sub, gone):  # the SQL store loses its subscriptions
        store.remove(engine, row.uuid)
    report = run(stream_redis_url, lambda reg: subscriptions.sync(engine, reg, "ftel", scan_streams=True))
    assert sorted(report.restored_to_sql) == sorted([sub.stream_key, gone.stream_key]) and not report.orphans

    back = store.get(engine, sub.uuid)
    assert back is not None and (back.account_id, back.user_id, back.user_name, back.deleted_at) == (owner.account_id, "u1", "User One", None)
    assert abs(back.created_at.replace(tzinfo=UTC) - sub.created_at.replace(tzinfo=UTC)) < timedelta(seconds=1)
    closed = store.get(engine, gone.uuid)
    assert closed is not None and closed.deleted_at is not None and closed.delete_reason == "unsubscribed"
    # what the stream still holds is read again: its events went down with the old SQL store
    assert client.xinfo_groups(sub.stream_key)[0]["last-delivered-id"] == "0-0"
    again = run(stream_redis_url, lambda reg: subscriptions.sync(engine, reg, "ftel", scan_streams=True))
    assert not again.changed()


def test_sql_only_subscriptions_are_written_back_to_redis(engine: Engine, sql_settings: Settings,
                                                          stream_redis_url: str) -> None:  # noqa: F811
    owner = principal(engine)
    sub = run(stream_redis_url, lambda reg: subscriptions.create(engine, reg, sql_settings, owner, "u1", None, "redis"))
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.flushdb()  # Redis lost everything
    report = run(stream_redis_url, lambda reg: subscriptions.sync(engine, reg, "ftel", scan_streams=True))
    assert report.restored_to_registry == [sub.stream_key] and report.streams_recreated == [sub.stream_key]
    record = json.loads(client.hget("ft:streams", sub.stream_key))
    assert (record["owner"], record["user_id"], record["deleted"]) == (owner.uuid, "u1", None)
    assert client.xinfo_groups(sub.stream_key)[0]["name"] == "ftel"


def test_a_deletion_on_either_side_wins(engine: Engine, sql_settings: Settings, stream_redis_url: str) -> None:  # noqa: F811
    owner = principal(engine)
    a = run(stream_redis_url, lambda reg: subscriptions.create(engine, reg, sql_settings, owner, "a", None, "redis"))
    b = run(stream_redis_url, lambda reg: subscriptions.create(engine, reg, sql_settings, owner, "b", None, "redis"))
    store.soft_delete(engine, [a.uuid], "unsubscribed", datetime.now(UTC))  # deleted in SQL only

    async def delete_in_registry(reg: Registry) -> None:
        record = await reg.get(b.stream_key)
        assert record is not None
        from dataclasses import replace

        await reg.put(replace(record, deleted=datetime.now(UTC).isoformat(), reason="idle"))

    run(stream_redis_url, delete_in_registry)
    report = run(stream_redis_url, lambda reg: subscriptions.sync(engine, reg, "ftel", scan_streams=False))
    assert report.closed_in_registry == [a.stream_key] and report.closed_in_sql == [b.stream_key]
    row = store.get(engine, b.uuid)
    assert row is not None and row.delete_reason == "idle"
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    assert json.loads(client.hget("ft:streams", a.stream_key))["reason"] == "unsubscribed"


def test_a_stream_nobody_knows_is_restored_without_an_owner(engine: Engine, stream_redis_url: str) -> None:  # noqa: F811
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd("ft:s:orphan-1", {"event": "{}"})
    report = run(stream_redis_url, lambda reg: subscriptions.sync(engine, reg, "ftel", scan_streams=True))
    assert report.orphans == ["ft:s:orphan-1"]
    (row,) = store.live(engine)
    assert (row.stream_key, row.account_id, row.user_id) == ("ft:s:orphan-1", None, "unknown")
    assert client.xinfo_groups("ft:s:orphan-1")[0]["name"] == "ftel"


def test_idle_expiry_closes_quiet_streams_but_never_one_with_unread_entries(engine: Engine, sql_settings: Settings,
                                                                            stream_redis_url: str) -> None:  # noqa: F811
    owner = principal(engine)
    settings = sql_settings.model_copy(update={"subscription_idle_minutes": 1.0})
    made = [run(stream_redis_url, lambda reg, u=u: subscriptions.create(engine, reg, settings, owner, u, None, "redis"))
            for u in ("quiet", "backlog", "recent")]
    quiet, backlog, recent = made
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd(backlog.stream_key, {"event": "{}"}, id="1000-0")  # an old entry nobody read yet
    client.xadd(recent.stream_key, {"event": "{}"})
    later = datetime.now(UTC) + timedelta(minutes=2)
    late_ms = int(later.timestamp() * 1000) - 30_000
    client.xadd(recent.stream_key, {"event": "{}"}, id=f"{late_ms}-0")  # written 30 s before "now"
    closed = run(stream_redis_url, lambda reg: subscriptions.expire_idle(engine, reg, settings, now=later))
    assert closed == [quiet.stream_key]
    row = store.get(engine, quiet.uuid)
    assert row is not None and row.delete_reason == "idle"
    assert json.loads(client.hget("ft:streams", quiet.stream_key))["reason"] == "idle"


def test_trimming_keeps_every_entry_not_yet_acknowledged(stream_redis_url: str) -> None:  # noqa: F811
    stream = "ft:s:trim"

    async def scenario() -> None:
        client = connect(stream_redis_url)
        try:
            source = RedisStreamSource(client, "ftel", "c1")
            source.follow([stream])
            for n in range(10):
                await client.xadd(stream, {"event": json.dumps({"n": n})})
            entries = await source.fetch(6, 100)
            assert len(entries) == 6
            ids = [i for i, _ in await client.xrange(stream)]
            await source.ack([entries[0], entries[1], entries[3]])  # entry 2 stays pending (ack trims too)
            await trim_acknowledged(client, stream)
            # 0 and 1 go; 2 is pending, 3 is acked but after 2, 4 and 5 are pending, 6..9 unread: all kept
            assert [i for i, _ in await client.xrange(stream)] == ids[2:]
            await source.ack(entries[2:] + await source.fetch(10, 100))
            await trim_acknowledged(client, stream)
            assert await client.xlen(stream) == 0
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_an_entry_that_breaks_the_store_is_isolated_from_its_batch(pg_url: str, tmp_path: Path,
                                                                     stream_redis_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """An entry the store cannot take fails alone (then goes to the DLQ after FT_STREAM_MAX_DELIVERIES);
    the other entries of its batch are stored and acknowledged. Validation now rejects every input we
    know to break PostgreSQL (e.g. NUL in a user id), so the store failure is injected here."""
    settings = Settings(data_dir=tmp_path, database_url=pg_url, stream_max_deliveries=1, graph="embedded")
    settings.ensure_data_dir()
    engine = make_engine(settings)
    upgrade(engine)
    graph = EmbeddedGraphStore(settings.graph_dir)
    stream = "ft:s:poison"
    good = [{"type": "log", "trace": "P", "message": f"ok {n}", "time": f"2026-01-01T00:00:0{n}Z"} for n in range(3)]
    poison = {"type": "log", "trace": "P", "user": "u", "message": "breaks the store"}
    import backend.worker.consumer as consumer_module

    real_record = consumer_module.record_events

    def failing_record(engine: Any, graph: Any, raw: list[Any], *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(e, dict) and e.get("message") == "breaks the store" for e in raw):
            raise RuntimeError("store refused the batch")
        return real_record(engine, graph, raw, *args, **kwargs)

    monkeypatch.setattr(consumer_module, "record_events", failing_record)

    async def scenario() -> Any:
        client = connect(stream_redis_url)
        try:
            source = RedisStreamSource(client, "ftel", "c1")
            source.follow([stream])
            for event in (good[0], poison, good[1], good[2]):
                await client.xadd(stream, {"event": json.dumps(event)})
            consumer = StreamConsumer(source, engine, graph, settings, client, lambda _: None)
            outcome = await consumer.handle(await source.fetch(10, 100))
            return outcome, (await client.xpending(stream, "ftel"))["pending"]
        finally:
            await client.aclose()

    try:
        outcome, pending = asyncio.run(scenario())
        assert outcome.stored == 3 and len(outcome.acked) == 3 and pending == 0
        ((entry, reason),) = outcome.dead
        assert entry.events == [poison] and "failed 1 times" in reason
    finally:
        graph.close()
        engine.dispose()
