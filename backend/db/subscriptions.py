"""Subscriptions on SQL: the durable copy of the Redis registry `ft:streams`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.base import SubscriptionRow
from backend.db.engine import translated, utc
from backend.db.models import TABLES

SUBSCRIPTIONS = TABLES["subscriptions"]
S = SUBSCRIPTIONS.c


def _subscription(row: Any) -> SubscriptionRow:
    return SubscriptionRow(
        uuid=row.uuid,
        stream_key=row.stream_key,
        transport=row.transport,
        account_id=int(row.account_id) if row.account_id is not None else None,
        owner_uuid=row.owner_uuid,
        user_id=row.user_id,
        user_name=row.user_name,
        created_at=utc(row.created_at),
        deleted_at=utc(row.deleted_at) if row.deleted_at else None,
        delete_reason=row.delete_reason,
        secret_sha256=row.secret_sha256,
        id=int(row.id),
    )


def _values(sub: SubscriptionRow) -> dict[str, Any]:
    return {
        "uuid": sub.uuid,
        "stream_key": sub.stream_key,
        "transport": sub.transport,
        "account_id": sub.account_id,
        "owner_uuid": sub.owner_uuid,
        "user_id": sub.user_id,
        "user_name": sub.user_name,
        "created_at": sub.created_at,
        "deleted_at": sub.deleted_at,
        "delete_reason": sub.delete_reason,
        "secret_sha256": sub.secret_sha256,
    }


class SqlSubscriptions:
    """SubscriptionStore (backend.db.base) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._restore = dialect.insert(SUBSCRIPTIONS).on_conflict_do_nothing().returning(S.id)

    @translated
    def insert(self, sub: SubscriptionRow) -> SubscriptionRow:
        with self.engine.begin() as conn:
            row = conn.execute(SUBSCRIPTIONS.insert().returning(*SUBSCRIPTIONS.c), _values(sub)).one()
        return _subscription(row)

    @translated
    def remove(self, uuid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(SUBSCRIPTIONS.delete().where(S.uuid == uuid))

    @translated
    def get(self, uuid: str) -> SubscriptionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(SUBSCRIPTIONS).where(S.uuid == uuid)).first()
        return _subscription(row) if row else None

    @translated
    def listed(self, account_id: int | None, include_deleted: bool) -> list[SubscriptionRow]:
        stmt = select(SUBSCRIPTIONS)
        if account_id is not None:
            stmt = stmt.where(S.account_id == account_id)
        if not include_deleted:
            stmt = stmt.where(S.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return [_subscription(r) for r in conn.execute(stmt.order_by(S.id))]

    @translated
    def soft_delete(self, uuids: Sequence[str], reason: str, at: datetime) -> list[str]:
        if not uuids:
            return []
        with self.engine.begin() as conn:
            live = [
                str(u)
                for u in conn.execute(select(S.uuid).where(S.uuid.in_(list(uuids)), S.deleted_at.is_(None))).scalars()
            ]
            if live:
                conn.execute(
                    update(SUBSCRIPTIONS)
                    .where(S.uuid.in_(live), S.deleted_at.is_(None))
                    .values(deleted_at=at, delete_reason=reason)
                )
        return live

    @translated
    def set_secret(self, uuid: str, secret_sha256: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(SUBSCRIPTIONS)
                .where(S.uuid == uuid, S.deleted_at.is_(None))
                .values(secret_sha256=secret_sha256)
                .returning(S.id)
            ).first()
        return done is not None

    @translated
    def restore(self, subs: Sequence[SubscriptionRow]) -> int:
        if not subs:
            return 0
        with self.engine.begin() as conn:
            return len(list(conn.execute(self._restore, [_values(s) for s in subs])))
