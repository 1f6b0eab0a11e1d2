"""Subscriptions: open, list, close; idle expiry; and keeping SQL and the Redis registry in step.

SQL holds the durable record; the Redis registry (`ft:streams`) is what every instance sees, and
`ft:control` tells them at once. Either side can be rebuilt from the other (`sync`): a record only one
side knows is copied over, and a deletion on either side wins.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from backend.db import subscriptions as store
from backend.db.stream_models import Subscription
from backend.domain.auth import Principal
from backend.domain.errors import NotFound, Unavailable, Unprocessable
from backend.domain.ids import uuid7
from backend.settings import Settings
from backend.streams import keys
from backend.streams.registry import Registry, StreamRecord, without_password

log = logging.getLogger("ftel.subscriptions")

TRANSPORTS = ("redis", "kafka")
UNKNOWN_USER = "unknown"


@dataclass(frozen=True)
class Endpoint:
    url: str  # where the app writes: a redis:// URL or Kafka bootstrap servers
    topic: str | None = None  # Kafka: the shared topic (the stream key is the message key)


def endpoint(settings: Settings, redis_url: str | None, transport: str) -> Endpoint:
    """Where apps write; never hands out the server's own Redis password."""
    if transport == "kafka":
        return Endpoint(settings.kafka_bootstrap or "", settings.kafka_topic)
    if settings.redis_public_url:
        return Endpoint(settings.redis_public_url)
    return Endpoint(without_password(redis_url or ""))


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def record_of(sub: Subscription, owner_client_id: str | None) -> StreamRecord:
    return StreamRecord(id=sub.uuid, stream=sub.stream_key, transport=sub.transport, user_id=sub.user_id,
                        user_name=sub.user_name, owner=sub.owner_uuid, owner_client_id=owner_client_id,
                        created=_iso(sub.created_at) or "", deleted=_iso(sub.deleted_at), reason=sub.delete_reason)


async def create(engine: Engine, registry: Registry | None, settings: Settings, principal: Principal,
                 user_id: str | None, user_name: str | None, transport: str) -> Subscription:
    """SQL first, then the registry and the stream with its group, then the announcement. If Redis
    fails the SQL row is removed again and the caller gets 503: no half-made subscription stays."""
    if transport not in TRANSPORTS:
        raise Unprocessable(f"transport must be one of {', '.join(TRANSPORTS)}")
    if transport == "kafka" and not settings.kafka_bootstrap:
        raise Unprocessable("the kafka transport is not enabled on this server (FT_KAFKA_BOOTSTRAP is unset)")
    if registry is None:
        raise Unavailable("stream ingestion needs Redis: set FT_REDIS_URL (or run the all-in-one `ftel serve`)")
    sub_id = str(uuid7())
    sub = Subscription(uuid=sub_id, stream_key=keys.stream_key(sub_id), transport=transport,
                       account_id=principal.account_id, owner_uuid=principal.uuid,
                       user_id=user_id or str(uuid7()), user_name=user_name)
    await asyncio.to_thread(store.insert, engine, sub)
    try:
        client_id = await asyncio.to_thread(store.account_client_id, engine, principal.account_id)
        if transport == "redis":
            await registry.ensure_stream(sub.stream_key, settings.stream_group)
        await registry.put(record_of(sub, client_id))
        await registry.announce("follow", sub.stream_key)
    except Exception as exc:
        await asyncio.to_thread(store.remove, engine, sub.uuid)
        log.warning("subscription %s not created, Redis failed: %s", sub.uuid, exc)
        raise Unavailable("the stream registry (Redis) is unreachable; nothing was created, retry later") from None
    log.info("subscription %s opened: %s for user %s (%s)", sub.uuid, sub.stream_key, sub.user_id, transport)
    return sub


def listed(engine: Engine, principal: Principal, include_deleted: bool, every_account: bool) -> list[Subscription]:
    return store.listed(engine, None if every_account else principal.account_id, include_deleted)


def get_own(engine: Engine, principal: Principal, sub_id: str) -> Subscription:
    sub = store.get(engine, sub_id)
    if sub is None or (sub.account_id != principal.account_id and "admin" not in principal.roles):
        raise NotFound(f"no subscription {sub_id!r}")
    return sub


async def delete(engine: Engine, registry: Registry | None, principal: Principal, sub_id: str) -> Subscription:
    """Soft delete (idempotent); every instance stops consuming it."""
    sub = await asyncio.to_thread(get_own, engine, principal, sub_id)
    if sub.deleted_at is not None:
        return sub
    if registry is None:
        raise Unavailable("stream ingestion needs Redis: set FT_REDIS_URL")
    await close(engine, registry, [sub], "unsubscribed")
    return await asyncio.to_thread(get_own, engine, principal, sub_id)


async def close(engine: Engine, registry: Registry, subs: list[Subscription], reason: str) -> list[str]:
    """Soft-delete in SQL, mark deleted in the registry, announce. Returns the stream keys closed."""
    now = datetime.now(UTC)
    closed = set(await asyncio.to_thread(store.soft_delete, engine, [s.uuid for s in subs], reason, now))
    streams = []
    for sub in subs:
        if sub.uuid not in closed:
            continue
        current = await registry.get(sub.stream_key)
        base = current or record_of(sub, None)
        await registry.put(replace(base, deleted=now.isoformat(), reason=reason))
        await registry.announce("unfollow", sub.stream_key)
        streams.append(sub.stream_key)
        log.info("subscription %s closed (%s)", sub.uuid, reason)
    return streams


# -- idle expiry ---------------------------------------------------------------------------------


async def expire_idle(engine: Engine, registry: Registry, settings: Settings, now: datetime | None = None) -> list[str]:
    """Close live subscriptions with no new entry for FT_SUBSCRIPTION_IDLE_MINUTES. A stream still
    holding entries not yet stored (pending or unread) is never expired: that would lose them."""
    now = now or datetime.now(UTC)
    cutoff_ms = int((now - timedelta(minutes=settings.subscription_idle_minutes)).timestamp() * 1000)
    live = await asyncio.to_thread(store.live, engine)
    redis = registry.redis
    idle: list[Subscription] = []
    redis_subs = [s for s in live if s.transport == "redis"]
    kafka_subs = [s for s in live if s.transport == "kafka"]
    if redis_subs:
        async with redis.pipeline(transaction=False) as pipe:
            for sub in redis_subs:
                pipe.xinfo_stream(sub.stream_key)
                pipe.xinfo_groups(sub.stream_key)
            replies = await pipe.execute(raise_on_error=False)
        for i, sub in enumerate(redis_subs):
            info, groups = replies[2 * i], replies[2 * i + 1]
            last_ms = _created_ms(sub)
            backlog = False
            if not isinstance(info, Exception):
                last_id = str(info.get("last-generated-id") or "0-0")
                last_ms = max(last_ms, int(last_id.partition("-")[0]))
                if not isinstance(groups, Exception):
                    backlog = any(int(g.get("pending") or 0) > 0 or _id_tuple(str(g.get("last-delivered-id") or "0-0")) < _id_tuple(last_id)
                                  for g in groups)
            if last_ms < cutoff_ms and not backlog:
                idle.append(sub)
    if kafka_subs:
        seen = await redis.hmget(keys.ACTIVITY, [s.stream_key for s in kafka_subs])  # type: ignore[misc]
        for sub, stamp in zip(kafka_subs, seen, strict=True):
            if max(_created_ms(sub), int(stamp or 0)) < cutoff_ms:
                idle.append(sub)
    if not idle:
        return []
    return await close(engine, registry, idle, "idle")


def _created_ms(sub: Subscription) -> int:
    created = sub.created_at if sub.created_at.tzinfo else sub.created_at.replace(tzinfo=UTC)
    return int(created.timestamp() * 1000)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)


# -- SQL ↔ Redis -----------------------------------------------------------------------------------


@dataclass
class SyncReport:
    restored_to_sql: list[str] = field(default_factory=list)
    restored_to_registry: list[str] = field(default_factory=list)
    streams_recreated: list[str] = field(default_factory=list)
    closed_in_sql: list[str] = field(default_factory=list)
    closed_in_registry: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    def changed(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def as_json(self) -> dict[str, Any]:
        return {name: list(getattr(self, name)) for name in self.__dataclass_fields__}


def _row(record: StreamRecord, by_uuid: dict[str, int], by_client: dict[str, int]) -> dict[str, Any]:
    account_id = by_uuid.get(record.owner or "") or by_client.get(record.owner_client_id or "")
    created = _parse(record.created) or datetime.now(UTC)
    return {"uuid": record.id, "stream_key": record.stream, "transport": record.transport, "account_id": account_id,
            "owner_uuid": record.owner, "user_id": record.user_id or UNKNOWN_USER, "user_name": record.user_name,
            "created_at": created, "deleted_at": _parse(record.deleted), "delete_reason": record.reason}


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def sync(engine: Engine, registry: Registry, group: str, *, scan_streams: bool) -> SyncReport:
    """Bring SQL and the registry to the same set of subscriptions.

    * registry-only records are restored into SQL (the SQL store was lost), owners re-linked by account
      uuid or client id; a restored live Redis stream is re-read from its start, since the events it
      delivered before went down with the old SQL store (the event log's dedup absorbs repeats);
    * SQL-only rows are written back to the registry (Redis was lost), their streams recreated;
    * a deletion on either side is applied to the other;
    * with `scan_streams`, `ft:s:*` streams no record knows (registry and SQL both lost) are restored
      as owner-less subscriptions, so what they hold is still ingested.
    Registry first, then SQL: a subscription being created is in SQL before it is in the registry.
    """
    report = SyncReport()
    records = await registry.all()
    rows = await asyncio.to_thread(store.by_stream, engine)

    restore = [r for s, r in records.items() if s not in rows]
    if scan_streams:
        present = await registry.streams_in_redis()
        for stream in sorted(present - records.keys() - rows.keys()):
            orphan = StreamRecord(id=keys.subscription_id(stream), stream=stream, transport="redis", user_id=UNKNOWN_USER,
                                  user_name=None, owner=None, owner_client_id=None, created=datetime.now(UTC).isoformat())
            await registry.put(orphan)
            restore.append(orphan)
            report.orphans.append(stream)
            log.warning("stream %s had no subscription record anywhere; restored without an owner", stream)
        for sub in rows.values():
            if sub.deleted_at is None and sub.transport == "redis" and sub.stream_key not in present:
                await registry.ensure_stream(sub.stream_key, group)
                report.streams_recreated.append(sub.stream_key)
    if restore:
        by_uuid, by_client = await asyncio.to_thread(
            store.account_ids, engine, {r.owner for r in restore if r.owner}, {r.owner_client_id for r in restore if r.owner_client_id})
        await asyncio.to_thread(store.restore, engine, [_row(r, by_uuid, by_client) for r in restore])
        for record in restore:
            report.restored_to_sql.append(record.stream)
            if record.live and record.transport == "redis":
                await registry.replay_from_start(record.stream, group)
                await registry.announce("follow", record.stream)
        log.warning("restored %d subscriptions from the Redis registry into SQL", len(restore))

    for stream, sub in rows.items():
        known = records.get(stream)
        if known is None:
            client_id = await asyncio.to_thread(store.account_client_id, engine, sub.account_id) if sub.account_id else None
            await registry.put(record_of(sub, client_id))
            if sub.deleted_at is None:
                if sub.transport == "redis":
                    await registry.ensure_stream(stream, group)
                await registry.announce("follow", stream)
            report.restored_to_registry.append(stream)
        elif known.live and sub.deleted_at is not None:
            await registry.put(replace(known, deleted=_iso(sub.deleted_at), reason=sub.delete_reason))
            await registry.announce("unfollow", stream)
            report.closed_in_registry.append(stream)
        elif not known.live and sub.deleted_at is None:
            at = _parse(known.deleted) or datetime.now(UTC)
            await asyncio.to_thread(store.soft_delete, engine, [sub.uuid], known.reason or "unsubscribed", at)
            report.closed_in_sql.append(stream)
    if report.changed():
        log.info("subscriptions reconciled: %s", {k: len(v) for k, v in report.as_json().items() if v})
    return report
