"""SQL access to the event log: dedup inserts, the projection cursor, per-node reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.models import Event, EventNode
from backend.domain.events import AcceptedEvent, Envelope, format_time
from backend.domain.projection import StoredEvent

_CHUNK = 500  # rows per INSERT statement: stays under SQLite's bound-parameter limit


def _insert_events_stmt(engine: Engine) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, dedup_key: duplicates (by dedup key or id) are skipped."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    table = Event.__table__  # type: ignore[attr-defined]
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id, table.c.dedup_key)


def insert_events(
    engine: Engine, channel: str, account_id: int | None, events: Sequence[AcceptedEvent], traces: dict[int, str | None]
) -> dict[str, int]:
    """Store events once each (by dedup key and id); return {dedup key: row id} of those that were new."""
    inserted: dict[str, int] = {}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, len(events), _CHUNK):
            chunk = events[start:start + _CHUNK]
            rows = [
                {
                    "uuid": ev.uuid, "dedup_key": ev.dedup_key, "channel": channel, "type": ev.envelope.type.value,
                    "trace_key": traces.get(ev.index, ev.envelope.trace),
                    "node_key": ev.envelope.node.key if ev.envelope.node else None,
                    "level": (ev.envelope.level or "info") if ev.envelope.type.value == "log" else None,
                    "user_id": ev.envelope.user, "account_id": account_id, "created_at": ev.time,
                    "received_at": now, "payload": ev.payload, "projected": False,
                }
                for ev in chunk
            ]
            # executemany form: SQLAlchemy batches it ("insertmanyvalues") with one cached compile
            new = {row.dedup_key: row.id for row in conn.execute(_insert_events_stmt(engine), rows)}
            inserted.update(new)
            links = [
                {"event_id": new[ev.dedup_key], "node_key": ref.key, "kind": ref.kind, "role": role}
                for ev in chunk if ev.dedup_key in new
                for ref, role in ev.envelope.nodes()
            ]
            if links:
                conn.execute(EventNode.__table__.insert(), links)  # type: ignore[attr-defined]
    return inserted


def known_node_traces(engine: Engine, keys: Iterable[str]) -> dict[str, str]:
    """For node keys already in the log, the trace an earlier event put them in."""
    keys = list(set(keys))
    if not keys:
        return {}
    stmt = (
        select(EventNode.node_key, func.min(Event.trace_key))
        .join(Event, Event.id == EventNode.event_id)
        .where(EventNode.node_key.in_(keys), Event.trace_key.is_not(None))  # type: ignore[attr-defined]
        .group_by(EventNode.node_key)
    )
    with engine.connect() as conn:
        return {k: t for k, t in conn.execute(stmt)}


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id, envelope=Envelope.model_validate_json(row.payload), trace=row.trace_key,
        time=format_time(row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)),
    )


def unprojected(engine: Engine, limit: int, dedup_keys: Sequence[str] | None = None) -> list[StoredEvent]:
    """Events not yet merged into the graph, oldest first (optionally only those of one batch)."""
    cols = (Event.id, Event.payload, Event.trace_key, Event.created_at)
    stmt = select(*cols).where(Event.projected == False)  # noqa: E712
    if dedup_keys is not None:
        stmt = stmt.where(Event.dedup_key.in_(dedup_keys))  # type: ignore[attr-defined]
    stmt = stmt.order_by(Event.id).limit(limit)  # type: ignore[arg-type]
    with engine.connect() as conn:
        return [_stored(row) for row in conn.execute(stmt)]


def mark_projected(engine: Engine, ids: Sequence[int]) -> None:
    with engine.begin() as conn:
        for start in range(0, len(ids), _CHUNK):
            conn.execute(update(Event).where(Event.id.in_(ids[start:start + _CHUNK])).values(projected=True))  # type: ignore[union-attr]


def reset_projection(engine: Engine) -> int:
    """Mark every event as not projected (before a graph rebuild); returns how many there are."""
    with engine.begin() as conn:
        conn.execute(update(Event).values(projected=False))
        return int(conn.execute(select(func.count()).select_from(Event)).scalar_one())


def pending_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Event).where(Event.projected == False)).scalar_one())  # noqa: E712


def log_counts(engine: Engine, targets: set[tuple[str, str | None]]) -> dict[tuple[str, str | None], dict[str, int]]:
    """Log counts by level for nodes (kind given) and for trace-level logs (kind None), from the log itself."""
    out: dict[tuple[str, str | None], dict[str, int]] = {t: {} for t in targets}
    node_keys = [k for k, kind in targets if kind is not None]
    trace_keys = [k for k, kind in targets if kind is None]
    with engine.connect() as conn:
        for start in range(0, len(node_keys), _CHUNK):
            stmt = (
                select(Event.node_key, Event.level, func.count())
                .where(Event.type == "log", Event.node_key.in_(node_keys[start:start + _CHUNK]))  # type: ignore[union-attr]
                .group_by(Event.node_key, Event.level)
            )
            kinds = {k: kind for k, kind in targets if kind is not None}
            for key, level, count in conn.execute(stmt):
                out[(key, kinds[key])][level] = count
        for start in range(0, len(trace_keys), _CHUNK):
            stmt = (
                select(Event.trace_key, Event.level, func.count())
                .where(and_(Event.type == "log", Event.node_key.is_(None), Event.trace_key.in_(trace_keys[start:start + _CHUNK])))  # type: ignore[union-attr]
                .group_by(Event.trace_key, Event.level)
            )
            for key, level, count in conn.execute(stmt):
                out[(key, None)][level] = count
    return out


def node_events(engine: Engine, key: str, limit: int) -> list[dict[str, Any]]:
    """Events naming a node, in time order, as {id, type, time, trace, role, event}."""
    stmt = (
        select(Event.uuid, Event.type, Event.created_at, Event.trace_key, Event.payload, EventNode.role)
        .join(EventNode, EventNode.event_id == Event.id)
        .where(EventNode.node_key == key)
        .order_by(Event.created_at, Event.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            {"id": r.uuid, "type": r.type, "time": format_time(r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)),
             "trace": r.trace_key, "role": r.role, "event": orjson.loads(r.payload)}
            for r in conn.execute(stmt)
        ]
