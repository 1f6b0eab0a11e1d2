"""Subscriptions: open, list, close; idle expiry; and keeping SQL and the Redis registry in step.

SQL holds the durable record; the Redis registry (`ft:streams`) is what every instance sees, and
`ft:control` tells them at once. Either side can be rebuilt from the other (`sync`, in
backend/domain/subscription_sync.py): a record only one side knows is copied over, and a deletion on either
side wins. The registry is passed to each call: its asyncio client belongs to the caller's event loop.

Where the service manages Redis ACLs, each Redis subscription has a writer: a Redis user that may only
`XADD` to its stream (backend/streams/acl.py). Its password is shown once, in the endpoint URL of the
creation answer; SQL and the registry keep its SHA-256, from which `sync` re-creates writers Redis lost.
Closing a subscription deletes its writer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from backend.db.base import AccountStore, SubscriptionRow, SubscriptionStore
from backend.domain.auth import Principal
from backend.domain.ids import uuid7
from backend.domain.subscription_sync import SubscriptionSync, SyncReport, record_of, writer_of
from backend.errors import Conflict, NotFound, Unavailable, Unprocessable
from backend.settings import Settings
from backend.streams import keys
from backend.streams.acl import WriterAcl, new_secret, secret_sha256
from backend.streams.admin import StreamAdmin
from backend.streams.registry import Registry, database, with_credentials, without_password

log = logging.getLogger("ftel.subscriptions")

TRANSPORTS = ("redis", "kafka")


@dataclass(frozen=True)
class Endpoint:
    url: str  # where the app writes: a redis:// URL or Kafka bootstrap servers
    topic: str | None = None  # Kafka: the shared topic (the stream key is the message key)


@dataclass(frozen=True)
class Opened:
    """A subscription just created, with its writer's password (None: no writer), shown to its owner once."""

    sub: SubscriptionRow
    secret: str | None


def endpoint(
    settings: Settings, redis_url: str | None, transport: str, writer: tuple[str, str | None] | None = None
) -> Endpoint:
    """Where apps write; never hands out the server's own Redis password. With `writer` (user, password or
    None), the Redis URL names the subscription's own user instead of any user of the service's URL."""
    if transport == "kafka":
        return Endpoint(settings.kafka_bootstrap or "", settings.kafka_topic)
    url = settings.redis_public_url or without_password(redis_url or "")
    return Endpoint(url if writer is None or not url else with_credentials(url, *writer))


def _created_ms(sub: SubscriptionRow) -> int:
    return int(sub.created_at.timestamp() * 1000)


class Subscriptions:
    def __init__(
        self,
        store: SubscriptionStore,
        accounts: AccountStore,
        settings: Settings,
        redis_url: str | None,
        admin: StreamAdmin | None = None,
        *,
        manage_acl: bool = False,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.settings = settings
        self.redis_url = redis_url  # the service's Redis (None: no stream ingestion in this process)
        self.admin = admin
        self.group = settings.stream_group
        self.manage_acl = manage_acl  # a writer (Redis user) per Redis subscription
        # clients SELECT a database other than 0 on connecting, which the writer must then be allowed
        self._writers_select = database(self.endpoint("redis").url) != 0

    def endpoint(self, transport: str) -> Endpoint:
        return endpoint(self.settings, self.redis_url, transport)

    def endpoint_of(self, sub: SubscriptionRow, secret: str | None = None) -> Endpoint:
        """Where this subscription's app writes; as its writer (with the password when given: at creation)."""
        writer = writer_of(sub) if self.manage_acl else None
        return endpoint(self.settings, self.redis_url, sub.transport, None if writer is None else (writer.user, secret))

    def _acl(self, registry: Registry) -> WriterAcl:
        return WriterAcl(registry.redis, select=self._writers_select)

    def _client_id(self, account_id: int | None) -> str | None:
        return None if account_id is None else self.accounts.client_id(account_id)

    async def open(
        self,
        registry: Registry | None,
        principal: Principal,
        user_id: str | None,
        user_name: str | None,
        transport: str,
    ) -> Opened:
        """SQL first, then the stream with its group, its writer, the registry, then the announcement. If
        Redis fails the SQL row (and the writer) is removed again and the caller gets 503: no half-made
        subscription stays."""
        if transport not in TRANSPORTS:
            raise Unprocessable(f"transport must be one of {', '.join(TRANSPORTS)}")
        if transport == "kafka" and not self.settings.kafka_bootstrap:
            raise Unprocessable("the kafka transport is not enabled on this server (FT_KAFKA_BOOTSTRAP is unset)")
        if registry is None:
            raise Unavailable("stream ingestion needs Redis: set FT_REDIS_URL (or run the all-in-one `ftel serve`)")
        sub_id = str(uuid7())
        secret = new_secret() if transport == "redis" and self.manage_acl else None
        sub = SubscriptionRow(
            uuid=sub_id,
            stream_key=keys.stream_key(sub_id),
            transport=transport,
            account_id=principal.account_id,
            owner_uuid=principal.uuid,
            user_id=user_id or str(uuid7()),
            user_name=user_name,
            created_at=datetime.now(UTC),
            secret_sha256=None if secret is None else secret_sha256(secret),
        )
        sub = await asyncio.to_thread(self.store.insert, sub)
        writer = writer_of(sub)
        try:
            client_id = await asyncio.to_thread(self._client_id, principal.account_id)
            if transport == "redis":
                await registry.ensure_stream(sub.stream_key, self.group)
            if writer is not None:
                await self._acl(registry).grant([writer])
            await registry.put(record_of(sub, client_id))
            await registry.announce("follow", sub.stream_key)
        except Exception as exc:
            await asyncio.to_thread(self.store.remove, sub.uuid)
            if writer is not None:
                try:
                    await self._acl(registry).revoke([writer.user])
                except Exception:
                    pass  # the next sync deletes a writer whose subscription does not exist
            log.warning("subscription %s not created, Redis failed: %s", sub.uuid, exc)
            raise Unavailable("the stream registry (Redis) is unreachable; nothing was created, retry later") from None
        log.info("subscription %s opened: %s for user %s (%s)", sub.uuid, sub.stream_key, sub.user_id, transport)
        return Opened(sub, secret)

    def listed(self, principal: Principal, include_deleted: bool, every_account: bool) -> list[SubscriptionRow]:
        return self.store.listed(None if every_account else principal.account_id, include_deleted)

    def live(self) -> list[SubscriptionRow]:
        return self.store.listed(None, include_deleted=False)

    def get_own(self, principal: Principal, sub_id: str) -> SubscriptionRow:
        sub = self.store.get(sub_id)
        if sub is None or (sub.account_id != principal.account_id and "admin" not in principal.roles):
            raise NotFound(f"no subscription {sub_id!r}")
        return sub

    async def renew_writer(self, registry: Registry | None, principal: Principal, sub_id: str) -> Opened:
        """A new password for a live Redis subscription's writer; the old one stops working at once. For a
        lost password, or a subscription opened before the service managed Redis ACLs (it gets its writer)."""
        sub = await asyncio.to_thread(self.get_own, principal, sub_id)
        if sub.transport != "redis" or not self.manage_acl:
            raise Unprocessable("only Redis subscriptions on a server that manages Redis ACLs have credentials")
        if not sub.live:
            raise Conflict(f"subscription {sub_id!r} is closed")
        if registry is None:
            raise Unavailable("stream ingestion needs Redis: set FT_REDIS_URL")
        secret = new_secret()
        sub = replace(sub, secret_sha256=secret_sha256(secret))
        if not await asyncio.to_thread(self.store.set_secret, sub.uuid, secret_sha256(secret)):
            raise Conflict(f"subscription {sub_id!r} is closed")
        writer = writer_of(sub)
        assert writer is not None
        try:
            await self._acl(registry).grant([writer])
            record = await registry.get(sub.stream_key)
            if record is not None:
                await registry.put(replace(record, secret_sha256=writer.secret_sha256))
        except Exception as exc:  # SQL has the new hash: the next sync gives it to Redis (the old one is void)
            log.warning("subscription %s: new writer password not given to Redis: %s", sub.uuid, exc)
            raise Unavailable("Redis is unreachable; request new credentials again later") from None
        log.info("subscription %s: new writer password", sub.uuid)
        return Opened(sub, secret)

    async def delete(self, registry: Registry | None, principal: Principal, sub_id: str) -> SubscriptionRow:
        """Soft delete (idempotent); every instance stops consuming it."""
        sub = await asyncio.to_thread(self.get_own, principal, sub_id)
        if sub.deleted_at is not None:
            return sub
        if registry is None:
            raise Unavailable("stream ingestion needs Redis: set FT_REDIS_URL")
        await self.close(registry, [sub], "unsubscribed")
        return await asyncio.to_thread(self.get_own, principal, sub_id)

    async def close(self, registry: Registry, subs: list[SubscriptionRow], reason: str) -> list[str]:
        """Soft-delete in SQL, mark deleted in the registry, announce, delete the writer. Returns the stream
        keys closed. A writer left behind (Redis failed here) is deleted by the next sync."""
        now = datetime.now(UTC)
        closed = set(await asyncio.to_thread(self.store.soft_delete, [s.uuid for s in subs], reason, now))
        streams = []
        for sub in subs:
            if sub.uuid not in closed:
                continue
            current = await registry.get(sub.stream_key)
            base = current or record_of(sub, None)
            await registry.put(replace(base, deleted=now.isoformat(), reason=reason))
            await registry.announce("unfollow", sub.stream_key)
            if self.manage_acl and sub.transport == "redis":
                try:
                    await self._acl(registry).revoke([keys.writer_user(sub.uuid)])
                except Exception as exc:  # e.g. no ACL rights: the sync tries again, and says why
                    log.error("subscription %s closed but its Redis writer not deleted: %s", sub.uuid, exc)
            streams.append(sub.stream_key)
            log.info("subscription %s closed (%s)", sub.uuid, reason)
        return streams

    async def expire_idle(self, registry: Registry, now: datetime | None = None) -> list[str]:
        """Close live subscriptions with no new entry for FT_SUBSCRIPTION_IDLE_MINUTES. A stream still
        holding entries not yet stored (pending or unread) is never expired: that would lose them."""
        if self.admin is None:
            return []
        now = now or datetime.now(UTC)
        cutoff_ms = int((now - timedelta(minutes=self.settings.subscription_idle_minutes)).timestamp() * 1000)
        live = await asyncio.to_thread(self.live)
        redis_streams = [s.stream_key for s in live if s.transport == "redis"]
        kafka_keys = [s.stream_key for s in live if s.transport == "kafka"]
        activity = await asyncio.to_thread(self.admin.activity, redis_streams, kafka_keys)
        idle = []
        for sub in live:
            seen = activity.get(sub.stream_key)
            if seen is None or seen.backlog:
                continue
            if max(_created_ms(sub), seen.last_ms) < cutoff_ms:
                idle.append(sub)
        if not idle:
            return []
        closed = await self.close(registry, idle, "idle")
        if closed:
            log.info("expired %d idle subscriptions", len(closed))
        return closed

    # -- SQL ↔ Redis ---------------------------------------------------------------------------------

    async def sync(self, registry: Registry, *, scan_streams: bool) -> SyncReport:
        """Bring SQL, the registry and (where ACLs are managed) the Redis writers in step: `SubscriptionSync`."""
        acl = self._acl(registry) if self.manage_acl else None
        return await SubscriptionSync(self.store, self.accounts, self.group).run(
            registry, acl, scan_streams=scan_streams
        )
