"""Keeping SQL, the Redis registry and the Redis writers of subscriptions in step (`SubscriptionSync.run`):
at start, on every refresh and on every reconcile tick. Either side can be rebuilt from the other: a record only
one side knows is copied over, and a deletion on either side wins; Redis holds exactly the writers of the live
subscriptions, re-created from their stored hashes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from backend.db.base import AccountStore, SubscriptionRow, SubscriptionStore
from backend.streams import keys
from backend.streams.acl import Writer, WriterAcl
from backend.streams.registry import Registry, StreamRecord

log = logging.getLogger("ftel.subscriptions")

UNKNOWN_USER = "unknown"


@dataclass
class SyncReport:
    restored_to_sql: list[str] = field(default_factory=list)
    restored_to_registry: list[str] = field(default_factory=list)
    streams_recreated: list[str] = field(default_factory=list)
    closed_in_sql: list[str] = field(default_factory=list)
    closed_in_registry: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    writers_granted: list[str] = field(default_factory=list)  # Redis users re-created (Redis lost them)
    writers_revoked: list[str] = field(default_factory=list)  # Redis users of closed or unknown subscriptions

    def changed(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def as_json(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in self.__dataclass_fields__}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_of(sub: SubscriptionRow, owner_client_id: str | None) -> StreamRecord:
    return StreamRecord(
        id=sub.uuid,
        stream=sub.stream_key,
        transport=sub.transport,
        user_id=sub.user_id,
        user_name=sub.user_name,
        owner=sub.owner_uuid,
        owner_client_id=owner_client_id,
        created=_iso(sub.created_at) or "",
        deleted=_iso(sub.deleted_at),
        reason=sub.delete_reason,
        secret_sha256=sub.secret_sha256,
    )


def writer_of(sub: SubscriptionRow) -> Writer | None:
    if sub.transport != "redis" or sub.secret_sha256 is None:
        return None
    return Writer(keys.writer_user(sub.uuid), sub.stream_key, sub.secret_sha256)


class SubscriptionSync:
    """One pass over SQL, the registry and the writers (`Subscriptions.sync` makes one per call)."""

    def __init__(self, store: SubscriptionStore, accounts: AccountStore, group: str) -> None:
        self.store = store
        self.accounts = accounts
        self.group = group

    def _row(self, record: StreamRecord, by_uuid: dict[str, int], by_client: dict[str, int]) -> SubscriptionRow:
        account_id = by_uuid.get(record.owner or "") or by_client.get(record.owner_client_id or "")
        return SubscriptionRow(
            uuid=record.id,
            stream_key=record.stream,
            transport=record.transport,
            account_id=account_id,
            owner_uuid=record.owner,
            user_id=record.user_id or UNKNOWN_USER,
            user_name=record.user_name,
            created_at=_parse(record.created) or datetime.now(UTC),
            deleted_at=_parse(record.deleted),
            delete_reason=record.reason,
            secret_sha256=record.secret_sha256,
        )

    async def run(self, registry: Registry, acl: WriterAcl | None, *, scan_streams: bool) -> SyncReport:
        """Bring SQL and the registry to the same set of subscriptions.

        * registry-only records are restored into SQL (the SQL store was lost), owners re-linked by account
          uuid or client id; a restored live Redis stream is re-read from its start, since the events it
          delivered before went down with the old SQL store (the event log's dedup absorbs repeats);
        * SQL-only rows are written back to the registry (Redis was lost), their streams recreated;
        * a deletion on either side is applied to the other;
        * with `scan_streams`, `ft:s:*` streams no record knows (registry and SQL both lost) are restored
          as owner-less subscriptions, so what they hold is still ingested;
        * with `acl` (the service manages Redis ACLs), Redis is left holding exactly the live writers.
        Registry first, then SQL: a subscription being created is in SQL before it is in the registry.
        """
        group = self.group
        report = SyncReport()
        records = await registry.all()
        rows = {s.stream_key: s for s in await asyncio.to_thread(self.store.listed, None, True)}

        restore = [r for s, r in records.items() if s not in rows]
        if scan_streams:
            present = await registry.streams_in_redis()
            for stream in sorted(present - records.keys() - rows.keys()):
                orphan = StreamRecord(
                    id=keys.subscription_id(stream),
                    stream=stream,
                    transport="redis",
                    user_id=UNKNOWN_USER,
                    user_name=None,
                    owner=None,
                    owner_client_id=None,
                    created=datetime.now(UTC).isoformat(),
                )
                await registry.put(orphan)
                restore.append(orphan)
                report.orphans.append(stream)
                log.warning("stream %s had no subscription record anywhere; restored without an owner", stream)
            for sub in rows.values():
                if sub.live and sub.transport == "redis" and sub.stream_key not in present:
                    await registry.ensure_stream(sub.stream_key, group)
                    report.streams_recreated.append(sub.stream_key)
        if restore:
            by_uuid, by_client = await asyncio.to_thread(
                self.accounts.ids_for,
                {r.owner for r in restore if r.owner},
                {r.owner_client_id for r in restore if r.owner_client_id},
            )
            await asyncio.to_thread(self.store.restore, [self._row(r, by_uuid, by_client) for r in restore])
            for record in restore:
                report.restored_to_sql.append(record.stream)
                if record.live and record.transport == "redis":
                    await registry.replay_from_start(record.stream, group)
                    await registry.announce("follow", record.stream)
            log.warning("restored %d subscriptions from the Redis registry into SQL", len(restore))

        for stream, sub in rows.items():
            known = records.get(stream)
            if known is None:
                client_id = (
                    None if sub.account_id is None else await asyncio.to_thread(self.accounts.client_id, sub.account_id)
                )
                await registry.put(record_of(sub, client_id))
                if sub.live:
                    if sub.transport == "redis":
                        await registry.ensure_stream(stream, group)
                    await registry.announce("follow", stream)
                report.restored_to_registry.append(stream)
            elif known.live and not sub.live:
                await registry.put(replace(known, deleted=_iso(sub.deleted_at), reason=sub.delete_reason))
                await registry.announce("unfollow", stream)
                report.closed_in_registry.append(stream)
            elif not known.live and sub.live:
                at = _parse(known.deleted) or datetime.now(UTC)
                await asyncio.to_thread(self.store.soft_delete, [sub.uuid], known.reason or "unsubscribed", at)
                report.closed_in_sql.append(stream)
        if acl is not None:
            await self._sync_writers(acl, report)
        if report.changed():
            log.info("subscriptions reconciled: %s", {k: len(v) for k, v in report.as_json().items() if v})
        return report

    async def _sync_writers(self, acl: WriterAcl, report: SyncReport) -> None:
        """Exactly the writers of live Redis subscriptions, each with its stored hash: re-create those Redis
        lost (a restart) and delete the others. Redis's list is read before SQL: a subscription being created
        is in SQL before its writer exists, and one being closed is closed in SQL before its writer goes, so
        neither is mistaken for a leftover."""
        granted = await acl.granted()
        if granted is None:
            return
        rows = await asyncio.to_thread(self.store.listed, None, False)
        wanted = {w.user: w for w in map(writer_of, rows) if w is not None}
        grant = [w for user, w in wanted.items() if granted.get(user, "") != w.secret_sha256]
        revoke = sorted(set(granted) - wanted.keys())
        try:
            await acl.grant(grant)
            await acl.revoke(revoke)
        except Exception as exc:  # the rest of the sync stands; the next one tries again
            log.error("Redis writers not brought in step (%d to grant, %d to delete): %s", len(grant), len(revoke), exc)
            return
        report.writers_granted.extend(w.user for w in grant)
        report.writers_revoked.extend(revoke)
        if grant:
            log.warning("re-created %d Redis writer users Redis did not have", len(grant))
