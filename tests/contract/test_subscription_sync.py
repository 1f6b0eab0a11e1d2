"""SQL and the Redis registry kept in step (`Subscriptions.sync`), idle expiry, and trimming — on SQLite
and PostgreSQL, against the real test Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from sqlalchemy import Engine

from backend.bootstrap import Role, async_redis, build, sync_redis
from backend.db.accounts import SqlAccounts
from backend.db.subscriptions import SqlSubscriptions
from backend.domain.subscriptions import Subscriptions
from backend.settings import Settings
from backend.streams.admin import StreamAdmin
from backend.streams.redis import RedisStreamSource, trim_acknowledged
from backend.streams.registry import Registry
from backend.worker.consumer import StreamConsumer
from tests.stream_fixtures import principal, run


@pytest.fixture
def store(sql_engine: Engine) -> SqlSubscriptions:
    return SqlSubscriptions(sql_engine)


def service(engine: Engine, settings: Settings, redis_url: str) -> Subscriptions:
    admin = StreamAdmin(sync_redis(redis_url), settings.stream_group)
    return Subscriptions(SqlSubscriptions(engine), SqlAccounts(engine), settings, redis_url, admin)


@pytest.fixture
def subs(sql_engine: Engine, sql_settings: Settings, stream_redis_url: str) -> Subscriptions:
    return service(sql_engine, sql_settings, stream_redis_url)


def test_registry_only_subscriptions_are_restored_into_sql_and_replayed(
    sql_engine: Engine, subs: Subscriptions, store: SqlSubscriptions, stream_redis_url: str
) -> None:
    owner = principal(sql_engine)
    sub = run(stream_redis_url, lambda reg: subs.open(reg, owner, "u1", "User One", "redis")).sub
    gone = run(stream_redis_url, lambda reg: subs.open(reg, owner, "u2", None, "redis")).sub
    run(stream_redis_url, lambda reg: subs.close(reg, [gone], "unsubscribed"))
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd(sub.stream_key, {"event": "{}"})
    client.xreadgroup("ftel", "c", {sub.stream_key: ">"})
    client.xack(sub.stream_key, "ftel", client.xrange(sub.stream_key)[0][0])
    assert client.xinfo_groups(sub.stream_key)[0]["last-delivered-id"] != "0-0"

    for row in (sub, gone):  # the SQL store loses its subscriptions
        store.remove(row.uuid)
    report = run(stream_redis_url, lambda reg: subs.sync(reg, scan_streams=True))
    assert sorted(report.restored_to_sql) == sorted([sub.stream_key, gone.stream_key]) and not report.orphans

    back = store.get(sub.uuid)
    assert back is not None and (back.account_id, back.user_id, back.user_name, back.deleted_at) == (
        owner.account_id,
        "u1",
        "User One",
        None,
    )
    assert abs(back.created_at.replace(tzinfo=UTC) - sub.created_at.replace(tzinfo=UTC)) < timedelta(seconds=1)
    closed = store.get(gone.uuid)
    assert closed is not None and closed.deleted_at is not None and closed.delete_reason == "unsubscribed"
    # what the stream still holds is read again: its events went down with the old SQL store
    assert client.xinfo_groups(sub.stream_key)[0]["last-delivered-id"] == "0-0"
    again = run(stream_redis_url, lambda reg: subs.sync(reg, scan_streams=True))
    assert not again.changed()


def test_sql_only_subscriptions_are_written_back_to_redis(
    sql_engine: Engine, subs: Subscriptions, store: SqlSubscriptions, stream_redis_url: str
) -> None:
    owner = principal(sql_engine)
    sub = run(stream_redis_url, lambda reg: subs.open(reg, owner, "u1", None, "redis")).sub
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.flushdb()  # Redis lost everything
    report = run(stream_redis_url, lambda reg: subs.sync(reg, scan_streams=True))
    assert report.restored_to_registry == [sub.stream_key] and report.streams_recreated == [sub.stream_key]
    record = json.loads(client.hget("ft:streams", sub.stream_key))
    assert (record["owner"], record["user_id"], record["deleted"]) == (owner.uuid, "u1", None)
    assert client.xinfo_groups(sub.stream_key)[0]["name"] == "ftel"


def test_a_deletion_on_either_side_wins(
    sql_engine: Engine, subs: Subscriptions, store: SqlSubscriptions, stream_redis_url: str
) -> None:
    owner = principal(sql_engine)
    a = run(stream_redis_url, lambda reg: subs.open(reg, owner, "a", None, "redis")).sub
    b = run(stream_redis_url, lambda reg: subs.open(reg, owner, "b", None, "redis")).sub
    store.soft_delete([a.uuid], "unsubscribed", datetime.now(UTC))  # deleted in SQL only

    async def delete_in_registry(reg: Registry) -> None:
        record = await reg.get(b.stream_key)
        assert record is not None
        from dataclasses import replace

        await reg.put(replace(record, deleted=datetime.now(UTC).isoformat(), reason="idle"))

    run(stream_redis_url, delete_in_registry)
    report = run(stream_redis_url, lambda reg: subs.sync(reg, scan_streams=False))
    assert report.closed_in_registry == [a.stream_key] and report.closed_in_sql == [b.stream_key]
    row = store.get(b.uuid)
    assert row is not None and row.delete_reason == "idle"
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    assert json.loads(client.hget("ft:streams", a.stream_key))["reason"] == "unsubscribed"


def test_a_stream_nobody_knows_is_restored_without_an_owner(
    subs: Subscriptions, store: SqlSubscriptions, stream_redis_url: str
) -> None:
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd("ft:s:orphan-1", {"event": "{}"})
    report = run(stream_redis_url, lambda reg: subs.sync(reg, scan_streams=True))
    assert report.orphans == ["ft:s:orphan-1"]
    (row,) = store.listed(None, include_deleted=False)
    assert (row.stream_key, row.account_id, row.user_id) == ("ft:s:orphan-1", None, "unknown")
    assert client.xinfo_groups("ft:s:orphan-1")[0]["name"] == "ftel"


def test_idle_expiry_closes_quiet_streams_but_never_one_with_unread_entries(
    sql_engine: Engine, subs: Subscriptions, store: SqlSubscriptions, stream_redis_url: str
) -> None:
    owner = principal(sql_engine)
    idle = service(sql_engine, subs.settings.model_copy(update={"subscription_idle_minutes": 1.0}), stream_redis_url)
    made = [
        run(stream_redis_url, lambda reg, u=u: idle.open(reg, owner, u, None, "redis")).sub
        for u in ("quiet", "backlog", "recent")
    ]
    quiet, backlog, recent = made
    client = redis_sync.Redis.from_url(stream_redis_url, decode_responses=True)
    client.xadd(backlog.stream_key, {"event": "{}"}, id="1000-0")  # an old entry nobody read yet
    client.xadd(recent.stream_key, {"event": "{}"})
    later = datetime.now(UTC) + timedelta(minutes=2)
    late_ms = int(later.timestamp() * 1000) - 30_000
    client.xadd(recent.stream_key, {"event": "{}"}, id=f"{late_ms}-0")  # written 30 s before "now"
    closed = run(stream_redis_url, lambda reg: idle.expire_idle(reg, now=later))
    assert closed == [quiet.stream_key]
    row = store.get(quiet.uuid)
    assert row is not None and row.delete_reason == "idle"
    assert json.loads(client.hget("ft:streams", quiet.stream_key))["reason"] == "idle"


def test_trimming_keeps_every_entry_not_yet_acknowledged(stream_redis_url: str) -> None:
    stream = "ft:s:trim"

    async def scenario() -> None:
        client = async_redis(stream_redis_url)
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


def test_entries_that_break_the_store_are_isolated_from_their_batch(
    pg_url: str, tmp_path: Path, stream_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries the store cannot take fail alone (then go to the DLQ after FT_STREAM_MAX_DELIVERIES); the
    other entries of their batch are stored and acknowledged. Two entries failing the same way do not make
    the consumer think the store is down (it asks the store). Validation now rejects every input we know
    to break PostgreSQL (e.g. NUL in a user id), so the store failure is injected here."""
    settings = Settings(data_dir=tmp_path, database_url=pg_url, stream_max_deliveries=1, graph="embedded")
    process = build(settings, Role.admin)  # SQL only: the consumer's store failure is what this is about
    stream = "ft:s:poison"
    good = [{"type": "log", "trace": "P", "message": f"ok {n}", "time": f"2026-01-01T00:00:0{n}Z"} for n in range(3)]
    poison = {"type": "log", "trace": "P", "user": "u", "message": "breaks the store"}
    real_admit = process.ingest.admit

    def failing_admit(raw: list[Any], *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(e, dict) and e.get("message") == "breaks the store" for e in raw):
            raise RuntimeError("store refused the batch")
        return real_admit(raw, *args, **kwargs)

    monkeypatch.setattr(process.ingest, "admit", failing_admit)

    async def scenario() -> Any:
        client = async_redis(stream_redis_url)
        try:
            source = RedisStreamSource(client, "ftel", "c1")
            source.follow([stream])
            for event in (good[0], poison, poison, good[1], good[2]):
                await client.xadd(stream, {"event": json.dumps(event)})
            consumer = StreamConsumer(source, process.ingest, settings, client, lambda _: None)
            outcome = await consumer.handle(await source.fetch(10, 100))
            return outcome, (await client.xpending(stream, "ftel"))["pending"]
        finally:
            await client.aclose()

    try:
        outcome, pending = asyncio.run(scenario())
        assert outcome.stored == 3 and len(outcome.acked) == 3 and pending == 0
        assert len(outcome.dead) == 2 and not outcome.released
        for entry, reason in outcome.dead:
            assert entry.events == [poison] and "failed 1 times" in reason
    finally:
        process.close()


def test_a_batch_meeting_a_store_outage_is_released_whole(
    pg_url: str, tmp_path: Path, stream_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the batch fails and the event log does not answer the probe, no entry is blamed: all are
    released for redelivery, none dead-lettered, and the consumer backs off (StoreFailed)."""
    from backend.errors import SqlUnavailable
    from backend.worker.consumer import StoreFailed

    settings = Settings(data_dir=tmp_path, database_url=pg_url, stream_max_deliveries=3, graph="embedded")
    process = build(settings, Role.admin)
    stream = "ft:s:outage"

    def down(*_: Any, **__: Any) -> Any:
        raise SqlUnavailable("event log unreachable")

    monkeypatch.setattr(process.ingest, "admit", down)
    monkeypatch.setattr(process.ingest, "probe", down)

    async def scenario() -> tuple[bool, int]:
        client = async_redis(stream_redis_url)
        try:
            source = RedisStreamSource(client, "ftel", "c1")
            source.follow([stream])
            for n in range(4):
                await client.xadd(stream, {"event": json.dumps({"type": "log", "trace": "O", "message": f"m{n}"})})
            consumer = StreamConsumer(source, process.ingest, settings, client, lambda _: None)
            entries = await source.fetch(10, 100)
            try:
                await consumer.handle(entries)
            except StoreFailed:
                backed_off = True
            else:
                backed_off = False
            return backed_off, await client.xlen("ft:dlq")
        finally:
            await client.aclose()

    try:
        backed_off, dead = asyncio.run(scenario())
        assert backed_off and dead == 0
    finally:
        process.close()
