"""SQL access to subscriptions: insert, soft delete, restore (reconciliation), lookups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session
from sqlmodel import select as select_rows

from backend.db.engine import session_scope
from backend.db.models import Account
from backend.db.stream_models import Subscription


def insert(engine: Engine, subscription: Subscription) -> Subscription:
    with session_scope(engine) as session:
        session.add(subscription)
    return subscription


def remove(engine: Engine, uuid: str) -> None:
    """Undo an insert whose Redis half failed (the caller reports the error)."""
    with engine.begin() as conn:
        conn.execute(Subscription.__table__.delete().where(Subscription.__table__.c.uuid == uuid))  # type: ignore[attr-defined]


def get(engine: Engine, uuid: str) -> Subscription | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(select_rows(Subscription).where(Subscription.uuid == uuid)).first()


def listed(engine: Engine, account_id: int | None, include_deleted: bool) -> list[Subscription]:
    """Subscriptions of one account (None: every account), oldest first."""
    stmt = select_rows(Subscription)
    if account_id is not None:
        stmt = stmt.where(Subscription.account_id == account_id)
    if not include_deleted:
        stmt = stmt.where(Subscription.deleted_at.is_(None))  # type: ignore[union-attr]
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(stmt.order_by(Subscription.id)))  # type: ignore[arg-type]


def live(engine: Engine) -> list[Subscription]:
    return listed(engine, None, include_deleted=False)


def by_stream(engine: Engine) -> dict[str, Subscription]:
    """Every subscription, live or deleted, by stream key."""
    return {s.stream_key: s for s in listed(engine, None, include_deleted=True)}


def soft_delete(engine: Engine, uuids: Sequence[str], reason: str, at: datetime) -> list[str]:
    """Mark live subscriptions deleted; returns the uuids that were live (deleting twice is a no-op)."""
    if not uuids:
        return []
    table = Subscription.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        live_ones = [row.uuid for row in conn.execute(
            select(table.c.uuid).where(table.c.uuid.in_(list(uuids)), table.c.deleted_at.is_(None)))]
        if live_ones:
            conn.execute(update(table).where(table.c.uuid.in_(live_ones), table.c.deleted_at.is_(None))
                         .values(deleted_at=at, delete_reason=reason))
    return live_ones


def restore(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    """Insert subscriptions known elsewhere (the Redis registry); existing ones are left alone."""
    if not rows:
        return 0
    table = Subscription.__table__  # type: ignore[attr-defined]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
    with engine.begin() as conn:
        return len(list(conn.execute(stmt, list(rows))))


def account_ids(engine: Engine, uuids: set[str], client_ids: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Live accounts by uuid and by client id (to re-link restored subscriptions to their owners)."""
    by_uuid: dict[str, int] = {}
    by_client: dict[str, int] = {}
    if not uuids and not client_ids:
        return by_uuid, by_client
    table = Account.__table__  # type: ignore[attr-defined]
    stmt = select(table.c.id, table.c.uuid, table.c.client_id).where(
        table.c.disabled_at.is_(None), table.c.uuid.in_(list(uuids)) | table.c.client_id.in_(list(client_ids)))
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            by_uuid[row.uuid] = row.id
            by_client[row.client_id] = row.id
    return by_uuid, by_client


def account_client_id(engine: Engine, account_id: int) -> str | None:
    table = Account.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(select(table.c.client_id).where(table.c.id == account_id)).scalar_one_or_none()
