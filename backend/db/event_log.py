"""The event log on SQL (SQLite or PostgreSQL): dedup inserts, the projection cursor, per-node reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.base import LoggedEvent, LogTarget, NewEvent, NodeEvent
from backend.db.engine import ping, translated, utc
from backend.db.models import TABLES

_CHUNK = 500  # rows per INSERT statement: stays under SQLite's bound-parameter limit
EVENTS = TABLES["events"]
NODES = TABLES["event_nodes"]
E, N = EVENTS.c, NODES.c


class SqlEventLog:
    """EventLog (backend.db.base) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # INSERT … ON CONFLICT DO NOTHING RETURNING: duplicates (by dedup key or uuid) are skipped
        self._insert = dialect.insert(EVENTS).on_conflict_do_nothing().returning(E.id, E.dedup_key)

    @translated
    def insert(self, events: Sequence[NewEvent]) -> dict[str, int]:
        inserted: dict[str, int] = {}
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for start in range(0, len(events), _CHUNK):
                chunk = events[start : start + _CHUNK]
                rows = [
                    {
                        "uuid": ev.uuid,
                        "dedup_key": ev.dedup_key,
                        "channel": ev.channel,
                        "type": ev.type,
                        "trace_key": ev.trace_key,
                        "node_key": ev.node_key,
                        "level": ev.level,
                        "user_id": ev.user_id,
                        "account_id": ev.account_id,
                        "created_at": ev.created_at,
                        "received_at": now,
                        "payload": ev.payload,
                        "projected": False,
                    }
                    for ev in chunk
                ]
                # executemany form: SQLAlchemy batches it ("insertmanyvalues") with one cached compile
                new = {row.dedup_key: row.id for row in conn.execute(self._insert, rows)}
                inserted.update(new)
                links = [
                    {"event_id": new[ev.dedup_key], "node_key": n.key, "kind": n.kind, "role": n.role}
                    for ev in chunk
                    if ev.dedup_key in new
                    for n in ev.nodes
                ]
                if links:
                    conn.execute(NODES.insert(), links)
        return inserted

    @translated
    def known_node_traces(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        stmt = (
            select(N.node_key, func.min(E.trace_key))
            .join(EVENTS, E.id == N.event_id)
            .where(N.node_key.in_(wanted), E.trace_key.is_not(None))
            .group_by(N.node_key)
        )
        with self.engine.connect() as conn:
            return {str(k): str(t) for k, t in conn.execute(stmt)}

    @translated
    def unprojected(
        self, limit: int, dedup_keys: Sequence[str] | None = None, received_before: datetime | None = None
    ) -> list[LoggedEvent]:
        stmt = select(E.id, E.payload, E.trace_key, E.created_at).where(E.projected.is_(False))
        if dedup_keys is not None:
            stmt = stmt.where(E.dedup_key.in_(list(dedup_keys)))
        if received_before is not None:
            stmt = stmt.where(E.received_at < received_before)
        stmt = stmt.order_by(E.id).limit(limit)
        with self.engine.connect() as conn:
            return [LoggedEvent(int(r.id), str(r.payload), r.trace_key, utc(r.created_at)) for r in conn.execute(stmt)]

    @translated
    def mark_projected(self, ids: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                conn.execute(update(EVENTS).where(E.id.in_(list(ids[start : start + _CHUNK]))).values(projected=True))

    @translated
    def reset_projection(self) -> int:
        with self.engine.begin() as conn:
            conn.execute(update(EVENTS).values(projected=False))
            return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())

    @translated
    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(EVENTS).where(E.projected.is_(False))).scalar_one()
            )

    @translated
    def log_counts(self, targets: set[LogTarget]) -> dict[LogTarget, dict[str, int]]:
        out: dict[LogTarget, dict[str, int]] = {t: {} for t in targets}
        kinds = {k: kind for k, kind in targets if kind is not None}
        node_keys = sorted(kinds)
        trace_keys = sorted(k for k, kind in targets if kind is None)
        with self.engine.connect() as conn:
            for start in range(0, len(node_keys), _CHUNK):
                stmt = (
                    select(E.node_key, E.level, func.count())
                    .where(E.type == "log", E.node_key.in_(node_keys[start : start + _CHUNK]))
                    .group_by(E.node_key, E.level)
                )
                for key, level, count in conn.execute(stmt):
                    out[(key, kinds[key])][level] = int(count)
            for start in range(0, len(trace_keys), _CHUNK):
                stmt = (
                    select(E.trace_key, E.level, func.count())
                    .where(
                        and_(E.type == "log", E.node_key.is_(None), E.trace_key.in_(trace_keys[start : start + _CHUNK]))
                    )
                    .group_by(E.trace_key, E.level)
                )
                for key, level, count in conn.execute(stmt):
                    out[(key, None)][level] = int(count)
        return out

    @translated
    def node_events(self, key: str, limit: int) -> list[NodeEvent]:
        stmt = (
            select(E.uuid, E.type, E.created_at, E.trace_key, E.payload, N.role)
            .join(NODES, N.event_id == E.id)
            .where(N.node_key == key)
            .order_by(E.created_at, E.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                NodeEvent(r.uuid, r.type, utc(r.created_at), r.trace_key, r.role, r.payload) for r in conn.execute(stmt)
            ]

    def ping(self) -> None:
        ping(self.engine)
